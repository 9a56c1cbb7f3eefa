// The flags that say which Jellyfin install a command works on and how to
// stop and start its server, shared by create, restore and where.
#include <unistd.h>

#include <cstdio>

#include "cli/options.h"
#include "jellyfin_backup/io/interrupt.h"

extern char** environ;

namespace jb::cli {
namespace {

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

std::optional<std::string> value_of(const cxxopts::ParseResult& result, const char* flag) {
  if (!result.count(flag)) return std::nullopt;
  return result[flag].as<std::string>();
}

}  // namespace

void add_install_flags(cxxopts::Options& options, const std::string& verb) {
  options.add_options("Install")
      ("data", "Jellyfin data directory to " + verb + " (default: found, see `where`)",
       cxxopts::value<std::string>(), "DIR")
      ("config", "Jellyfin config directory to " + verb + " (default: found, see `where`)",
       cxxopts::value<std::string>(), "DIR")
      ("install", "Install type: auto, debian, fedora, docker, linuxserver, hotio, portable, macos, windows",
       cxxopts::value<std::string>()->default_value("auto"), "TYPE")
      ("root", "Look for the install's default paths under DIR (a mounted disk or container volume)",
       cxxopts::value<std::string>(), "DIR");
}

Install locate_from_flags(const cxxopts::ParseResult& result) {
  LocateRequest request;
  request.install = result["install"].as<std::string>();
  request.root = value_of(result, "root").value_or("");
  request.data = value_of(result, "data");
  request.config = value_of(result, "config");
  request.env = environment();
  return locate_install(request);
}

void add_server_control_flags(cxxopts::Options& options) {
  options.add_options("Server")
      ("service", "Stop this systemd service before, start it after (e.g. jellyfin)",
       cxxopts::value<std::string>(), "NAME")
      ("container", "Stop this docker/podman container before, start it after",
       cxxopts::value<std::string>(), "NAME")
      ("stop-cmd", "Shell command that stops the server", cxxopts::value<std::string>(), "CMD")
      ("start-cmd", "Shell command that starts it again (run whatever the outcome)",
       cxxopts::value<std::string>(), "CMD");
}

ServerWindow::ServerWindow(const cxxopts::ParseResult& result, const std::string& command) {
  int ways = static_cast<int>(result.count("service") > 0) + static_cast<int>(result.count("container") > 0) +
             static_cast<int>(result.count("stop-cmd") + result.count("start-cmd") > 0);
  if (ways > 1)
    throw flag_error(command, "--service, --container and --stop-cmd/--start-cmd exclude each other");
  if (auto name = value_of(result, "service")) {
    control_ = std::make_unique<ServerControl>(ServerControl::for_service(*name));
  } else if (auto name = value_of(result, "container")) {
    control_ = std::make_unique<ServerControl>(ServerControl::for_container(*name));
  } else if (ways == 1) {
    control_ = std::make_unique<ServerControl>(ServerControl::for_commands(
        value_of(result, "stop-cmd").value_or(""), value_of(result, "start-cmd").value_or("")));
  }
  if (control_) report_mode().server.emplace();
}

bool ServerWindow::running_again() const {
  return stopped_ && stopped_->started() && !control_->start_argv().empty();
}

void ServerWindow::record() const {
  if (!stops() || !stopped_) return;
  auto& server = report_mode().server;
  if (!server) server.emplace();
  server->stopped = true;
  server->running_again = running_again();
  server->downtime_seconds = stopped_->downtime_seconds();
  server->line = summary();
}

double ServerWindow::stop(Reporter& reporter) {
  if (!control_) return 0;
  reporter_ = &reporter;
  stopped_.emplace(*control_, reporter);
  record();
  // Ctrl-C while the stop command ran (we let it finish: a stop cut
  // half-way leaves the server in no known state): nothing is done yet, so
  // the server goes back up at once.
  if (interrupted_signal()) {
    const std::string what = interruption() + " while Jellyfin was being stopped";
    try {
      stopped_->start();
    } catch (const Error& e) {
      throw Error(ErrorKind::kInterrupted, ErrorCode::kInterrupted, what + ", and " + e.what(), e.hint());
    }
    if (control_->start_argv().empty())
      throw Error(ErrorKind::kInterrupted, ErrorCode::kInterrupted, what,
                  "nothing else was done; Jellyfin is still stopped (no --start-cmd): start it yourself");
    throw Error(ErrorKind::kInterrupted, ErrorCode::kInterrupted, what,
                "Jellyfin was started again, nothing else was done");
  }
  // A server told to stop may take a moment to let go of its files.
  constexpr double kStopGraceSeconds = 15;
  return stops() ? kStopGraceSeconds : 0;
}

void ServerWindow::start_early() {
  if (!stopped_) return;
  try {
    stopped_->start();
  } catch (const Error& e) {
    early_failure_ = e;
  }
  record();
}

void ServerWindow::start(const std::string& done) {
  if (!stopped_) return;
  try {
    if (early_failure_) {
      Error failure = *early_failure_;
      early_failure_.reset();
      throw failure;
    }
    stopped_->start();  // runs nothing after start_early()
  } catch (const Error& e) {
    record();
    throw e.with_message(done + ", but " + e.what());
  }
  record();
}

ServerWindow::~ServerWindow() {
  // The operation failed after an early start that failed too: both matter.
  if (early_failure_ && reporter_) reporter_->warning(early_failure_->full_message());
  if (!stopped_) return;
  // The operation failed (or was interrupted) before start(): start the
  // server now, not when the members go, so what became of it is recorded.
  try {
    try {
      stopped_->start();
    } catch (const Error& e) {
      if (reporter_) reporter_->warning(e.full_message());
    }
    record();
  } catch (...) {
    // We may be unwinding from the operation's own error; nothing may escape.
  }
}

nlohmann::json ServerWindow::downtime_json() const {
  return stops() && stopped_ ? nlohmann::json(stopped_->downtime_seconds()) : nlohmann::json();
}

nlohmann::json ServerWindow::restarted_json() const {
  return stops() && stopped_ ? nlohmann::json(running_again()) : nlohmann::json();
}

std::string ServerWindow::summary() const {
  if (!stops() || !stopped_) return {};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f s", stopped_->downtime_seconds());
  const std::string stopped = "Jellyfin was stopped for " + std::string(buf);
  if (control_->start_argv().empty())
    return stopped + " and is still stopped (no --start-cmd): start it yourself";
  if (running_again()) return stopped + " and is running again (" + control_->description() + ")";
  return stopped + " and is not running again: its start command failed (" + control_->description() +
         "); start Jellyfin yourself";
}

std::optional<DetectedVersion> server_version_from(const cxxopts::ParseResult& result,
                                                   const Install& install, VersionUse use) {
  if (auto v = value_of(result, "server-version")) {
    const auto& from_config = report_mode().from_config;
    const auto file = from_config.find("server-version");
    return DetectedVersion{*v, file == from_config.end() ? "command line" : "config file " + file->second};
  }
  const std::string root = value_of(result, "root").value_or("");
  auto from_logs = [&] { return install.log.exists ? version_from_logs(install.log.path) : std::nullopt; };
  // Packages describe the machine, not a tree: only for a package install.
  bool packaged = install.type == InstallType::kDebian || install.type == InstallType::kFedora;
  auto from_packages = [&] { return packaged ? version_from_packages(root) : std::nullopt; };
  if (use == VersionUse::kWroteTrees) {
    if (auto v = from_logs()) return v;
    return from_packages();
  }
  if (auto v = from_packages()) return v;
  return from_logs();
}

}  // namespace jb::cli
