#include "jellyfin_backup/io/rclone.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"
#include "test_util.h"

using jb::RcloneSink;
using jb::RcloneSource;
using jb::test::error_of;
using jb::test::RcloneServer;
using jb::test::read_file;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

// Sets an environment variable for one scope (unset: nullopt).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::string bytes(size, '\0');
  for (auto& c : bytes) c = static_cast<char>(gen());
  return bytes;
}

std::string read_all(jb::Source& source, std::size_t piece = 65536) {
  std::string out, buffer(piece, '\0');
  while (std::size_t n = source.read(buffer.data(), buffer.size())) out.append(buffer.data(), n);
  return out;
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

const std::string kRemote = RcloneServer::kRemote;

// A stand-in for rclone that fails in scripted ways, for what a real server
// will not do on demand. Its arguments ($4 is the subcommand, after -q
// --log-format "") go to `log`.
constexpr const char* kFakeRcloneBody =
    "case \"$*\" in *nosuch:*)\n"
    "  echo 'Failed to create file system for \"nosuch:x\": "
    "didn'\\''t find section in config file' >&2; exit 1 ;;\n"
    "esac\n"
    "case \"$4\" in\n"
    "  lsjson) echo 'Failed to lsjson: directory not found' >&2; exit 3 ;;\n"
    "  rcat) echo 'ERROR : first complaint' >&2;\n"
    "        echo 'Failed to rcat: upload refused by the fake' >&2; exit 1 ;;\n"
    "  cat) case \"$*\" in *slow*) exec sleep 30 ;; esac\n"
    "       printf partial; echo 'Failed to cat: connection reset' >&2; exit 1 ;;\n"
    "esac\n";

std::string fake_rclone(const TempDir& dir) {
  const std::string path = dir / "rclone";
  write_file(path, "#!/bin/sh\necho \"$@\" >> '" + (dir / "log") + "'\n" + kFakeRcloneBody, 0755);
  return path;
}

}  // namespace

TEST_CASE("rclone: the binary is $JELLYFIN_BACKUP_RCLONE, else rclone on PATH", "[rclone]") {
  TempDir bin;
  write_file(bin / "rclone", "#!/bin/sh\n", 0755);
  {
    ScopedEnv env("JELLYFIN_BACKUP_RCLONE", bin / "rclone");
    CHECK(jb::rclone_binary() == bin / "rclone");
  }
  {
    // A wrong setting is the user's to fix, as a missing rclone is.
    ScopedEnv env("JELLYFIN_BACKUP_RCLONE", bin / "no-rclone");
    jb::Error e = error_of([] { jb::rclone_stat("s3:x"); });
    CHECK(e.kind() == jb::ErrorKind::kUsage);
    CHECK(std::string(e.what()) ==
          "JELLYFIN_BACKUP_RCLONE=" + (bin / "no-rclone") + ": no such rclone program");
  }
  ScopedEnv env("JELLYFIN_BACKUP_RCLONE", std::nullopt);
  {
    ScopedEnv path("PATH", bin.path());
    CHECK(jb::rclone_binary() == bin / "rclone");
  }
  TempDir empty;
  ScopedEnv path("PATH", empty.path());
  jb::Error e = error_of([] { jb::rclone_list("s3:bucket"); });
  CHECK(e.kind() == jb::ErrorKind::kUsage);
  CHECK(e.full_message() ==
        "rclone is not installed; install it (apt install rclone) to use rclone: locations");
}

TEST_CASE("rclone: failures quote rclone's last line", "[rclone]") {
  TempDir dir;
  ScopedEnv env("JELLYFIN_BACKUP_RCLONE", fake_rclone(dir));

  // Exit 3: not found. For a stat, that is an answer.
  CHECK(jb::rclone_stat("r:x") == std::nullopt);
  jb::Error e = error_of([] { jb::rclone_list("r:dir"); });
  CHECK(e.kind() == jb::ErrorKind::kUsage);
  CHECK(std::string(e.what()) == "rclone:r:dir: not found: Failed to lsjson: directory not found");

  e = error_of([] { jb::rclone_delete("nosuch:x"); });
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK(std::string(e.what()) ==
        "rclone:nosuch:x: rclone deletefile failed (exit 1): Failed to create file system for "
        "\"nosuch:x\": didn't find section in config file");
  CHECK(e.hint() ==
        "check the remote's name (`rclone listremotes`) or configure it (`rclone config`)");

  // -q keeps rclone's NOTICEs (a missing config file) off our stderr, and
  // an empty log format the timestamps out of the line we quote.
  const std::string log = read_file(dir / "log");
  CHECK(log.starts_with("-q --log-format  lsjson --stat "));
  CHECK(log.find("-q --log-format  deletefile --retries 1 nosuch:x") != std::string::npos);
}

