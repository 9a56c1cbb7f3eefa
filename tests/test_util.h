// Helpers shared by the unit tests: scratch directories, in-memory sinks and
// sources, and a small tree builder.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/sink.h"
#include "jellyfin_backup/io/source.h"
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

// Runs create_archive over root/config + root/data into an in-memory string.
std::string archive_bytes_of(const std::string& root);

}  // namespace jb::test
