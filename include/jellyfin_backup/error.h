// The one error type of the project. The core throws it; only main.cc
// catches it and turns its kind into the process exit code, so every command
// reports the same class of failure with the same code.
//
// Behaviour is decided on an error's kind and code, never on its message
// text (as LevelDB's Status::IsNotFound()): the message is for people. The
// core says what happened; the hint, which names flags, is the caller's job
// (the CLI knows what the user typed), so a core error carries a hint only
// where it needs no flag to say it.
#pragma once

#include <stdexcept>
#include <string>

namespace jb {

// Values are the documented exit codes (README "Exit codes", man page EXIT STATUS).
enum class ErrorKind {
  kRuntime = 1,  // I/O, permissions: the environment failed us
  kUsage = 2,    // the command line asks for something impossible
  kDamaged = 3,  // an archive is corrupt, truncated or hostile
  kRefused = 4,  // refused for safety; needs a person (--force may override where it makes sense)
  kLocked = 5,   // another run holds the lock: retry later (or --wait-lock)
  kNotFresh = 6, // `status`: no archive, or the newest is older than --max-age
  // SIGINT and SIGTERM end a run with 128 + the signal, as shells do:
  // 130 and 143 (main.cc maps kInterrupted to the signal that arrived).
  kInterrupted = 130,
};

// What happened, for callers that act on it. Most errors need none.
enum class ErrorCode {
  kNone,
  kNotFound,       // ENOENT: the thing named is not there
  kExists,         // EEXIST: a name is taken
  kNoSpace,        // ENOSPC/EDQUOT, or a free-space check failed
  kPermission,     // EACCES/EPERM
  kTruncated,      // an archive (or a manifest frame) ends early
  kChecksum,       // content that does not match its checksum
  kServerRunning,  // a Jellyfin server uses the trees
  kNewerVersion,   // an archive from a newer Jellyfin than the installed one
  kLocked,         // another run holds a lock
  kInterrupted,    // SIGINT/SIGTERM arrived
  kBadFlag,        // a flag's value is wrong (flag() names it)
  kJournalPending, // an interrupted restore waits for `recover`
  kIsDirectory,    // a directory where a file (an archive) was wanted
};

class Error : public std::runtime_error {
 public:
  // `message` names the thing and what went wrong; `hint`, if any, says what
  // the user can do about it. Both end up on one line.
  Error(ErrorKind kind, std::string message, std::string hint = {});
  Error(ErrorKind kind, ErrorCode code, std::string message, std::string hint = {});

  ErrorKind kind() const { return kind_; }
  ErrorCode code() const { return code_; }
  int exit_code() const { return static_cast<int>(kind_); }
  const std::string& hint() const { return hint_; }
  // The errno behind an io_error, 0 otherwise.
  int sys_errno() const { return errno_; }
  // The flag (without "--") a usage error is about, empty when none.
  const std::string& flag() const { return flag_; }

  bool is_not_found() const { return code_ == ErrorCode::kNotFound; }
  bool is_exists() const { return code_ == ErrorCode::kExists; }
  bool is_no_space() const { return code_ == ErrorCode::kNoSpace; }
  bool is_truncated() const { return code_ == ErrorCode::kTruncated; }
  bool is_interrupted() const { return code_ == ErrorCode::kInterrupted; }

  // The same error with another message, hint or flag (the kind and code
  // stay: wrapping an error never changes what it is).
  Error with_message(std::string message) const;
  Error with_hint(std::string hint) const;
  Error with_flag(std::string flag) const;

  // "<what>; <hint>" — the one line the CLI prints after "error: ".
  std::string full_message() const;

 private:
  ErrorKind kind_;
  ErrorCode code_ = ErrorCode::kNone;
  std::string hint_;
  int errno_ = 0;
  std::string flag_;
  friend Error io_error(const std::string&, const std::string&, int, std::string);
};

// "<path>: <what>: <strerror(err)>" as a runtime error; its code follows
// from `err` (ENOENT -> kNotFound, ENOSPC -> kNoSpace, ...).
Error io_error(const std::string& path, const std::string& what, int err,
               std::string hint = {});
// "<path>: already exists" (code kExists): a name we will not overwrite.
Error exists_error(const std::string& path, std::string hint = {});
Error usage_error(std::string message, std::string hint = {});
// A usage error about --`flag`'s value.
Error bad_flag_error(std::string flag, std::string message, std::string hint = {});
Error damaged_error(std::string message, std::string hint = {});
Error damaged_error(ErrorCode code, std::string message, std::string hint = {});
Error refused_error(std::string message, std::string hint = {});
Error refused_error(ErrorCode code, std::string message, std::string hint = {});

}  // namespace jb