TEST_CASE("rclone: a failing cat is an error, never a short file", "[rclone]") {
  TempDir dir;
  ScopedEnv env("JELLYFIN_BACKUP_RCLONE", fake_rclone(dir));
  RcloneSource source("r:x.tar.zst", "rclone:r:x.tar.zst");
  char buffer[100];
  std::string got;
  jb::Error e = error_of([&] {
    for (;;) {
      std::size_t n = source.read(buffer, sizeof buffer);
      REQUIRE(n > 0);  // a 0 would be an end of file
      got.append(buffer, n);
    }
  });
  CHECK(got == "partial");
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK(std::string(e.what()) ==
        "rclone:r:x.tar.zst: rclone cat failed (exit 1): Failed to cat: connection reset");
}

TEST_CASE("rclone: Ctrl-C while waiting for rclone's bytes", "[rclone]") {
  TempDir dir;
  ScopedEnv env("JELLYFIN_BACKUP_RCLONE", fake_rclone(dir));
  jb::install_interrupt_handlers();
  RcloneSource source("r:slow.tar.zst", "rclone:r:slow.tar.zst");
  // SIGINT for this thread alone: the helper blocks it, so it interrupts our read().
  std::thread helper([] {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    ::pthread_sigmask(SIG_BLOCK, &block, nullptr);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::kill(::getpid(), SIGINT);
  });
  auto start = std::chrono::steady_clock::now();
  char buffer[16];
  jb::Error e = error_of([&] { source.read(buffer, sizeof buffer); });
  helper.join();
  CHECK(std::string(e.what()) == "interrupted by SIGINT");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  jb::reset_interrupted_for_testing();
}

TEST_CASE("rclone: a sink whose rclone died reports rclone's error", "[rclone]") {
  TempDir dir;
  ScopedEnv env("JELLYFIN_BACKUP_RCLONE", fake_rclone(dir));
  ::signal(SIGPIPE, SIG_IGN);  // as main() does
  const std::string block(1 << 20, 'x');
  jb::Error e = error_of([&] {
    RcloneSink sink("r:x.tar.zst", "rclone:r:x.tar.zst");
    for (int i = 0; i < 64; ++i) sink.write(block.data(), block.size());  // beyond any pipe buffer
    sink.commit();
  });
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK(std::string(e.what()) ==
        "rclone:r:x.tar.zst: rclone rcat failed (exit 1): Failed to rcat: upload refused by the "
        "fake");
}

TEST_CASE("rclone: a multi-megabyte file through rcat and cat", "[rclone]") {
  JB_SKIP_WITHOUT_RCLONE("the round trip through a WebDAV server");
  TempDir dir;
  RcloneServer server(dir.path());
  const std::string bytes = random_bytes(6 * 1024 * 1024 + 12345, 1);
  {
    RcloneSink sink(kRemote + "sub/x.tar.zst", "rclone:jbtest:sub/x.tar.zst");
    CHECK(sink.name() == "rclone:jbtest:sub/x.tar.zst");
    // Pieces of odd sizes, as a compressor hands them over.
    for (std::size_t pos = 0, piece = 1; pos < bytes.size();
         pos += piece, piece = piece * 7 % 300007 + 1)
      sink.write(bytes.data() + pos, std::min(piece, bytes.size() - pos));
    CHECK_FALSE(std::filesystem::exists(dir / "sub/x.tar.zst"));
    sink.commit();
  }
  CHECK(read_file(dir / "sub/x.tar.zst") == bytes);
  CHECK(names_in(dir / "sub") == std::vector<std::string>{"x.tar.zst"});  // no temporary left

  RcloneSource source(kRemote + "sub/x.tar.zst", "rclone:jbtest:sub/x.tar.zst", bytes.size());
  CHECK(source.name() == "rclone:jbtest:sub/x.tar.zst");
  CHECK(source.size() == bytes.size());
  CHECK(read_all(source) == bytes);
  char c;
  CHECK(source.read(&c, 1) == 0);  // and stays at the end

  RcloneSource head(kRemote + "sub/x.tar.zst", "x", std::nullopt, 1000);
  CHECK(read_all(head, 300) == bytes.substr(0, 1000));
}

