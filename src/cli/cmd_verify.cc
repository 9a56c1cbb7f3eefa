#include <sys/stat.h>

#include <cstdio>

#include "cli/options.h"
#include "jellyfin_backup/catalog/catalog.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/io/store.h"
#include "jellyfin_backup/verify/verify.h"

namespace jb::cli {
namespace {


nlohmann::json to_json(const std::string& archive, const LocationVerified& v) {
  const VerifyResult& r = v.result;
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : r.problems)
    problems.push_back({{"path", p.path}, {"problem", p.problem}, {"expected", p.expected},
                        {"actual", p.actual}});
  nlohmann::json out = {{"command", "verify"},
                        {"ok", r.ok()},
                        {"archive", archive},
                        {"files", r.files},
                        {"bytes", r.bytes},
                        {"entries", r.entries},
                        {"frames", r.frames},
                        {"bad_entries", r.bad_entries},
                        {"problems", problems},
                        {"manifest", r.manifest ? r.manifest->to_json() : nlohmann::json()},
                        {"xxh128", r.ok() ? nlohmann::json(v.xxh128) : nlohmann::json()},
                        {"sidecar", v.sidecar ? nlohmann::json(*v.sidecar) : nlohmann::json()},
                        {"check_record", v.record ? nlohmann::json(*v.record) : nlohmann::json()}};
  if (!r.ok()) {
    out["exit_code"] = static_cast<int>(ErrorKind::kDamaged);
    out["error"] = archive + ": " + describe_problem(r.problems.front());
  }
  return out;
}

// `verify DIR|REMOTE`: a local directory, or a remote path that does not
// name an archive (create's --output rule).
bool names_a_backup_dir(const std::string& arg) {
  const Location where = parse_location(arg);
  if (where.is_stdio()) return false;
  if (where.is_rclone()) return !arg.ends_with(".tar.zst");
  struct stat st;
  return ::stat(arg.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Every archive of a backup directory through the one Verifier, newest
// first: one line each, then a count. Exit 3 when any is damaged, else 1
// when any could not be read, else 0.
int verify_dir(const std::string& arg, const CommonFlags& flags, ConsoleReporter& reporter) {
  const Location where = parse_location(arg);
  auto store = open_store(where);
  const Catalog catalog = read_catalog(*store, CatalogOptions{}, reporter);
  std::size_t intact = 0, damaged = 0, failed = 0;
  std::string first_damage, first_failure;
  nlohmann::json archives = nlohmann::json::array();
  for (const ArchiveInfo& a : catalog.archives) {
    const std::string shown = store->display(a.name);
    nlohmann::json j = {{"name", a.name}, {"path", shown}};
    try {
      const StoredVerified v = verify_stored(*store, a.name, reporter);
      reporter.clear_line();
      const VerifyResult& r = v.result;
      j["ok"] = r.ok();
      j["files"] = r.files;
      j["bytes"] = r.bytes;
      j["bad_entries"] = r.bad_entries;
      j["problem"] = r.ok() ? nlohmann::json() : nlohmann::json(describe_problem(r.problems.front()));
      j["xxh128"] = r.ok() ? nlohmann::json(v.xxh128) : nlohmann::json();
      j["sidecar"] = v.sidecar ? nlohmann::json(*v.sidecar) : nlohmann::json();
      j["check_record"] = v.record ? nlohmann::json(store->display(check_record_name(a.name))) : nlohmann::json();
      if (r.ok()) {
        ++intact;
        if (!flags.json && !flags.quiet)
          print(stdout, "OK       %s: %llu files, %s\n", a.name.c_str(), static_cast<unsigned long long>(r.files),
                human_bytes(r.bytes).c_str());
      } else {
        ++damaged;
        const std::string what = r.damage_summary();
        if (first_damage.empty()) first_damage = shown + ": " + what;
        if (!flags.json) print(stdout, "DAMAGED  %s: %s\n", a.name.c_str(), what.c_str());
      }
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kInterrupted || interrupted_signal()) throw;
      reporter.clear_line();
      ++failed;
      j["ok"] = false;
      j["error"] = e.full_message();
      if (first_failure.empty()) first_failure = e.full_message();
      if (!flags.json) print(stdout, "ERROR    %s: %s\n", a.name.c_str(), e.full_message().c_str());
    }
    archives.push_back(std::move(j));
  }
  const std::size_t n = catalog.archives.size();
  std::string error;
  ErrorKind kind = ErrorKind::kDamaged;
  if (damaged) {
    error = first_damage + "; " + std::to_string(damaged) + " of " + std::to_string(n) + " archives in " +
            where.display() + " damaged: do not restore from " + (damaged == 1 ? "it" : "them");
  } else if (failed) {
    kind = ErrorKind::kRuntime;
    error = first_failure + "; " + std::to_string(failed) + " of " + std::to_string(n) +
            " archives could not be read";
  }
  if (flags.json) {
    nlohmann::json out = {{"command", "verify"},
                          {"ok", error.empty()},
                          {"location", where.display()},
                          {"archives", archives},
                          {"intact", intact},
                          {"damaged", damaged},
                          {"unreadable", failed},
                          {"warnings", reporter.warnings()}};
    if (!error.empty()) add_failure(out, kind, error);
    print_json(out);
  } else if (!flags.quiet) {
    if (n == 0) print(stdout, "No archives in %s.\n", where.display().c_str());
    else
      print(stdout, "%s: %zu %s, %zu intact, %zu damaged%s\n", where.display().c_str(), n,
            n == 1 ? "archive" : "archives", intact, damaged,
            failed ? (", " + std::to_string(failed) + " unreadable").c_str() : "");
  }
  return error.empty() ? 0 : report_failure(kind, error);
}

}  // namespace

int cmd_verify(int argc, char** argv) {
  cxxopts::Options options("jellyfin-backup verify",
                           "Check an archive end to end: zstd frame checksums, tar structure, the "
                           "manifest, and every file against CHECKSUMS.xxh128.\nAn intact archive file "
                           "gets its sidecar ARCHIVE.xxh128 (the whole file's xxh128sum) written, and every archive file\n"
                           "its check record ARCHIVE.checked (what list and prune show).");
  options.custom_help("ARCHIVE|-|DIR [options]");
  options.add_options()("archive", "Archive to check: a path, - for stdin, or rclone:REMOTE:path; or a backup "
                                   "directory (local or remote): every archive in it",
                        cxxopts::value<std::string>());
  options.parse_positional({"archive"});
  options.positional_help("");  // custom_help already names it
  add_common_flags(options);
  auto parsed = parse_flags(options, "verify", argc, argv);
  if (!parsed) return 0;
  const CommonFlags flags = common_flags(*parsed);
  if (!parsed->count("archive"))
    throw flag_error("verify", "name the archive to verify (or - for stdin)");
  const std::string archive = (*parsed)["archive"].as<std::string>();

  ConsoleReporter reporter(flags, "verify");
  if (names_a_backup_dir(archive)) return verify_dir(archive, flags, reporter);
  const LocationVerified verified = verify_location(archive, reporter);
  const VerifyResult& result = verified.result;
  reporter.clear_line();

  if (flags.json) print_json(to_json(archive, verified));
  if (!result.ok()) {
    return report_failure(ErrorKind::kDamaged, result.damage(archive) +
                                                   " (--json lists them all): the archive is damaged, do "
                                                   "not restore from it");
  }
  if (!flags.json && !flags.quiet) {
    const Manifest& m = *result.manifest;
    print(stdout, "%s: OK: %llu files, %s verified (created %s on %s, Jellyfin %s)\n",
                archive.c_str(), static_cast<unsigned long long>(result.files),
                human_bytes(result.bytes).c_str(), m.created.c_str(), m.host.c_str(),
                m.app_version.value_or("version unknown").c_str());
  }
  return 0;
}

}  // namespace jb::cli
