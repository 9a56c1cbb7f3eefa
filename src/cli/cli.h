// The command-line layer: parses argv into each command's options struct,
// calls the core, and owns everything user-facing: exit codes, --json,
// --quiet, the progress line. Only this layer and main.cc print.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "jellyfin_backup/error.h"
#include "cli/terminal_escape.h"
#include "jellyfin_backup/reporter.h"

namespace jb::cli {

// One function per command; each returns the process exit code and throws
// jb::Error for failures (main.cc prints them).
int cmd_create(int argc, char** argv);
int cmd_verify(int argc, char** argv);
int cmd_inspect(int argc, char** argv);
int cmd_restore(int argc, char** argv);
int cmd_recover(int argc, char** argv);
int cmd_where(int argc, char** argv);
int cmd_list(int argc, char** argv);
int cmd_status(int argc, char** argv);
int cmd_prune(int argc, char** argv);
int cmd_copy(int argc, char** argv);

struct Command {
  const char* name;
  int (*run)(int argc, char** argv);
};
// Every command, in the order --help lists them; the config file's
// sections are named after them.
const std::vector<Command>& commands();
const Command* find_command(std::string_view name);

// Flags every command takes.
struct CommonFlags {
  bool json = false;   // one JSON object on stdout at the end
  bool quiet = false;  // nothing but warnings and errors
};

// "1.5 GiB"
std::string human_bytes(std::uint64_t bytes);
// "2026-11-25T03:15:00Z" as tables show it: "2026-11-25 03:15:00Z".
std::string table_time(const std::string& iso);

// Warnings on stderr, and a throttled progress line when stderr is a
// terminal (never with --quiet). Keeps warnings for --json.
class ConsoleReporter : public Reporter {
 public:
  ConsoleReporter(const CommonFlags& flags, std::string verb);
  ~ConsoleReporter() override;
  void warning(const std::string& message) override;
  void progress(const Progress& progress) override;
  // Erases the progress line before a final message.
  void clear_line();
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  bool show_progress_;
  std::string verb_;
  bool line_shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
  std::vector<std::string> warnings_;
};

// How main() reports a failure the way the command would have reported
// success: set by parse_flags (--json, also from the config file) and by
// the commands that write an archive to stdout (then JSON goes to stderr).
struct ReportMode {
  bool known = false;  // the flags were parsed
  bool json = false;
  bool archive_on_stdout = false;
  // Flags the config file set ("level" -> "/etc/jellyfin-backup.conf:7"),
  // so an error about one's value can say where it came from.
  std::map<std::string, std::string> from_config;
  // What became of the server a command was told how to stop (set by
  // ServerWindow), so a failed run still ends by saying whether Jellyfin
  // runs again: its last line, and server_restarted/downtime_seconds in
  // --json. Empty for a command without server control.
  struct Server {
    bool stopped = false;
    bool running_again = false;
    double downtime_seconds = 0;
    std::string line;  // ServerWindow::summary()
  };
  std::optional<Server> server;
  // --on-success / --on-failure, and what they are told: the failure's
  // error line, the archive the run wrote (create, copy).
  std::string on_success, on_failure;
  std::string error_line;
  std::string archive;
};
ReportMode& report_mode();

// Runs --on-success or --on-failure (as exit_code says) through /bin/sh -c,
// the outcome in its environment (JELLYFIN_BACKUP_COMMAND, _OUTCOME,
// _EXIT_CODE, _ERROR, _ARCHIVE, _DOWNTIME, _SERVER_RESTARTED); a failing
// hook is a warning. Returns exit_code.
int run_outcome_hook(const std::string& command, int exit_code);

// Where a command's --json object or summary goes.
void print_json(const nlohmann::json& object, bool to_stderr = false);

// A command that printed its whole report and still failed (a prune whose
// deletion failed, a list --check that found damage): its --json object
// carries exit_code and error, as main()'s failure object does, and the
// error line goes to stderr; report_failure returns the exit code.
void add_failure(nlohmann::json& object, ErrorKind kind, const std::string& error);
int report_failure(ErrorKind kind, const std::string& error);

// Thrown for wrong flags; carries the command for the usage hint, and the
// flag (without "--") it is about, if one.
Error flag_error(const std::string& command, const std::string& message, const std::string& flag = {});

}  // namespace jb::cli
