#include "jellyfin_backup/archive/manifest.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/error.h"

using jb::Manifest;
using jb::ManifestTree;
using nlohmann::json;

namespace {

Manifest sample_manifest() {
  Manifest m;
  m.format_version = jb::format::kFormatVersion;
  m.tool_version = "1.2.3";
  m.created = "2026-11-25T10:15:00Z";
  m.host = "media-server";
  m.app_version = "10.9.11";
  m.app_version_source = "/var/lib/jellyfin/data/jellyfin.db";
  m.trees = {
      {"config", "/etc/jellyfin", 3, 1234, 5},
      {"data", "/var/lib/jellyfin", 40, std::numeric_limits<std::uint64_t>::max() - 7, 77},
  };
  m.excludes = {"data/transcodes", "data/cache/*"};
  m.compression_level = 19;
  m.frame_bytes = jb::format::kFrameTargetBytes;
  return m;
}

// The sample manifest's JSON, changed by `edit`, fed to Manifest::parse:
// must throw Error(kDamaged). Returns the message.
std::string rejected(const std::function<void(json&)>& edit) {
  json doc = json::parse(sample_manifest().serialize());
  edit(doc);
  try {
    Manifest::parse(doc.dump());
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kDamaged);
    return e.what();
  }
  FAIL("Manifest::parse accepted " << doc.dump());
  return {};
}

std::string rejected_text(const std::string& text) {
  try {
    Manifest::parse(text);
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kDamaged);
    return e.what();
  }
  FAIL("Manifest::parse accepted " << text);
  return {};
}

void check_equal(const Manifest& a, const Manifest& b) {
  CHECK(a.format_version == b.format_version);
  CHECK(a.tool_version == b.tool_version);
  CHECK(a.created == b.created);
  CHECK(a.host == b.host);
  CHECK(a.app_version == b.app_version);
  CHECK(a.app_version_source == b.app_version_source);
  REQUIRE(a.trees.size() == b.trees.size());
  for (std::size_t i = 0; i < a.trees.size(); ++i) {
    INFO("tree " << i);
    CHECK(a.trees[i].name == b.trees[i].name);
    CHECK(a.trees[i].source == b.trees[i].source);
    CHECK(a.trees[i].files == b.trees[i].files);
    CHECK(a.trees[i].bytes == b.trees[i].bytes);
    CHECK(a.trees[i].entries == b.trees[i].entries);
  }
  CHECK(a.excludes == b.excludes);
  CHECK(a.compression_level == b.compression_level);
  CHECK(a.frame_bytes == b.frame_bytes);
}

}  // namespace

TEST_CASE("serialize then parse keeps every field", "[manifest]") {
  const Manifest original = sample_manifest();
  const Manifest parsed = Manifest::parse(original.serialize());
  check_equal(parsed, original);
}

TEST_CASE("a manifest without Jellyfin version round trips as null", "[manifest]") {
  Manifest original = sample_manifest();
  original.app_version.reset();
  original.app_version_source.reset();
  original.excludes.clear();

  const std::string text = original.serialize();
  json doc = json::parse(text);
  CHECK(doc["app"]["version"].is_null());
  CHECK(doc["app"]["version_source"].is_null());

  const Manifest parsed = Manifest::parse(text);
  CHECK_FALSE(parsed.app_version.has_value());
  CHECK_FALSE(parsed.app_version_source.has_value());
  CHECK(parsed.excludes.empty());
  check_equal(parsed, original);
}

TEST_CASE("absent app version keys mean unknown", "[manifest]") {
  Manifest m = Manifest::parse([] {
    json doc = json::parse(sample_manifest().serialize());
    doc["app"].erase("version");
    doc["app"].erase("version_source");
    return doc.dump();
  }());
  CHECK_FALSE(m.app_version.has_value());
  CHECK_FALSE(m.app_version_source.has_value());
}

