#include "jellyfin_backup/io/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>

#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::ChildProcess;
using jb::test::error_of;
using jb::test::TempDir;
using jb::test::write_file;
using Options = ChildProcess::Options;

namespace {

const Options kPipeOut{.out = ChildProcess::Stdout::kPipe};

// Everything the child writes to its stdout, until EOF.
std::string read_all(int fd) {
  std::string out;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

std::string output_of(const std::string& script, const Options& options = kPipeOut) {
  ChildProcess child = ChildProcess::spawn({"/bin/sh", "-c", script}, options);
  std::string out = read_all(child.stdout_fd());
  CHECK(child.wait() == 0);
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("child_process: command_text quotes what a shell would need", "[child_process]") {
  CHECK(jb::command_text({"rclone", "cat", "s3:bucket/x.tar.zst"}) ==
        "rclone cat s3:bucket/x.tar.zst");
  CHECK(jb::command_text({"rclone", "cat", "my remote:x"}) == "rclone cat 'my remote:x'");
  CHECK(jb::command_text({"echo", "it's", ""}) == "echo 'it'\\''s' ''");
}

TEST_CASE("child_process: find_on_path skips relative entries", "[child_process]") {
  TempDir bin;
  write_file(bin / "jb-tool", "#!/bin/sh\n", 0755);
  write_file(bin / "jb-not-exec", "#!/bin/sh\n", 0644);
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  ::setenv("PATH", ("relative:" + bin.path()).c_str(), 1);
  CHECK(jb::find_on_path("jb-tool") == bin / "jb-tool");
  CHECK(jb::find_on_path("jb-not-exec") == std::nullopt);
  CHECK(jb::find_on_path("jb-no-such-tool") == std::nullopt);
  ::setenv("PATH", saved.c_str(), 1);
}

TEST_CASE("child_process: stdout through a pipe, stdin /dev/null by default", "[child_process]") {
  CHECK(output_of("echo hello") == "hello\n");
  CHECK(output_of("readlink /proc/self/fd/0") == "/dev/null\n");
}

TEST_CASE("child_process: stdin through a pipe; close_stdin is EOF", "[child_process]") {
  ChildProcess child = ChildProcess::spawn(
      {"cat"}, {.in = ChildProcess::Stdin::kPipe, .out = ChildProcess::Stdout::kPipe});
  REQUIRE(child.stdin_fd() >= 0);
  REQUIRE(child.stdout_fd() >= 0);
  jb::write_all(child.stdin_fd(), "round trip", 10, "cat");
  child.close_stdin();
  CHECK(child.stdin_fd() == -1);
  CHECK(read_all(child.stdout_fd()) == "round trip");
  CHECK(child.wait() == 0);
}

TEST_CASE("child_process: Stdout::kNull", "[child_process]") {
  ChildProcess child =
      ChildProcess::spawn({"/bin/sh", "-c", "[ \"$(readlink /proc/$$/fd/1)\" = /dev/null ]"},
                          {.out = ChildProcess::Stdout::kNull});
  CHECK(child.stdout_fd() == -1);
  CHECK(child.wait() == 0);
}

TEST_CASE("child_process: captured stderr keeps the last lines", "[child_process]") {
  ChildProcess child = ChildProcess::spawn(
      {"/bin/sh", "-c", "echo one >&2; echo >&2; echo two >&2; echo '  three  ' >&2; exit 3"},
      {.err = ChildProcess::Stderr::kCapture});
  CHECK(child.wait() == 3);
  CHECK(child.stderr_tail() == "three");
  CHECK(child.stderr_tail(2) == "two; three");
  CHECK(child.stderr_tail(10) == "one; two; three");

  ChildProcess quiet = ChildProcess::spawn({"true"}, {.err = ChildProcess::Stderr::kCapture});
  CHECK(quiet.wait() == 0);
  CHECK(quiet.stderr_tail() == "");

  ChildProcess inherit = ChildProcess::spawn({"true"}, {});
  CHECK(inherit.wait() == 0);
  CHECK(inherit.stderr_tail() == "");
}

TEST_CASE("child_process: a long stderr is read from its end", "[child_process]") {
  ChildProcess child = ChildProcess::spawn(
      {"/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo line $i >&2; i=$((i+1)); done"},
      {.err = ChildProcess::Stderr::kCapture});
  CHECK(child.wait() == 0);
  CHECK(child.stderr_tail(2) == "line 19998; line 19999");
}

TEST_CASE("child_process: extra environment on top of ours", "[child_process]") {
  ::setenv("JB_CHILD_TEST_KEEP", "kept", 1);
  ::setenv("JB_CHILD_TEST_OVER", "old", 1);
  Options options = kPipeOut;
  options.env = {"JB_CHILD_TEST_OVER=new", "JB_CHILD_TEST_ADDED=a=b"};
  CHECK(output_of("echo $JB_CHILD_TEST_KEEP $JB_CHILD_TEST_OVER $JB_CHILD_TEST_ADDED", options) ==
        "kept new a=b\n");
  CHECK(output_of("env | grep -c JB_CHILD_TEST_OVER", options) == "1\n");
  ::unsetenv("JB_CHILD_TEST_KEEP");
  ::unsetenv("JB_CHILD_TEST_OVER");
}

TEST_CASE("child_process: wait returns the status, once and again", "[child_process]") {
  ChildProcess child = ChildProcess::spawn({"/bin/sh", "-c", "exit 7"}, {});
  CHECK(child.running());
  CHECK(child.wait() == 7);
  CHECK_FALSE(child.running());
  CHECK(child.wait() == 7);

  ChildProcess killed = ChildProcess::spawn({"/bin/sh", "-c", "kill -KILL $$"}, {});
  CHECK(killed.wait() == 128 + SIGKILL);
}

TEST_CASE("child_process: terminate stops a running child", "[child_process]") {
  auto start = std::chrono::steady_clock::now();
  ChildProcess child = ChildProcess::spawn({"sleep", "60"}, {});
  child.terminate();
  CHECK_FALSE(child.running());
  CHECK(child.wait() == 128 + SIGTERM);
  child.terminate();  // nothing left to stop
  CHECK(seconds_since(start) < 5);
}

TEST_CASE("child_process: no child outlives its object", "[child_process]") {
  pid_t pid = 0;
  {
    ChildProcess child = ChildProcess::spawn({"/bin/sh", "-c", "echo $$; exec sleep 60"}, kPipeOut);
    char buffer[32] = {};
    REQUIRE(::read(child.stdout_fd(), buffer, sizeof buffer - 1) > 0);
    pid = std::atoi(buffer);
    REQUIRE(pid > 0);
    ChildProcess moved(std::move(child));  // the moved-from object owns nothing
  }
  // Killed and reaped: the pid is gone, not a zombie.
  CHECK(::kill(pid, 0) == -1);
  CHECK(errno == ESRCH);
}

TEST_CASE("child_process: children inherit none of our descriptors", "[child_process]") {
  TempDir dir;
  write_file(dir / "f", "x");
  int fd = ::open((dir / "f").c_str(), O_RDONLY);  // deliberately without O_CLOEXEC
  REQUIRE(fd >= 0);
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  ChildProcess child = ChildProcess::spawn({"/bin/sh", "-c", "[ ! -e " + link + " ]"}, {});
  CHECK(child.wait() == 0);
  ::close(fd);

  // Our end of one child's stdin must not leak into the next child: cat
  // sees EOF when we close it, while the other child still runs.
  ChildProcess cat = ChildProcess::spawn(
      {"cat"}, {.in = ChildProcess::Stdin::kPipe, .out = ChildProcess::Stdout::kPipe});
  ChildProcess other = ChildProcess::spawn({"sleep", "3"}, {});
  auto start = std::chrono::steady_clock::now();
  cat.close_stdin();
  CHECK(read_all(cat.stdout_fd()) == "");
  CHECK(cat.wait() == 0);
  CHECK(seconds_since(start) < 2);
}

TEST_CASE("child_process: writing to a dead child is EPIPE, not SIGPIPE", "[child_process]") {
  auto old = ::signal(SIGPIPE, SIG_IGN);  // as main() does
  ChildProcess child = ChildProcess::spawn({"true"}, {.in = ChildProcess::Stdin::kPipe});
  CHECK(child.wait() == 0);
  errno = 0;
  CHECK(::write(child.stdin_fd(), "x", 1) == -1);
  CHECK(errno == EPIPE);
  ::signal(SIGPIPE, old);
}

TEST_CASE("child_process: a program that cannot be started", "[child_process]") {
  jb::Error e = error_of([] { ChildProcess::spawn({"/nonexistent/jb-no-such-program"}, {}); });
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK(std::string(e.what()).starts_with("/nonexistent/jb-no-such-program: cannot run"));
  CHECK(error_of([] { ChildProcess::spawn({}, {}); }).kind() == jb::ErrorKind::kRuntime);
}

TEST_CASE("child_process: run_command", "[child_process]") {
  CHECK(jb::run_command({}) == 0);
  CHECK(jb::run_command({"/bin/sh", "-c", "exit 4"}) == 4);
  CHECK(jb::run_command({"sh", "-c", "[ \"$(readlink /proc/self/fd/0)\" = /dev/null ]"}) == 0);
}
