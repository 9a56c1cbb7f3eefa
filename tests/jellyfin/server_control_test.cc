#include "jellyfin_backup/jellyfin/server_control.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::test::error_of;

using jb::run_command;
using jb::ServerControl;
using jb::StoppedServer;
using jb::test::read_file;
using jb::test::RecordingReporter;
using jb::test::TempDir;
using jb::test::write_file;
using Argv = std::vector<std::string>;

namespace {

// Sets $PATH for one test and puts the old value back.
class ScopedPath {
 public:
  explicit ScopedPath(const std::string& value) {
    if (const char* old = std::getenv("PATH")) old_ = old;
    ::setenv("PATH", value.c_str(), 1);
  }
  ~ScopedPath() {
    if (old_)
      ::setenv("PATH", old_->c_str(), 1);
    else
      ::unsetenv("PATH");
  }

 private:
  std::optional<std::string> old_;
};

// Stop and start commands that append a word to `log`.
ServerControl logging_control(const std::string& log, const std::string& stop_tail = "",
                              const std::string& start_tail = "") {
  return ServerControl::for_commands("echo stop >> '" + log + "'" + stop_tail,
                                     "echo start >> '" + log + "'" + start_tail);
}

}  // namespace

TEST_CASE("server_control: the three kinds of control", "[server_control]") {
  ServerControl service = ServerControl::for_service("jellyfin");
  CHECK(service.stop_argv() == Argv{"systemctl", "stop", "jellyfin"});
  CHECK(service.start_argv() == Argv{"systemctl", "start", "jellyfin"});
  CHECK(service.description() == "systemd service jellyfin");

  ServerControl commands = ServerControl::for_commands("docker compose stop", "");
  CHECK(commands.stop_argv() == Argv{"/bin/sh", "-c", "docker compose stop"});
  CHECK(commands.start_argv().empty());
  CHECK(commands.description() == "--stop-cmd/--start-cmd");
}

TEST_CASE("server_control: --container prefers docker, then podman", "[server_control]") {
  TempDir both, podman_only, none;
  const std::string script = "#!/bin/sh\nexit 0\n";
  write_file(both / "docker", script, 0755);
  write_file(both / "podman", script, 0755);
  write_file(podman_only / "podman", script, 0755);
  write_file(podman_only / "docker", script, 0644);  // not executable: not docker
  jb::test::make_dirs(none / "docker");              // a directory: not docker either

  {
    ScopedPath path("relative/dir::" + both.path() + ":" + podman_only.path());
    ServerControl c = ServerControl::for_container("jf");
    CHECK(c.stop_argv() == Argv{both / "docker", "stop", "jf"});
    CHECK(c.start_argv() == Argv{both / "docker", "start", "jf"});
    CHECK(c.description() == "docker container jf");
  }
  {
    ScopedPath path(none.path() + ":" + podman_only.path());
    ServerControl c = ServerControl::for_container("jf");
    CHECK(c.stop_argv() == Argv{podman_only / "podman", "stop", "jf"});
    CHECK(c.description() == "podman container jf");
  }
  {
    ScopedPath path(none.path());
    jb::Error e = error_of([] { ServerControl::for_container("jf"); });
    CHECK(e.kind() == jb::ErrorKind::kUsage);
    CHECK(std::string(e.what()) == "--container jf: neither docker nor podman is installed");
    CHECK(e.hint() == "use --stop-cmd/--start-cmd instead");
  }
}

TEST_CASE("server_control: run_command returns the exit status", "[server_control]") {
  CHECK(run_command({}) == 0);
  CHECK(run_command({"/bin/sh", "-c", "exit 0"}) == 0);
  CHECK(run_command({"/bin/sh", "-c", "exit 3"}) == 3);
  CHECK(run_command({"sh", "-c", "exit 7"}) == 7);  // found on PATH
  CHECK(run_command({"/bin/sh", "-c", "kill -TERM $$"}) == 128 + SIGTERM);
  CHECK(run_command({"/bin/sh", "-c", "no-such-command-jb 2>/dev/null"}) == 127);

  jb::Error e = error_of([] { run_command({"/nonexistent/jb-no-such-program"}); });
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK(std::string(e.what()).starts_with("/nonexistent/jb-no-such-program: cannot run"));
}

TEST_CASE("server_control: commands read /dev/null and inherit none of our fds",
          "[server_control]") {
  CHECK(run_command({"/bin/sh", "-c", "[ \"$(readlink /proc/self/fd/0)\" = /dev/null ]"}) == 0);

  TempDir dir;
  write_file(dir / "f", "x");
  int fd = ::open((dir / "f").c_str(), O_RDONLY);  // deliberately without O_CLOEXEC
  REQUIRE(fd >= 0);
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  CHECK(run_command({"/bin/sh", "-c", "[ ! -e " + link + " ]"}) == 0);
  ::close(fd);
}

TEST_CASE("server_control: commands die of SIGPIPE even though we ignore it", "[server_control]") {
  auto old = ::signal(SIGPIPE, SIG_IGN);
  int status = run_command({"/bin/sh", "-c", "kill -PIPE $$"});
  ::signal(SIGPIPE, old);
  CHECK(status == 128 + SIGPIPE);
}

