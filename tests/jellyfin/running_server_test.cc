#include "jellyfin_backup/jellyfin/running_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::test::real_path;

using jb::describe_processes;
using jb::is_jellyfin_command;
using jb::ProcessScan;
using jb::scan_server_processes;
using jb::ServerProcess;
using jb::test::make_dirs;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

// A procfs look-alike: /PID/{cmdline,status,fd/N,cwd}, links pointing
// wherever we say (the targets need not exist, as in a real one).
class FakeProc {
 public:
  FakeProc() { make_dirs(root()); }
  std::string root() const { return dir_ / "proc"; }
  std::string pid_dir(pid_t pid) const { return root() + "/" + std::to_string(pid); }

  void add(pid_t pid, const std::vector<std::string>& argv,
           const std::vector<std::pair<int, std::string>>& fds, const std::string& cwd,
           pid_t ppid = 1) {
    const std::string dir = pid_dir(pid);
    make_dirs(dir + "/fd");
    std::string cmdline;
    for (const auto& arg : argv) cmdline += arg + std::string(1, '\0');
    write_file(dir + "/cmdline", cmdline);
    write_file(dir + "/comm", "kworker/0:1\n");
    write_file(dir + "/status", "Name:\tx\nPid:\t" + std::to_string(pid) + "\nPPid:\t" +
                                    std::to_string(ppid) + "\nUid:\t0\n");
    for (const auto& [fd, target] : fds)
      REQUIRE(::symlink(target.c_str(), (dir + "/fd/" + std::to_string(fd)).c_str()) == 0);
    REQUIRE(::symlink(cwd.c_str(), (dir + "/cwd").c_str()) == 0);
  }

  // So that run_unprivileged's user can reach it.
  void open_up() {
    ::chmod(dir_.path().c_str(), 0755);
    ::chmod(root().c_str(), 0755);
  }

 private:
  TempDir dir_;
};

const ServerProcess* find_pid(const ProcessScan& scan, pid_t pid) {
  for (const auto& p : scan.processes)
    if (p.pid == pid) return &p;
  return nullptr;
}

// A forked copy of this process that does `setup` (open a file, chdir...)
// and then waits until it is destroyed. Only async-signal-safe work between
// fork and _exit: the child must not run Catch.
class HeldChild {
 public:
  template <typename Setup>
  explicit HeldChild(Setup setup) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    REQUIRE(::pipe(release_) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(release_[1]);
      char ok = setup() ? '1' : '0';
      if (::write(ready[1], &ok, 1) != 1) ::_exit(1);
      char c;
      while (::read(release_[0], &c, 1) < 0 && errno == EINTR) {
      }
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(release_[0]);
    char ok = '0';
    while (::read(ready[0], &ok, 1) < 0 && errno == EINTR) {
    }
    ::close(ready[0]);
    REQUIRE(ok == '1');
  }
  ~HeldChild() {
    ::close(release_[1]);  // the child's read returns 0 and it exits
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  HeldChild(const HeldChild&) = delete;
  HeldChild& operator=(const HeldChild&) = delete;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int release_[2] = {-1, -1};
};

}  // namespace

TEST_CASE("running_server: which command lines are the server", "[running_server]") {
  using Argv = std::vector<std::string>;
  CHECK(is_jellyfin_command(Argv{"jellyfin"}));
  CHECK(is_jellyfin_command(Argv{"/usr/lib/jellyfin/bin/jellyfin", "--datadir", "/var/lib/jf"}));
  CHECK(is_jellyfin_command(
      Argv{"/jellyfin/jellyfin", "--ffmpeg", "/usr/lib/jellyfin-ffmpeg/ffmpeg"}));
  CHECK(is_jellyfin_command(Argv{"/opt/jellyfin/jellyfin.exe"}));
  CHECK(is_jellyfin_command(Argv{"/Applications/Jellyfin.app/Contents/MacOS/Jellyfin.Server"}));
  CHECK(is_jellyfin_command(Argv{"dotnet", "/usr/lib/jellyfin/bin/jellyfin.dll"}));
  CHECK(is_jellyfin_command(Argv{"/usr/bin/dotnet", "Jellyfin.dll", "-d", "/data"}));
  CHECK(is_jellyfin_command(Argv{"dotnet", "exec", "/srv/JELLYFIN.DLL"}));

  CHECK_FALSE(is_jellyfin_command(Argv{}));
  CHECK_FALSE(is_jellyfin_command(Argv{""}));
  CHECK_FALSE(
      is_jellyfin_command(Argv{"jellyfin-backup", "create", "--data", "/var/lib/jellyfin"}));
  CHECK_FALSE(is_jellyfin_command(Argv{"/usr/lib/jellyfin-ffmpeg/ffmpeg", "-i", "x.mkv"}));
  CHECK_FALSE(is_jellyfin_command(Argv{"/usr/bin/jellyfin-web"}));
  CHECK_FALSE(is_jellyfin_command(Argv{"sh", "-c", "jellyfin-backup create"}));
  CHECK_FALSE(is_jellyfin_command(Argv{"vim", "/etc/jellyfin/jellyfin.conf"}));
  CHECK_FALSE(is_jellyfin_command(Argv{"tail", "-f", "/var/log/jellyfin/jellyfin.log"}));
  CHECK_FALSE(is_jellyfin_command(Argv{"grep", "jellyfin.dll.config"}));
}

