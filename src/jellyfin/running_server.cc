// Finding the processes that use the Jellyfin trees, from procfs alone.
//
// Each /proc/PID is judged by the strongest evidence first: an open file
// under one of the trees, then a working directory there, then a command
// line that is the server's. Every read may race with the process exiting,
// so ENOENT/ESRCH means "gone" and the process is dropped silently; any other
// failure means we could not look, which the caller must hear about (a safety
// check that quietly skips what it cannot read is no check).
#include "jellyfin_backup/jellyfin/running_server.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <thread>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/io/paths.h"
#include "jellyfin_backup/io/unique_fd.h"

namespace jb {
namespace {

constexpr std::size_t kMaxCommand = 200;

// What looking at one procfs entry told us.
enum class Look { kOk, kDenied, kGone };

Look look_of(int err) { return err == ENOENT || err == ESRCH ? Look::kGone : Look::kDenied; }

// A pid or fd number, or nothing for "self", "sys" and the like.
std::optional<int> parse_number(const char* name) {
  if (*name == '\0') return std::nullopt;
  long value = 0;
  for (const char* p = name; *p; ++p) {
    if (*p < '0' || *p > '9') return std::nullopt;
    value = value * 10 + (*p - '0');
    if (value > 0x7fffffff) return std::nullopt;
  }
  return static_cast<int>(value);
}

// The whole of a small procfs file (they may come in several reads).
std::optional<std::string> read_small_file(const std::string& path, int& err) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    err = errno;
    return std::nullopt;
  }
  std::string content;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      return std::nullopt;
    }
    if (n == 0) return content;
    content.append(buf, static_cast<std::size_t>(n));
  }
}

std::optional<std::string> read_link_at(int dir_fd, const char* name, int& err) {
  std::string target(256, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(dir_fd, name, target.data(), target.size());
    if (n < 0) {
      err = errno;
      return std::nullopt;
    }
    if (static_cast<std::size_t>(n) < target.size()) {
      target.resize(static_cast<std::size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);  // may have been cut short: try again bigger
  }
}

// The path a /proc link names, for matching: the kernel appends " (deleted)"
// to unlinked files, which a server holding a replaced database still uses.
std::string link_path(std::string target) {
  static constexpr std::string_view kDeleted = " (deleted)";
  if (target.size() > kDeleted.size() && target.ends_with(kDeleted))
    target.resize(target.size() - kDeleted.size());
  return target;
}

bool within_any(const std::string& path, const std::vector<std::string>& dirs) {
  // Sockets, pipes and anon inodes ("socket:[123]") are no paths at all.
  if (path.empty() || path[0] != '/') return false;
  return std::any_of(dirs.begin(), dirs.end(),
                     [&](const std::string& dir) { return lies_within(path, dir); });
}

// This process and its parents, as `proc` tells them. The shell that started
// us often works in the data dir; it is not the server. In a fake procfs our
// pid has no entry, so the set holds getpid() alone.
std::set<pid_t> self_and_ancestors(const std::string& proc) {
  std::set<pid_t> chain;
  pid_t pid = ::getpid();
  // insert() failing means a loop in a (fake) procfs: stop rather than spin.
  while (pid > 0 && chain.insert(pid).second && pid != 1) {
    int err = 0;
    auto status = read_small_file(proc + "/" + std::to_string(pid) + "/status", err);
    if (!status) break;
    auto at = status->find("\nPPid:");
    if (at == std::string::npos) break;
    pid = static_cast<pid_t>(std::strtol(status->c_str() + at + 6, nullptr, 10));
  }
  return chain;
}

std::vector<std::string> split_cmdline(const std::string& raw) {
  std::vector<std::string> argv;
  std::size_t start = 0;
  while (start < raw.size()) {
    std::size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    argv.push_back(raw.substr(start, end - start));
    start = end + 1;
  }
  return argv;
}

// Arguments joined by spaces for one line of a message: control characters
// become '?', and a long line is cut (on a UTF-8 boundary) with "...".
std::string command_text(const std::vector<std::string>& argv, const std::string& pid_dir) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    text += arg;
  }
  if (text.empty()) {
    // Kernel threads and zombies have no command line; show the name as ps does.
    int err = 0;
    auto comm = read_small_file(pid_dir + "/comm", err);
    if (comm && !comm->empty() && comm->back() == '\n') comm->pop_back();
    text = "[" + (comm ? *comm : std::string("?")) + "]";
  }
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  if (text.size() > kMaxCommand) {
    std::size_t cut = kMaxCommand;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
    text += "...";
  }
  return text;
}