TEST_CASE("server_control: a command's stdout goes to our stderr, never our stdout",
          "[server_control]") {
  TempDir dir;
  std::fflush(stdout);
  std::fflush(stderr);
  int out = ::open((dir / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = ::open((dir / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(out >= 0);
  REQUIRE(err >= 0);
  int saved_out = ::dup(STDOUT_FILENO);
  int saved_err = ::dup(STDERR_FILENO);
  REQUIRE(saved_out >= 0);
  REQUIRE(saved_err >= 0);
  ::dup2(out, STDOUT_FILENO);
  ::dup2(err, STDERR_FILENO);
  // No Catch assertion until both are restored: its output would land in the files.
  int status = run_command({"/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2"});
  ::dup2(saved_out, STDOUT_FILENO);
  ::dup2(saved_err, STDERR_FILENO);
  for (int fd : {out, err, saved_out, saved_err}) ::close(fd);

  CHECK(status == 0);
  CHECK(read_file(dir / "stdout").empty());
  CHECK(read_file(dir / "stderr") == "to-stdout\nto-stderr\n");
}

TEST_CASE("server_control: stop, then start", "[server_control]") {
  TempDir dir;
  const std::string log = dir / "log";
  ServerControl control = logging_control(log);
  RecordingReporter reporter;
  {
    StoppedServer stopped(control, reporter);
    CHECK(read_file(log) == "stop\n");
    CHECK_FALSE(stopped.started());
    stopped.start();
    CHECK(stopped.started());
    CHECK(read_file(log) == "stop\nstart\n");
    stopped.start();  // once only
  }
  CHECK(read_file(log) == "stop\nstart\n");
  CHECK(reporter.warnings.empty());
}

TEST_CASE("server_control: a failing stop throws and nothing is started", "[server_control]") {
  TempDir dir;
  const std::string log = dir / "log";
  ServerControl control = logging_control(log, "; exit 3");
  RecordingReporter reporter;
  jb::Error e = error_of([&] { StoppedServer stopped(control, reporter); });
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK(std::string(e.what()) ==
        "the stop command failed (exit 3): /bin/sh -c 'echo stop >> '\\''" + log +
            "'\\''; exit 3'");
  CHECK(e.hint() == "nothing was read; the start command was not run, check the server's state");
  CHECK(read_file(log) == "stop\n");
  CHECK(reporter.warnings.empty());
}

TEST_CASE("server_control: the destructor starts the server after an error", "[server_control]") {
  TempDir dir;
  const std::string log = dir / "log";
  ServerControl control = logging_control(log);
  RecordingReporter reporter;
  try {
    StoppedServer stopped(control, reporter);
    throw std::runtime_error("the operation failed");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "the operation failed");
  }
  CHECK(read_file(log) == "stop\nstart\n");
  CHECK(reporter.warnings.empty());
}

TEST_CASE("server_control: a failing start in the destructor is a warning", "[server_control]") {
  TempDir dir;
  const std::string log = dir / "log";
  ServerControl control = logging_control(log, "", "; exit 4");
  RecordingReporter reporter;
  CHECK_NOTHROW([&] { StoppedServer stopped(control, reporter); }());
  CHECK(read_file(log) == "stop\nstart\n");
  REQUIRE(reporter.warnings.size() == 1);
  CHECK(reporter.warnings[0].starts_with("the start command failed (exit 4): /bin/sh -c "));
  CHECK(reporter.warnings[0].ends_with("; start Jellyfin by hand"));
}

TEST_CASE("server_control: a failing start throws, and is not run again", "[server_control]") {
  TempDir dir;
  const std::string log = dir / "log";
  ServerControl control = logging_control(log, "", "; exit 5");
  RecordingReporter reporter;
  {
    StoppedServer stopped(control, reporter);
    jb::Error e = error_of([&] { stopped.start(); });
    CHECK(e.kind() == jb::ErrorKind::kRuntime);
    CHECK(std::string(e.what()).starts_with("the start command failed (exit 5): "));
    CHECK(e.hint() == "start Jellyfin by hand");
    CHECK_FALSE(stopped.started());
  }
  CHECK(read_file(log) == "stop\nstart\n");
  CHECK(reporter.warnings.empty());
}

TEST_CASE("server_control: empty commands run nothing", "[server_control]") {
  TempDir dir;
  const std::string log = dir / "log";
  ServerControl control = ServerControl::for_commands("", "echo start >> '" + log + "'");
  RecordingReporter reporter;
  StoppedServer stopped(control, reporter);
  stopped.start();
  CHECK(stopped.started());
  CHECK(read_file(log) == "start\n");
}

TEST_CASE("server_control: a container's stop and start", "[server_control]") {
  TempDir bin;
  const std::string log = bin / "log";
  write_file(bin / "docker", "#!/bin/sh\necho \"$@\" >> '" + log + "'\n", 0755);
  ScopedPath path(bin.path());
  ServerControl control = ServerControl::for_container("jellyfin");
  RecordingReporter reporter;
  {
    StoppedServer stopped(control, reporter);
    stopped.start();
  }
  CHECK(read_file(log) == "stop jellyfin\nstart jellyfin\n");
}

TEST_CASE("server_control: downtime runs from the stop until the start", "[server_control]") {
  ServerControl control = ServerControl::for_commands("true", "true");
  RecordingReporter reporter;
  StoppedServer stopped(control, reporter);
  double before = stopped.downtime_seconds();
  CHECK(before >= 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  double during = stopped.downtime_seconds();
  CHECK(during >= before + 0.015);
  stopped.start();
  double after = stopped.downtime_seconds();
  CHECK(after >= during);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(stopped.downtime_seconds() == after);
}
