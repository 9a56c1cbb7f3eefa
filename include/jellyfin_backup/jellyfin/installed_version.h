// Which Jellyfin version wrote (or will run) a set of trees, found without
// running the server: the last "Jellyfin version: X" line of the newest log
// file, or the package database's jellyfin-server / jellyfin entry.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace jb {

struct DetectedVersion {
  std::string version;  // "10.11.0"
  std::string source;   // "log /var/log/jellyfin/jellyfin20261120.log", "dpkg jellyfin-server 10.11.0+deb12"
};

// The version a log line announces, for the three forms the server writes:
//   [2025-10-20 19:01:05.123 -04:00] [INF] [1] Main: Jellyfin version: "10.11.0"
//   [2025-10-20 19:01:05.123 -04:00] [INF] Jellyfin version: "10.11.0"
//   [14:24:38] [INF] [10] Main: Jellyfin version: 10.11.8
std::optional<std::string> version_in_log_line(std::string_view line);

// The last version line of the newest log file (by mtime, then name) in
// `log_dir` that has one.
std::optional<DetectedVersion> version_from_logs(const std::string& log_dir);

// dpkg's status file under `root` ("" is /), then `rpm --root` when rpm is
// installed. Package versions lose their suffix: "10.11.0+deb12" -> "10.11.0".
std::optional<DetectedVersion> version_from_packages(const std::string& root);

// A dpkg status file's installed jellyfin-server (or jellyfin) version, raw.
std::optional<std::string> dpkg_version_of(std::string_view status_text);

}  // namespace jb
