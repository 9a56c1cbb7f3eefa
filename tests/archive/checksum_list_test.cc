#include "jellyfin_backup/archive/checksum_list.h"

#include <catch2/catch.hpp>

#include <string>

#include "jellyfin_backup/archive/xxh128.h"
#include "jellyfin_backup/error.h"

using jb::ChecksumLine;
using jb::format_checksum_line;
using jb::parse_checksum_list;

namespace {

const std::string kHexA = "0123456789abcdef0123456789abcdef";
const std::string kHexB = "ffffffffffffffff0000000000000000";

// Runs parse_checksum_list expecting Error(kDamaged); returns its message.
std::string damaged_message(const std::string& text) {
  try {
    parse_checksum_list(text);
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kDamaged);
    return e.what();
  }
  FAIL("parse_checksum_list accepted malformed input: " << text);
  return {};
}

}  // namespace

TEST_CASE("format_checksum_line writes the xxh128sum format", "[checksum_list]") {
  // `printf abc > plain; xxh128sum plain` prints exactly this line.
  CHECK(format_checksum_line(jb::Xxh128::hex_of("abc"), "plain") ==
        "06b05ab6733a618578af5f94892f3950  plain\n");
  CHECK(format_checksum_line(kHexA, "data/metadata/a b.jpg") ==
        kHexA + "  data/metadata/a b.jpg\n");
}

TEST_CASE("a backslash without newline is written plainly, as xxh128sum does",
          "[checksum_list]") {
  // xxh128sum 0.8.1 prints "c\d" unescaped and `xxh128sum -c` reads it back.
  CHECK(format_checksum_line(kHexA, "config/c\\d") == kHexA + "  config/c\\d\n");
  auto lines = parse_checksum_list(kHexA + "  config/c\\d\n");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].path == "config/c\\d");
}

TEST_CASE("names with a newline use the escaped form", "[checksum_list]") {
  CHECK(format_checksum_line(kHexA, "data/a\nb") == "\\" + kHexA + "  data/a\\nb\n");
  // Once escaped, backslashes are doubled too.
  CHECK(format_checksum_line(kHexA, "data/x\\y\nz") == "\\" + kHexA + "  data/x\\\\y\\nz\n");
}

TEST_CASE("format and parse round trip", "[checksum_list]") {
  const std::vector<ChecksumLine> original = {
      {kHexA, "config/system.xml"},
      {kHexB, "data/with space and  two spaces"},
      {kHexA, "data/new\nline"},
      {kHexB, "data/back\\slash\nand newline"},
      {kHexA, "data/\n"},
      {kHexB, "data/\\"},
      {kHexA, "data/\\n literally"},
      {kHexB, "data/trailing backslash\\\n\\"},
      {kHexA, std::string("data/bin\x01\xff", 10)},
  };
  std::string text;
  for (const auto& line : original) text += format_checksum_line(line.hex, line.path);

  auto parsed = parse_checksum_list(text);
  REQUIRE(parsed.size() == original.size());
  for (std::size_t i = 0; i < original.size(); ++i) {
    INFO("line " << i + 1);
    CHECK(parsed[i].hex == original[i].hex);
    CHECK(parsed[i].path == original[i].path);
  }
}

TEST_CASE("an empty list parses to no lines", "[checksum_list]") {
  CHECK(parse_checksum_list("").empty());
}

TEST_CASE("parses output in the exact xxh128sum format", "[checksum_list]") {
  // Bytes as printed by `xxh128sum plain 'c\d'` (two spaces, final newline).
  auto lines = parse_checksum_list(
      "06b05ab6733a618578af5f94892f3950  plain\n"
      "99aa06d3014798d86001c324468d497f  c\\d\n");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].hex == "06b05ab6733a618578af5f94892f3950");
  CHECK(lines[0].path == "plain");
  CHECK(lines[1].hex == "99aa06d3014798d86001c324468d497f");
  CHECK(lines[1].path == "c\\d");
}

TEST_CASE("malformed checksum lists are rejected as damaged", "[checksum_list]") {
  const std::string good = kHexA + "  config/a\n";

  SECTION("upper-case hex") {
    std::string upper = "0123456789ABCDEF0123456789abcdef";
    CHECK_THAT(damaged_message(upper + "  config/a\n"), Catch::Contains("line 1"));
  }
  SECTION("non-hex digit") {
    std::string bad = kHexA;
    bad[5] = 'g';
    CHECK_THAT(damaged_message(bad + "  config/a\n"), Catch::Contains("not an xxh128sum line"));
  }
  SECTION("digest too short") {
    damaged_message(kHexA.substr(0, 31) + "  config/a\n");
  }
  SECTION("digest too long") {
    damaged_message(kHexA + "0  config/a\n");
  }
  SECTION("single space separator") {
    damaged_message(kHexA + " config/a\n");
  }
  SECTION("binary-mode marker instead of two spaces") {
    damaged_message(kHexA + " *config/a\n");
  }
  SECTION("short line: no path") {
    damaged_message(kHexA + "  \n");
  }
  SECTION("short line: digest only") {
    damaged_message(kHexA + "\n");
  }
  SECTION("empty line") {
    damaged_message("\n");
  }
  SECTION("a lone backslash") {
    damaged_message("\\\n");
  }
  SECTION("missing final newline") {
    CHECK_THAT(damaged_message(kHexA + "  config/a"), Catch::Contains("missing final newline"));
  }
  SECTION("missing final newline after good lines names the last line") {
    CHECK_THAT(damaged_message(good + good + kHexA + "  config/b"),
               Catch::Contains("line 3") && Catch::Contains("missing final newline"));
  }
  SECTION("dangling escape") {
    CHECK_THAT(damaged_message("\\" + kHexA + "  data/a\\\n"),
               Catch::Contains("dangling escape"));
  }
  SECTION("unknown escape") {
    CHECK_THAT(damaged_message("\\" + kHexA + "  data/a\\t\n"), Catch::Contains("unknown escape"));
  }
  SECTION("the error names the first bad line") {
    CHECK_THAT(damaged_message(good + good + "garbage\n" + "more garbage\n"),
               Catch::Contains("line 3") && Catch::Contains("CHECKSUMS.xxh128"));
  }
}
