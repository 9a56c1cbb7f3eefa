// The one error type of the project. The core throws it; only main.cc
// catches it and turns its kind into the process exit code, so every command
// reports the same class of failure with the same code.
#pragma once

#include <stdexcept>
#include <string>

namespace jb {

// Values are the documented exit codes (README "Exit codes", man page EXIT STATUS).
enum class ErrorKind {
  kRuntime = 1,  // I/O, permissions, interruption: the environment failed us
  kUsage = 2,    // the command line asks for something impossible
  kDamaged = 3,  // an archive is corrupt, truncated or hostile
  kRefused = 4,  // refused for safety; --force may override where it makes sense
};

class Error : public std::runtime_error {
 public:
  // `message` names the thing and what went wrong; `hint`, if any, says what
  // the user can do about it. Both end up on one line.
  Error(ErrorKind kind, std::string message, std::string hint = {});

  ErrorKind kind() const { return kind_; }
  int exit_code() const { return static_cast<int>(kind_); }
  const std::string& hint() const { return hint_; }

  // "<what>; <hint>" — the one line the CLI prints after "error: ".
  std::string full_message() const;

 private:
  ErrorKind kind_;
  std::string hint_;
};

// "<path>: <what>: <strerror(err)>" as a runtime error.
Error io_error(const std::string& path, const std::string& what, int err,
               std::string hint = {});
Error usage_error(std::string message, std::string hint = {});
Error damaged_error(std::string message, std::string hint = {});
Error refused_error(std::string message, std::string hint = {});

}  // namespace jb
