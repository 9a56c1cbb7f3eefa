#include "jellyfin_backup/create/exclude_set.h"

#include <catch2/catch.hpp>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/error.h"

using jb::ExcludeSet;

namespace {

jb::ErrorKind kind_of_construction(std::vector<std::string> patterns) {
  try {
    ExcludeSet set(std::move(patterns));
  } catch (const jb::Error& e) {
    return e.kind();
  }
  FAIL("ExcludeSet accepted an invalid pattern");
  return jb::ErrorKind::kRuntime;
}

}  // namespace

TEST_CASE("an empty ExcludeSet excludes nothing", "[exclude]") {
  ExcludeSet none;
  CHECK(none.patterns().empty());
  CHECK_FALSE(none.excluded("data/log/a.log", false));
  CHECK_FALSE(none.excluded("config/x", true));
  ExcludeSet empty_list(std::vector<std::string>{});
  CHECK_FALSE(empty_list.excluded("data/a", false));
}

TEST_CASE("patterns() returns the patterns as given", "[exclude]") {
  ExcludeSet set({"*.log", "transcodes/", "data/metadata/*"});
  CHECK(set.patterns() == std::vector<std::string>{"*.log", "transcodes/", "data/metadata/*"});
}

TEST_CASE("a pattern without '/' matches the base name at any depth", "[exclude]") {
  ExcludeSet set({"*.log"});
  CHECK(set.excluded("data/a.log", false));
  CHECK(set.excluded("data/log/server.log", false));
  CHECK(set.excluded("config/deep/er/still/x.log", false));
  CHECK(set.excluded("data/dir.log", true));  // no trailing '/': directories too
  CHECK_FALSE(set.excluded("data/a.log.1", false));
  CHECK_FALSE(set.excluded("data/log/server.txt", false));
  // The base name only: a directory named like the pattern does not make its
  // (non-matching) children match on their own.
  CHECK_FALSE(set.excluded("data/x.log/child.txt", false));

  ExcludeSet literal({"transcodes"});
  CHECK(literal.excluded("data/transcodes", true));
  CHECK(literal.excluded("data/cache/transcodes", true));
  CHECK(literal.excluded("data/cache/transcodes", false));
  CHECK_FALSE(literal.excluded("data/transcodes2", true));
  CHECK_FALSE(literal.excluded("data/my-transcodes", true));
}

TEST_CASE("base-name wildcards: '?' and bracket classes", "[exclude]") {
  ExcludeSet set({"log?.txt", "[ab]*.tmp"});
  CHECK(set.excluded("data/log1.txt", false));
  CHECK_FALSE(set.excluded("data/log12.txt", false));
  CHECK(set.excluded("data/x/a1.tmp", false));
  CHECK(set.excluded("data/x/b.tmp", false));
  CHECK_FALSE(set.excluded("data/x/c.tmp", false));
}

TEST_CASE("a pattern with '/' matches the whole archive path", "[exclude]") {
  ExcludeSet set({"config/*.xml"});
  CHECK(set.excluded("config/system.xml", false));
  CHECK_FALSE(set.excluded("data/system.xml", false));
  // It is anchored at the archive root, not matched against a suffix.
  ExcludeSet anchored({"metadata/library"});
  CHECK_FALSE(anchored.excluded("data/metadata/library", true));
  ExcludeSet exact({"data/metadata/library"});
  CHECK(exact.excluded("data/metadata/library", true));
  CHECK_FALSE(exact.excluded("data/metadata/library2", true));
  CHECK_FALSE(exact.excluded("data/other/metadata/library", true));
}

TEST_CASE("'*' in a path pattern crosses '/'", "[exclude]") {
  ExcludeSet set({"data/metadata/*"});
  CHECK(set.excluded("data/metadata/library", true));
  CHECK(set.excluded("data/metadata/library/ab/poster.jpg", false));
  CHECK_FALSE(set.excluded("data/metadata", true));  // the directory itself stays
  CHECK_FALSE(set.excluded("config/metadata/library", true));

  ExcludeSet xml({"config/*.xml"});
  CHECK(xml.excluded("config/dlna/profile.xml", false));  // '*' spans "dlna/profile"

  ExcludeSet middle({"data/*/cache"});
  CHECK(middle.excluded("data/a/cache", true));
  CHECK(middle.excluded("data/a/b/c/cache", true));
  CHECK_FALSE(middle.excluded("data/a/cache2", true));
}

