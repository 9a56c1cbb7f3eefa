// Running the user's stop and start commands through run_command
// (io/child_process.h): no shell of ours in between, the exact argv in
// messages, stdin /dev/null and stdout sent to our stderr so it can never
// corrupt an archive or --json on our stdout.
#include "jellyfin_backup/jellyfin/server_control.h"

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"

namespace jb {
namespace {

// Runs the stop or start command; a command that cannot be run or exits
// non-zero becomes Error(kRuntime) with `hint`.
void run_step(const std::vector<std::string>& argv, const char* which, const std::string& hint) {
  int status = 0;
  try {
    status = run_command(argv);
  } catch (const Error& e) {
    throw e.with_message(std::string("the ") + which + " command cannot be run: " + e.what())
        .with_hint(hint);
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
  throw bad_flag_error("container", "--container " + name + ": neither docker nor podman is installed",
                    "use --stop-cmd/--start-cmd instead");
}

ServerControl ServerControl::for_commands(const std::string& stop, const std::string& start) {
  ServerControl control;
  if (!stop.empty()) control.stop_ = {"/bin/sh", "-c", stop};
  if (!start.empty()) control.start_ = {"/bin/sh", "-c", start};
  control.description_ = "--stop-cmd/--start-cmd";
  return control;
}

StoppedServer::StoppedServer(const ServerControl& control, Reporter& reporter)
    : control_(control), reporter_(reporter), stopped_at_(std::chrono::steady_clock::now()) {
  // Throwing here skips the destructor, so the start command is not run: we
  // do not know what a failed stop left behind.
  try {
    run_step(control_.stop_argv(), "stop",
             "nothing was read; the start command was not run, check the server's state");
  } catch (const Error& e) {
    // Ctrl-C reaches the stop command too, which then fails of it: the
    // interruption is the news.
    const std::string interrupted = interruption();
    if (interrupted.empty()) throw;
    throw Error(ErrorKind::kInterrupted, ErrorCode::kInterrupted,
                interrupted + " while Jellyfin was being stopped, and " + e.what(), e.hint());
  }
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
