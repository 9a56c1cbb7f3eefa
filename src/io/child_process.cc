// Children are started with posix_spawnp rather than fork+exec or system():
// no shell of ours in between, the exact argv in messages, and a child set
// up the way a command run from a fresh shell expects (default signal
// dispositions, none of our file descriptors). A captured stderr goes to a
// memfd instead of a pipe: the child can never block on it, and we need no
// reader thread next to the one that feeds or drains its stdin/stdout.
#include "jellyfin_backup/io/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <tuple>
#include <utility>

#include "jellyfin_backup/error.h"

extern char** environ;

namespace jb {
namespace {

// Owner of a posix_spawn attribute object (file actions, attributes).
template <typename T, int (*Init)(T*), int (*Destroy)(T*)>
class SpawnObject {
 public:
  SpawnObject() {
    if (int err = Init(&object_)) throw io_error("posix_spawn", "cannot prepare a command", err);
  }
  ~SpawnObject() { Destroy(&object_); }
  SpawnObject(const SpawnObject&) = delete;
  SpawnObject& operator=(const SpawnObject&) = delete;
  T* get() { return &object_; }

 private:
  T object_;
};
using SpawnFileActions = SpawnObject<posix_spawn_file_actions_t, ::posix_spawn_file_actions_init,
                                     ::posix_spawn_file_actions_destroy>;
using SpawnAttr = SpawnObject<posix_spawnattr_t, ::posix_spawnattr_init, ::posix_spawnattr_destroy>;

void check_spawn_setup(int err) {
  if (err != 0) throw io_error("posix_spawn", "cannot prepare a command", err);
}

// A pipe whose ends are both close-on-exec: the end the child gets is
// dup2'ed onto 0 or 1 (which clears the flag there), and the end we keep
// must not leak into this child or any later one, or EOF never comes.
std::pair<UniqueFd, UniqueFd> make_pipe(const std::string& program) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw io_error(program, "cannot create a pipe", errno);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Our environment with `extra` (NAME=value) added or replacing.
std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    bool replaced = false;
    for (const auto& x : extra) replaced = replaced || name_of(x) == name_of(entry);
    if (!replaced) env.emplace_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
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

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;  // not reached: without WUNTRACED only exits and deaths are reported
}

// How long a child may take to act on SIGTERM (rclone aborts a multipart
// upload on it, which is a network round trip) before it gets SIGKILL: a
// destructor must not hang on a child that ignores the polite request.
constexpr int kTerminateGraceMs = 10000;

}  // namespace

// Empty and relative entries are skipped: which program runs must not
// depend on the directory we were started in.
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

std::string command_text(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    text += shell_quoted(arg);
  }
  return text;
}

ChildProcess ChildProcess::spawn(const std::vector<std::string>& argv, const Options& options) {
  if (argv.empty()) throw Error(ErrorKind::kRuntime, "cannot run an empty command");
  const std::string& program = argv[0];

  SpawnFileActions actions;
  UniqueFd our_in, their_in, our_out, their_out, err;
  if (options.in == Stdin::kPipe) {
    std::tie(their_in, our_in) = make_pipe(program);
    check_spawn_setup(
        ::posix_spawn_file_actions_adddup2(actions.get(), their_in.get(), STDIN_FILENO));
  } else {
    check_spawn_setup(
        ::posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0));
  }
  // Before stderr is redirected: kToStderr means *our* stderr, so a
  // command's chatter can never reach stdout, which may carry an archive.
  switch (options.out) {
    case Stdout::kToStderr:
      check_spawn_setup(
          ::posix_spawn_file_actions_adddup2(actions.get(), STDERR_FILENO, STDOUT_FILENO));
      break;
    case Stdout::kPipe:
      std::tie(our_out, their_out) = make_pipe(program);
      check_spawn_setup(
          ::posix_spawn_file_actions_adddup2(actions.get(), their_out.get(), STDOUT_FILENO));
      break;
    case Stdout::kNull:
      check_spawn_setup(::posix_spawn_file_actions_addopen(actions.get(), STDOUT_FILENO,
                                                           "/dev/null", O_WRONLY, 0));
      break;
  }
  if (options.err == Stderr::kCapture) {
    err.reset(::memfd_create("jellyfin-backup-child-stderr", MFD_CLOEXEC));
    if (!err) throw io_error(program, "cannot create a buffer for its messages", errno);
    check_spawn_setup(::posix_spawn_file_actions_adddup2(actions.get(), err.get(), STDERR_FILENO));
  }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // A start command may leave a daemon behind (`jellyfin &`); it must not
  // hold our archive or staging files open for the rest of its life.
  check_spawn_setup(::posix_spawn_file_actions_addclosefrom_np(actions.get(), STDERR_FILENO + 1));
