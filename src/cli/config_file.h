// /etc/jellyfin-backup.conf: defaults for the command line, so that a
// scheduled run needs no long command line. Flags given on the command
// line win over the file.
//
//   # a comment
//   output = /srv/backups        # every command that takes --output gets it
//   service = jellyfin
//   exclude = *.nfo              # repeatable flags: one line per value
//   keep-daily = 7
//   [create]                     # the keys below apply to `create` only
//   level = 9
//
// Keys are long flag names without "--"; on/off flags take yes/no,
// true/false, on/off or 1/0. A key outside a section goes to every command
// that takes that flag and is ignored by the others; `list` and `prune`
// use `output` as their directory when none is given. A key no command
// takes, or a section key its command does not take, is a usage error
// naming the file and line.
//
// The file runs commands (stop-cmd) as whoever runs us, often root: it is
// refused unless it is a regular file owned by root or by us and not
// writable by group or others.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace jb::cli {

inline constexpr const char* kDefaultConfigPath = "/etc/jellyfin-backup.conf";

struct ConfigSetting {
  std::string section;  // "" or a command name
  std::string key;
  std::string value;
  int line = 0;
};

struct ConfigFile {
  std::string path;
  std::vector<ConfigSetting> settings;  // file order
};

// Parses the text of a config file. Throws a usage error "<path>:<line>:
// ..." for a malformed line, an unknown section or a key no command takes.
ConfigFile parse_config(const std::string& text, const std::string& path);

// The config file to use: `explicit_path` (--config-file), else
// $JELLYFIN_BACKUP_CONFIG, else /etc/jellyfin-backup.conf. "none" (or
// /dev/null) means no file. A missing default file is no file; a missing
// file that was asked for is a usage error. Throws Error(kRefused) for a
// file others could have written.
std::optional<ConfigFile> load_config(const std::optional<std::string>& explicit_path);

// Every key a config file may hold: the long flags of all commands.
const std::vector<std::string>& known_config_keys();

// The yes/no value of an on/off flag; nullopt when it is neither.
std::optional<bool> parse_switch(const std::string& value);

}  // namespace jb::cli
