// cxxopts set-up shared by the command files: the common flags, parsing with
// errors turned into usage errors (exit 2), and --help.
#pragma once

// --exclude 'a,b' is one glob: never split repeated values on commas.
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>

#include <optional>
#include <string>

#include "cli/cli.h"

namespace jb::cli {

// Adds --json, --quiet and --help to `options`.
void add_common_flags(cxxopts::Options& options);

// Parses argv; throws a usage error (exit 2) for unknown flags, bad values
// and stray arguments. Returns nullopt after printing --help.
std::optional<cxxopts::ParseResult> parse_flags(cxxopts::Options& options, const std::string& command,
                                                int argc, char** argv);

CommonFlags common_flags(const cxxopts::ParseResult& result);

// The value of a required flag, or a usage error naming it.
std::string required(const cxxopts::ParseResult& result, const std::string& command,
                     const std::string& flag);

}  // namespace jb::cli

#include <memory>

#include "jellyfin_backup/jellyfin/install.h"
#include "jellyfin_backup/jellyfin/installed_version.h"
#include "jellyfin_backup/jellyfin/server_control.h"

namespace jb::cli {

// --install, --root, --data and --config: which Jellyfin install to work on.
// `verb` says what the command does with the trees ("back up").
void add_install_flags(cxxopts::Options& options, const std::string& verb);
// Finds the install the flags (and the environment) describe.
Install locate_from_flags(const cxxopts::ParseResult& result);

// How long a server told to stop may take to let go of its files before
// it counts as still running (`kill PID` returns before the process exits).
constexpr double kStopGraceSeconds = 15;

// --service, --container, --stop-cmd and --start-cmd (at most one way).
void add_server_control_flags(cxxopts::Options& options);
std::unique_ptr<ServerControl> server_control_from_flags(const cxxopts::ParseResult& result,
                                                         const std::string& command);

// "Jellyfin was stopped for 12.3 s (systemd service jellyfin)", or that it
// is still stopped when there was no start command.
std::string downtime_line(const StoppedServer& stopped, const ServerControl& control);

// --server-version, or what the install shows: for create the version that
// last ran on the trees (logs first), for restore the one installed
// (packages first).
enum class VersionUse { kWroteTrees, kInstalled };
std::optional<DetectedVersion> server_version_from(const cxxopts::ParseResult& result,
                                                   const Install& install, VersionUse use);

}  // namespace jb::cli
