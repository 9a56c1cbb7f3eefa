#include "jellyfin_backup/io/lock_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>

#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::LockFile;
using jb::test::error_of;
using jb::test::RecordingReporter;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

void make_dirs_for_test(const std::string& path) { std::filesystem::create_directories(path); }

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value->c_str(), 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A child process that takes the lock and then waits to be killed. Its
// pid is what the lock file names.
class HoldingChild {
 public:
  explicit HoldingChild(const std::string& path) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(fds[0]);
      char ok = 'n';
      try {
        jb::Reporter silent;
        LockFile lock = LockFile::acquire(path, "the test directory", "create", silent);
        ok = 'y';
        (void)::write(fds[1], &ok, 1);
        for (;;) ::pause();
      } catch (...) {
        (void)::write(fds[1], &ok, 1);
      }
      ::_exit(1);
    }
    ::close(fds[1]);
    char ok = 'n';
    ssize_t n = ::read(fds[0], &ok, 1);
    ::close(fds[0]);
    REQUIRE(n == 1);
    REQUIRE(ok == 'y');
  }
  ~HoldingChild() { kill(); }
  pid_t pid() const { return pid_; }
  // SIGKILL: no destructor runs, the file stays, the kernel drops the flock.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("lock: acquire writes the holder and release removes the file", "[lock]") {
  TempDir tmp;
  const std::string path = tmp / ".jellyfin-backup.lock";
  RecordingReporter reporter;
  {
    LockFile lock = LockFile::acquire(path, "the backup directory " + tmp.path(), "prune", reporter);
    CHECK(lock.path() == path);
    REQUIRE(exists(path));
    auto holder = jb::read_lock_holder(path);
    REQUIRE(holder);
    CHECK(holder->pid == ::getpid());
    CHECK(holder->command == "prune");
    CHECK_FALSE(holder->host.empty());
    REQUIRE(holder->since.size() == 20);
    CHECK(holder->since[10] == 'T');
    CHECK(holder->since.back() == 'Z');

    // Moving hands over the release: the moved-from object releases nothing.
    LockFile moved(std::move(lock));
    CHECK(exists(path));
  }
  CHECK_FALSE(exists(path));
  CHECK(reporter.warnings.empty());

  // And it can be taken again.
  { LockFile again = LockFile::acquire(path, "x", "create", reporter); }
  CHECK(reporter.warnings.empty());
}

TEST_CASE("lock: a second acquire in the same process is refused", "[lock]") {
  TempDir tmp;
  const std::string path = tmp / "lock";
  jb::Reporter silent;
  LockFile lock = LockFile::acquire(path, "the backup directory /srv/b", "create", silent);
  auto e = error_of([&] { LockFile::acquire(path, "the backup directory /srv/b", "prune", silent); });
  CHECK(e.kind() == jb::ErrorKind::kLocked);
  const std::string message = e.what();
  INFO(message);
  CHECK(message.rfind("the backup directory /srv/b is in use by jellyfin-backup create (pid " +
                          std::to_string(::getpid()) + " on ",
                      0) == 0);
  CHECK(message.find(", since ") != std::string::npos);
  CHECK(e.hint() == "wait for it to finish (lock file " + path + ")");
  // The refused run leaves the holder's file alone.
  CHECK(jb::read_lock_holder(path)->command == "create");
}

TEST_CASE("lock: held by another process, refused; after it is killed, taken over", "[lock]") {
  TempDir tmp;
  const std::string path = tmp / "lock";
  HoldingChild child(path);
  const pid_t pid = child.pid();
  RecordingReporter reporter;

  auto e = error_of([&] { LockFile::acquire(path, "the Jellyfin tree /t", "restore", reporter); });
  CHECK(e.kind() == jb::ErrorKind::kLocked);
  CHECK(std::string(e.what()).find("the Jellyfin tree /t is in use by jellyfin-backup create (pid " +
                                   std::to_string(pid) + " on ") == 0);

  child.kill();
  REQUIRE(exists(path));  // left behind, as after kill -9 or a power loss
  const std::string since = jb::read_lock_holder(path)->since;
  {
    LockFile lock = LockFile::acquire(path, "the Jellyfin tree /t", "restore", reporter);
    REQUIRE(reporter.warnings.size() == 1);
    CHECK(reporter.warnings[0] == "took over the lock " + path + " left by jellyfin-backup create (pid " +
                                      std::to_string(pid) + ", since " + since +
                                      "), which is no longer running");
    CHECK(jb::read_lock_holder(path)->pid == ::getpid());
    CHECK(jb::read_lock_holder(path)->command == "restore");
  }
  CHECK_FALSE(exists(path));
}

