#include "cli/config_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "cli/cli.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/unique_fd.h"

namespace jb::cli {
namespace {

constexpr std::size_t kMaxConfigBytes = 1 << 20;

std::string trim(const std::string& s) {
  const char* space = " \t\r";
  auto b = s.find_first_not_of(space);
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(space);
  return s.substr(b, e - b + 1);
}

// "value  # comment" -> "value"; a '#' inside quotes, or not after
// whitespace ("http://x/#y"), is part of the value.
std::string strip_comment(const std::string& s) {
  char quote = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
      return s.substr(0, i);
    }
  }
  return s;
}

// A value wholly inside matching quotes loses them: `exclude = "* *"`.
std::string unquote(const std::string& s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front())
    return s.substr(1, s.size() - 2);
  return s;
}

Error line_error(const std::string& path, int line, const std::string& what, std::string hint = {}) {
  return usage_error(path + ":" + std::to_string(line) + ": " + what,
                     (hint.empty() ? std::string("see CONFIGURATION FILE in `man jellyfin-backup`") : std::move(hint)) +
                         "; or run with --config-file none");
}

std::string read_config_text(const std::string& path, bool required) {
  // A symlink is fine (NixOS links /etc files into the store): what is
  // checked below is the file it leads to, through this descriptor.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT && !required) return {};
    // The default file, kept from other users (it may hold their stop
    // commands): they run without it rather than not at all.
    if (errno == EACCES && !required) {
      print(stderr, "jellyfin-backup: warning: %s: not readable by this user; its defaults are not used\n",
                   path.c_str());
      return {};
    }
    if (errno == ENOENT)
      throw usage_error(path + ": no such config file", "check --config-file or $JELLYFIN_BACKUP_CONFIG");
    throw io_error(path, "cannot read the config file", errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw io_error(path, "cannot stat the config file", errno);
  if (!S_ISREG(st.st_mode)) throw usage_error(path + ": the config file is not a regular file",
                                                "name a file with --config-file, or none for no file");
  // Its stop and start commands run as whoever runs us, often root.
  if (st.st_uid != 0 && st.st_uid != ::geteuid())
    throw refused_error(path + ": the config file belongs to another user (uid " + std::to_string(st.st_uid) +
                            "), and the commands in it would run as us",
                        "chown it to root (or to the user who runs jellyfin-backup)");
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    throw refused_error(path + ": the config file is writable by group or others, and the commands in it "
                               "would run as us",
                        "chmod go-w " + path);
  if (static_cast<std::uint64_t>(st.st_size) > kMaxConfigBytes)
    throw usage_error(path + ": the config file is larger than 1 MiB; is it the right file?");
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw io_error(path, "cannot read the config file", errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return text;
}

}  // namespace

const std::vector<std::string>& known_config_keys() {
  static const std::vector<std::string> kKeys = {
      // every command
      "json", "quiet", "on-success", "on-failure",
      // create, restore, recover, prune, copy
      "wait-lock",
      // which install: create, restore, recover, where
      "data", "config", "install", "root",
      // stopping and starting the server: create, restore
      "service", "container", "stop-cmd", "start-cmd",
      // create
      "output", "server-version", "level", "threads", "exclude", "include-logs", "include-cache", "force",
      // inspect
      "list",
      // restore
      "only", "dry-run", "keep-old", "discard-old",
      // list
      "check",
      // status
      "max-age",
      // prune
      "keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly",
      "keep-version-change", "group-by",
  };
  return kKeys;
}

// The on/off flags: checked when the file is read, so a typo in one a
// command ignores (keep-version-change for create) fails every command,
// not only the nightly prune after the backup.
bool is_switch_key(const std::string& key) {
  static const std::set<std::string> kSwitches = {
      "json", "quiet", "include-logs", "include-cache", "force", "list", "dry-run",
      "keep-old", "discard-old", "check", "keep-version-change"};
  return kSwitches.count(key) > 0;
}

std::optional<bool> parse_switch(const std::string& value) {
  std::string v = value;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v == "yes" || v == "true" || v == "on" || v == "1") return true;
  if (v == "no" || v == "false" || v == "off" || v == "0") return false;
  return std::nullopt;
}

ConfigFile parse_config(const std::string& text, const std::string& path) {
  ConfigFile config{path, {}};
  std::string section;
  int line_no = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = trim(strip_comment(text.substr(start, end - start)));
    start = end + 1;
    ++line_no;
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') throw line_error(path, line_no, "'" + line + "': a section is written [command]");
      section = trim(line.substr(1, line.size() - 2));
      if (!find_command(section))
        throw line_error(path, line_no, "[" + section + "]: no such command",
                         "sections are named after commands: [create], [prune], ...");
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos)
      throw line_error(path, line_no, "'" + line + "': expected key = value");
    std::string key = trim(line.substr(0, eq));
    if (key.rfind("--", 0) == 0) key = key.substr(2);
    std::string value = unquote(trim(line.substr(eq + 1)));
    const auto& keys = known_config_keys();
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      throw line_error(path, line_no, "unknown setting '" + key + "'",
                       "settings are the long flags of the commands, without --: output, service, keep-daily, ...");
    if (value.empty())
      throw line_error(path, line_no, "'" + key + "' has no value", "write " + key + " = VALUE, or remove the line");
    if (is_switch_key(key) && !parse_switch(value))
      throw line_error(path, line_no, key + " = " + value + ": expected yes or no");
    config.settings.push_back({section, key, value, line_no});
  }
  return config;
}

std::optional<ConfigFile> load_config(const std::optional<std::string>& explicit_path) {
  std::string path = kDefaultConfigPath;
  bool required = false;
  if (explicit_path) {
    path = *explicit_path;
    required = true;
  } else if (const char* env = std::getenv("JELLYFIN_BACKUP_CONFIG"); env && *env) {
    path = env;
    required = true;
  }
  if (path == "none" || path == "/dev/null") return std::nullopt;
  std::string text = read_config_text(path, required);
  if (text.empty()) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;  // the default file, absent
  }
  return parse_config(text, path);
}

}  // namespace jb::cli
