#include <unistd.h>

#include <cstdio>

#include "cli/options.h"
#include "jellyfin_backup/copy/copy.h"
#include "jellyfin_backup/create/create.h"

namespace jb::cli {

int cmd_copy(int argc, char** argv) {
  cxxopts::Options options("jellyfin-backup copy",
                           "Copy an archive (local path, - for stdin/stdout, or rclone:REMOTE:path on\n"
                           "either side), verifying every byte while it streams. The copy gets its final\n"
                           "name, and its sidecar DEST.xxh128, only when it verified.");
  options.custom_help("SRC DEST [options]");
  options.add_options()
      ("source", "Archive to copy", cxxopts::value<std::string>())
      ("dest", "A directory (keeps the name), a file path, or - for stdout", cxxopts::value<std::string>());
  options.parse_positional({"source", "dest"});
  options.positional_help("");
  add_lock_flags(options);
  add_common_flags(options);
  auto parsed = parse_flags(options, "copy", argc, argv);
  if (!parsed) return 0;
  const CommonFlags flags = common_flags(*parsed);
  if (!parsed->count("source") || !parsed->count("dest"))
    throw flag_error("copy", "name the archive to copy and where to (SRC DEST)");
  CopyOptions opts;
  opts.source = (*parsed)["source"].as<std::string>();
  opts.dest = (*parsed)["dest"].as<std::string>();
  const bool to_stdout = opts.dest == "-";
  report_mode().archive_on_stdout = to_stdout;

  ConsoleReporter reporter(flags, "copy");
  // The destination directory is made (if it may be) before it is locked.
  const auto lock = [&]() -> std::optional<LockFile> {
    if (to_stdout) return std::nullopt;
    const OutputTarget target = output_target(opts.dest);
    prepare_output_dir(target);
    return lock_backup_dir(target.dir, "copy", reporter, lock_wait_seconds(*parsed));
  }();
  const CopyResult r = copy_archive(opts, reporter);
  report_mode().archive = r.dest;
  reporter.clear_line();

  if (flags.json) {
    print_json({{"command", "copy"},
                {"ok", true},
                {"source", r.source},
                {"dest", r.dest},
                {"bytes", r.bytes},
                {"xxh128", r.xxh128},
                {"sidecar", r.sidecar_written ? nlohmann::json(r.dest + ".xxh128") : nlohmann::json()},
                {"files", r.verify.files},
                {"seconds", r.seconds},
                {"manifest", r.verify.manifest ? r.verify.manifest->to_json() : nlohmann::json()},
                {"warnings", reporter.warnings()}},
               /*to_stderr=*/to_stdout);
  } else if (!flags.quiet && (!to_stdout || ::isatty(STDERR_FILENO))) {
    print(to_stdout ? stderr : stdout, "Copied %s -> %s: %s, %llu files verified, in %.1f s\n",
                 r.source.c_str(), to_stdout ? "stdout" : r.dest.c_str(), human_bytes(r.bytes).c_str(),
                 static_cast<unsigned long long>(r.verify.files), r.seconds);
  }
  return 0;
}

}  // namespace jb::cli