#endif

  // We ignore SIGPIPE and may block signals; exec keeps both, and a program
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

  std::vector<char*> args = c_strings(argv);
  std::vector<std::string> env_strings;
  std::vector<char*> env_pointers;
  char** envp = environ;
  if (!options.env.empty()) {
    env_strings = merged_environment(options.env);
    env_pointers = c_strings(env_strings);
    envp = env_pointers.data();
  }
  pid_t pid = 0;
  if (int e = ::posix_spawnp(&pid, program.c_str(), actions.get(), attr.get(), args.data(), envp))
    throw io_error(program, "cannot run", e);
  // their_in / their_out close here: the child holds the only copies, so
  // its exit is our EOF (and our EPIPE).
  return ChildProcess(argv, pid, std::move(our_in), std::move(our_out), std::move(err));
}

ChildProcess::ChildProcess(std::vector<std::string> argv, pid_t pid, UniqueFd in, UniqueFd out,
                           UniqueFd err)
    : argv_(std::move(argv)),
      pid_(pid),
      in_(std::move(in)),
      out_(std::move(out)),
      err_(std::move(err)) {}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : argv_(std::move(other.argv_)),
      pid_(std::exchange(other.pid_, -1)),
      status_(other.status_),
      in_(std::move(other.in_)),
      out_(std::move(other.out_)),
      err_(std::move(other.err_)) {}

ChildProcess::~ChildProcess() {
  if (running()) terminate();
}

int ChildProcess::wait() {
  if (status_) return *status_;
  if (pid_ <= 0) throw Error(ErrorKind::kRuntime, "no child process to wait for");
  // A signal (Ctrl-C reaches the child too) does not end the wait: a child
  // abandoned half-way would leave its work in an unknown state.
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0)
    if (errno != EINTR) throw io_error(argv_[0], "cannot wait for the command", errno);
  status_ = decode_status(status);
  return *status_;
}

void ChildProcess::terminate() {
  if (!running()) return;
  // Our pipe ends stay open until the child is gone: a child that saw EOF on
  // its stdin now could still finish (an upload) instead of stopping.
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int waited_ms = 0;;) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) {
      status_ = 128 + SIGTERM;  // not ours to wait for any more; nothing to report
      return;
    }
    if (waited_ms >= kTerminateGraceMs) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    const int step_ms = waited_ms < 100 ? 2 : 20;
    struct timespec step = {0, step_ms * 1000000L};
    ::nanosleep(&step, nullptr);
    waited_ms += step_ms;
  }
  status_ = decode_status(status);
}

std::string ChildProcess::stderr_tail(std::size_t max_lines) const {
  if (!err_ || max_lines == 0) return {};
  struct stat st;
  if (::fstat(err_.get(), &st) != 0 || st.st_size <= 0) return {};
  // The last lines are near the end; a child that logged megabytes of
  // retries does not need all of them read back.
  constexpr off_t kWindow = 64 * 1024;
  const off_t start = st.st_size > kWindow ? st.st_size - kWindow : 0;
  std::string text(static_cast<std::size_t>(st.st_size - start), '\0');
  ssize_t n = ::pread(err_.get(), text.data(), text.size(), start);
  if (n <= 0) return {};
  text.resize(static_cast<std::size_t>(n));

  std::vector<std::string> lines;
  std::size_t end = text.size();
  while (end > 0 && lines.size() < max_lines) {
    std::size_t begin = text.rfind('\n', end - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    std::string line = text.substr(begin, end - begin);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.pop_back();
    std::size_t first = line.find_first_not_of(" \t");
    if (first != std::string::npos) lines.push_back(line.substr(first));
    if (begin == 0) break;
    end = begin - 1;
  }
  std::string joined;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (!joined.empty()) joined += "; ";
    joined += *it;
  }
  return joined;
}

int run_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return 0;
  ChildProcess child = ChildProcess::spawn(argv, {});
  return child.wait();
}

}  // namespace jb
