// Keeps two runs of jellyfin-backup apart: two runs on the same backup
// directory, or on the same Jellyfin trees, never overlap.
//
// A lock is a small file holding the holder's pid, host, start time and
// command, locked with flock(2). The kernel drops a flock when its holder
// dies, however it dies, so a lock file left by a dead process (kill -9,
// power loss) is stale by construction: the next run takes it over, and
// says so. A live holder makes acquire() fail with Error(kLocked, exit 5:
// retry later) naming its pid and command.
//
// Locks are taken before anything else happens (before a stop command):
// a refused second run must not stop or start the server under the first.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/io/unique_fd.h"
#include "jellyfin_backup/reporter.h"

namespace jb {

struct LockHolder {
  pid_t pid = 0;
  std::string host;
  std::string command;  // "create", "prune", ...
  std::string since;    // UTC ISO 8601
};

class LockFile {
 public:
  // Takes the lock at `path` (creating the file) for `command`. `what`
  // names the protected thing in messages ("the backup directory
  // /srv/backups"). A live holder is asked again every 0.1 s for up to
  // `wait_seconds`; then acquire throws Error(kLocked, code kLocked):
  //   "<what> is in use by jellyfin-backup create (pid 1234 on host, since
  //    2026-11-25T03:15:00Z); wait for it to finish (lock file <path>)".
  // A stale lock file (its holder dead) is taken over with a warning.
  // Throws Error(kRuntime) when the lock file cannot be created, and
  // Error(kRefused) when what is at `path` is not a lock file we may use
  // (a symlink, a FIFO, a file with other hard links, another user's file):
  // the lock directory is shared, and such a file was planted.
  static LockFile acquire(const std::string& path, const std::string& what,
                          const std::string& command, Reporter& reporter, double wait_seconds = 0);

  LockFile(LockFile&&) noexcept;
  LockFile& operator=(LockFile&&) = delete;
  // Releases: removes the file (if it is still ours) and unlocks.
  ~LockFile();

  const std::string& path() const { return path_; }

 private:
  LockFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
};

// What a lock file says about its holder (nullopt if unreadable or empty).
std::optional<LockHolder> read_lock_holder(const std::string& path);

// The directory for locks that cannot live beside what they protect:
// $JELLYFIN_BACKUP_LOCK_DIR, else /run/lock when writable, else /tmp.
std::string lock_directory();

// "<lock_directory()>/jellyfin-backup.<key, escaped to a file name>.lock":
// the lock of a Jellyfin tree or a local backup directory (key: its
// absolute, resolved path) or of a remote backup directory (key:
// "rclone:REMOTE:path"). Locks live here, not in what they protect: taking
// one never touches the user's directories.
std::string keyed_lock_path(const std::string& key);

// The key of a path's lock: absolute, with the deepest existing ancestor
// resolved by realpath (symlinks, "..") and the rest (which does not exist
// yet) read lexically: "t/data", "./t//data/" and "/abs/t/x/../data" are
// one key. Throws Error(kRuntime) only when the current directory is gone.
std::string lock_key(const std::string& path);

// The locks of a Jellyfin install: one per tree (nested or not), keyed by
// lock_key(), taken in a fixed order.
std::vector<LockFile> lock_trees(const std::vector<std::string>& trees, const std::string& command,
                                 Reporter& reporter, double wait_seconds = 0);

}  // namespace jb