TEST_CASE("rclone: a sink destroyed without commit leaves nothing", "[rclone]") {
  JB_SKIP_WITHOUT_RCLONE("the interrupted upload");
  TempDir dir;
  RcloneServer server(dir.path());
  const std::string block = random_bytes(1 << 20, 2);
  {
    RcloneSink sink(kRemote + "x.tar.zst", "rclone:jbtest:x.tar.zst");
    for (int i = 0; i < 3; ++i) sink.write(block.data(), block.size());
  }
  CHECK(names_in(dir.path()).empty());
  CHECK(jb::rclone_list(kRemote).empty());

  // Even with all the bytes written: without commit() there is no upload.
  {
    RcloneSink sink(kRemote + "y.tar.zst", "rclone:jbtest:y.tar.zst");
    sink.write("complete", 8);
  }
  CHECK(names_in(dir.path()).empty());
}

TEST_CASE("rclone: an interrupted upload still removes its temporary", "[rclone]") {
  JB_SKIP_WITHOUT_RCLONE("the clean-up after Ctrl-C");
  TempDir dir;
  RcloneServer server(dir.path());
  jb::install_interrupt_handlers();
  const std::string block = random_bytes(1 << 20, 3);
  {
    RcloneSink sink(kRemote + "x.tar.zst", "rclone:jbtest:x.tar.zst");
    for (int i = 0; i < 4; ++i) sink.write(block.data(), block.size());
    // The handler only records the signal; the unwinding cleans up.
    ::raise(SIGTERM);
    REQUIRE(jb::interrupted_signal() == SIGTERM);
  }
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  jb::reset_interrupted_for_testing();
  CHECK(names_in(dir.path()).empty());
}

TEST_CASE("rclone: a sink that knows its size tells rcat, which then streams", "[rclone]") {
  // Without --size, rclone spools a stream to a local file first for a
  // remote that needs the length up front (WebDAV).
  TempDir dir;
  ScopedEnv env("JELLYFIN_BACKUP_RCLONE", fake_rclone(dir));
  // commit() waits for the (fake, refusing) rcat, so it has logged its arguments.
  error_of([] { RcloneSink("r:x.tar.zst", "rclone:r:x.tar.zst", 12345).commit(); });
  error_of([] { RcloneSink("r:y.tar.zst", "rclone:r:y.tar.zst").commit(); });
  const std::string log = read_file(dir / "log");
  INFO(log);
  CHECK(log.find("rcat --size 12345 r:.x.tar.zst.tmp-") != std::string::npos);
  CHECK(log.find("rcat r:.y.tar.zst.tmp-") != std::string::npos);
}

TEST_CASE("rclone: a sink never replaces an existing file", "[rclone]") {
  JB_SKIP_WITHOUT_RCLONE("the refusal to overwrite");
  TempDir dir;
  RcloneServer server(dir.path());
  write_file(dir / "x.tar.zst", "precious");
  jb::Error e = error_of([] { RcloneSink sink(kRemote + "x.tar.zst", "rclone:jbtest:x.tar.zst"); });
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK(std::string(e.what()) == "rclone:jbtest:x.tar.zst: already exists");

  // Nor one that appeared while it was uploading.
  e = error_of([&] {
    RcloneSink sink(kRemote + "y.tar.zst", "rclone:jbtest:y.tar.zst");
    sink.write("new", 3);
    write_file(dir / "y.tar.zst", "arrived meanwhile");
    sink.commit();
  });
  CHECK(std::string(e.what()) == "rclone:jbtest:y.tar.zst: already exists");
  CHECK(read_file(dir / "x.tar.zst") == "precious");
  CHECK(read_file(dir / "y.tar.zst") == "arrived meanwhile");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"x.tar.zst", "y.tar.zst"});
}

TEST_CASE("rclone: a missing file is not found, not empty", "[rclone]") {
  JB_SKIP_WITHOUT_RCLONE("reading a missing file");
  TempDir dir;
  RcloneServer server(dir.path());
  for (const std::string path : {"missing.tar.zst", "no/such/dir/x.tar.zst"}) {
    INFO(path);
    RcloneSource source(kRemote + path, "rclone:jbtest:" + path);
    char buffer[16];
    jb::Error e = error_of([&] { source.read(buffer, sizeof buffer); });
    // open_source looks an archive up first; a file gone by the time it is
    // read is a failure of the run, not of the command line.
    CHECK(e.kind() == jb::ErrorKind::kRuntime);
    CHECK(std::string(e.what()).starts_with("rclone:jbtest:" + path + ": not found"));
  }
}

