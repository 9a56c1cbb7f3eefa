#include <cstdio>
#include <cstdlib>

#include "cli/options.h"
#include "jellyfin_backup/catalog/prune.h"
#include "jellyfin_backup/io/store.h"
#include "jellyfin_backup/utc_time.h"

namespace jb::cli {
namespace {

const char* const kRules[] = {"last", "hourly", "daily", "weekly", "monthly", "yearly"};

// N, or "unlimited"/"all" (-1), as restic takes them.
int keep_count(const cxxopts::ParseResult& parsed, const std::string& rule) {
  const std::string flag = "keep-" + rule;
  if (!parsed.count(flag)) return 0;
  const std::string text = parsed[flag].as<std::string>();
  if (text == "unlimited" || text == "-1") return -1;
  char* end = nullptr;
  long n = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || n < 0 || n > 1000000)
    throw flag_error("prune", "--" + flag + " takes a number of archives (or unlimited), not '" + text + "'", flag);
  return static_cast<int>(n);
}

std::string reasons_text(const std::vector<std::string>& reasons) {
  std::string out;
  for (const auto& r : reasons) out += (out.empty() ? "" : ", ") + r;
  return out;
}

void print_human(const Store& store, const PruneOptions& opts, const PruneResult& r) {
  print(stdout, "%s: %s\n", store.location().display().c_str(), opts.policy.describe().c_str());
  if (r.hosts.size() > 1) {
    std::string hosts;
    for (const auto& h : r.hosts) hosts += (hosts.empty() ? "" : ", ") + h;
    if (opts.group_by_host)
      print(stdout, "Archives of %zu hosts, judged apart (--group-by none judges them together): %s\n",
                  r.hosts.size(), hosts.c_str());
    else
      print(stdout, "Archives of %zu hosts, judged together: %s\n", r.hosts.size(), hosts.c_str());
  }
  std::size_t kept = 0, removed = 0;
  for (const auto& a : r.archives) (a.keep ? kept : removed)++;
  print(stdout, "Keep %zu %s:\n", kept, kept == 1 ? "archive" : "archives");
  for (const auto& a : r.archives)
    if (a.keep)
      print(stdout, "  %-20s  %-10s  %10s  %s  (%s)\n", table_time(a.info.created).c_str(), a.info.version.value_or("unknown").c_str(),
                  human_bytes(a.info.size).c_str(), a.info.name.c_str(), reasons_text(a.reasons).c_str());
  if (removed) {
    std::uint64_t planned_bytes = 0;
    std::size_t done = 0;
    for (const auto& a : r.archives)
      if (!a.keep) {
        planned_bytes += a.info.size;
        done += a.removed ? 1 : 0;
      }
    const char* noun = removed == 1 ? "archive" : "archives";
    if (opts.dry_run)
      print(stdout, "Would remove %zu %s (%s):\n", removed, noun, human_bytes(planned_bytes).c_str());
    else if (done == removed)
      print(stdout, "Removed %zu %s (%s freed):\n", removed, noun, human_bytes(r.freed_bytes).c_str());
    else
      print(stdout, "Removed %zu of %zu %s (%s freed):\n", done, removed, noun, human_bytes(r.freed_bytes).c_str());
    for (const auto& a : r.archives)
      if (!a.keep)
        print(stdout, "  %-20s  %-10s  %10s  %s%s\n", table_time(a.info.created).c_str(), a.info.version.value_or("unknown").c_str(),
                    human_bytes(a.info.size).c_str(), a.info.name.c_str(),
                    a.error.empty() ? "" : ("  NOT REMOVED: " + a.error).c_str());
  }
  for (const auto& u : r.unreadable)
    print(stdout, "Skipped (kept, unreadable): %s: %s\n", u.name.c_str(), u.error.value_or("").c_str());
  for (const auto& d : r.damaged)
    print(stdout, "Skipped (kept, damaged, fills no keep slot): %s: %s\n", d.name.c_str(),
          d.damage.value_or("").c_str());
  for (const auto& f : r.future)
    print(stdout, "Skipped (kept, dated in the future: %s): %s; check the clock or remove it by hand\n",
                utc_iso(f.date).c_str(), f.info.name.c_str());
  if (const auto leftover = r.orphan_sidecars.size())
    print(stdout, "%s %zu %s whose archive was already gone.\n", opts.dry_run ? "Would remove" : "Removed",
                leftover, leftover == 1 ? "sidecar" : "sidecars");
  if (opts.dry_run) print(stdout, "Nothing was removed (--dry-run).\n");
  else if (removed == 0) print(stdout, "Nothing to remove.\n");
}

}  // namespace

