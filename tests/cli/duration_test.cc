#include "cli/duration.h"

#include <catch2/catch.hpp>

using jb::cli::format_duration;
using jb::cli::parse_duration;

TEST_CASE("parse_duration: units and sums", "[duration]") {
  CHECK(parse_duration("90") == 90);
  CHECK(parse_duration("90s") == 90);
  CHECK(parse_duration("15m") == 900);
  CHECK(parse_duration("36h") == 36 * 3600);
  CHECK(parse_duration("2d") == 2 * 86400);
  CHECK(parse_duration("1w") == 7 * 86400);
  CHECK(parse_duration("1d12h") == 36 * 3600);
  CHECK(parse_duration("0") == 0);
}

TEST_CASE("parse_duration: anything else is no duration", "[duration]") {
  for (const char* bad : {"", "h", "-5h", "5 h", "5x", "1d5", "1.5h", "99999999999999999999s", "9223372036854775807w"})
    CHECK_FALSE(parse_duration(bad));
}

TEST_CASE("format_duration: the largest two units", "[duration]") {
  CHECK(format_duration(0) == "0s");
  CHECK(format_duration(42) == "42s");
  CHECK(format_duration(5 * 3600 + 12 * 60 + 7) == "5h 12m");
  CHECK(format_duration(2 * 86400 + 3 * 3600) == "2d 3h");
  CHECK(format_duration(86400) == "1d");
  CHECK(format_duration(3600 + 5) == "1h");
}
