#include <unistd.h>

#include <cstdio>

#include "cli/options.h"
#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/create/create.h"

namespace jb::cli {

int cmd_create(int argc, char** argv) {
  cxxopts::Options options("jellyfin-backup create",
                           "Back up Jellyfin's config and data directories into one verified "
                           "tar.zst archive.\nStop the server first: its database must not change "
                           "while it is read.");
  options.custom_help("--data DIR --config DIR --output PATH [options]");
  options.add_options()
      ("data", "Jellyfin data directory (e.g. /var/lib/jellyfin)", cxxopts::value<std::string>(), "DIR")
      ("config", "Jellyfin config directory (e.g. /etc/jellyfin)", cxxopts::value<std::string>(), "DIR")
      ("output", "Directory (archive gets a dated name), file path, or - for stdout",
       cxxopts::value<std::string>(), "PATH")
      ("server-version", "Jellyfin version the trees belong to (recorded, and put in the name)",
       cxxopts::value<std::string>(), "V")
      ("level", "zstd level, 1-19", cxxopts::value<int>()->default_value("3"), "N")
      ("threads", "Compression threads (default: online CPUs)",
       cxxopts::value<int>()->default_value("0"), "N")
      ("exclude", "Leave out entries matching GLOB (repeatable): a name ('*.log') or an archive "
                  "path ('data/metadata/*')",
       cxxopts::value<std::vector<std::string>>(), "GLOB");
  add_common_flags(options);
  auto parsed = parse_flags(options, "create", argc, argv);
  if (!parsed) return 0;
  const CommonFlags flags = common_flags(*parsed);

  CreateOptions opts;
  opts.data_dir = required(*parsed, "create", "data");
  opts.config_dir = required(*parsed, "create", "config");
  opts.output = required(*parsed, "create", "output");
  if (parsed->count("server-version")) opts.server_version = (*parsed)["server-version"].as<std::string>();
  opts.level = (*parsed)["level"].as<int>();
  opts.threads = (*parsed)["threads"].as<int>();
  if (opts.threads < 0) throw flag_error("create", "--threads must be 0 or more");
  if (parsed->count("exclude")) opts.excludes = (*parsed)["exclude"].as<std::vector<std::string>>();
  const bool to_stdout = opts.output == "-";
  if (to_stdout && ::isatty(STDOUT_FILENO))
    throw usage_error("refusing to write an archive to a terminal",
                      "redirect stdout (--output - > FILE, or | ssh ...) or give --output a path");

  ConsoleReporter reporter(flags, "create");
  CreateResult result = create_archive(opts, reporter);
  reporter.clear_line();

  if (flags.json) {
    print_json({{"command", "create"},
                {"ok", true},
                {"path", result.path},
                {"bytes_in", result.bytes_in},
                {"bytes_out", result.bytes_out},
                {"tar_bytes", result.tar_bytes},
                {"files", result.files},
                {"entries", result.entries},
                {"frames", result.frames},
                {"seconds", result.seconds},
                {"version", result.version ? nlohmann::json(*result.version) : nlohmann::json()},
                {"warnings", result.warnings}},
               /*to_stderr=*/to_stdout);
  } else if (!flags.quiet && (!to_stdout || ::isatty(STDERR_FILENO))) {
    double pct = result.bytes_in ? 100.0 * static_cast<double>(result.bytes_out) /
                                       static_cast<double>(result.bytes_in)
                                 : 0;
    std::fprintf(to_stdout ? stderr : stdout,
                 "Created %s: %llu files, %s -> %s (%.0f%%) in %.1f s\n",
                 to_stdout ? "archive on stdout" : result.path.c_str(),
                 static_cast<unsigned long long>(result.files), human_bytes(result.bytes_in).c_str(),
                 human_bytes(result.bytes_out).c_str(), pct, result.seconds);
  }
  return 0;
}

}  // namespace jb::cli