TEST_CASE("lock: a holder that wrote nothing yet is 'another jellyfin-backup run'", "[lock]") {
  TempDir tmp;
  const std::string path = tmp / "lock";
  jb::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  REQUIRE(fd);
  REQUIRE(::flock(fd.get(), LOCK_EX) == 0);
  jb::Reporter silent;
  auto e = error_of([&] { LockFile::acquire(path, "the backup directory d", "copy", silent); });
  CHECK(e.kind() == jb::ErrorKind::kLocked);
  CHECK(std::string(e.what()) == "the backup directory d is in use by another jellyfin-backup run");
}

TEST_CASE("lock: a stale file that says nothing useful is taken over", "[lock]") {
  TempDir tmp;
  const std::string path = tmp / "lock";
  RecordingReporter reporter;
  SECTION("empty: nothing to say") {
    write_file(path, "");
    LockFile lock = LockFile::acquire(path, "d", "create", reporter);
    CHECK(reporter.warnings.empty());
  }
  SECTION("garbage") {
    write_file(path, "not json at all\n");
    LockFile lock = LockFile::acquire(path, "d", "create", reporter);
    REQUIRE(reporter.warnings.size() == 1);
    CHECK(reporter.warnings[0] ==
          "took over the lock " + path + " left by a jellyfin-backup run that is no longer running");
    CHECK(jb::read_lock_holder(path)->pid == ::getpid());
  }
  CHECK_FALSE(exists(path));
}

TEST_CASE("lock: release leaves a file that is no longer ours", "[lock]") {
  TempDir tmp;
  const std::string path = tmp / "lock";
  jb::Reporter silent;
  {
    LockFile lock = LockFile::acquire(path, "d", "create", silent);
    // Something removed our file and another run created its own.
    REQUIRE(::unlink(path.c_str()) == 0);
    write_file(path, "someone else's\n");
  }
  REQUIRE(exists(path));
  CHECK(jb::test::read_file(path) == "someone else's\n");
}

TEST_CASE("lock: cannot create the lock file", "[lock]") {
  TempDir tmp;
  jb::Reporter silent;
  auto e = error_of([&] { LockFile::acquire(tmp / "missing/lock", "d", "create", silent); });
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK(std::string(e.what()).find(tmp / "missing/lock") == 0);

  // Never through a symlink (a planted one in /tmp).
  write_file(tmp / "target", "keep me");
  REQUIRE(::symlink((tmp / "target").c_str(), (tmp / "link").c_str()) == 0);
  e = error_of([&] { LockFile::acquire(tmp / "link", "d", "create", silent); });
  CHECK(e.kind() == jb::ErrorKind::kRefused);
  CHECK(std::string(e.what()) == tmp / "link" + ": is a symlink, not a lock file: not followed");
  CHECK(jb::test::read_file(tmp / "target") == "keep me");
}

TEST_CASE("lock: read_lock_holder of a missing or foreign file", "[lock]") {
  TempDir tmp;
  CHECK_FALSE(jb::read_lock_holder(tmp / "none"));
  write_file(tmp / "x", "{\"pid\": \"12\"}");
  CHECK_FALSE(jb::read_lock_holder(tmp / "x"));
  write_file(tmp / "y", "{\"pid\": 12, \"command\": \"copy\"}");
  auto holder = jb::read_lock_holder(tmp / "y");
  REQUIRE(holder);
  CHECK(holder->pid == 12);
  CHECK(holder->command == "copy");
  CHECK(holder->host.empty());
}

