// Jellyfin version strings as packages, logs and the database write them:
// "10.11.0", "10.11.8+deb12", "10.11.11.0". Compared by their numeric
// components; a package suffix after '+' or '-' is ignored and missing
// components count as 0 ("10.11" == "10.11.0.0").
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace jb {

// The numeric components, or nullopt when `version` does not start with one.
std::optional<std::vector<unsigned long>> parse_server_version(const std::string& version);

// <0, 0, >0 like strcmp; nullopt when either side does not parse.
std::optional<int> compare_server_versions(const std::string& a, const std::string& b);

}  // namespace jb
