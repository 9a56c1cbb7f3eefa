#include <cstdio>
#include <ctime>
#include <optional>
#include <string>

#include "cli/options.h"
#include "jellyfin_backup/catalog/catalog.h"
#include "jellyfin_backup/io/store.h"
#include "jellyfin_backup/utc_time.h"

namespace jb::cli {
namespace {

// What is known of the archive's bytes: the VERIFIED column. Only a check
// record that binds (the last full check) says "checked"; a sidecar alone
// says only that the archive was written whole.
std::string verified_text(const ArchiveInfo& a) {
  if (a.sidecar == SidecarState::kMismatch) return "MISMATCH";  // this --check found it
  if (a.damaged()) return "DAMAGED";
  switch (a.check) {
    case CheckState::kChecked: return "checked " + utc_iso(a.checked_at).substr(0, 10);
    case CheckState::kChanged: return "CHANGED";
    case CheckState::kDamaged:
    case CheckState::kNever: break;
  }
  switch (a.sidecar) {
    case SidecarState::kMatches: return "sidecar only";
    case SidecarState::kMissing: return "no sidecar";
    case SidecarState::kStale: return "stale sidecar";
    case SidecarState::kInvalid: return "bad sidecar";
    case SidecarState::kMismatch: return "MISMATCH";
  }
  return "?";
}

// An archive dated more than a day ahead: prune keeps it and never counts
// it; the list says so under its row (the columns stay as they are).
std::optional<std::string> future_note(const ArchiveInfo& a, std::int64_t now) {
  auto date = future_date(a, now);
  if (!date) return std::nullopt;
  return utc_iso(*date);
}

void print_table(const Location& where, const Catalog& catalog, std::int64_t now) {
  if (catalog.archives.empty()) {
    print(stdout, "No archives in %s.\n", where.display().c_str());
    return;
  }
  std::uint64_t total = 0;
  for (const auto& a : catalog.archives) total += a.size;
  print(stdout, "%s: %zu %s, %s (newest first)\n", where.display().c_str(), catalog.archives.size(),
              catalog.archives.size() == 1 ? "archive" : "archives", human_bytes(total).c_str());
  print(stdout, "%-20s  %-10s  %10s  %7s  %-18s  %s\n", "CREATED", "JELLYFIN", "SIZE", "FILES", "VERIFIED", "NAME");
  for (const auto& a : catalog.archives) {
    std::string files = a.manifest ? std::to_string(a.manifest->total_files()) : "-";
    print(stdout, "%-20s  %-10s  %10s  %7s  %-18s  %s\n", table_time(a.created).c_str(),
                a.version.value_or("unknown").c_str(), human_bytes(a.size).c_str(), files.c_str(),
                verified_text(a).c_str(), a.name.c_str());
    if (a.error) print(stdout, "    %s\n", a.error->c_str());
    else if (a.damage) print(stdout, "    damaged (checked %s): %s\n", utc_iso(a.checked_at).c_str(), a.damage->c_str());
    else if (a.check == CheckState::kChanged)
      print(stdout, "    changed since it was last checked: run `jellyfin-backup verify` on it\n");
    if (auto date = future_note(a, now))
      print(stdout, "    dated in the future (%s): prune keeps it and never counts it; check the clock or remove it by hand\n",
                  date->c_str());
  }
}

}  // namespace

int cmd_list(int argc, char** argv) {
  cxxopts::Options options("jellyfin-backup list",
                           "List the archives of a backup directory, newest first: created, Jellyfin\n"
                           "version, size, files, and what is known of its bytes (checked on a date,\n"
                           "damaged, changed since, or a sidecar only). Reads only each archive's\n"
                           "manifest, sidecar and check record.");
  options.custom_help("[DIR|rclone:REMOTE:path] [options]");
  options.add_options()
      ("dir", "Backup directory (default: output from the config file)", cxxopts::value<std::string>())
      ("check", "Also verify every archive as `verify` does (reads every byte) and record the result "
                "beside it (the check record; the sidecar when intact)");
  options.parse_positional({"dir"});
  options.positional_help("");
  add_common_flags(options);
  auto parsed = parse_flags(options, "list", argc, argv);
  if (!parsed) return 0;
  const CommonFlags flags = common_flags(*parsed);
  const Location where = backup_dir_from(*parsed, "list");

  ConsoleReporter reporter(flags, "list");
  auto store = open_store(where);
  CatalogOptions catalog_options;
  catalog_options.check = parsed->count("check") > 0;
  const Catalog catalog = read_catalog(*store, catalog_options, reporter);
  reporter.clear_line();
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));

  // A check that found damage is a failure; a plain listing only reports it.
  std::size_t damaged = 0;
  const ArchiveInfo* first = nullptr;
  for (const auto& a : catalog.archives)
    if (a.error || a.sidecar == SidecarState::kMismatch ||
        (catalog_options.check && a.check == CheckState::kDamaged)) {  // found by this read
      ++damaged;
      if (!first) first = &a;
    }
  const bool failed = catalog_options.check && damaged > 0;
  std::string error;
  if (failed)
    error = store->display(first->name) + ": " +
            (first->error    ? *first->error
             : first->damage ? *first->damage
                             : std::string("its bytes do not match its sidecar")) +
            "; " +
            std::to_string(damaged) + (damaged == 1 ? " damaged archive" : " damaged archives") + " in " +
            where.display() + ": run `jellyfin-backup verify` on " + (damaged == 1 ? "it" : "each") +
            ", and do not restore from " + (damaged == 1 ? "it" : "them");
  if (flags.json) {
    nlohmann::json archives = nlohmann::json::array();
    for (const auto& a : catalog.archives) {
      nlohmann::json j = archive_json(*store, a);
      auto date = future_note(a, now);
      j["dated_in_future"] = date ? nlohmann::json(*date) : nlohmann::json();
      archives.push_back(std::move(j));
    }
    nlohmann::json out = {{"command", "list"},
                          {"ok", !failed},
                          {"location", where.display()},
                          {"archives", archives},
                          {"warnings", reporter.warnings()}};
    if (failed) add_failure(out, ErrorKind::kDamaged, error);
    print_json(out);
  } else if (!flags.quiet) {
    print_table(where, catalog, now);
  }
  return failed ? report_failure(ErrorKind::kDamaged, error) : 0;
}

}  // namespace jb::cli
