// Where a Jellyfin install keeps its trees, found the way the server itself
// finds them (Jellyfin.Server/Helpers/StartupHelpers.cs): its environment
// variables JELLYFIN_{DATA,CONFIG,LOG,CACHE}_DIR, the package's env file and
// systemd drop-ins that set them, then each install type's defaults.
//
// Explicit --data/--config always win; everything else is said with its
// source, so `where` can show why each path was chosen.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jb {

enum class InstallType { kDebian, kFedora, kDocker, kLinuxserver, kHotio, kPortable, kMacos, kWindows, kCustom };

// "debian", ..., "custom" (explicit --data and --config, no known layout).
std::string_view install_type_name(InstallType type);
// The names --install accepts, "auto" excluded; nullopt for anything else.
std::optional<InstallType> parse_install_type(std::string_view name);
// The command that stops this install's server, for messages.
std::string stop_hint(InstallType type);

struct LocatedDir {
  std::string path;    // absolute, normalised; realpath'd when it exists
  std::string source;  // "--data", "JELLYFIN_LOG_DIR", "/etc/default/jellyfin", "docker default", ...
  bool exists = false; // an existing directory
};

struct Install {
  InstallType type = InstallType::kCustom;
  std::string why;  // how the type was chosen: "--install docker", "found /config/config/system.xml"
  LocatedDir data, config, log, cache;
  // The transcode directory from config/encoding.xml, when it sets one.
  std::optional<LocatedDir> transcodes;
};

struct LocateRequest {
  std::string install = "auto";              // --install
  std::string root;                          // --root; empty means /
  std::optional<std::string> data, config;   // --data, --config
  std::map<std::string, std::string> env;    // the process environment
};

// Throws Error(kUsage) for an unknown --install, when no install is found
// and --data/--config do not say where, and when two installs are found
// (listing both and the flag that chooses). Never fails only because a
// log or cache directory is missing.
Install locate_install(const LocateRequest& request);

// KEY=VALUE lines of a systemd EnvironmentFile (/etc/default/jellyfin):
// comments, blank lines, `export`, and single or double quotes handled.
std::map<std::string, std::string> parse_env_file(std::string_view text);
// Environment= assignments of a systemd unit or drop-in's [Service] section.
std::map<std::string, std::string> parse_unit_environment(std::string_view text);

// The server's transcode directory from encoding.xml's <TranscodingTempPath>.
std::optional<std::string> transcode_path_of(std::string_view encoding_xml);

}  // namespace jb

namespace jb {

// Jellyfin puts a marker file in each folder (".jellyfin-data",
// ".jellyfin-config") and refuses to start when a folder holds another
// folder's marker. A message saying so when `dir`, meant as the `tree`
// ("data" or "config") directory, holds the other tree's marker and not its
// own; nullopt when all is well or there are no markers.
std::optional<std::string> misplaced_tree(const std::string& dir, std::string_view tree);

}  // namespace jb
