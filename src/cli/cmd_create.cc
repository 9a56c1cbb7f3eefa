#include <unistd.h>

#include <cstdio>
#include <optional>

#include "cli/options.h"
#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/create/create.h"

namespace jb::cli {

int cmd_create(int argc, char** argv) {
  cxxopts::Options options("jellyfin-backup create",
                           "Back up Jellyfin's config and data directories into one verified "
                           "tar.zst archive.\nA server using the trees is refused: stop it, or let --service, "
                           "--container or --stop-cmd/--start-cmd stop and start it.");
  options.custom_help("--output PATH [--data DIR --config DIR] [options]");
  options.add_options()
      ("output", "Directory (archive gets a dated name), file path, - for stdout, or an rclone "
                 "remote (rclone:REMOTE:path)",
       cxxopts::value<std::string>(), "PATH")
      ("server-version", "Jellyfin version the trees belong to (recorded, and put in the name)",
       cxxopts::value<std::string>(), "V")
      ("level", "zstd level, 1-19", cxxopts::value<int>()->default_value("3"), "N")
      ("threads", "Compression threads (default: online CPUs)",
       cxxopts::value<int>()->default_value("0"), "N")
      ("exclude", "Leave out entries matching GLOB (repeatable): a name ('*.log') or an archive "
                  "path ('data/metadata/*')",
       cxxopts::value<std::vector<std::string>>(), "GLOB")
      ("include-logs", "Also back up the log directory when it lies inside a tree")
      ("include-cache", "Also back up the cache and transcode directories when they lie inside a tree")
      ("force", "Back up even while a server uses the trees (recorded in the manifest)");
  add_install_flags(options, "back up");
  add_server_control_flags(options);
  add_lock_flags(options);
  add_common_flags(options);
  auto parsed = parse_flags(options, "create", argc, argv);
  if (!parsed) return 0;
  const CommonFlags flags = common_flags(*parsed);

  CreateOptions opts;
  opts.output = required(*parsed, "create", "output");
  opts.level = (*parsed)["level"].as<int>();
  opts.threads = (*parsed)["threads"].as<int>();
  if (opts.threads < 0) throw flag_error("create", "--threads must be 0 or more", "threads");
  if (parsed->count("exclude")) opts.excludes = (*parsed)["exclude"].as<std::vector<std::string>>();
  const bool to_stdout = opts.output == "-";
  report_mode().archive_on_stdout = to_stdout;
  if (to_stdout && ::isatty(STDOUT_FILENO))
    throw usage_error("refusing to write an archive to a terminal",
                      "redirect stdout (--output - > FILE, or | ssh ...) or give --output a path");

  const Install install = locate_from_flags(*parsed);
  opts.data_dir = install.data.path;
  opts.config_dir = install.config.path;
  if (auto v = server_version_from(*parsed, install, VersionUse::kWroteTrees)) {
    opts.server_version = v->version;
    opts.version_source = v->source;
  }
  if (!parsed->count("include-logs") && install.log.exists) opts.leave_out.push_back({"log", install.log.path});
  if (!parsed->count("include-cache")) {
    if (install.cache.exists) opts.leave_out.push_back({"cache", install.cache.path});
    if (install.transcodes && install.transcodes->exists)
      opts.leave_out.push_back({"transcodes", install.transcodes->path});
  }
  opts.force = parsed->count("force") > 0;
  opts.stop_hint = stop_hint(install.type);
  // A typo in --output must not cost a stopped server.
  check_output(opts.output);
  // Outlives the server window: a start after a failure reports through it.
  ConsoleReporter reporter(flags, "create");
  // Held until the server is started again (declared before it).
  const auto tree_locks = lock_install(install, "create", reporter, lock_wait_seconds(*parsed));
  const auto dir_lock = to_stdout ? std::nullopt : lock_backup_dir(output_target(opts.output).dir, "create", reporter, lock_wait_seconds(*parsed));
  ServerWindow server(*parsed, "create");

  opts.stop_grace_seconds = server.stop(reporter);
  // Downtime is the reading: compression, fsync and upload finish with the
  // server running again.
  opts.trees_read = [&server] { server.start_early(); };
  CreateResult result = create_archive(opts, reporter);
  report_mode().archive = result.path;
  reporter.clear_line();
  server.start("the archive " + result.path + " was created");

  nlohmann::json left_out = nlohmann::json::array();
  for (const auto& l : result.left_out)
    left_out.push_back({{"kind", l.kind}, {"path", l.path}, {"source", l.source}});

  if (flags.json) {
    print_json({{"command", "create"},
                {"ok", true},
                {"path", result.path},
                {"sidecar", result.sidecar.empty() ? nlohmann::json() : nlohmann::json(result.sidecar)},
                {"bytes_in", result.bytes_in},
                {"bytes_out", result.bytes_out},
                {"tar_bytes", result.tar_bytes},
                {"files", result.files},
                {"entries", result.entries},
                {"frames", result.frames},
                {"seconds", result.seconds},
                {"version", result.version ? nlohmann::json(*result.version) : nlohmann::json()},
                {"version_source", opts.version_source ? nlohmann::json(*opts.version_source) : nlohmann::json()},
                {"install", install_type_name(install.type)},
                {"left_out", left_out},
                {"forced", result.forced ? nlohmann::json(*result.forced) : nlohmann::json()},
                {"downtime_seconds", server.downtime_json()},
                {"server_restarted", server.restarted_json()},
                {"warnings", result.warnings}},
               /*to_stderr=*/to_stdout);
  } else if (!flags.quiet && (!to_stdout || ::isatty(STDERR_FILENO))) {
    double pct = result.bytes_in ? 100.0 * static_cast<double>(result.bytes_out) /
                                       static_cast<double>(result.bytes_in)
                                 : 0;
    print(to_stdout ? stderr : stdout,
                 "Created %s: %llu files, %s -> %s (%.0f%%) in %.1f s\n",
                 to_stdout ? "archive on stdout" : result.path.c_str(),
                 static_cast<unsigned long long>(result.files), human_bytes(result.bytes_in).c_str(),
                 human_bytes(result.bytes_out).c_str(), pct, result.seconds);
    FILE* out = to_stdout ? stderr : stdout;
    print(out, "  Jellyfin %s (%s)\n", result.version.value_or("version unknown").c_str(),
                 opts.version_source.value_or("not found: pass --server-version").c_str());
    for (const auto& l : result.left_out)
      print(out, "  left out %s (%s%s)\n", l.path.c_str(), l.kind.c_str(),
                   l.kind == "log"             ? "; --include-logs to keep it"
                   : l.kind == "previous tree" ? ", kept by a restore"
                                               : "; --include-cache to keep it");
    if (auto line = server.summary(); !line.empty()) print(out, "  %s\n", line.c_str());
  }
  return 0;
}

}  // namespace jb::cli