TEST_CASE("running_server: a fake procfs, every kind of evidence", "[running_server]") {
  FakeProc proc;
  const std::string data = "/srv/jf/data";
  const std::string config = "/srv/jf/config";
  // 10: an editor with the database open (fd 7 and 4 both match; 4 wins).
  proc.add(10, {"vim", "x"},
           {{0, "/dev/pts/0"},
            {7, data + "/data/library.db"},
            {4, data + "/data/jellyfin.db"},
            {5, "socket:[1234]"}},
           "/home/user");
  // 11: a shell sitting in the config dir.
  proc.add(11, {"bash"}, {{0, "/dev/pts/1"}}, config + "/dlna");
  // 12: the server itself in a container: its paths are not ours.
  proc.add(12, {"/jellyfin/jellyfin", "--datadir", "/config"}, {{3, "/config/data/jellyfin.db"}},
           "/");
  // 13: a process holding a file that was replaced since.
  proc.add(13, {"sqlite3"}, {{3, data + "/data/jellyfin.db-wal (deleted)"}}, "/tmp");
  // 14: unrelated: a sibling dir with a common prefix, and no match at all.
  proc.add(14, {"rsync"}, {{3, "/srv/jf/data-old/x"}}, "/srv/jf/configs");
  // 15: a kernel thread: no command line.
  proc.add(15, {}, {}, "/");
  // 16: a deleted working directory.
  proc.add(16, {"find"}, {}, data + "/metadata (deleted)");
  // Entries that are not processes, and one that vanished mid-scan.
  make_dirs(proc.root() + "/sys");
  make_dirs(proc.root() + "/17");
  write_file(proc.root() + "/uptime", "1.0 1.0\n");

  ProcessScan scan = scan_server_processes({config, data}, proc.root());
  CHECK(scan.unreadable == 0);
  REQUIRE(scan.processes.size() == 5);
  CHECK(scan.processes[0].pid == 10);
  CHECK(scan.processes[0].command == "vim x");
  CHECK(scan.processes[0].reason == "has /srv/jf/data/data/jellyfin.db open");
  CHECK(scan.processes[1].pid == 11);
  CHECK(scan.processes[1].reason == "works in /srv/jf/config/dlna");
  CHECK(scan.processes[2].pid == 12);
  CHECK(scan.processes[2].command == "/jellyfin/jellyfin --datadir /config");
  CHECK(scan.processes[2].reason == "is the Jellyfin server");
  CHECK(scan.processes[3].pid == 13);
  CHECK(scan.processes[3].reason == "has /srv/jf/data/data/jellyfin.db-wal open");
  CHECK(scan.processes[4].pid == 16);
  CHECK(scan.processes[4].reason == "works in /srv/jf/data/metadata");

  CHECK(describe_processes({scan.processes[0], scan.processes[2]}) ==
        "pid 10 (vim x) has /srv/jf/data/data/jellyfin.db open; "
        "pid 12 (/jellyfin/jellyfin --datadir /config) is the Jellyfin server");
  CHECK(describe_processes({}).empty());

  // Nothing under other trees.
  ProcessScan other = scan_server_processes({"/elsewhere"}, proc.root());
  REQUIRE(other.processes.size() == 1);
  CHECK(other.processes[0].pid == 12);
}

TEST_CASE("running_server: the working directory counts only without a matching fd",
          "[running_server]") {
  FakeProc proc;
  proc.add(20, {"jellyfin"}, {{3, "/d/a.db"}}, "/d");
  ProcessScan scan = scan_server_processes({"/d"}, proc.root());
  REQUIRE(scan.processes.size() == 1);
  CHECK(scan.processes[0].reason == "has /d/a.db open");
}