TEST_CASE("a trailing '/' restricts a pattern to directories", "[exclude]") {
  ExcludeSet set({"cache/"});
  CHECK(set.excluded("data/cache", true));
  CHECK(set.excluded("config/x/cache", true));
  CHECK_FALSE(set.excluded("data/cache", false));
  CHECK_FALSE(set.excluded("data/x/cache", false));

  ExcludeSet path({"data/metadata/"});
  CHECK(path.excluded("data/metadata", true));
  CHECK_FALSE(path.excluded("data/metadata", false));

  ExcludeSet many({"logs//"});  // several trailing slashes are one
  CHECK(many.excluded("data/logs", true));
  CHECK_FALSE(many.excluded("data/logs", false));

  ExcludeSet glob({"*.d/"});
  CHECK(glob.excluded("config/conf.d", true));
  CHECK_FALSE(glob.excluded("config/conf.d", false));
}

TEST_CASE("the tree roots are never excluded", "[exclude]") {
  ExcludeSet set({"*", "config", "data", "*/", "dat?", "con*"});
  CHECK_FALSE(set.excluded("config", true));
  CHECK_FALSE(set.excluded("data", true));
  CHECK_FALSE(set.excluded("config", false));
  CHECK_FALSE(set.excluded("data", false));
  // ... while everything below them is.
  CHECK(set.excluded("config/system.xml", false));
  CHECK(set.excluded("data/data", true));
}

TEST_CASE("several patterns: any one matching excludes", "[exclude]") {
  ExcludeSet set({"*.log", "data/transcodes/", "config/*.bak"});
  CHECK(set.excluded("data/log/a.log", false));
  CHECK(set.excluded("data/transcodes", true));
  CHECK(set.excluded("config/x.bak", false));
  CHECK_FALSE(set.excluded("data/transcodes", false));
  CHECK_FALSE(set.excluded("config/system.xml", false));
  CHECK_FALSE(set.excluded("data/data/jellyfin.db", false));
}

TEST_CASE("empty patterns are rejected as usage errors", "[exclude]") {
  CHECK(kind_of_construction({""}) == jb::ErrorKind::kUsage);
  CHECK(kind_of_construction({"/"}) == jb::ErrorKind::kUsage);
  CHECK(kind_of_construction({"//"}) == jb::ErrorKind::kUsage);
  CHECK(kind_of_construction({"*.log", ""}) == jb::ErrorKind::kUsage);
}

TEST_CASE("absolute patterns are rejected as usage errors", "[exclude]") {
  CHECK(kind_of_construction({"/data/metadata"}) == jb::ErrorKind::kUsage);
  CHECK(kind_of_construction({"/var/lib/jellyfin/*"}) == jb::ErrorKind::kUsage);
  CHECK(kind_of_construction({"/cache/"}) == jb::ErrorKind::kUsage);
  try {
    ExcludeSet set({"/data/x"});
    FAIL("absolute pattern accepted");
  } catch (const jb::Error& e) {
    CHECK(std::string(e.what()).find("/data/x") != std::string::npos);
    CHECK_FALSE(e.hint().empty());
  }
}

TEST_CASE("ExcludeSet bounds the number and size of patterns", "[exclude]") {
  CHECK(kind_of_construction(std::vector<std::string>(jb::format::kMaxExcludes + 1, "*.log")) ==
        jb::ErrorKind::kUsage);
  CHECK(kind_of_construction({std::string(jb::format::kMaxExcludeBytes + 1, 'x')}) == jb::ErrorKind::kUsage);
  ExcludeSet most(std::vector<std::string>(jb::format::kMaxExcludes, std::string(jb::format::kMaxExcludeBytes, 'x')));
  CHECK(most.excluded(std::string("data/") + std::string(jb::format::kMaxExcludeBytes, 'x'), false));
}

TEST_CASE("match() names the pattern that excluded the entry", "[exclude]") {
  ExcludeSet set({"*.tmp", "data/metadata/*"});
  REQUIRE(set.match("data/metadata/x", true) != nullptr);
  CHECK(*set.match("data/metadata/x", true) == "data/metadata/*");
  CHECK(*set.match("data/a.tmp", false) == "*.tmp");
  CHECK(set.match("data/a", false) == nullptr);
}