TEST_CASE("serialize writes the documented JSON layout", "[manifest]") {
  const std::string text = sample_manifest().serialize();
  REQUIRE_FALSE(text.empty());
  CHECK(text.back() == '\n');
  CHECK(text.find("\n  \"format\": \"jellyfin-backup\"") != std::string::npos);  // indent 2

  json doc = json::parse(text);
  CHECK(doc["format"] == "jellyfin-backup");
  CHECK(doc["format_version"] == 1);
  CHECK(doc["tool"]["name"] == "jellyfin-backup");
  CHECK(doc["tool"]["version"] == "1.2.3");
  CHECK(doc["app"]["name"] == "jellyfin");
  CHECK(doc["trees"].size() == 2);
  CHECK(doc["trees"][0]["name"] == "config");
  CHECK(doc["trees"][0]["source"] == "/etc/jellyfin");
  CHECK(doc["compression"]["algorithm"] == "zstd");
  CHECK(doc["compression"]["level"] == 19);
  CHECK(doc["compression"]["frame_bytes"] == jb::format::kFrameTargetBytes);
  CHECK(doc["checksum"]["algorithm"] == "xxh3-128");
  CHECK(doc["checksum"]["file"] == "CHECKSUMS.xxh128");
}

TEST_CASE("source paths that are not UTF-8 still give a valid manifest", "[manifest]") {
  Manifest m = sample_manifest();
  m.trees[0].source = "/srv/caf\xe9";  // Latin-1
  std::string text;
  REQUIRE_NOTHROW(text = m.serialize());
  Manifest parsed = Manifest::parse(text);
  REQUIRE(parsed.trees.size() == 2);
  CHECK(parsed.trees[0].source.rfind("/srv/caf", 0) == 0);
  CHECK(parsed.trees[0].source != m.trees[0].source);  // replaced by U+FFFD
}

TEST_CASE("find_tree and totals", "[manifest]") {
  Manifest m = sample_manifest();
  m.trees[1].bytes = 1000;
  REQUIRE(m.find_tree("config") != nullptr);
  CHECK(m.find_tree("config")->source == "/etc/jellyfin");
  REQUIRE(m.find_tree("data") != nullptr);
  CHECK(m.find_tree("data")->files == 40);
  CHECK(m.find_tree("cache") == nullptr);
  CHECK(m.find_tree("") == nullptr);
  CHECK(m.total_files() == 43);
  CHECK(m.total_bytes() == 2234);

  Manifest one = sample_manifest();
  one.trees.pop_back();
  CHECK(Manifest::parse(one.serialize()).find_tree("data") == nullptr);
}

TEST_CASE("a newer format version is refused", "[manifest]") {
  json doc = json::parse(sample_manifest().serialize());
  doc["format_version"] = jb::format::kFormatVersion + 1;
  try {
    Manifest::parse(doc.dump());
    FAIL("newer format version accepted");
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kDamaged);
    CHECK_THAT(std::string(e.what()), Catch::Contains("newer"));
    CHECK_THAT(std::string(e.what()), Catch::Contains("2"));
    CHECK_THAT(e.hint(), Catch::Contains("newer jellyfin-backup"));
  }
}

TEST_CASE("format version 0 is invalid", "[manifest]") {
  CHECK_THAT(rejected([](json& d) { d["format_version"] = 0; }),
             Catch::Contains("format_version"));
}

TEST_CASE("a manifest of another format is refused", "[manifest]") {
  CHECK_THAT(rejected([](json& d) { d["format"] = "something-else"; }),
             Catch::Contains("not a jellyfin-backup manifest"));
  CHECK_THAT(rejected([](json& d) { d["format"] = ""; }),
             Catch::Contains("not a jellyfin-backup manifest"));
}

