// A helper program we run and talk to through pipes (rclone), or just wait
// for (the user's stop and start commands). Started with posix_spawn: no
// shell of ours in between, default signal dispositions, none of our file
// descriptors but the ones given, stdin /dev/null unless piped.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/io/unique_fd.h"

namespace jb {

// A full path of an executable `name` on $PATH (absolute entries only), or
// nullopt.
std::optional<std::string> find_on_path(const std::string& name);

// `argv` as a shell would need it quoted, for messages:
// "rclone cat 'my remote:x'".
std::string command_text(const std::vector<std::string>& argv);

class ChildProcess {
 public:
  enum class Stdin { kNull, kPipe };
  enum class Stdout { kToStderr, kPipe, kNull };
  enum class Stderr { kInherit, kCapture };  // kCapture: kept for messages (last lines)

  struct Options {
    Stdin in = Stdin::kNull;
    Stdout out = Stdout::kToStderr;
    Stderr err = Stderr::kInherit;
    // Extra environment, NAME=value, on top of ours.
    std::vector<std::string> env = {};
  };

  // Throws Error(kRuntime) when the program cannot be started (naming argv[0]).
  static ChildProcess spawn(const std::vector<std::string>& argv, const Options& options);

  ChildProcess(ChildProcess&&) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  // A child still running is sent SIGTERM and waited for: no process of
  // ours outlives the object that started it.
  ~ChildProcess();

  // Our ends of the pipes (-1 when not piped). close_stdin() signals EOF.
  int stdin_fd() const { return in_.get(); }
  int stdout_fd() const { return out_.get(); }
  void close_stdin() { in_.reset(); }

  // Waits (through EINTR) and returns the exit status, 128+N when killed by
  // signal N. Idempotent: later calls return the same status.
  int wait();
  // SIGTERM, then wait; the status is not an error.
  void terminate();
  bool running() const { return pid_ > 0 && !status_; }

  // With Stderr::kCapture: the last non-empty lines the child wrote to
  // stderr (up to `max_lines`), joined by "; ", after wait().
  std::string stderr_tail(std::size_t max_lines = 1) const;
  const std::vector<std::string>& argv() const { return argv_; }

 private:
  ChildProcess(std::vector<std::string> argv, pid_t pid, UniqueFd in, UniqueFd out, UniqueFd err);
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  std::optional<int> status_;
  UniqueFd in_, out_;
  UniqueFd err_;  // a memfd holding the child's stderr, with kCapture
};

// Runs argv to completion (stdin /dev/null, stdout to our stderr) and
// returns its exit status. Keeps waiting through EINTR: a command we started
// is always waited for. An empty argv runs nothing and returns 0.
int run_command(const std::vector<std::string>& argv);

}  // namespace jb
