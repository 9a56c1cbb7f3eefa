// How long, as a user writes it: "36h", "2d", "1d12h", "90m", "1w", or a
// bare number of seconds. What `status --max-age` takes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace jb::cli {

// Seconds, or nullopt for anything else (empty, a unit we do not know, a
// negative or an overflowing value). Units: s, m, h, d, w.
std::optional<std::int64_t> parse_duration(const std::string& text);

// "2d 3h", "5h 12m", "42s": the largest two units, for messages.
std::string format_duration(std::int64_t seconds);

}  // namespace jb::cli
