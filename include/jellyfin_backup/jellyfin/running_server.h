// Is a Jellyfin server using these trees? Jellyfin writes no pid or lock
// file, so we look at what the kernel knows: every process's open files
// (/proc/PID/fd), its working directory (/proc/PID/cwd) and its command line
// (`jellyfin`, `dotnet jellyfin.dll`). A process of another user can only be
// judged by its command line unless we run as root.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/reporter.h"

namespace jb {

struct ServerProcess {
  pid_t pid = 0;
  std::string command;  // its command line, arguments joined by spaces, at most ~200 bytes
  std::string reason;   // "has /var/lib/jellyfin/data/jellyfin.db open",
                        // "works in /var/lib/jellyfin", "is the Jellyfin server"
};

struct ProcessScan {
  std::vector<ServerProcess> processes;  // by pid
  int unreadable = 0;  // processes whose fd/cwd we could not read (other users')
};

// True for the server's own command lines: argv[0] named `jellyfin` (or
// `jellyfin.exe`, `Jellyfin.Server`), or any argument naming `jellyfin.dll`.
// `jellyfin-backup`, `jellyfin-ffmpeg` and the like are not the server.
bool is_jellyfin_command(const std::vector<std::string>& argv);

// Processes that have a file open under any of `dirs` (absolute, realpath'd),
// work in one of them, or run the Jellyfin server. This process and its
// ancestors (the shell that started us, which may well sit in the data dir)
// are never listed. `proc` is the procfs mount (tests pass a fake one).
// Throws Error(kRuntime) when `proc` cannot be listed.
ProcessScan scan_server_processes(const std::vector<std::string>& dirs,
                                  const std::string& proc = "/proc");

// The check create and restore make before they touch the trees: throws
// Error(kRefused) naming every process and `stop_hint` when any uses `dirs`.
// With `force` it warns instead and returns what it overrode (recorded in
// the manifest). After a stop command, `grace_seconds` gives the server time
// to exit before it counts as running.
std::optional<std::string> refuse_if_running(const std::vector<std::string>& dirs, bool force,
                                             const std::string& stop_hint, Reporter& reporter,
                                             double grace_seconds = 0, const std::string& proc = "/proc");

// "pid 1234 (jellyfin --datadir ...) has /x/y open; pid 99 (...) is the Jellyfin server"
std::string describe_processes(const std::vector<ServerProcess>& processes);

}  // namespace jb
