// The directory where restore keeps its swap journals: one only the user
// running the tool can write, so that nobody else can plant a journal that
// `recover` would execute (issue 11, point 2).
//
// Where, first match wins:
//   $JELLYFIN_BACKUP_STATE_DIR        (tests, unusual setups)
//   $STATE_DIRECTORY                  (systemd StateDirectory=; first entry)
//   /var/lib/jellyfin-backup          (root)
//   $XDG_STATE_HOME/jellyfin-backup   (others; default ~/.local/state/...)
// Trusted only if it is a directory (not a symlink) owned by the effective
// user and writable by nobody else; otherwise it is refused (kRefused).
#pragma once

#include <optional>
#include <string>

#include "jellyfin_backup/io/dir_fd.h"

namespace jb {

// The state directory's path by the rule above (no filesystem access).
std::string state_dir_path();

// The state directory, checked; nullopt when it does not exist, or cannot
// be named or reached (then nothing was ever journaled there). Throws
// Error(kRefused) when it is not trustworthy.
std::optional<DirFd> open_state_dir();

// Same, creating it (and missing parents) with mode 0700 when missing.
DirFd open_or_create_state_dir();

// Why a file or directory owned by someone else, or writable by group or
// others, must not be trusted; nullopt when `st` is fine. `dir`: must be a
// directory, else a regular file.
std::optional<std::string> untrusted_because(const struct stat& st, bool dir);

}  // namespace jb