TEST_CASE("lock: lock_directory", "[lock]") {
  TempDir tmp;
  {
    ScopedEnv env("JELLYFIN_BACKUP_LOCK_DIR", tmp.path());
    CHECK(jb::lock_directory() == tmp.path());
  }
  ScopedEnv env("JELLYFIN_BACKUP_LOCK_DIR", std::nullopt);
  const std::string dir = jb::lock_directory();
  if (::access("/run/lock", W_OK) == 0) CHECK(dir == "/run/lock");
  else CHECK(dir == "/tmp");
}

TEST_CASE("lock: keyed_lock_path escapes keys to distinct file names", "[lock]") {
  TempDir tmp;
  ScopedEnv env("JELLYFIN_BACKUP_LOCK_DIR", tmp.path());
  const std::string prefix = tmp.path() + "/jellyfin-backup.";
  CHECK(jb::keyed_lock_path("/var/lib/jellyfin") == prefix + "-var-lib-jellyfin.lock");
  CHECK(jb::keyed_lock_path("rclone:s3:bucket/jb") == prefix + "rclone%3As3%3Abucket-jb.lock");
  CHECK(jb::keyed_lock_path("/srv/my media_1.0") == prefix + "-srv-my%20media_1.0.lock");
  CHECK(jb::keyed_lock_path("/a%2Fb") == prefix + "-a%252Fb.lock");

  // Keys that a naive escaping would merge stay apart.
  std::set<std::string> paths;
  for (const char* key : {"/a-b", "/a/b", "/a%2Fb", "/a%2Db", "/a b", "/a%20b"})
    CHECK(paths.insert(jb::keyed_lock_path(key)).second);

  // Long keys are cut, and stay distinct and usable as file names.
  const std::string base = "/srv/" + std::string(300, 'x');
  const std::string long_a = jb::keyed_lock_path(base + "/a");
  const std::string long_b = jb::keyed_lock_path(base + "/b");
  CHECK(long_a != long_b);
  CHECK(long_a.size() - tmp.path().size() - 1 < 220);
  CHECK(long_a == jb::keyed_lock_path(base + "/a"));
  jb::Reporter silent;
  { LockFile lock = LockFile::acquire(long_a, "d", "create", silent); }
  // A key whose escaped form is exactly as long as a cut one stays apart too.
  CHECK(jb::keyed_lock_path(std::string(177, 'k')) != jb::keyed_lock_path(std::string(400, 'k')));
}

TEST_CASE("lock: lock_trees locks every tree, in order", "[lock]") {
  TempDir tmp;
  ScopedEnv env("JELLYFIN_BACKUP_LOCK_DIR", tmp.path());
  RecordingReporter reporter;
  {
    // The official Docker image: config inside data. Both are locked: another
    // run may name the inner tree with a different outer one.
    auto locks = jb::lock_trees({"/x/data/config", "/x/data", "/x/data"}, "create", reporter);
    REQUIRE(locks.size() == 2);
    CHECK(locks[0].path() == jb::keyed_lock_path("/x/data"));
    CHECK(locks[1].path() == jb::keyed_lock_path("/x/data/config"));

    // A second run on the same install is refused, naming the tree.
    auto e = error_of([&] { jb::lock_trees({"/x/data", "/x/data/config"}, "restore", reporter); });
    CHECK(e.kind() == jb::ErrorKind::kLocked);
    CHECK(std::string(e.what()).find("/x/data is in use by jellyfin-backup create (pid ") !=
          std::string::npos);
    // So is one that shares only the nested tree.
    e = error_of([&] { jb::lock_trees({"/x/data/config", "/x/other"}, "restore", reporter); });
    CHECK(e.kind() == jb::ErrorKind::kLocked);

    // A sibling with a common prefix is not nested.
    auto other = jb::lock_trees({"/x/data2", "/x/cfg"}, "create", reporter);
    REQUIRE(other.size() == 2);
    CHECK(other[0].path() == jb::keyed_lock_path("/x/cfg"));
    CHECK(other[1].path() == jb::keyed_lock_path("/x/data2"));
  }
  CHECK_FALSE(exists(jb::keyed_lock_path("/x/data")));
  CHECK_FALSE(exists(jb::keyed_lock_path("/x/cfg")));

  // When a later tree is refused, the ones already taken are released.
  {
    LockFile held = LockFile::acquire(jb::keyed_lock_path("/y/data"), "d", "copy", reporter);
    error_of([&] { jb::lock_trees({"/y/config", "/y/data"}, "create", reporter); });
    CHECK_FALSE(exists(jb::keyed_lock_path("/y/config")));
  }
  CHECK(jb::lock_trees({}, "create", reporter).empty());
  CHECK(reporter.warnings.empty());
}

