// `status [DIR] --max-age DURATION`: is there a fresh, sound backup? For
// monitoring and ExecCondition=, from what list reads (no archive is read
// whole).
#include <cstdio>
#include <ctime>
#include <string>

#include "cli/duration.h"
#include "cli/options.h"
#include "jellyfin_backup/catalog/catalog.h"
#include "jellyfin_backup/io/store.h"
#include "jellyfin_backup/utc_time.h"

namespace jb::cli {
namespace {

// When the archive was made, as far as both its name and its manifest say:
// the older of the two. Whoever can write the backup directory could give
// an old archive a fresh name; its manifest still tells its age.
std::int64_t made_at(const ArchiveInfo& a) {
  if (!a.manifest) return a.time;
  const auto created = parse_utc_iso(a.manifest->created);
  return created && *created < a.time ? *created : a.time;
}

}  // namespace

int cmd_status(int argc, char** argv) {
  cxxopts::Options options("jellyfin-backup status",
                           "Say whether a backup directory holds a fresh, sound backup: its newest\n"
                           "archive, its age, and what is known of its bytes. Exit 0 when fresh; 6 when\n"
                           "there is none or the newest is older than --max-age; 3 when the newest is\n"
                           "known to be damaged. Reads what list reads.");
  options.custom_help("[DIR|rclone:REMOTE:path] [--max-age DURATION] [options]");
  options.add_options()
      ("dir", "Backup directory (default: output from the config file)", cxxopts::value<std::string>())
      ("max-age", "The newest archive may be this old (36h, 2d, 1d12h, 90m, 1w; default: any age)",
       cxxopts::value<std::string>(), "DURATION");
  options.parse_positional({"dir"});
  options.positional_help("");
  add_common_flags(options);
  auto parsed = parse_flags(options, "status", argc, argv);
  if (!parsed) return 0;
  const CommonFlags flags = common_flags(*parsed);
  std::optional<std::int64_t> max_age;
  if (parsed->count("max-age")) {
    const std::string text = (*parsed)["max-age"].as<std::string>();
    max_age = parse_duration(text);
    if (!max_age)
      throw bad_flag_error("max-age", "--max-age " + text + ": not a duration",
                           "write it as 36h, 2d, 1d12h, 90m or 1w");
  }
  const Location where = backup_dir_from(*parsed, "status");

  ConsoleReporter reporter(flags, "status");
  auto store = open_store(where);
  const Catalog catalog = read_catalog(*store, CatalogOptions{}, reporter);
  reporter.clear_line();
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));

  // The newest archive whose date can be believed: one dated in the future
  // would look fresh for ever (catalog.h).
  const ArchiveInfo* newest = nullptr;
  std::size_t future = 0;
  for (const ArchiveInfo& a : catalog.archives) {
    if (future_date(a, now)) {
      ++future;
      continue;
    }
    newest = &a;
    break;
  }
  if (future)
    reporter.warning(std::to_string(future) + (future == 1 ? " archive is" : " archives are") +
                     " dated in the future and not counted: check the clock");

  std::string error;
  ErrorKind kind = ErrorKind::kNotFresh;
  const std::int64_t age = newest ? now - made_at(*newest) : 0;
  if (!newest) {
    error = where.display() + ": no archive" + std::string(catalog.archives.empty() ? "" : " with a believable date") +
            "; is the nightly backup running? (journalctl -u jellyfin-backup)";
  } else if (newest->damaged()) {
    kind = ErrorKind::kDamaged;
    error = store->display(newest->name) + ": the newest archive is damaged (" +
            newest->error.value_or(newest->damage.value_or("damaged")) +
            "); do not restore from it, and run a backup now";
  } else if (max_age && age > *max_age) {
    error = store->display(newest->name) + ": the newest archive is " + format_duration(age) +
            " old, more than --max-age " + format_duration(*max_age) +
            "; is the nightly backup running? (journalctl -u jellyfin-backup)";
  }

  const bool fresh = error.empty();
  if (flags.json) {
    nlohmann::json out = {{"command", "status"},
                          {"ok", fresh},
                          {"location", where.display()},
                          {"archives", catalog.archives.size()},
                          {"max_age_seconds", max_age ? nlohmann::json(*max_age) : nlohmann::json()},
                          {"fresh", fresh},
                          {"newest", newest ? archive_json(*store, *newest) : nlohmann::json()},
                          {"age_seconds", newest ? nlohmann::json(age) : nlohmann::json()},
                          {"warnings", reporter.warnings()}};
    if (newest) out["newest"].erase("manifest");
    if (!fresh) add_failure(out, kind, error);
    print_json(out);
  } else if (!flags.quiet && newest) {
    std::string known;
    switch (newest->check) {
      case CheckState::kChecked: known = utc_iso(newest->checked_at) + " (every byte)"; break;
      case CheckState::kDamaged: known = "DAMAGED"; break;
      case CheckState::kChanged: known = "no: CHANGED since its last check"; break;
      case CheckState::kNever: known = "never (run `jellyfin-backup verify` on it)"; break;
    }
    if (newest->error) known = "DAMAGED";
    print(stdout, "%s: %s\n", where.display().c_str(),
          fresh ? "OK" : kind == ErrorKind::kNotFresh ? "TOO OLD" : "DAMAGED");
    print(stdout, "  newest   %s (Jellyfin %s)\n", newest->name.c_str(), newest->version.value_or("unknown").c_str());
    print(stdout, "  created  %s, %s ago%s\n", newest->created.c_str(), format_duration(age).c_str(),
          max_age ? (" (--max-age " + format_duration(*max_age) + ")").c_str() : "");
    print(stdout, "  verified %s\n", known.c_str());
    print(stdout, "  archives %zu\n", catalog.archives.size());
  }
  return fresh ? 0 : report_failure(kind, error);
}

}  // namespace jb::cli
