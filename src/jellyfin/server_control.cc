// Running the user's stop and start commands. They are started with
// posix_spawnp rather than system(): no shell of ours in between, the exact
// argv in messages, and a child set up the way a command run from a fresh
// shell expects (stdin /dev/null, stdout sent to our stderr so it can never
// corrupt an archive or --json on our stdout, default signal dispositions,
// none of our file descriptors).
#include "jellyfin_backup/jellyfin/server_control.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/paths.h"

extern char** environ;

namespace jb {
namespace {

// Owners of the two posix_spawn attribute objects.
class SpawnFileActions {
 public:
  SpawnFileActions() {
    if (int err = ::posix_spawn_file_actions_init(&actions_))
      throw io_error("posix_spawn", "cannot prepare a command", err);
  }
  ~SpawnFileActions() { ::posix_spawn_file_actions_destroy(&actions_); }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

class SpawnAttr {
 public:
  SpawnAttr() {
    if (int err = ::posix_spawnattr_init(&attr_))
      throw io_error("posix_spawn", "cannot prepare a command", err);
  }
  ~SpawnAttr() { ::posix_spawnattr_destroy(&attr_); }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

void check_spawn_setup(int err) {
  if (err != 0) throw io_error("posix_spawn", "cannot prepare a command", err);
}

// A full path to an executable `name` on $PATH. Empty and relative entries
// are skipped: which program stops the server must not depend on the
// directory we were started in.
std::optional<std::string> find_on_path(const std::string& name) {
  const char* env = std::getenv("PATH");
  const std::string path = env ? env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    start = end + 1;
    if (dir.empty() || dir[0] != '/') continue;
    std::string candidate = dir + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return std::nullopt;
}

// An argument as a shell would need it, so a message shows the command
// unambiguously: `/bin/sh -c 'systemctl stop jellyfin'`.
std::string shell_quoted(const std::string& arg) {
  static constexpr std::string_view kPlain =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_";
  if (!arg.empty() && arg.find_first_not_of(kPlain) == std::string::npos) return arg;
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string command_text(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    text += shell_quoted(arg);
  }
  return text;
}

// Runs the stop or start command; a command that cannot be run or exits
// non-zero becomes Error(kRuntime) with `hint`.
void run_step(const std::vector<std::string>& argv, const char* which, const std::string& hint) {
  int status = 0;
  try {
    status = run_command(argv);
  } catch (const Error& e) {
    throw Error(ErrorKind::kRuntime,
                std::string("the ") + which + " command cannot be run: " + e.what(), hint);
  }
  if (status != 0)
    throw Error(ErrorKind::kRuntime,
                std::string("the ") + which + " command failed (exit " + std::to_string(status) +
                    "): " + command_text(argv),
                hint);
}

}  // namespace

ServerControl ServerControl::for_service(const std::string& name) {
  ServerControl control;
  control.stop_ = {"systemctl", "stop", name};
  control.start_ = {"systemctl", "start", name};
  control.description_ = "systemd service " + name;
  return control;
}

ServerControl ServerControl::for_container(const std::string& name) {
  for (const char* tool : {"docker", "podman"}) {
    if (auto path = find_on_path(tool)) {
      ServerControl control;
      control.stop_ = {*path, "stop", name};
      control.start_ = {*path, "start", name};
      control.description_ = std::string(tool) + " container " + name;
      return control;
    }
  }
  throw usage_error("--container " + name + ": neither docker nor podman is installed",
                    "use --stop-cmd/--start-cmd instead");
}

ServerControl ServerControl::for_commands(const std::string& stop, const std::string& start) {
  ServerControl control;
  if (!stop.empty()) control.stop_ = {"/bin/sh", "-c", stop};
  if (!start.empty()) control.start_ = {"/bin/sh", "-c", start};
  control.description_ = "--stop-cmd/--start-cmd";
  return control;
}

int run_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return 0;

  SpawnFileActions actions;
  check_spawn_setup(
      ::posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0));
  check_spawn_setup(
      ::posix_spawn_file_actions_adddup2(actions.get(), STDERR_FILENO, STDOUT_FILENO));
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // A start command may leave a daemon behind (`jellyfin &`); it must not
  // hold our archive or staging files open for the rest of its life.
  check_spawn_setup(::posix_spawn_file_actions_addclosefrom_np(actions.get(), STDERR_FILENO + 1));
#endif

  // We ignore SIGPIPE and may block signals; exec keeps both, and a command
  // that cannot die of a closed pipe or Ctrl-C is not what its author tested.
  SpawnAttr attr;
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT}) sigaddset(&defaults, sig);
  check_spawn_setup(::posix_spawnattr_setsigmask(attr.get(), &none));
  check_spawn_setup(::posix_spawnattr_setsigdefault(attr.get(), &defaults));
  check_spawn_setup(
      ::posix_spawnattr_setflags(attr.get(), POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (int err =
          ::posix_spawnp(&pid, argv[0].c_str(), actions.get(), attr.get(), args.data(), environ))
    throw io_error(argv[0], "cannot run", err);

  // A signal (Ctrl-C reaches the command too) does not end the wait: a stop
  // command abandoned half-way would leave the server in an unknown state.
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw io_error(argv[0], "cannot wait for the command", errno);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;  // not reached: without WUNTRACED only exits and deaths are reported
}

StoppedServer::StoppedServer(const ServerControl& control, Reporter& reporter)
    : control_(control), reporter_(reporter), stopped_at_(std::chrono::steady_clock::now()) {
  // Throwing here skips the destructor, so the start command is not run: we
  // do not know what a failed stop left behind.
  run_step(control_.stop_argv(), "stop",
           "nothing was read; the start command was not run, check the server's state");
}

StoppedServer::~StoppedServer() {
  if (start_attempted_) return;
  try {
    try {
      start();
    } catch (const Error& e) {
      reporter_.warning(e.full_message());
    } catch (const std::exception& e) {
      reporter_.warning(std::string("cannot start the server again: ") + e.what() +
                        "; start Jellyfin by hand");
    }
  } catch (...) {
    // We may be unwinding from the operation's own error; nothing may escape.
  }
}

void StoppedServer::start() {
  // Once only, even when it fails: a start command that failed is not run
  // again behind the user's back by the destructor.
  if (start_attempted_) return;
  start_attempted_ = true;
  run_step(control_.start_argv(), "start", "start Jellyfin by hand");
  started_at_ = std::chrono::steady_clock::now();
  started_ = true;
}

double StoppedServer::downtime_seconds() const {
  const auto end = started_ ? started_at_ : std::chrono::steady_clock::now();
  return std::chrono::duration<double>(end - stopped_at_).count();
}

}  // namespace jb