int cmd_prune(int argc, char** argv) {
  cxxopts::Options options("jellyfin-backup prune",
                           "Delete the archives of a backup directory that a retention policy does not\n"
                           "keep (restic's `forget` rules), with their sidecars. Never deletes without a\n"
                           "policy, never the newest archive, never a file that is not a readable archive.\n"
                           "N may be `unlimited`; periods are calendar periods in the local time zone.");
  options.custom_help("[DIR|rclone:REMOTE:path] --keep-... N [options]");
  options.add_options()
      ("dir", "Backup directory (default: output from the config file)", cxxopts::value<std::string>())
      ("keep-last", "Keep the N newest archives", cxxopts::value<std::string>(), "N")
      ("keep-hourly", "Keep the newest archive of each of the last N hours that have one",
       cxxopts::value<std::string>(), "N")
      ("keep-daily", "Keep the newest archive of each of the last N days that have one",
       cxxopts::value<std::string>(), "N")
      ("keep-weekly", "Keep the newest archive of each of the last N weeks (Monday to Sunday) that have one",
       cxxopts::value<std::string>(), "N")
      ("keep-monthly", "Keep the newest archive of each of the last N months that have one",
       cxxopts::value<std::string>(), "N")
      ("keep-yearly", "Keep the newest archive of each of the last N years that have one",
       cxxopts::value<std::string>(), "N")
      ("keep-version-change", "Keep the newest archive of each Jellyfin version (to roll back an upgrade)")
      ("dry-run", "Show what would be kept and removed; remove nothing")
      ("group-by", "host: judge each host's archives apart (the default, as restic); none: all together",
       cxxopts::value<std::string>(), "host|none");
  options.parse_positional({"dir"});
  options.positional_help("");
  add_lock_flags(options);
  add_common_flags(options);
  auto parsed = parse_flags(options, "prune", argc, argv);
  if (!parsed) return 0;
  const CommonFlags flags = common_flags(*parsed);

  PruneOptions opts;
  opts.policy.last = keep_count(*parsed, "last");
  opts.policy.hourly = keep_count(*parsed, "hourly");
  opts.policy.daily = keep_count(*parsed, "daily");
  opts.policy.weekly = keep_count(*parsed, "weekly");
  opts.policy.monthly = keep_count(*parsed, "monthly");
  opts.policy.yearly = keep_count(*parsed, "yearly");
  opts.policy.version_change = parsed->count("keep-version-change") > 0;
  opts.dry_run = parsed->count("dry-run") > 0;
  if (parsed->count("group-by")) {
    const std::string group_by = (*parsed)["group-by"].as<std::string>();
    if (group_by != "host" && group_by != "none")
      throw flag_error("prune", "--group-by takes host or none, not '" + group_by + "'", "group-by");
    opts.group_by_host = group_by == "host";
  }
  const Location where = backup_dir_from(*parsed, "prune");
  check_policy(opts.policy);  // before any lock is taken

  ConsoleReporter reporter(flags, "prune");
  // A dry run writes nothing, so it need not wait for a running create.
  const auto lock = opts.dry_run ? std::nullopt : lock_backup_dir(where, "prune", reporter, lock_wait_seconds(*parsed));
  auto store = open_store(where);
  const PruneResult result = prune_store(*store, opts, reporter);
  reporter.clear_line();

  // A deletion that failed: the others went on; say which, once.
  std::string error;
  for (const auto& a : result.archives)
    if (!a.error.empty()) {
      error = a.error + "; the other archives were pruned, check the permissions and run prune again";
      break;
    }
  if (flags.json) {
    nlohmann::json keep = nlohmann::json::array(), remove = nlohmann::json::array(),
                   unreadable = nlohmann::json::array(), future = nlohmann::json::array(),
                   damaged = nlohmann::json::array();
    for (const auto& a : result.archives) {
      nlohmann::json j = archive_json(*store, a.info);
      if (a.keep) {
        j["reasons"] = a.reasons;
        keep.push_back(std::move(j));
      } else {
        j["removed"] = a.removed;
        j["error"] = a.error.empty() ? nlohmann::json() : nlohmann::json(a.error);
        remove.push_back(std::move(j));
      }
    }
    for (const auto& u : result.unreadable) unreadable.push_back(archive_json(*store, u));
    for (const auto& d : result.damaged) damaged.push_back(archive_json(*store, d));
    for (const auto& f : result.future) {
      nlohmann::json j = archive_json(*store, f.info);
      j["dated_in_future"] = utc_iso(f.date);
      future.push_back(std::move(j));
    }
    nlohmann::json policy = {{"keep_version_change", opts.policy.version_change},
                             {"group_by", opts.group_by_host ? "host" : "none"}};
    const int counts[] = {opts.policy.last,    opts.policy.hourly,  opts.policy.daily,
                          opts.policy.weekly,  opts.policy.monthly, opts.policy.yearly};
    for (std::size_t i = 0; i < 6; ++i)
      policy[std::string("keep_") + kRules[i]] = counts[i] == -1 ? nlohmann::json("unlimited") : nlohmann::json(counts[i]);
    nlohmann::json out = {{"command", "prune"},
                          {"ok", error.empty()},
                          {"location", where.display()},
                          {"dry_run", opts.dry_run},
                          {"policy", policy},
                          {"hosts", result.hosts},
                          {"keep", keep},
                          {"remove", remove},
                          {"unreadable", unreadable},
                          {"damaged", damaged},
                          {"future", future},
                          {"orphan_sidecars", result.orphan_sidecars},
                          {"freed_bytes", result.freed_bytes},
                          {"warnings", reporter.warnings()}};
    if (!error.empty()) add_failure(out, ErrorKind::kRuntime, error);
    print_json(out);
  } else if (!flags.quiet) {
    print_human(*store, opts, result);
  }
  return error.empty() ? 0 : report_failure(ErrorKind::kRuntime, error);
}

}  // namespace jb::cli
