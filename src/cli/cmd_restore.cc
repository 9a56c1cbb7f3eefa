#include <cstdio>
#include <optional>
#include <set>

#include "cli/options.h"
#include "jellyfin_backup/io/source.h"
#include "jellyfin_backup/restore/restore.h"

namespace jb::cli {
namespace {

nlohmann::json diff_json(const TreeDiff& d) {
  return {{"added", d.added},           {"removed", d.removed},
          {"changed", d.changed},       {"unchanged", d.unchanged},
          {"added_paths", d.added_paths}, {"removed_paths", d.removed_paths},
          {"changed_paths", d.changed_paths}};
}

// What a tree keeps from the current one, and why: the first few paths
// (their reasons, once each), then a count.
void print_kept(const RestoredTree& t, bool dry_run) {
  if (t.kept.empty()) return;
  std::uint64_t entries = 0, bytes = 0;
  for (const auto& k : t.kept) {
    entries += k.entries;
    bytes += k.bytes;
  }
  constexpr std::size_t kShown = 4;
  std::string list;
  for (std::size_t i = 0; i < t.kept.size() && i < kShown; ++i)
    list += (i ? ", " : "") + t.kept[i].path + " (" + t.kept[i].reason + ")";
  if (t.kept.size() > kShown) list += " and " + std::to_string(t.kept.size() - kShown) + " more";
  print(stdout, "          %s from the current tree: %s: %llu %s, %s\n", dry_run ? "would keep" : "kept",
        list.c_str(), static_cast<unsigned long long>(entries), entries == 1 ? "entry" : "entries",
        human_bytes(bytes).c_str());
}

void print_human(const std::string& archive, const RestoreResult& r) {
  const Manifest& m = r.manifest;
  print(stdout, "%s %s (created %s on %s, Jellyfin %s)\n",
              r.dry_run ? "Dry run: verified" : "Restored", archive.c_str(), m.created.c_str(),
              m.host.c_str(), m.app_version.value_or("version unknown").c_str());
  for (const auto& t : r.trees) {
    print(stdout, "  %-7s -> %s: %llu files, %s", t.name.c_str(), t.target.c_str(),
                static_cast<unsigned long long>(t.files), human_bytes(t.bytes).c_str());
    if (t.diff) {
      print(stdout, "; would add %llu, remove %llu, change %llu (%llu unchanged)",
                  static_cast<unsigned long long>(t.diff->added),
                  static_cast<unsigned long long>(t.diff->removed),
                  static_cast<unsigned long long>(t.diff->changed),
                  static_cast<unsigned long long>(t.diff->unchanged));
    } else if (t.inside) {
      print(stdout, " (inside %s, swapped with it)", t.inside->c_str());
    } else if (t.backup) {
      print(stdout, "; old tree kept as %s", t.backup->c_str());
    } else if (!t.target_existed) {
      print(stdout, " (new)");
    }
    print(stdout, "\n");
    print_kept(t, r.dry_run);
  }
  if (!r.skipped_damaged.empty()) {
    const std::set<std::string> skipped(r.skipped_damaged.begin(), r.skipped_damaged.end());
    std::size_t kept = 0;
    for (const auto& t : r.trees)
      for (const auto& k : t.kept) kept += skipped.count(k.path);
    constexpr std::size_t kShown = 4;
    std::string list;
    for (std::size_t i = 0; i < r.skipped_damaged.size() && i < kShown; ++i)
      list += (i ? ", " : "") + r.skipped_damaged[i];
    if (r.skipped_damaged.size() > kShown) list += " and " + std::to_string(r.skipped_damaged.size() - kShown) + " more";
    const std::size_t missing = r.skipped_damaged.size() - kept;
    std::string fate = missing == 0 ? "kept as in the current trees"
                                    : std::to_string(kept) + " kept as in the current trees, " + std::to_string(missing) +
                                          " not restored (not in the current trees either)";
    print(stdout, "%s %zu damaged %s (--skip-damaged): %s; %s\n", r.dry_run ? "Would skip" : "Skipped",
          r.skipped_damaged.size(), r.skipped_damaged.size() == 1 ? "file" : "files", list.c_str(), fate.c_str());
  }
  if (r.dry_run) print(stdout, "Nothing was changed (--dry-run).\n");
}

// Said once by a dry run given a way to stop the server: by whom.
std::string dry_run_server_note() {
  const auto& from_config = report_mode().from_config;
  for (const char* key : {"service", "container", "stop-cmd", "start-cmd"}) {
    if (auto it = from_config.find(key); it != from_config.end())
      return std::string("--dry-run stops and starts nothing: ") + key + " from " + it->second + " is not used";
  }
  return "--dry-run stops and starts nothing: --service, --container, --stop-cmd and --start-cmd are not used";
}

}  // namespace

int cmd_restore(int argc, char** argv) {
  cxxopts::Options options("jellyfin-backup restore",
                           "Restore an archive: extract into staging directories beside the "
                           "targets, verify every byte, then swap them in atomically.\nA server using "
                           "the targets is refused: stop it, or let --service, --container or "
                           "--stop-cmd/--start-cmd stop and start it.");
  options.custom_help("ARCHIVE|- [--data DIR --config DIR] [options]");
  options.add_options()
      ("archive", "Archive to restore: a path, - for stdin, or rclone:REMOTE:path", cxxopts::value<std::string>())
      ("only", "Restore one tree only: data or config", cxxopts::value<std::string>(), "TREE")
      ("dry-run", "Extract and verify into staging, report what would change, change nothing")
      ("keep-old", "Keep the replaced trees as <target>.bak-<UTC stamp> (the default)")
      ("discard-old", "Delete the replaced trees after the swap")
      ("skip-damaged", "Restore an archive whose damage is to some files' contents only (not the config, "
                       "not a database): those files are kept as they are in the current trees")
      ("no-keep-excluded", "Do not keep what the archive left out (its --exclude matches, the log, cache "
                           "and transcode directories) from the current trees: restore the archive alone")
      ("server-version", "Installed Jellyfin version (default: found in the package database or logs); "
                         "an archive from a newer one is refused",
       cxxopts::value<std::string>(), "V")
      ("force", "Restore even if the archive is from a newer Jellyfin, or a server uses the targets")
      ("allow-special", "Restore device nodes and setuid/setgid files (refused by default: Jellyfin's "
                        "trees hold none)");
  add_install_flags(options, "restore into");
  add_server_control_flags(options);
  options.parse_positional({"archive"});
  options.positional_help("");  // custom_help already names it
  add_lock_flags(options);
  add_common_flags(options);
  auto parsed = parse_flags(options, "restore", argc, argv);
  if (!parsed) return 0;
  const CommonFlags flags = common_flags(*parsed);

  RestoreOptions opts;
  if (!parsed->count("archive"))
    throw flag_error("restore", "name the archive to restore (or - for stdin)");
  opts.archive = (*parsed)["archive"].as<std::string>();
  if (parsed->count("only")) {
    opts.only = (*parsed)["only"].as<std::string>();
    if (*opts.only != "data" && *opts.only != "config")
      throw flag_error("restore", "--only takes data or config, not '" + *opts.only + "'", "only");
  }
  if (parsed->count("keep-old") && parsed->count("discard-old"))
    throw flag_error("restore", "--keep-old and --discard-old exclude each other");
  opts.dry_run = parsed->count("dry-run") > 0;
  opts.discard_old = parsed->count("discard-old") > 0;
  opts.keep_excluded = parsed->count("no-keep-excluded") == 0;
  opts.skip_damaged = parsed->count("skip-damaged") > 0;
  opts.allow_special = parsed->count("allow-special") > 0;
  opts.force = parsed->count("force") > 0;
  const Install install = locate_from_flags(*parsed);
  opts.data_dir = install.data.path;
  opts.config_dir = install.config.path;
  if (auto v = server_version_from(*parsed, install, VersionUse::kInstalled)) {
    opts.server_version = v->version;
    opts.version_source = v->source;
  }
  opts.stop_hint = stop_hint(install.type);
  // Outlives the server window: a start after a failure reports through it.
  ConsoleReporter reporter(flags, "restore");
  // Held until the server is started again (declared before it).
  const auto tree_locks = lock_install(install, "restore", reporter, lock_wait_seconds(*parsed));
  ServerWindow server(*parsed, "restore");
  if (opts.dry_run && server.controls()) reporter.warning(dry_run_server_note());

  // Every refusal that needs no stopped server comes first: a mistyped
  // archive, a damaged head, a newer Jellyfin, a full disk, a pending
  // journal must not cost a stopped server.
  Restore restore(opts, reporter);
  // A dry run changes nothing, so it never stops or starts the server.
  const double grace = opts.dry_run ? 0 : server.stop(reporter);
  RestoreResult result = restore.run(grace);
  reporter.clear_line();
  server.start("the archive was restored");


  if (flags.json) {
    nlohmann::json trees = nlohmann::json::array();
    for (const auto& t : result.trees) {
      nlohmann::json j = {{"name", t.name},
                          {"target", t.target},
                          {"target_existed", t.target_existed},
                          {"backup", t.backup ? nlohmann::json(*t.backup) : nlohmann::json()},
                          {"files", t.files},
                          {"bytes", t.bytes},
                          {"inside", t.inside ? nlohmann::json(*t.inside) : nlohmann::json()}};
      if (t.diff) j["changes"] = diff_json(*t.diff);
      nlohmann::json kept = nlohmann::json::array();
      for (const auto& k : t.kept)
        kept.push_back({{"path", k.path}, {"reason", k.reason}, {"entries", k.entries}, {"bytes", k.bytes}});
      j["kept"] = std::move(kept);
      trees.push_back(std::move(j));
    }
    print_json({{"command", "restore"},
                {"ok", true},
                {"archive", opts.archive},
                {"dry_run", result.dry_run},
                {"keep_excluded", opts.keep_excluded},
                {"skipped_damaged", result.skipped_damaged},
                {"trees", trees},
                {"seconds", result.seconds},
                {"installed_version", opts.server_version ? nlohmann::json(*opts.server_version) : nlohmann::json()},
                {"installed_version_source", opts.version_source ? nlohmann::json(*opts.version_source) : nlohmann::json()},
                {"forced", result.forced ? nlohmann::json(*result.forced) : nlohmann::json()},
                {"downtime_seconds", server.downtime_json()},
                {"server_restarted", server.restarted_json()},
                {"manifest", result.manifest.to_json()},
                {"warnings", result.warnings}});
  } else if (!flags.quiet) {
    print_human(opts.archive, result);
    if (auto line = server.summary(); !line.empty()) print(stdout, "%s\n", line.c_str());
  }
  return 0;
}

}  // namespace jb::cli
