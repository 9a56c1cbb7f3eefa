#include "jellyfin_backup/io/paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::test::error_of;
using jb::test::real_path;

using jb::absolute_dir;
using jb::absolute_target;
using jb::check_distinct_trees;
using jb::relative_below;
using jb::lies_within;
using jb::name_of;
using jb::parent_of;
using jb::test::make_dirs;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

}  // namespace

TEST_CASE("paths: parent_of and name_of", "[paths]") {
  CHECK(parent_of("/var/lib/jellyfin") == "/var/lib");
  CHECK(name_of("/var/lib/jellyfin") == "jellyfin");
  CHECK(parent_of("/jellyfin") == "/");
  CHECK(name_of("/jellyfin") == "jellyfin");
  CHECK(parent_of("jellyfin") == ".");
  CHECK(name_of("jellyfin") == "jellyfin");
  CHECK(parent_of("a/b") == "a");
  CHECK(name_of("a/b") == "b");
}

TEST_CASE("paths: lies_within", "[paths]") {
  CHECK(lies_within("/a/b", "/a/b"));
  CHECK(lies_within("/a/b/c", "/a/b"));
  CHECK(lies_within("/a/b/c/d", "/a/b"));
  CHECK(lies_within("/a/b", "/"));
  CHECK(lies_within("/", "/"));
  // The prefix trap: a common string prefix is not a common directory.
  CHECK_FALSE(lies_within("/a/bc", "/a/b"));
  CHECK_FALSE(lies_within("/a/b-config", "/a/b"));
  CHECK_FALSE(lies_within("/a", "/a/b"));
  CHECK_FALSE(lies_within("/x/b", "/a/b"));
}

TEST_CASE("paths: absolute_dir resolves an existing directory", "[paths]") {
  TempDir tmp;
  make_dirs(tmp / "dir/sub");
  CHECK(absolute_dir(tmp / "dir", "--data") == real_path(tmp.path()) + "/dir");
  CHECK(absolute_dir(tmp / "dir/sub/..", "--data") == real_path(tmp.path()) + "/dir");
  CHECK(absolute_dir(tmp / "dir/", "--data") == real_path(tmp.path()) + "/dir");
  REQUIRE(::symlink("dir/sub", (tmp / "link").c_str()) == 0);
  CHECK(absolute_dir(tmp / "link", "--data") == real_path(tmp.path()) + "/dir/sub");
}

TEST_CASE("paths: absolute_dir refuses what is not an existing directory", "[paths]") {
  TempDir tmp;
  write_file(tmp / "file", "x");

  auto missing = error_of([&] { absolute_dir(tmp / "missing", "--data"); });
  CHECK(missing.kind() == jb::ErrorKind::kUsage);
  CHECK_THAT(missing.what(), Catch::Contains("--data"));
  CHECK_THAT(missing.what(), Catch::Contains("missing"));

  auto beneath_missing = error_of([&] { absolute_dir(tmp / "missing/deeper", "--config"); });
  CHECK(beneath_missing.kind() == jb::ErrorKind::kUsage);

  auto file = error_of([&] { absolute_dir(tmp / "file", "--config"); });
  CHECK(file.kind() == jb::ErrorKind::kUsage);
  CHECK_THAT(file.what(), Catch::Contains("--config"));

  auto beneath_file = error_of([&] { absolute_dir(tmp / "file/x", "--config"); });
  CHECK(beneath_file.kind() == jb::ErrorKind::kUsage);
}

TEST_CASE("paths: absolute_target accepts a leaf that does not exist", "[paths]") {
  TempDir tmp;
  make_dirs(tmp / "parent");
  const std::string base = real_path(tmp.path());
  CHECK(absolute_target(tmp / "parent/new", "--data") == base + "/parent/new");
  CHECK(absolute_target(tmp / "parent", "--data") == base + "/parent");
  // The parent is resolved; the leaf is taken as it is (it may be replaced).
  REQUIRE(::symlink("parent", (tmp / "plink").c_str()) == 0);
  CHECK(absolute_target(tmp / "plink/new", "--data") == base + "/parent/new");
  CHECK(absolute_target(tmp / "parent/../parent/new", "--data") == base + "/parent/new");
}

TEST_CASE("paths: absolute_target strips trailing slashes", "[paths]") {
  TempDir tmp;
  make_dirs(tmp / "parent/leaf");
  const std::string base = real_path(tmp.path());
  CHECK(absolute_target(tmp / "parent/leaf/", "--data") == base + "/parent/leaf");
  CHECK(absolute_target(tmp / "parent/leaf///", "--data") == base + "/parent/leaf");
  CHECK(absolute_target(tmp / "parent/new//", "--data") == base + "/parent/new");
}

