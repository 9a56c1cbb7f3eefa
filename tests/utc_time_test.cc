#include "jellyfin_backup/utc_time.h"

#include <catch2/catch.hpp>
#include <ctime>

using jb::parse_utc_compact;
using jb::parse_utc_iso;
using jb::utc_compact;
using jb::utc_iso;
using jb::utc_seconds;

TEST_CASE("utc_time: agrees with the C library on every day of a few centuries", "[utc_time]") {
  for (std::int64_t t = -2208988800; t < 4102444800; t += 86400 * 7 + 3661) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char want[32];
    std::strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
    REQUIRE(utc_iso(t) == want);
    REQUIRE(parse_utc_iso(want) == t);
    REQUIRE(utc_seconds(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec) == t);
  }
}

TEST_CASE("utc_time: the two forms", "[utc_time]") {
  const std::int64_t t = *utc_seconds(2026, 11, 25, 3, 15, 0);
  CHECK(utc_iso(t) == "2026-11-25T03:15:00Z");
  CHECK(utc_compact(t) == "20261125T031500Z");
  CHECK(parse_utc_compact("20261125T031500Z") == t);
  CHECK(utc_iso(0) == "1970-01-01T00:00:00Z");
}

TEST_CASE("utc_time: only real dates in exactly the form", "[utc_time]") {
  CHECK_FALSE(utc_seconds(2026, 2, 29, 0, 0, 0));
  CHECK(utc_seconds(2024, 2, 29, 0, 0, 0));
  CHECK_FALSE(utc_seconds(1900, 2, 29, 0, 0, 0));
  CHECK(utc_seconds(2000, 2, 29, 0, 0, 0));
  CHECK_FALSE(utc_seconds(2026, 4, 31, 0, 0, 0));
  CHECK_FALSE(utc_seconds(2026, 13, 1, 0, 0, 0));
  CHECK_FALSE(utc_seconds(2026, 1, 1, 24, 0, 0));
  for (const char* bad : {"2026-11-25T03:15:00", "2026-11-25 03:15:00Z", "2026-1-25T03:15:00Z",
                          "2026-11-25T03:15:00+00:00", " 2026-11-25T03:15:00Z", "2026-11-25T03:15:0xZ",
                          "2026-02-30T00:00:00Z", ""})
    CHECK_FALSE(parse_utc_iso(bad));
  for (const char* bad : {"20261125T031500", "2026112T031500Z0", "20261125t031500Z", "2026112-T031500Z"})
    CHECK_FALSE(parse_utc_compact(bad));
}
