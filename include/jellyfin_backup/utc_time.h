// UTC times as the format writes them: the manifest's "created"
// ("2026-11-25T03:15:00Z") and the stamps of generated names
// ("20261125T031500Z"). Pure arithmetic, no time-zone state: timegm() keeps
// a static, and the catalog reads archives from several threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jb {

// Seconds since the epoch of a UTC civil time; nullopt for fields out of
// range or a date that does not exist (February 30).
std::optional<std::int64_t> utc_seconds(int year, int month, int day, int hour, int minute, int second);

// "2026-11-25T03:15:00Z", and back (nullopt unless exactly that form).
std::string utc_iso(std::int64_t t);
std::optional<std::int64_t> parse_utc_iso(std::string_view text);

// "20261125T031500Z", and back.
std::string utc_compact(std::int64_t t);
std::optional<std::int64_t> parse_utc_compact(std::string_view text);

}  // namespace jb
