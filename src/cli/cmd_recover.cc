#include <cstdio>

#include "cli/options.h"
#include "jellyfin_backup/restore/restore.h"

namespace jb::cli {

int cmd_recover(int argc, char** argv) {
  cxxopts::Options options("jellyfin-backup recover",
                           "Finish (or, if it cannot, undo) a restore that was interrupted, so "
                           "data and config come from the same backup. With nothing pending, "
                           "remove leftover staging directories.");
  options.custom_help("[--data DIR --config DIR] [options]");
  add_install_flags(options, "recover");
  add_lock_flags(options);
  add_common_flags(options);
  auto parsed = parse_flags(options, "recover", argc, argv);
  if (!parsed) return 0;
  const CommonFlags flags = common_flags(*parsed);
  // Mid-swap a tree may be missing: explicit --data and --config always work.
  const Install install = locate_from_flags(*parsed);
  const std::string data = install.data.path;
  const std::string config = install.config.path;

  ConsoleReporter reporter(flags, "recover");
  const auto tree_locks = lock_install(install, "recover", reporter, lock_wait_seconds(*parsed));
  RecoverResult r = recover(data, config, reporter);
  const char* outcome = r.outcome == RecoverResult::Outcome::kCompleted     ? "completed"
                        : r.outcome == RecoverResult::Outcome::kRolledBack ? "rolled_back"
                                                                            : "nothing_pending";
  if (flags.json) {
    print_json({{"command", "recover"},
                {"ok", true},
                {"outcome", outcome},
                {"archive", r.archive.empty() ? nlohmann::json() : nlohmann::json(r.archive)},
                {"removed_staging", r.removed_staging}});
  } else if (!flags.quiet) {
    switch (r.outcome) {
      case RecoverResult::Outcome::kCompleted:
        print(stdout, "Recovered: the interrupted restore of %s is complete; both trees come from it.\n",
                    r.archive.c_str());
        break;
      case RecoverResult::Outcome::kRolledBack:
        print(stdout, "Recovered: the interrupted restore of %s was undone; both trees are as before.\n",
                    r.archive.c_str());
        break;
      case RecoverResult::Outcome::kNothingPending:
        print(stdout, "Nothing to recover: no interrupted restore.");
        if (r.removed_staging.empty()) print(stdout, "\n");
        else print(stdout, " Removed %zu leftover staging %s:\n", r.removed_staging.size(),
                         r.removed_staging.size() == 1 ? "directory" : "directories");
        for (const auto& p : r.removed_staging) print(stdout, "  %s\n", p.c_str());
        break;
    }
  }
  return 0;
}

}  // namespace jb::cli
