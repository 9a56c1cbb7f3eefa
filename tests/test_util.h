// Helpers shared by the unit tests: scratch directories, in-memory sinks and
// sources, and a small tree builder.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/child_process.h"
#include "jellyfin_backup/io/sink.h"
#include "jellyfin_backup/io/source.h"
#include "jellyfin_backup/io/store.h"
#include "jellyfin_backup/reporter.h"

namespace jb::test {

// The jb::Error `f` throws; fails the test when it throws none.
template <typename F>
jb::Error error_of(F&& f) {
  try {
    f();
  } catch (const jb::Error& e) {
    return e;
  }
  FAIL("no jb::Error thrown");
  return jb::Error(jb::ErrorKind::kRuntime, "unreachable");
}

// Seconds since the epoch of a UTC civil time that exists (noon by default).
std::int64_t utc(int year, int month, int day, int hour = 12, int minute = 0, int second = 0);

// `path` as realpath sees it ($TMPDIR may be a symlink).
std::string real_path(const std::string& path);


// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

class StringSink : public Sink {
 public:
  void write(const void* data, std::size_t size) override {
    bytes.append(static_cast<const char*>(data), size);
  }
  void commit() override { committed = true; }
  std::string name() const override { return "memory"; }
  std::string bytes;
  bool committed = false;
};

class StringSource : public Source {
 public:
  explicit StringSource(std::string bytes, std::size_t piece = 4096)
      : bytes_(std::move(bytes)), piece_(piece) {}
  std::size_t read(void* buffer, std::size_t size) override;
  const std::string& name() const override { return name_; }
  std::optional<std::uint64_t> size() const override { return bytes_.size(); }

 private:
  std::string bytes_;
  std::size_t piece_;
  std::size_t pos_ = 0;
  std::string name_ = "memory";
};

class RecordingReporter : public Reporter {
 public:
  void warning(const std::string& message) override { warnings.push_back(message); }
  std::vector<std::string> warnings;
};

void write_file(const std::string& path, std::string_view content, mode_t mode = 0644);
std::string read_file(const std::string& path);
void make_dirs(const std::string& path);

// A small Jellyfin-like pair of trees under `root`: root/config, root/data.
void make_sample_trees(const std::string& root);

// Runs `body` without root's privileges: as root, in a forked child with the
// uid and gid 65534 (paths it uses must be reachable for that user; fds opened
// before the call are inherited); otherwise in this process. `body` must not
// use Catch assertions (a child's would be lost): it throws instead, and the
// caller checks the disk afterwards. `text` is body's return value, or the
// message of what it threw.
struct UnprivilegedResult {
  bool ok = false;
  std::string text;
};
UnprivilegedResult run_unprivileged(const std::function<std::string()>& body);
inline constexpr unsigned kUnprivilegedId = 65534;

// tmp/work, reachable by run_unprivileged's user and, when we are root,
// owned by it: where the unprivileged child may create things.
std::string unprivileged_work_dir(const TempDir& tmp);

// Points JELLYFIN_BACKUP_STATE_DIR (where restore journals live) at
// "<fresh temp dir>/state", not yet made, until the next one: a test's
// journals never meet another's, nor /var/lib/jellyfin-backup.
struct PrivateStateDir {
  TempDir tmp;
  std::string path = tmp / "state";
  PrivateStateDir() { ::setenv("JELLYFIN_BACKUP_STATE_DIR", path.c_str(), 1); }
};

// Runs create_archive over root/config + root/data into an in-memory string.
std::string archive_bytes_of(const std::string& root);

// Creates an archive of fresh sample trees (with `noise_bytes` of random
// data beside them, to make it bigger) in `out_dir`, under the name create
// generates; returns its path.
std::string create_sample_archive(const std::string& out_dir, const std::optional<std::string>& version,
                                  std::size_t noise_bytes = 0);

// Whether rclone can be run (what jb::rclone_binary() finds).
bool rclone_installed();

// Opens a test case that needs rclone: without it, says so and passes.
#define JB_SKIP_WITHOUT_RCLONE(what)                                   \
  do {                                                                 \
    if (!jb::test::rclone_installed()) {                               \
      WARN("rclone not installed: skipping " << (what));               \
      return;                                                          \
    }                                                                  \
  } while (0)

// A real rclone remote on loopback: `rclone serve webdav DIR` on a free
// port of 127.0.0.1, reachable as "jbtest:" (RCLONE_CONFIG_JBTEST_* set in
// our environment, which every rclone we start inherits, and
// RCLONE_CONFIG=/dev/null so no user config joins in) while this object
// lives. Files the test writes into DIR directly show through at once.
// Also ignores SIGPIPE, as main() does, so a write to a dead rclone is EPIPE.
class RcloneServer {
 public:
  explicit RcloneServer(const std::string& dir);
  ~RcloneServer();
  RcloneServer(const RcloneServer&) = delete;
  RcloneServer& operator=(const RcloneServer&) = delete;

  static constexpr const char* kRemote = "jbtest:";
  int port() const { return port_; }

 private:
  std::optional<ChildProcess> child_;
  int port_ = 0;
  std::optional<std::string> old_config_;  // $RCLONE_CONFIG before us
};

// Passes every call to `inner`; tests override one call to inject a fault
// or imitate a remote (a store whose open() honours `head`, one whose
// remove() fails).
class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(const Store& inner) : inner_(inner) {}
  const Location& location() const override { return inner_.location(); }
  std::vector<StoredFile> list() const override { return inner_.list(); }
  std::optional<StoredFile> stat(const std::string& name) const override { return inner_.stat(name); }
  std::unique_ptr<Source> open(const std::string& name,
                               std::optional<std::uint64_t> head) const override {
    return inner_.open(name, head);
  }
  std::unique_ptr<Sink> create(const std::string& name,
                               std::optional<std::uint64_t> size = std::nullopt) const override {
    return inner_.create(name, size);
  }
  std::optional<std::string> read_small(const std::string& name, std::size_t max_bytes) const override {
    return inner_.read_small(name, max_bytes);
  }
  void write_small(const std::string& name, const std::string& content) const override {
    inner_.write_small(name, content);
  }
  void remove(const std::string& name) const override { inner_.remove(name); }
  std::string lock_path() const override { return inner_.lock_path(); }

 protected:
  const Store& inner_;
};

}  // namespace jb::test
