#include <cstdio>

#include "cli/options.h"
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
                        {"sidecar", v.sidecar ? nlohmann::json(*v.sidecar) : nlohmann::json()}};
  if (!r.ok()) {
    out["exit_code"] = static_cast<int>(ErrorKind::kDamaged);
    out["error"] = archive + ": " + describe_problem(r.problems.front());
  }
  return out;
}

}  // namespace

int cmd_verify(int argc, char** argv) {
  cxxopts::Options options("jellyfin-backup verify",
                           "Check an archive end to end: zstd frame checksums, tar structure, the "
                           "manifest, and every file against CHECKSUMS.xxh128.\nAn intact archive file "
                           "gets its sidecar ARCHIVE.xxh128 (the whole file's xxh128sum) written.");
  options.custom_help("ARCHIVE|- [options]");
  options.add_options()("archive", "Archive to check: a path, - for stdin, or rclone:REMOTE:path",
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
  const LocationVerified verified = verify_location(archive, reporter);
  const VerifyResult& result = verified.result;
  reporter.clear_line();

  if (flags.json) print_json(to_json(archive, verified));
  if (!result.ok()) {
    print(stderr,
                 "jellyfin-backup: error: %s: %s; %llu bad %s (--json lists them all): the "
                 "archive is damaged, do not restore from it\n",
                 archive.c_str(), describe_problem(result.problems.front()).c_str(),
                 static_cast<unsigned long long>(result.bad_entries),
                 result.bad_entries == 1 ? "entry" : "entries");
    return static_cast<int>(ErrorKind::kDamaged);
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
