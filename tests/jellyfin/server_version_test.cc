#include "jellyfin_backup/jellyfin/server_version.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using jb::compare_server_versions;
using jb::parse_server_version;

namespace {

using Parts = std::vector<unsigned long>;

// compare_server_versions, which must parse both sides.
int cmp(const std::string& a, const std::string& b) {
  auto c = compare_server_versions(a, b);
  REQUIRE(c.has_value());
  return *c;
}

}  // namespace

TEST_CASE("server_version: parses the numeric components", "[server_version]") {
  auto v = parse_server_version("10.11.8");
  REQUIRE(v);
  CHECK(*v == Parts{10, 11, 8});

  auto big = parse_server_version("10.11.11.5");
  REQUIRE(big);
  CHECK(*big == Parts{10, 11, 11, 5});
}

TEST_CASE("server_version: a package suffix is ignored", "[server_version]") {
  auto deb = parse_server_version("10.11.8+deb12");
  REQUIRE(deb);
  CHECK(*deb == Parts{10, 11, 8});
  auto dash = parse_server_version("10.10.7-1");
  REQUIRE(dash);
  CHECK(*dash == Parts{10, 10, 7});
  CHECK(cmp("10.11.8+deb12", "10.11.8") == 0);
  CHECK(cmp("10.11.8+deb12", "10.11.8+ubu2404") == 0);
}

TEST_CASE("server_version: missing components count as 0", "[server_version]") {
  CHECK(cmp("10.11.0", "10.11.0.0") == 0);
  CHECK(cmp("10.11.0.0", "10.11.0") == 0);
  CHECK(cmp("10.11", "10.11.0.0") == 0);
  CHECK(cmp("10.11.0.1", "10.11.0") > 0);
  CHECK(cmp("10.11", "10.11.0.1") < 0);
}

TEST_CASE("server_version: components compare as numbers, not as text", "[server_version]") {
  CHECK(cmp("10.11.8+deb12", "10.11.10") < 0);
  CHECK(cmp("10.11.10", "10.11.8+deb12") > 0);
  CHECK(cmp("10.10.7", "10.11.0") < 0);
  CHECK(cmp("10.11.0", "10.10.7") > 0);
  CHECK(cmp("9.99.99", "10.0.0") < 0);
  CHECK(cmp("10.9", "10.10") < 0);
  CHECK(cmp("10.11.8", "10.11.8") == 0);
}

TEST_CASE("server_version: the comparison is antisymmetric", "[server_version]") {
  const std::vector<std::string> versions = {"10.10.7", "10.11", "10.11.0.0", "10.11.8+deb12",
                                             "10.11.10", "10.11.11.0", "11.0.0-rc1"};
  for (const auto& a : versions) {
    for (const auto& b : versions) {
      INFO(a << " vs " << b);
      CHECK(cmp(a, b) == -cmp(b, a));
    }
  }
}

TEST_CASE("server_version: garbage does not parse", "[server_version]") {
  for (const std::string garbage : {"", "abc", "unknown", ".10.11", "+deb12", "10.11.0beta",
                                    "10.11.0 (stable)", "ten.eleven"}) {
    INFO("'" << garbage << "'");
    CHECK_FALSE(parse_server_version(garbage).has_value());
    CHECK_FALSE(compare_server_versions(garbage, "10.11.0").has_value());
    CHECK_FALSE(compare_server_versions("10.11.0", garbage).has_value());
  }
}
