#include "jellyfin_backup/jellyfin/server_version.h"

#include <cctype>

namespace jb {

std::optional<std::vector<unsigned long>> parse_server_version(const std::string& version) {
  std::vector<unsigned long> parts;
  std::size_t i = 0;
  if (i < version.size() && (version[i] == 'v' || version[i] == 'V')) ++i;
  while (i < version.size() && std::isdigit(static_cast<unsigned char>(version[i]))) {
    unsigned long n = 0;
    while (i < version.size() && std::isdigit(static_cast<unsigned char>(version[i]))) {
      n = n * 10 + static_cast<unsigned long>(version[i] - '0');
      if (n > 1000000000ul) return std::nullopt;
      ++i;
    }
    parts.push_back(n);
    if (i < version.size() && version[i] == '.') ++i;
    else break;
  }
  if (parts.empty()) return std::nullopt;
  if (i < version.size() && version[i] != '+' && version[i] != '-' && version[i] != '~')
    return std::nullopt;
  while (parts.size() > 1 && parts.back() == 0) parts.pop_back();
  return parts;
}

std::optional<int> compare_server_versions(const std::string& a, const std::string& b) {
  auto pa = parse_server_version(a);
  auto pb = parse_server_version(b);
  if (!pa || !pb) return std::nullopt;
  std::size_t n = std::max(pa->size(), pb->size());
  for (std::size_t i = 0; i < n; ++i) {
    unsigned long x = i < pa->size() ? (*pa)[i] : 0;
    unsigned long y = i < pb->size() ? (*pb)[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

}  // namespace jb