TEST_CASE("paths: absolute_target directly under /", "[paths]") {
  CHECK(absolute_target("/jb-test-surely-not-there", "--data") == "/jb-test-surely-not-there");
}

TEST_CASE("paths: absolute_target refuses a missing parent and unusable names", "[paths]") {
  TempDir tmp;
  auto missing = error_of([&] { absolute_target(tmp / "missing/leaf", "--config"); });
  CHECK(missing.kind() == jb::ErrorKind::kUsage);
  CHECK_THAT(missing.what(), Catch::Contains("--config"));

  const std::vector<std::string> bad_paths = {"/",        "//",        "///",        ".",
                                              "..",       tmp / ".",   tmp / "..",   tmp / "x/.."};
  for (const std::string& bad : bad_paths) {
    INFO("'" << bad << "'");
    CHECK(error_of([&] { absolute_target(bad, "--data"); }).kind() == jb::ErrorKind::kUsage);
  }
}

TEST_CASE("paths: check_distinct_trees allows nesting, not the same directory", "[paths]") {
  CHECK_NOTHROW(check_distinct_trees("/srv/jf/config", "/srv/jf/data"));
  CHECK_NOTHROW(check_distinct_trees("/config/config", "/config"));  // official image
  CHECK_NOTHROW(check_distinct_trees("/config", "/config/data"));    // linuxserver.io
  auto same = error_of([] { check_distinct_trees("/srv/jf", "/srv/jf"); });
  CHECK(same.kind() == jb::ErrorKind::kUsage);
  CHECK_THAT(same.what(), Catch::Contains("same directory"));
}

TEST_CASE("paths: relative_below", "[paths]") {
  CHECK(relative_below("/config/config", "/config") == "config");
  CHECK(relative_below("/config/app/data", "/config") == "app/data");
  CHECK(relative_below("/x", "/") == "x");
  CHECK(relative_below("/config", "/config").empty());
  CHECK(relative_below("/config-old/x", "/config").empty());  // prefix trap
  CHECK(relative_below("/config", "/config/config").empty());
}

TEST_CASE("resolve_path follows links only where no other user could have planted them", "[paths]") {
  jb::test::TempDir tmp;
  const std::string base = real_path(tmp.path());
  jb::test::make_dirs(base + "/mine/real");
  REQUIRE(::chmod((base + "/mine").c_str(), 0755) == 0);
  REQUIRE(::symlink("real", (base + "/mine/link").c_str()) == 0);
  // Our own directory: followed, and "." / ".." resolved as realpath does.
  CHECK(jb::resolve_path(base + "/mine/link", "--data") == base + "/mine/real");
  CHECK(jb::resolve_path(base + "/mine/./real/../link", "--data") == base + "/mine/real");
  // What does not exist stays as written.
  CHECK(jb::resolve_path(base + "/mine/link/new/dir", "--data") == base + "/mine/real/new/dir");
  // A directory others can write: its links are not followed.
  jb::test::make_dirs(base + "/open");
  REQUIRE(::chmod((base + "/open").c_str(), 0777) == 0);
  REQUIRE(::symlink((base + "/mine/real").c_str(), (base + "/open/link").c_str()) == 0);
  try {
    jb::resolve_path(base + "/open/link", "--config");
    FAIL("a link in a world-writable directory was followed");
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kRefused);
    CHECK_THAT(std::string(e.what()), Catch::Contains("--config") && Catch::Contains("not followed"));
  }
  // Sticky (like /tmp): a link of ours is followed.
  REQUIRE(::chmod((base + "/open").c_str(), 01777) == 0);
  CHECK(jb::resolve_path(base + "/open/link", "--config") == base + "/mine/real");
  if (::geteuid() == 0) {
    // Another user's directory (the jellyfin user's tree), even if only it can write it.
    jb::test::make_dirs(base + "/theirs");
    REQUIRE(::chmod((base + "/theirs").c_str(), 0755) == 0);
    REQUIRE(::symlink((base + "/mine/real").c_str(), (base + "/theirs/config").c_str()) == 0);
    REQUIRE(::chown((base + "/theirs").c_str(), 65534, 65534) == 0);
    CHECK_THROWS_AS(jb::resolve_path(base + "/theirs/config", "--config"), jb::Error);
    CHECK_THROWS_AS(jb::absolute_dir(base + "/theirs/config", "--config"), jb::Error);
    CHECK_THROWS_AS(jb::absolute_target(base + "/theirs/config/inner", "--config"), jb::Error);
    // In a sticky directory, another user's link is not followed either.
    REQUIRE(::lchown((base + "/open/link").c_str(), 65534, 65534) == 0);
    CHECK_THROWS_AS(jb::resolve_path(base + "/open/link", "--config"), jb::Error);
  }
}
