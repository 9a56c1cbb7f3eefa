// What the command files share: the cxxopts set-up (common flags, the
// config file, parsing with errors turned into usage errors, --help), the
// flags that say which Jellyfin install and how to stop it, and the locks.
#pragma once

// --exclude 'a,b' is one glob: never split repeated values on commas.
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "jellyfin_backup/io/location.h"
#include "jellyfin_backup/io/lock_file.h"
#include "jellyfin_backup/jellyfin/install.h"
#include "jellyfin_backup/jellyfin/installed_version.h"
#include "jellyfin_backup/jellyfin/server_control.h"

namespace jb {
struct ArchiveInfo;
class Store;
}  // namespace jb

namespace jb::cli {

// Adds --json, --quiet, --config-file and --help to `options`.
void add_common_flags(cxxopts::Options& options);

// Parses argv; throws a usage error (exit 2) for unknown flags, bad values
// and stray arguments. Returns nullopt after printing --help.
std::optional<cxxopts::ParseResult> parse_flags(cxxopts::Options& options, const std::string& command,
                                                int argc, char** argv);

CommonFlags common_flags(const cxxopts::ParseResult& result);

// The value of a required flag, or a usage error naming it.
std::string required(const cxxopts::ParseResult& result, const std::string& command,
                     const std::string& flag);


// --install, --root, --data and --config: which Jellyfin install to work on.
// `verb` says what the command does with the trees ("back up").
void add_install_flags(cxxopts::Options& options, const std::string& verb);
// Finds the install the flags (and the environment) describe.
Install locate_from_flags(const cxxopts::ParseResult& result);

// --service, --container, --stop-cmd and --start-cmd (at most one way).
void add_server_control_flags(cxxopts::Options& options);

// The server stopped around one operation, as those flags ask (or not at
// all): stop() before it, start() after it; an exception in between
// unwinds through StoppedServer, which starts the server anyway.
class ServerWindow {
 public:
  // Reads the flags only; throws a usage error when they conflict.
  ServerWindow(const cxxopts::ParseResult& result, const std::string& command);
  bool controls() const { return control_ != nullptr; }
  // Stops the server if asked. Returns how long the running-server check
  // should let it take to exit (`kill PID` returns before it has).
  double stop(Reporter& reporter);
  // Starts it again as soon as the operation no longer needs it stopped
  // (create: every file read). A failing start is remembered for start().
  void start_early();
  // Starts it again (unless start_early() did); a failing start names what
  // was done first ("the archive X was created").
  void start(const std::string& done);
  ~ServerWindow();
  // The downtime in seconds, null when nothing was stopped.
  nlohmann::json downtime_json() const;
  // Whether Jellyfin runs again (its start command succeeded), null when
  // nothing was stopped.
  nlohmann::json restarted_json() const;
  // "Jellyfin was stopped for 12.3 s and is running again (systemd service
  // jellyfin)", or "... and is still stopped ...: start it yourself"; empty
  // when nothing was stopped.
  std::string summary() const;

 private:
  bool stops() const { return control_ && !control_->stop_argv().empty(); }
  bool running_again() const;
  // Tells report_mode() how the server stands, for main()'s last word.
  void record() const;
  std::unique_ptr<ServerControl> control_;
  std::optional<StoppedServer> stopped_;
  Reporter* reporter_ = nullptr;
  std::optional<Error> early_failure_;  // start_early() failed; start() has not reported it
};

// --server-version, or what the install shows: for create the version that
// last ran on the trees (logs first), for restore the one installed
// (packages first).
enum class VersionUse { kWroteTrees, kInstalled };
std::optional<DetectedVersion> server_version_from(const cxxopts::ParseResult& result,
                                                   const Install& install, VersionUse use);


// The DIR argument of list and prune (from the config file's `output` when
// not given).
Location backup_dir_from(const cxxopts::ParseResult& parsed, const std::string& command);
// One archive of a backup directory, as list and prune show it in --json.
nlohmann::json archive_json(const Store& store, const ArchiveInfo& archive);

// The locks a command holds for as long as it runs. Taken first, before any
// stop command: a second run that is refused must not stop or start the
// server under the first.
std::vector<LockFile> lock_install(const Install& install, const std::string& command, Reporter& reporter,
                                   double wait_seconds);
// The lock of a backup directory (local or remote) that `command` writes
// to. A local directory that does not exist is not locked: the command's
// own check says what to do about it.
std::optional<LockFile> lock_backup_dir(const Location& dir, const std::string& command, Reporter& reporter,
                                        double wait_seconds);

// --wait-lock SECONDS: how long a command waits for another run's lock
// before it gives up with exit 5 (default 0: at once).
void add_lock_flags(cxxopts::Options& options);
double lock_wait_seconds(const cxxopts::ParseResult& result);

}  // namespace jb::cli