TEST_CASE("missing fields are refused", "[manifest]") {
  using Edit = std::function<void(json&)>;
  const std::vector<std::pair<std::string, Edit>> cases = {
      {"format", [](json& d) { d.erase("format"); }},
      {"format_version", [](json& d) { d.erase("format_version"); }},
      {"tool", [](json& d) { d.erase("tool"); }},
      {"version", [](json& d) { d["tool"].erase("version"); }},
      {"created", [](json& d) { d.erase("created"); }},
      {"host", [](json& d) { d.erase("host"); }},
      {"app", [](json& d) { d.erase("app"); }},
      {"trees", [](json& d) { d.erase("trees"); }},
      {"name", [](json& d) { d["trees"][1].erase("name"); }},
      {"source", [](json& d) { d["trees"][0].erase("source"); }},
      {"files", [](json& d) { d["trees"][0].erase("files"); }},
      {"bytes", [](json& d) { d["trees"][1].erase("bytes"); }},
      {"entries", [](json& d) { d["trees"][0].erase("entries"); }},
      {"excludes", [](json& d) { d.erase("excludes"); }},
      {"compression", [](json& d) { d.erase("compression"); }},
      {"algorithm", [](json& d) { d["compression"].erase("algorithm"); }},
      {"level", [](json& d) { d["compression"].erase("level"); }},
      {"frame_bytes", [](json& d) { d["compression"].erase("frame_bytes"); }},
      {"checksum", [](json& d) { d.erase("checksum"); }},
      {"algorithm", [](json& d) { d["checksum"].erase("algorithm"); }},
  };
  for (const auto& [key, edit] : cases) {
    INFO("missing " << key);
    std::string message = rejected(edit);
    CHECK_THAT(message, Catch::Contains("MANIFEST.json") && Catch::Contains("missing") &&
                            Catch::Contains("\"" + key + "\""));
  }
}

TEST_CASE("fields of the wrong type are refused", "[manifest]") {
  using Edit = std::function<void(json&)>;
  const std::vector<std::pair<std::string, Edit>> cases = {
      {"format", [](json& d) { d["format"] = 1; }},
      {"format_version", [](json& d) { d["format_version"] = "1"; }},
      {"format_version", [](json& d) { d["format_version"] = 1.0; }},
      {"format_version", [](json& d) { d["format_version"] = true; }},
      {"tool", [](json& d) { d["tool"] = "jellyfin-backup 1.2.3"; }},
      {"version", [](json& d) { d["tool"]["version"] = 123; }},
      {"created", [](json& d) { d["created"] = 1700000000; }},
      {"host", [](json& d) { d["host"] = nullptr; }},
      {"app", [](json& d) { d["app"] = json::array(); }},
      {"version", [](json& d) { d["app"]["version"] = 10; }},
      {"version_source", [](json& d) { d["app"]["version_source"] = json::object(); }},
      {"trees", [](json& d) { d["trees"] = json::object(); }},
      {"name", [](json& d) { d["trees"][0]["name"] = json::array({"config"}); }},
      {"source", [](json& d) { d["trees"][0]["source"] = false; }},
      {"files", [](json& d) { d["trees"][0]["files"] = "3"; }},
      {"bytes", [](json& d) { d["trees"][0]["bytes"] = 1.5; }},
      {"entries", [](json& d) { d["trees"][1]["entries"] = nullptr; }},
      {"excludes", [](json& d) { d["excludes"] = "data/cache"; }},
      {"compression", [](json& d) { d["compression"] = 3; }},
      {"algorithm", [](json& d) { d["compression"]["algorithm"] = json::array(); }},
      {"level", [](json& d) { d["compression"]["level"] = "3"; }},
      {"frame_bytes", [](json& d) { d["compression"]["frame_bytes"] = 16.0; }},
      {"checksum", [](json& d) { d["checksum"] = "xxh3-128"; }},
  };
  for (const auto& [key, edit] : cases) {
    INFO("wrong type for " << key);
    CHECK_THAT(rejected(edit), Catch::Contains("\"" + key + "\" has the wrong type"));
  }
}