TEST_CASE("running_server: long and odd command lines are shortened for one line",
          "[running_server]") {
  FakeProc proc;
  // "/usr/bin/jellyfin --name x\ny zzz...z " is 66 bytes: the first 'é'
  // takes bytes 199 and 200 of the joined line.
  std::string arg(133, 'a');
  arg += "\xc3\xa9\xc3\xa9";
  arg += std::string(100, 'b');
  proc.add(30, {"/usr/bin/jellyfin", "--name", "x\ny", std::string(36, 'z'), arg}, {}, "/");
  ProcessScan scan = scan_server_processes({"/d"}, proc.root());
  REQUIRE(scan.processes.size() == 1);
  const std::string& command = scan.processes[0].command;
  CHECK(command.size() == 199 + 3);
  CHECK(command.ends_with("..."));
  CHECK(command.find('\n') == std::string::npos);
  CHECK(command.starts_with("/usr/bin/jellyfin --name x?y zzz"));
  // Cut before the two-byte character, not inside it.
  const std::string body = command.substr(0, command.size() - 3);
  CHECK((static_cast<unsigned char>(body.back()) & 0x80) == 0);
}

TEST_CASE("running_server: a process whose fds we may not read is counted once",
          "[running_server]") {
  FakeProc proc;
  proc.add(40, {"/usr/lib/jellyfin/bin/jellyfin"}, {{3, "/d/x"}}, "/d");
  proc.add(41, {"cat"}, {{3, "/d/y"}}, "/");
  proc.add(42, {"cat"}, {{3, "/e/z"}}, "/");
  proc.open_up();
  for (pid_t pid : {40, 41, 42}) ::chmod(proc.pid_dir(pid).c_str(), 0755);
  ::chmod((proc.pid_dir(40) + "/fd").c_str(), 0);
  ::chmod((proc.pid_dir(41) + "/fd").c_str(), 0755);
  ::chmod((proc.pid_dir(42) + "/fd").c_str(), 0755);
  const std::string root = proc.root();
  auto result = jb::test::run_unprivileged([&] {
    ProcessScan scan = scan_server_processes({"/d"}, root);
    std::string text = "unreadable=" + std::to_string(scan.unreadable);
    for (const auto& p : scan.processes) text += " | " + std::to_string(p.pid) + " " + p.reason;
    return text;
  });
  REQUIRE(result.ok);
  // 40's fd dir is closed to us; its cwd link (readable in a fake procfs)
  // still shows it, and so would its command line.
  CHECK(result.text == "unreadable=1 | 40 works in /d | 41 has /d/y open");
}

TEST_CASE("running_server: an unlistable procfs is an error", "[running_server]") {
  TempDir dir;
  CHECK_THROWS_AS(scan_server_processes({"/d"}, dir / "missing"), jb::Error);
}

TEST_CASE("running_server: finds a real process with a file open", "[running_server]") {
  TempDir tmp;
  const std::string dir = real_path(tmp.path());
  const std::string file = dir + "/jellyfin.db";
  write_file(file, "x");
  HeldChild child([&] { return ::open(file.c_str(), O_RDONLY) >= 0; });

  ProcessScan scan = scan_server_processes({dir});
  const ServerProcess* found = find_pid(scan, child.pid());
  REQUIRE(found);
  CHECK(found->reason == "has " + file + " open");
  CHECK(describe_processes({*found}).starts_with("pid " + std::to_string(child.pid()) + " ("));
}

TEST_CASE("running_server: finds a real process with a deleted file open", "[running_server]") {
  TempDir tmp;
  const std::string dir = real_path(tmp.path());
  const std::string file = dir + "/jellyfin.db-wal";
  write_file(file, "x");
  HeldChild child(
      [&] { return ::open(file.c_str(), O_RDONLY) >= 0 && ::unlink(file.c_str()) == 0; });

  ProcessScan scan = scan_server_processes({dir});
  const ServerProcess* found = find_pid(scan, child.pid());
  REQUIRE(found);
  CHECK(found->reason == "has " + file + " open");
}

TEST_CASE("running_server: finds a real process working in the tree", "[running_server]") {
  TempDir tmp;
  const std::string dir = real_path(tmp.path());
  make_dirs(dir + "/metadata");
  const std::string sub = dir + "/metadata";
  HeldChild child([&] { return ::chdir(sub.c_str()) == 0; });

  ProcessScan scan = scan_server_processes({dir});
  const ServerProcess* found = find_pid(scan, child.pid());
  REQUIRE(found);
  CHECK(found->reason == "works in " + sub);
}