TEST_CASE("rclone: open_source reads rclone: locations", "[rclone]") {
  JB_SKIP_WITHOUT_RCLONE("open_source of a remote archive");
  TempDir dir;
  RcloneServer server(dir.path());
  write_file(dir / "a.tar.zst", "archive bytes");
  auto source = jb::open_source("rclone:jbtest:a.tar.zst");
  CHECK(source->name() == "rclone:jbtest:a.tar.zst");
  CHECK(source->size() == 13);
  CHECK(read_all(*source) == "archive bytes");

  // As for a local path: Error(kRuntime), "check the path".
  jb::Error remote = error_of([] { jb::open_source("rclone:jbtest:missing.tar.zst"); });
  jb::Error local = error_of([&] { jb::open_source(dir / "missing.tar.zst"); });
  CHECK(remote.kind() == jb::ErrorKind::kRuntime);
  CHECK(remote.kind() == local.kind());
  CHECK(remote.full_message() ==
        "rclone:jbtest:missing.tar.zst: cannot open archive: No such file or directory; check the "
        "path");
  CHECK(remote.hint() == local.hint());

  jb::test::make_dirs(dir / "d");
  CHECK(std::string(error_of([] { jb::open_source("rclone:jbtest:d"); }).what()) ==
        "rclone:jbtest:d: is a directory, not an archive");
}

TEST_CASE("rclone: list, stat, delete, move", "[rclone]") {
  JB_SKIP_WITHOUT_RCLONE("the file operations");
  TempDir dir;
  RcloneServer server(dir.path());
  jb::test::make_dirs(dir / "d/sub");
  write_file(dir / "d/a", "12345");
  write_file(dir / "d/.hidden", "");
  ::utimensat(AT_FDCWD, (dir / "d/a").c_str(),
              std::array<timespec, 2>{timespec{0, UTIME_OMIT}, timespec{1700000000, 0}}.data(), 0);

  auto files = jb::rclone_list(kRemote + "d");
  std::sort(files.begin(), files.end(), [](auto& x, auto& y) { return x.name < y.name; });
  REQUIRE(files.size() == 3);
  CHECK(files[0].name == ".hidden");
  CHECK(files[1].name == "a");
  CHECK(files[1].size == 5);
  CHECK(files[1].mtime == 1700000000);
  CHECK_FALSE(files[1].is_dir);
  CHECK(files[2].name == "sub");
  CHECK(files[2].is_dir);
  CHECK(files[2].size == 0);

  jb::Error e = error_of([] { jb::rclone_list(kRemote + "nodir"); });
  CHECK(e.kind() == jb::ErrorKind::kUsage);
  CHECK(std::string(e.what()).starts_with("rclone:jbtest:nodir: not found"));

  auto a = jb::rclone_stat(kRemote + "d/a");
  REQUIRE(a);
  CHECK(a->name == "a");
  CHECK(a->size == 5);
  CHECK(a->mtime == 1700000000);
  CHECK(jb::rclone_stat(kRemote + "d/sub")->is_dir);
  CHECK(jb::rclone_stat(kRemote + "d/missing") == std::nullopt);
  CHECK(jb::rclone_stat(kRemote + "nodir/missing") == std::nullopt);

  jb::rclone_move(kRemote + "d/a", kRemote + "d/sub/b");
  CHECK(names_in(dir / "d") == std::vector<std::string>{".hidden", "sub"});
  CHECK(read_file(dir / "d/sub/b") == "12345");

  jb::rclone_delete(kRemote + "d/sub/b");
  CHECK(names_in(dir / "d/sub").empty());
  jb::rclone_delete(kRemote + "d/sub/b", /*missing_ok=*/true);
  e = error_of([] { jb::rclone_delete(kRemote + "d/sub/b"); });
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK(std::string(e.what()).starts_with("rclone:jbtest:d/sub/b: not found"));
  // A directory is not deleted by deletefile, and is not "missing".
  e = error_of([] { jb::rclone_delete(kRemote + "d/sub", /*missing_ok=*/true); });
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK(std::filesystem::is_directory(dir / "d/sub"));
}

TEST_CASE("rclone: small files", "[rclone]") {
  JB_SKIP_WITHOUT_RCLONE("small files");
  TempDir dir;
  RcloneServer server(dir.path());
  CHECK(jb::rclone_read_small(kRemote + "s.json", 100) == std::nullopt);
  CHECK(jb::rclone_read_small(kRemote + "nodir/s.json", 100) == std::nullopt);

  jb::rclone_write_small(kRemote + "s.json", "first");
  CHECK(read_file(dir / "s.json") == "first");
  // Same size, same second: still replaced (moveto would skip an "identical" file).
  jb::rclone_write_small(kRemote + "s.json", "other");
  CHECK(read_file(dir / "s.json") == "other");
  CHECK(jb::rclone_read_small(kRemote + "s.json", 100) == "other");
  CHECK(jb::rclone_read_small(kRemote + "s.json", 3) == "othe");  // max + 1: oversized
  jb::rclone_write_small(kRemote + "s.json", "");
  CHECK(jb::rclone_read_small(kRemote + "s.json", 100) == "");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"s.json"});
}