// "has PATH open" for the lowest-numbered fd under one of `dirs`.
Look find_open_file(const std::string& pid_dir, const std::vector<std::string>& dirs,
                    std::string& reason) {
  const std::string fd_dir = pid_dir + "/fd";
  UniqueFd fd_dir_fd(::open(fd_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd_dir_fd) return look_of(errno);
  const DirFd dir(std::move(fd_dir_fd), fd_dir);
  std::vector<std::pair<int, std::string>> fds;
  try {
    for (const auto& name : dir.list())
      if (auto fd = parse_number(name.c_str())) fds.emplace_back(*fd, name);
  } catch (const Error&) {
    // The process exited while we looked, most likely; we cannot tell, so
    // count it as not fully checked rather than as gone.
    return Look::kDenied;
  }
  // readdir order is the kernel's (or, in tests, the filesystem's); the lowest
  // fd makes the message the same on every run.
  std::sort(fds.begin(), fds.end());
  bool denied = false;
  for (const auto& [number, name] : fds) {
    int err = 0;
    auto target = read_link_at(dir.fd(), name.c_str(), err);
    if (!target) {
      if (look_of(err) == Look::kDenied) denied = true;
      continue;  // ENOENT: closed while we looked
    }
    std::string path = link_path(std::move(*target));
    if (within_any(path, dirs)) {
      reason = "has " + path + " open";
      return Look::kOk;
    }
  }
  return denied ? Look::kDenied : Look::kOk;
}

Look find_work_dir(const std::string& pid_dir, const std::vector<std::string>& dirs,
                   std::string& reason) {
  int err = 0;
  auto target = read_link_at(AT_FDCWD, (pid_dir + "/cwd").c_str(), err);
  if (!target) return look_of(err);
  std::string path = link_path(std::move(*target));
  if (within_any(path, dirs)) reason = "works in " + path;
  return Look::kOk;
}

// The data and config dirs a server process names on its command line
// (--datadir/-d, --configdir/-c) or in its environment (JELLYFIN_DATA_DIR,
// JELLYFIN_CONFIG_DIR), as Jellyfin reads them.
std::vector<std::string> dirs_named_by(const std::string& pid_dir, const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  // The server's own arguments follow `jellyfin` or `jellyfin.dll`, not
  // those of a launcher before it (`python -c ...`).
  std::size_t first = 1;
  for (std::size_t i = 0; i < argv.size(); ++i)
    if (is_jellyfin_command({argv.begin() + static_cast<std::ptrdiff_t>(i), argv.begin() + static_cast<std::ptrdiff_t>(i) + 1})) {
      first = i + 1;
      break;
    }
  for (std::size_t i = first; i < argv.size(); ++i) {
    for (const char* flag : {"--datadir", "--configdir", "-d", "-c"}) {
      const std::string f = flag;
      if (argv[i] == f && i + 1 < argv.size()) out.push_back(argv[i + 1]);
      else if (argv[i].compare(0, f.size() + 1, f + "=") == 0) out.push_back(argv[i].substr(f.size() + 1));
    }
  }
  int err = 0;
  if (auto environ = read_small_file(pid_dir + "/environ", err)) {
    for (const auto& var : split_cmdline(*environ)) {
      for (const char* name : {"JELLYFIN_DATA_DIR=", "JELLYFIN_CONFIG_DIR="}) {
        const std::string n = name;
        if (var.compare(0, n.size(), n) == 0) out.push_back(var.substr(n.size()));
      }
    }
  }
  return out;
}

// A Jellyfin server that provably serves other trees: it runs in our mount
// namespace (so its paths are ours) and names its dirs, none of which
// overlaps ours. A server in a container, or one that names nothing, may
// be ours: it counts.
bool serves_other_trees(const std::string& pid_dir, const std::string& proc, const std::vector<std::string>& argv,
                        const std::vector<std::string>& dirs) {
  int err = 0;
  auto ours = read_link_at(AT_FDCWD, (proc + "/self/ns/mnt").c_str(), err);
  auto theirs = read_link_at(AT_FDCWD, (pid_dir + "/ns/mnt").c_str(), err);
  if (!ours || !theirs || *ours != *theirs) return false;
  const std::vector<std::string> named = dirs_named_by(pid_dir, argv);
  if (named.empty()) return false;
  for (const auto& n : named) {
    if (n.empty() || n[0] != '/') return false;  // relative to what? it may be ours
    char* real = ::realpath(n.c_str(), nullptr);
    std::string path = real ? real : n;
    ::free(real);
    for (const auto& d : dirs)
      if (lies_within(path, d) || lies_within(d, path)) return false;
  }
  return true;
}

}  // namespace

