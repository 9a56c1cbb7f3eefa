// --on-success CMD / --on-failure CMD: the user's own way to hear about a
// run (a health-check ping, a mail), with the outcome in the environment.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/child_process.h"

namespace jb::cli {

int run_outcome_hook(const std::string& command, int exit_code) {
  const ReportMode& mode = report_mode();
  const bool ok = exit_code == 0;
  const std::string& hook = ok ? mode.on_success : mode.on_failure;
  if (hook.empty()) return exit_code;
  char downtime[32] = "";
  std::string restarted;
  if (mode.server && mode.server->stopped) {
    std::snprintf(downtime, sizeof downtime, "%.1f", mode.server->downtime_seconds);
    restarted = mode.server->running_again ? "yes" : "no";
  }
  ChildProcess::Options options;  // stdin /dev/null, stdout to our stderr: --json stays clean
  options.env = {"JELLYFIN_BACKUP_COMMAND=" + command,
                 "JELLYFIN_BACKUP_OUTCOME=" + std::string(ok ? "success" : "failure"),
                 "JELLYFIN_BACKUP_EXIT_CODE=" + std::to_string(exit_code),
                 "JELLYFIN_BACKUP_ERROR=" + (ok ? std::string() : mode.error_line),
                 "JELLYFIN_BACKUP_ARCHIVE=" + mode.archive,
                 "JELLYFIN_BACKUP_DOWNTIME=" + std::string(downtime),
                 "JELLYFIN_BACKUP_SERVER_RESTARTED=" + restarted};
  const char* flag = ok ? "--on-success" : "--on-failure";
  try {
    ChildProcess child = ChildProcess::spawn({"/bin/sh", "-c", hook}, options);
    if (const int status = child.wait(); status != 0)
      print(stderr, "jellyfin-backup: warning: the %s command failed (exit %d): %s\n", flag, status, hook.c_str());
  } catch (const Error& e) {
    print(stderr, "jellyfin-backup: warning: the %s command cannot be run: %s\n", flag, e.full_message().c_str());
  }
  // The run's own outcome decides the exit status, not its messenger's.
  return exit_code;
}

}  // namespace jb::cli