TEST_CASE("lock: another user's lock file, held or stale", "[lock]") {
  if (::geteuid() != 0) {
    WARN("needs root to play two users; skipping");
    return;
  }
  TempDir tmp;
  const std::string path = jb::test::unprivileged_work_dir(tmp) + "/lock";
  jb::Reporter silent;
  auto try_lock = [&] {
    return jb::test::run_unprivileged([&] {
      jb::Reporter quiet;
      LockFile lock = LockFile::acquire(path, "the backup directory d", "prune", quiet);
      return std::string("locked");
    });
  };
  {
    LockFile held = LockFile::acquire(path, "the backup directory d", "create", silent);
    auto result = try_lock();
    CHECK_FALSE(result.ok);
    CHECK(result.text.find("the backup directory d is in use by jellyfin-backup create (pid " +
                           std::to_string(::getpid())) == 0);
  }
  // Root's stale file: seen to be free, but not ours to take over.
  write_file(path, "{\"pid\": 1, \"command\": \"create\"}\n", 0644);
  auto result = try_lock();
  CHECK_FALSE(result.ok);
  CHECK(result.text.find("cannot take over the lock file") != std::string::npos);
  CHECK(exists(path));
}

TEST_CASE("lock: a file planted at the lock path is refused, never written, never waited on", "[lock]") {
  // The lock directory (/run/lock, /tmp) is writable by everyone.
  TempDir tmp;
  jb::Reporter silent;
  const std::string path = tmp / "lock";
  SECTION("a FIFO: an open or a read would block") {
    REQUIRE(::mkfifo(path.c_str(), 0666) == 0);
    auto e = error_of([&] { LockFile::acquire(path, "d", "create", silent); });
    CHECK(e.kind() == jb::ErrorKind::kRefused);
    CHECK(std::string(e.what()) == path + ": is not a regular file, not a lock file");
    CHECK_FALSE(jb::read_lock_holder(path));
    CHECK(exists(path));  // not ours to remove
  }
  SECTION("a hard link to another file: root would truncate it") {
    write_file(tmp / "victim", "keep me");
    REQUIRE(::link((tmp / "victim").c_str(), path.c_str()) == 0);
    auto e = error_of([&] { LockFile::acquire(path, "d", "create", silent); });
    CHECK(e.kind() == jb::ErrorKind::kRefused);
    CHECK_THAT(e.full_message(), Catch::Contains("other hard links"));
    CHECK(jb::test::read_file(tmp / "victim") == "keep me");
  }
  SECTION("a huge stale file of ours: only its start is read, and it is taken over") {
    {
      jb::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
      REQUIRE(fd);
      REQUIRE(::ftruncate(fd.get(), off_t{1} << 40) == 0);  // sparse: 1 TiB of nothing
    }
    {
      LockFile lock = LockFile::acquire(path, "d", "create", silent);
      CHECK(jb::read_lock_holder(path)->pid == ::getpid());
    }
    CHECK_FALSE(exists(path));
  }
}