bool is_jellyfin_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return false;
  const std::string program = name_of(argv[0]);
  if (program == "jellyfin" || program == "jellyfin.exe" || program == "Jellyfin.Server")
    return true;
  // `dotnet /usr/lib/jellyfin/bin/jellyfin.dll`; the file name's case varies
  // between packagings.
  return std::any_of(argv.begin(), argv.end(), [](const std::string& arg) {
    std::string name = name_of(arg);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
      return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return name == "jellyfin.dll";
  });
}

ProcessScan scan_server_processes(const std::vector<std::string>& dirs, const std::string& proc) {
  const std::set<pid_t> skip = self_and_ancestors(proc);
  UniqueFd proc_fd(::open(proc.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!proc_fd)
    throw io_error(proc, "cannot list the running processes", errno,
                   "procfs must be mounted to tell whether Jellyfin is running");

  ProcessScan scan;
  for (const auto& name : DirFd(std::move(proc_fd), proc).list()) {
    auto pid = parse_number(name.c_str());
    if (!pid || skip.count(*pid)) continue;
    const std::string pid_dir = proc + "/" + name;

    int err = 0;
    auto cmdline = read_small_file(pid_dir + "/cmdline", err);
    if (!cmdline && look_of(err) == Look::kGone) continue;
    const std::vector<std::string> argv = split_cmdline(cmdline.value_or(""));

    std::string reason;
    bool denied = false;
    Look look = find_open_file(pid_dir, dirs, reason);
    if (look == Look::kGone) continue;
    denied = look == Look::kDenied;
    if (reason.empty()) {
      look = find_work_dir(pid_dir, dirs, reason);
      if (look == Look::kGone) continue;
      denied = denied || look == Look::kDenied;
    }
    if (reason.empty() && is_jellyfin_command(argv) && !serves_other_trees(pid_dir, proc, argv, dirs))
      reason = "is the Jellyfin server";
    if (denied) ++scan.unreadable;
    if (!reason.empty()) scan.processes.push_back({*pid, command_text(argv, pid_dir), reason});
  }
  std::sort(scan.processes.begin(), scan.processes.end(),
            [](const ServerProcess& a, const ServerProcess& b) { return a.pid < b.pid; });
  return scan;
}

std::string describe_processes(const std::vector<ServerProcess>& processes) {
  std::string text;
  for (const auto& p : processes) {
    if (!text.empty()) text += "; ";
    text += "pid " + std::to_string(p.pid) + " (" + p.command + ") " + p.reason;
  }
  return text;
}

}  // namespace jb

namespace jb {

std::optional<std::string> refuse_if_running(const std::vector<std::string>& dirs, bool force,
                                             const std::string& stop_hint, Reporter& reporter,
                                             double grace_seconds, const std::string& proc) {
  ProcessScan scan = scan_server_processes(dirs, proc);
  // A server that was just told to stop may take a moment to let go.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_seconds);
  while (!scan.processes.empty() && std::chrono::steady_clock::now() < deadline) {
    throw_if_interrupted();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    scan = scan_server_processes(dirs, proc);
  }
  if (scan.processes.empty()) return std::nullopt;
  const std::string what = "the Jellyfin trees are in use: " + describe_processes(scan.processes);
  if (!force)
    throw refused_error(what, stop_hint + "; --force goes on anyway, but a copy of a live database "
                                          "may not be recoverable");
  reporter.warning(what + " (--force given, going on)");
  return what;
}

}  // namespace jb
