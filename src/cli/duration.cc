#include "cli/duration.h"

#include <cctype>
#include <limits>

namespace jb::cli {
namespace {

std::optional<std::int64_t> unit_seconds(char unit) {
  switch (unit) {
    case 's': return 1;
    case 'm': return 60;
    case 'h': return 3600;
    case 'd': return 86400;
    case 'w': return 7 * 86400;
    default: return std::nullopt;
  }
}

}  // namespace

std::optional<std::int64_t> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max() / 2;
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    std::int64_t n = 0;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      if (n > kMax / 10) return std::nullopt;
      n = n * 10 + (text[i] - '0');
    }
    std::int64_t unit = 1;
    if (i < text.size()) {
      auto u = unit_seconds(text[i]);
      if (!u) return std::nullopt;
      unit = *u;
      ++i;
    } else if (total != 0) {
      return std::nullopt;  // "1d5": five what?
    }
    if (n > (kMax - total) / unit) return std::nullopt;
    total += n * unit;
  }
  return total;
}

std::string format_duration(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  struct Unit {
    std::int64_t size;
    const char* name;
  };
  static const Unit kUnits[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  std::string out;
  int shown = 0;
  for (const Unit& u : kUnits) {
    const std::int64_t n = seconds / u.size;
    if (n == 0 && (shown == 0 ? u.size != 1 : true)) {
      if (shown) break;
      continue;
    }
    seconds -= n * u.size;
    if (!out.empty()) out += ' ';
    out += std::to_string(n) + u.name;
    if (++shown == 2) break;
  }
  return out;
}

}  // namespace jb::cli