TEST_CASE("lock: another user's file is never written and its text never believed", "[lock]") {
  if (::geteuid() != 0) {
    WARN("needs root to plant a file of another user; skipping");
    return;
  }
  TempDir tmp;
  jb::Reporter silent;
  const std::string path = tmp / "lock";
  const std::string forged = "{\"pid\": 1, \"command\": \"restore\", \"host\": \"\\u001b[2Jforged\"}\n";
  write_file(path, forged, 0666);
  REQUIRE(::chown(path.c_str(), jb::test::kUnprivilegedId, jb::test::kUnprivilegedId) == 0);
  {
    // Held by that user: refused, and what the file says is not shown.
    jb::UniqueFd held(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(::flock(held.get(), LOCK_EX) == 0);
    auto e = error_of([&] { LockFile::acquire(path, "the backup directory d", "create", silent); });
    CHECK(e.kind() == jb::ErrorKind::kLocked);
    CHECK(std::string(e.what()) == "the backup directory d is in use by a process of uid 65534, which owns the lock file");
  }
  // Not held: still not taken over (root would write a file its owner
  // controls), and left as it is.
  auto e = error_of([&] { LockFile::acquire(path, "the backup directory d", "create", silent); });
  CHECK(e.kind() == jb::ErrorKind::kRefused);
  CHECK(std::string(e.what()) == path + ": the lock file belongs to uid 65534, not to this user or root: not taken over");
  CHECK(jb::test::read_file(path) == forged);
}

TEST_CASE("lock: lock_key is the normalised absolute path, existing or not", "[lock]") {
  TempDir tmp;
  const std::string real = jb::test::real_path(tmp.path());
  make_dirs_for_test(tmp / "t");
  CHECK(jb::lock_key(tmp / "t") == real + "/t");
  CHECK(jb::lock_key(tmp / "t/data") == real + "/t/data");
  CHECK(jb::lock_key(tmp.path() + "//t/./data/") == real + "/t/data");
  CHECK(jb::lock_key(tmp / "t/missing/../data") == real + "/t/data");
  CHECK(jb::lock_key(tmp / "t/missing/deeper/../../data") == real + "/t/data");
  // Through a symlink to the existing ancestor.
  REQUIRE(::symlink((real + "/t").c_str(), (tmp / "link").c_str()) == 0);
  CHECK(jb::lock_key(tmp / "link/data") == real + "/t/data");
  // Relative to the current directory.
  const std::string cwd = std::filesystem::current_path();
  std::filesystem::current_path(tmp.path());
  const std::string relative = jb::lock_key("t/data"), dotted = jb::lock_key("./t//data/.");
  std::filesystem::current_path(cwd);
  CHECK(relative == real + "/t/data");
  CHECK(dotted == real + "/t/data");
  CHECK(jb::lock_key("/") == "/");
  CHECK(jb::lock_key("/..") == "/");
}

TEST_CASE("lock: lock_trees keys a tree that does not exist yet by its normalised path", "[lock]") {
  // `restore --data t/data` and `--data /abs/t/data` ran at once.
  TempDir tmp;
  ScopedEnv env("JELLYFIN_BACKUP_LOCK_DIR", tmp.path());
  make_dirs_for_test(tmp / "t");
  RecordingReporter reporter;
  auto locks = jb::lock_trees({tmp / "t/data", tmp / "t/config"}, "restore", reporter);
  const std::string cwd = std::filesystem::current_path();
  std::filesystem::current_path(tmp.path());
  auto e = error_of([&] { jb::lock_trees({"t//data/", "t/other"}, "restore", reporter); });
  std::filesystem::current_path(cwd);
  CHECK(e.kind() == jb::ErrorKind::kLocked);
  CHECK_THAT(std::string(e.what()), Catch::StartsWith("the Jellyfin tree t//data/ is in use by jellyfin-backup restore"));
  // The same tree twice under two spellings is one lock, not a refusal.
  locks.clear();
  CHECK(jb::lock_trees({tmp / "t/data", tmp / "t/./data"}, "restore", reporter).size() == 1);
}

TEST_CASE("lock: a wait gives up after its time, or takes the lock once it is free", "[lock]") {
  TempDir tmp;
  const std::string path = tmp / "lock";
  HoldingChild child(path);
  RecordingReporter reporter;

  const auto start = std::chrono::steady_clock::now();
  auto e = error_of([&] { LockFile::acquire(path, "the test directory", "prune", reporter, 0.3); });
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(e.kind() == jb::ErrorKind::kLocked);
  CHECK(e.code() == jb::ErrorCode::kLocked);
  CHECK(waited >= 0.3);

  // Freed while we wait: taken, long before the wait is over.
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    child.kill();
  });
  LockFile lock = LockFile::acquire(path, "the test directory", "prune", reporter, 60);
  release.join();
  CHECK(jb::read_lock_holder(path)->command == "prune");
}
