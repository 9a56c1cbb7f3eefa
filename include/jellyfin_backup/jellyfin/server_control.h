// Stopping Jellyfin for the length of an operation and starting it again,
// whatever happens: --service (systemctl), --container (docker or podman) or
// --stop-cmd/--start-cmd (run by /bin/sh -c). The commands' own output goes
// to our stderr, never to stdout (which may carry --json or an archive).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/io/child_process.h"  // run_command, which used to live here
#include "jellyfin_backup/reporter.h"

namespace jb {

class ServerControl {
 public:
  // `systemctl stop NAME` / `systemctl start NAME`.
  static ServerControl for_service(const std::string& name);
  // `docker stop NAME` / `docker start NAME`; podman when docker is not on PATH.
  // Throws Error(kUsage) when neither is installed.
  static ServerControl for_container(const std::string& name);
  // `/bin/sh -c STOP` / `/bin/sh -c START`; either may be empty (nothing to run).
  static ServerControl for_commands(const std::string& stop, const std::string& start);

  const std::vector<std::string>& stop_argv() const { return stop_; }
  const std::vector<std::string>& start_argv() const { return start_; }
  // "systemd service jellyfin", "docker container jf", "--stop-cmd/--start-cmd"
  const std::string& description() const { return description_; }

 private:
  std::vector<std::string> stop_, start_;
  std::string description_;
};

// The server, stopped for as long as this object lives.
//
//   StoppedServer stopped(control, reporter);   // stop, or throw: nothing read yet
//   ... the operation ...
//   stopped.start();                            // start, report the downtime
//
// If the operation throws, the destructor starts the server (errors become
// warnings: the operation's own error is the one the user must see).
class StoppedServer {
 public:
  // Runs the stop command. A failing stop throws Error(kRuntime) naming the
  // command and its status, and the start command is not run (the server's
  // state is unknown; the user must look).
  StoppedServer(const ServerControl& control, Reporter& reporter);
  ~StoppedServer();
  StoppedServer(const StoppedServer&) = delete;
  StoppedServer& operator=(const StoppedServer&) = delete;

  // Runs the start command once; throws Error(kRuntime) if it fails. A
  // second call, or the destructor after a failed start, runs nothing.
  void start();
  // Seconds from the start of the stop command to the end of the start
  // command (or until now, if not started yet).
  double downtime_seconds() const;
  bool started() const { return started_; }

 private:
  const ServerControl control_;  // a copy: callers may pass a temporary
  Reporter& reporter_;
  std::chrono::steady_clock::time_point stopped_at_, started_at_;
  bool started_ = false;          // the start command succeeded
  bool start_attempted_ = false;  // start() ran (or tried to run) it
};

}  // namespace jb