TEST_CASE("trees and excludes must hold the right kind of element", "[manifest]") {
  CHECK_THAT(rejected([](json& d) { d["trees"].push_back("data"); }),
             Catch::Contains("not an object"));
  CHECK_THAT(rejected([](json& d) { d["excludes"].push_back(7); }),
             Catch::Contains("not a string"));
  CHECK_THAT(rejected([](json& d) { d["trees"] = json::array(); }), Catch::Contains("no trees"));
}

TEST_CASE("negative numbers are refused", "[manifest]") {
  using Edit = std::function<void(json&)>;
  const std::vector<std::pair<std::string, Edit>> cases = {
      {"format_version", [](json& d) { d["format_version"] = -1; }},
      {"files", [](json& d) { d["trees"][0]["files"] = -1; }},
      {"bytes", [](json& d) { d["trees"][1]["bytes"] = -4096; }},
      {"entries", [](json& d) { d["trees"][0]["entries"] = -2; }},
      {"level", [](json& d) { d["compression"]["level"] = -5; }},
      {"frame_bytes", [](json& d) { d["compression"]["frame_bytes"] = -1; }},
  };
  for (const auto& [key, edit] : cases) {
    INFO("negative " << key);
    CHECK_THAT(rejected(edit), Catch::Contains("\"" + key + "\""));
  }
  // Also when written by hand rather than by nlohmann.
  std::string text = sample_manifest().serialize();
  auto at = text.find("\"files\": 3");
  REQUIRE(at != std::string::npos);
  text.replace(at, 10, "\"files\": -3");
  rejected_text(text);
}

TEST_CASE("unsupported settings are refused", "[manifest]") {
  CHECK_THAT(rejected([](json& d) { d["compression"]["algorithm"] = "xz"; }),
             Catch::Contains("unsupported compression"));
  CHECK_THAT(rejected([](json& d) { d["compression"]["level"] = 23; }),
             Catch::Contains("invalid compression level"));
  CHECK_THAT(rejected([](json& d) { d["checksum"]["algorithm"] = "sha256"; }),
             Catch::Contains("unsupported checksum algorithm"));
  // The edge of the valid range is accepted.
  json doc = json::parse(sample_manifest().serialize());
  doc["compression"]["level"] = 22;
  CHECK(Manifest::parse(doc.dump()).compression_level == 22);
}

TEST_CASE("text that is not a JSON object is refused", "[manifest]") {
  for (const std::string text :
       {"", " ", "not json", "{", "{\"format\": \"jellyfin-backup\"", "[]", "null", "42",
        "\"jellyfin-backup\"", "{}}", "\xef\xbb"}) {
    INFO("text: " << text);
    CHECK_THAT(rejected_text(text), Catch::Contains("not valid JSON") || Catch::Contains("missing"));
  }
  CHECK_THAT(rejected_text("[1, 2]"), Catch::Contains("not valid JSON"));
  CHECK_THAT(rejected_text(sample_manifest().serialize() + "trailing"),
             Catch::Contains("not valid JSON"));
  CHECK_THAT(rejected_text("{}"), Catch::Contains("missing \"format\""));
}

TEST_CASE("unknown tree names are refused", "[manifest]") {
  for (const char* name : {"cache", "", "Config", "config/", "../data", "log"}) {
    INFO("tree name \"" << name << "\"");
    CHECK_THAT(rejected([name](json& d) { d["trees"][1]["name"] = name; }),
               Catch::Contains("unknown tree"));
  }
}

TEST_CASE("a tree listed twice is refused", "[manifest]") {
  CHECK_THAT(rejected([](json& d) { d["trees"][1]["name"] = "config"; }),
             Catch::Contains("listed twice"));
  CHECK_THAT(rejected([](json& d) { d["trees"].push_back(d["trees"][1]); }),
             Catch::Contains("tree \"data\" listed twice"));
}
