// jellyfin-backup: the thin CLI over libjellyfin_backup. It picks the
// command, and turns a jb::Error into its documented exit code and one line
// on stderr (plus a JSON object on stdout with --json).
#include <csignal>
#include <clocale>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/version.h"

namespace {

constexpr const char* kUsage =
    "Usage: jellyfin-backup COMMAND [options]\n"
    "\n"
    "Back up and check a Jellyfin server's config and data directories as one\n"
    "verified tar.zst archive.\n"
    "\n"
    "Commands:\n"
    "  create   back up the server's config and data trees into an archive\n"
    "  verify   check an archive (or every archive of a directory) end to end\n"
    "  inspect  show an archive's manifest; --list its entries\n"
    "  restore  verify an archive into staging, then swap it in atomically\n"
    "  recover  finish or undo an interrupted restore\n"
    "  where    show where the Jellyfin install keeps its trees, its version, if it runs\n"
    "  list     list the archives of a backup directory, newest first\n"
    "  prune    delete the archives a retention policy does not keep\n"
    "  copy     copy an archive anywhere, verifying it while it streams\n"
    "  status   is the newest archive fresh and sound? (for monitoring)\n"
    "\n"
    "Archives and backup directories may be local paths or rclone remotes\n"
    "(rclone:REMOTE:path); default flags come from /etc/jellyfin-backup.conf.\n"
    "\n"
    "Every command takes --json, --quiet, --config-file and --help.\n"
    "  jellyfin-backup --version   print the version\n"
    "Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 archive damaged or unsafe,\n"
    "4 refused for safety (needs a person), 5 locked by another run (retry later),\n"
    "130/143 interrupted by SIGINT/SIGTERM. See man jellyfin-backup.\n";

bool wants_json(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--json") == 0) return true;
  return false;
}

bool writes_archive_to_stdout(int argc, char** argv) {
  // copy SRC -: the second positional argument.
  if (argc > 1 && std::strcmp(argv[1], "copy") == 0) {
    int positional = 0;
    for (int i = 2; i < argc; ++i) {
      if (argv[i][0] == '-' && argv[i][1] != '\0') continue;
      if (++positional == 2) return std::strcmp(argv[i], "-") == 0;
    }
  }
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--output") == 0 && std::strcmp(argv[i + 1], "-") == 0) return true;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--output=-") == 0) return true;
  return false;
}

// "--level 25: must be ..." about a value the config file gave says where:
// the user never typed it.
jb::Error with_config_origin(const jb::Error& e) {
  if (e.kind() != jb::ErrorKind::kUsage || e.flag().empty()) return e;
  const auto& origins = jb::cli::report_mode().from_config;
  const auto it = origins.find(e.flag());
  if (it == origins.end()) return e;
  return e.with_message(std::string(e.what()) + " (set in " + it->second + ")");
}

// What the user can do, said by the one who knows what they typed: the
// core reports what happened (its code); the command's flags are here.
jb::Error with_command_hint(const jb::Error& e, const std::string& command) {
  if (e.is_no_space() && e.hint().empty()) {
    if (command == "create") return e.with_hint("free some space, or choose another --output");
    if (command == "restore")
      return e.with_hint("free some space on the targets' filesystem (staging is built beside each "
                         "target); the targets are untouched");
    if (command == "copy") return e.with_hint("free some space at the destination, or copy somewhere else");
    return e.with_hint("free some space");
  }
  if (e.code() == jb::ErrorCode::kIsDirectory && e.hint().empty())
    return e.with_hint("name one archive file in it (`jellyfin-backup list DIR` shows them)");
  if (e.code() == jb::ErrorCode::kLocked) {
    std::string hint = e.hint();
    return e.with_hint(hint + (hint.empty() ? "" : ", ") + "or pass --wait-lock SECONDS");
  }
  return e;
}

int report(const jb::Error& error, const char* command, int argc, char** argv) {
  const jb::Error e = with_command_hint(with_config_origin(error), command ? command : "");
  // Interrupted, whatever error the interruption surfaced as: 128 + the
  // signal, as shells and restic say it (130 SIGINT, 143 SIGTERM).
  const int signal = jb::interrupted_signal();
  const int exit_code = signal != 0 ? 128 + signal
                        : e.kind() == jb::ErrorKind::kInterrupted ? 128 + SIGINT
                                                                 : e.exit_code();
  jb::cli::print(stderr, "jellyfin-backup: error: %s\n", e.full_message().c_str());
  jb::cli::report_mode().error_line = e.full_message();
  // Once the flags are parsed they say (the config file may have added
  // --json); before that, argv is all there is.
  const auto& mode = jb::cli::report_mode();
  // A run that stopped the server ends by saying whether it runs again.
  if (mode.server && mode.server->stopped)
    jb::cli::print(stderr, "jellyfin-backup: %s\n", mode.server->line.c_str());
  const bool json = mode.known ? mode.json : wants_json(argc, argv);
  const bool to_stderr = mode.known ? mode.archive_on_stdout : writes_archive_to_stdout(argc, argv);
  if (json) {
    nlohmann::json object = {{"command", command ? command : ""},
                             {"ok", false},
                             {"exit_code", exit_code},
                             {"error", e.full_message()}};
    if (mode.server) {
      const bool stopped = mode.server->stopped;
      object["downtime_seconds"] = stopped ? nlohmann::json(mode.server->downtime_seconds) : nlohmann::json();
      object["server_restarted"] = stopped ? nlohmann::json(mode.server->running_again) : nlohmann::json();
    }
    jb::cli::print_json(object, to_stderr);
  }
  return exit_code;
}

int run(const std::string& command, int argc, char** argv) {
  if (const jb::cli::Command* c = jb::cli::find_command(command)) return c->run(argc, argv);
  throw jb::usage_error("unknown command '" + command + "'",
                        "run `jellyfin-backup --help` for the list of commands");
}

}  // namespace

int main(int argc, char** argv) {
  // Names are stored byte for byte: UTF-8 stays UTF-8, anything else is kept
  // raw by libarchive, whatever the user's locale.
  if (!std::setlocale(LC_CTYPE, "C.UTF-8")) std::setlocale(LC_CTYPE, "");
  jb::install_interrupt_handlers();

  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::printf("jellyfin-backup %s\n", jb::kToolVersion);
    return 0;
  }
  const char* command = argv[1];
  int code = 0;
  try {
    // The command sees itself as argv[0].
    code = run(command, argc - 1, argv + 1);
  } catch (const jb::Error& e) {
    code = report(e, command, argc, argv);
  } catch (const std::bad_alloc&) {
    code = report(jb::Error(jb::ErrorKind::kRuntime, "out of memory"), command, argc, argv);
  } catch (const std::exception& e) {
    code = report(jb::Error(jb::ErrorKind::kRuntime, std::string("internal error: ") + e.what(),
                            "please report this"),
                  command, argc, argv);
  }
  // Last, once everything is said and the server is back: tell whoever
  // the user asked to tell.
  return jb::cli::run_outcome_hook(command, code);
}