TEST_CASE("running_server: this process is never listed", "[running_server]") {
  TempDir tmp;
  const std::string dir = real_path(tmp.path());
  write_file(dir + "/jellyfin.db", "x");
  int fd = ::open((dir + "/jellyfin.db").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  ProcessScan scan = scan_server_processes({dir});
  ::close(fd);
  CHECK(find_pid(scan, ::getpid()) == nullptr);
  CHECK(scan.processes.empty());
}

TEST_CASE("running_server: the ancestors of the scanning process are never listed",
          "[running_server]") {
  // We hold a file in the tree open and fork a child that scans: we are its
  // parent and must not show up, nor must the child, which inherited the fd.
  TempDir tmp;
  const std::string dir = real_path(tmp.path());
  write_file(dir + "/jellyfin.db", "x");
  int fd = ::open((dir + "/jellyfin.db").c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  int out[2];
  REQUIRE(::pipe(out) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(out[0]);
    std::string text;
    try {
      ProcessScan scan = scan_server_processes({dir});
      text = "found=" + std::to_string(scan.processes.size());
      for (const auto& p : scan.processes) text += " " + std::to_string(p.pid);
    } catch (...) {
      text = "threw";
    }
    ssize_t n = ::write(out[1], text.data(), text.size());
    ::_exit(n == static_cast<ssize_t>(text.size()) ? 0 : 1);
  }
  ::close(out[1]);
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::close(fd);
  CHECK(WIFEXITED(status));
  CHECK(text == "found=0");
}

TEST_CASE("running_server: a server that names other trees in our mount namespace is not ours",
          "[running_server]") {
  FakeProc proc;
  const std::string data = "/srv/jf/data";
  auto mount_ns = [&](const std::string& dir, const std::string& ns) {
    make_dirs(dir + "/ns");
    REQUIRE(::symlink(ns.c_str(), (dir + "/ns/mnt").c_str()) == 0);
  };
  mount_ns(proc.root() + "/self", "mnt:[4026531841]");
  // 20: a second instance, its own data dir on the command line.
  proc.add(20, {"/usr/lib/jellyfin/bin/jellyfin", "--datadir", "/srv/test-jf/data"}, {}, "/");
  mount_ns(proc.pid_dir(20), "mnt:[4026531841]");
  // 21: the same, through its environment.
  proc.add(21, {"jellyfin"}, {}, "/");
  mount_ns(proc.pid_dir(21), "mnt:[4026531841]");
  write_file(proc.pid_dir(21) + "/environ", std::string("JELLYFIN_DATA_DIR=/srv/test-jf/data\0HOME=/\0", 44));
  // 22: names our data dir (--datadir=): ours.
  proc.add(22, {"jellyfin", "--datadir=" + data}, {}, "/");
  mount_ns(proc.pid_dir(22), "mnt:[4026531841]");
  // 23: names other trees, but in a container: its paths are not ours, it counts.
  proc.add(23, {"jellyfin", "-d", "/srv/test-jf/data"}, {}, "/");
  mount_ns(proc.pid_dir(23), "mnt:[4026532200]");
  // 24: names nothing: it may be ours.
  proc.add(24, {"jellyfin"}, {}, "/");
  mount_ns(proc.pid_dir(24), "mnt:[4026531841]");

  // 25: a launcher's own -c is not Jellyfin's --configdir: names nothing.
  proc.add(25, {"python3", "-c", "import time", "/usr/lib/jellyfin/bin/jellyfin.dll"}, {}, "/");
  mount_ns(proc.pid_dir(25), "mnt:[4026531841]");
  // 26: dotnet's server arguments follow jellyfin.dll: another instance.
  proc.add(26, {"dotnet", "/usr/lib/jellyfin/bin/jellyfin.dll", "--datadir", "/srv/test-jf/data"}, {}, "/");
  mount_ns(proc.pid_dir(26), "mnt:[4026531841]");
  // 27: a relative directory: relative to what? it counts.
  proc.add(27, {"jellyfin", "-d", "data"}, {}, "/");
  mount_ns(proc.pid_dir(27), "mnt:[4026531841]");

  ProcessScan scan = scan_server_processes({data}, proc.root());
  std::vector<pid_t> pids;
  for (const auto& p : scan.processes) pids.push_back(p.pid);
  CHECK(pids == std::vector<pid_t>{22, 23, 24, 25, 27});
}
