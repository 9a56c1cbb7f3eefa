#include "jellyfin_backup/archive/entry_paths.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using jb::EntryPaths;
using Outcome = jb::EntryPaths::Outcome;

TEST_CASE("EntryPaths: duplicates, with or without their parents listed", "[entry_paths]") {
  EntryPaths paths;
  CHECK(paths.add("data", true) == Outcome::kAdded);
  CHECK(paths.add("data/a/b", false) == Outcome::kAdded);  // data/a only implied
  CHECK(paths.add("data/a", true) == Outcome::kAdded);      // then listed: fine
  CHECK(paths.add("data/a", true) == Outcome::kDuplicate);
  CHECK(paths.add("data/a/b", false) == Outcome::kDuplicate);
  CHECK(paths.add("data/ab", false) == Outcome::kAdded);    // a prefix, not a component
  CHECK(paths.size() == 4);
}

TEST_CASE("EntryPaths: nothing beneath an entry that is not a directory", "[entry_paths]") {
  EntryPaths paths;
  REQUIRE(paths.add("data", true) == Outcome::kAdded);
  REQUIRE(paths.add("data/link", false) == Outcome::kAdded);
  std::string blocking;
  CHECK(paths.add("data/link/cron.d/x", false, &blocking) == Outcome::kBeneathNonDir);
  CHECK(blocking == "data/link");
  CHECK(paths.add("data/link/cron.d", true, &blocking) == Outcome::kBeneathNonDir);
  // A refused path leaves no trace: data/link/cron.d was not implied.
  CHECK(paths.size() == 2);

  SECTION("nor a non-directory over entries already beneath it") {
    // "data/x/y" implies a directory data/x; a symlink data/x after it
    // would redirect whatever an extractor writes there next.
    REQUIRE(paths.add("data/x/y", false) == Outcome::kAdded);
    CHECK(paths.add("data/x", false) == Outcome::kNonDirOverEntries);
    CHECK(paths.add("data/x", true) == Outcome::kAdded);
  }
}

TEST_CASE("EntryPaths: an entry costs one pass over its name", "[entry_paths]") {
  // 3,000 nested directories: a set of full paths hashes every prefix of
  // every path (~1.8e10 byte steps, minutes); this hashes each component of
  // each path once (~9e6 steps).
  EntryPaths paths;
  std::string path = "data";
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(paths.add(path, true) == Outcome::kAdded);
  for (int i = 0; i < 3000; ++i) {
    path += "/d";
    REQUIRE(paths.add(path, true) == Outcome::kAdded);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(paths.size() == 3001);
  CHECK(seconds < 10.0);
}
