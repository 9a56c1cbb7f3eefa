#include "jellyfin_backup/io/location.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>

#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::join;
using jb::Location;
using jb::parse_location;
using jb::split_file;
using jb::test::error_of;
using Kind = Location::Kind;

namespace {

// split_file of `text`, as (directory as written, name).
std::pair<std::string, std::string> split(const std::string& text) {
  auto [dir, name] = split_file(parse_location(text));
  return {dir.display(), name};
}

std::string joined(const std::string& dir, const std::string& name) {
  return join(parse_location(dir), name).display();
}

}  // namespace

TEST_CASE("location: the three kinds", "[location]") {
  Location stdio = parse_location("-");
  CHECK(stdio.is_stdio());
  CHECK(stdio.display() == "-");

  Location local = parse_location("/srv/backups");
  CHECK(local.kind == Kind::kLocal);
  CHECK(local.path == "/srv/backups");
  CHECK(local.display() == "/srv/backups");
  CHECK(parse_location("x.tar.zst").kind == Kind::kLocal);
  CHECK(parse_location("./rclone:x").kind == Kind::kLocal);
  CHECK(parse_location("--").kind == Kind::kLocal);

  Location remote = parse_location("rclone:s3:bucket/jellyfin");
  CHECK(remote.is_rclone());
  CHECK(remote.path == "s3:bucket/jellyfin");
  CHECK(remote.display() == "rclone:s3:bucket/jellyfin");
  CHECK(parse_location("rclone:my-nas:").path == "my-nas:");
  CHECK(parse_location("rclone:nas:/srv/b").path == "nas:/srv/b");
}

TEST_CASE("location: on-the-fly rclone backends, quotes and all", "[location]") {
  const std::string spec = ":webdav,url='http://127.0.0.1:8080':dir/x.tar.zst";
  Location remote = parse_location("rclone:" + spec);
  CHECK(remote.is_rclone());
  CHECK(remote.path == spec);
  CHECK(split("rclone:" + spec) ==
        std::pair<std::string, std::string>{"rclone::webdav,url='http://127.0.0.1:8080':dir",
                                            "x.tar.zst"});
  CHECK(split("rclone::webdav,url=\"http://h:1/a/b\":x") ==
        std::pair<std::string, std::string>{"rclone::webdav,url=\"http://h:1/a/b\":", "x"});
  CHECK(split("rclone:s3,region='eu:1':b/x") ==
        std::pair<std::string, std::string>{"rclone:s3,region='eu:1':b", "x"});
  CHECK(split("rclone::local:/tmp/x") ==
        std::pair<std::string, std::string>{"rclone::local:/tmp", "x"});
}

TEST_CASE("location: what is refused", "[location]") {
  for (const char* text : {"", "rclone:", "rclone:path", "rclone::webdav",
                           "rclone::webdav,url='x:y", "rclone:s3,region=\"eu:x"}) {
    INFO(text);
    CHECK(error_of([&] { parse_location(text); }).kind() == jb::ErrorKind::kUsage);
  }
  jb::Error e = error_of([] { parse_location("rclone:backups"); });
  CHECK(std::string(e.what()) == "rclone:backups: names no rclone remote");
  CHECK(e.hint() == "write rclone:REMOTE:path, e.g. rclone:s3:bucket/backups");
  CHECK(std::string(error_of([] { parse_location("rclone::webdav,url='x:y"); }).what()) ==
        "rclone::webdav,url='x:y: unterminated quote in the rclone remote");
}

TEST_CASE("location: split_file", "[location]") {
  using Split = std::pair<std::string, std::string>;
  CHECK(split("rclone:s3:b/dir/x.tar.zst") == Split{"rclone:s3:b/dir", "x.tar.zst"});
  CHECK(split("rclone:s3:x.tar.zst") == Split{"rclone:s3:", "x.tar.zst"});
  CHECK(split("rclone:nas:/x.tar.zst") == Split{"rclone:nas:/", "x.tar.zst"});
  CHECK(split("rclone:s3:b//dir//x") == Split{"rclone:s3:b//dir", "x"});
  CHECK(split("x.tar.zst") == Split{".", "x.tar.zst"});
  CHECK(split("/srv/b/x.tar.zst") == Split{"/srv/b", "x.tar.zst"});
  CHECK(split("/x.tar.zst") == Split{"/", "x.tar.zst"});
  CHECK(split("//x") == Split{"/", "x"});
  CHECK(split("a//x") == Split{"a", "x"});
  CHECK(split("./x") == Split{".", "x"});

  for (const char* text : {"-", "dir/", "/", "rclone:s3:", "rclone:s3:b/", "rclone:nas:/", "a/..",
                           ".", "rclone:s3:b/."}) {
    INFO(text);
    CHECK(error_of([&] { split_file(parse_location(text)); }).kind() == jb::ErrorKind::kUsage);
  }
  CHECK(std::string(error_of([] { split("/srv/b/"); }).what()) == "/srv/b/: names no file");
}

TEST_CASE("location: join", "[location]") {
  CHECK(joined("rclone:s3:", "x") == "rclone:s3:x");
  CHECK(joined("rclone:s3:b/dir", "x") == "rclone:s3:b/dir/x");
  CHECK(joined("rclone:s3:b/dir//", "x") == "rclone:s3:b/dir/x");
  CHECK(joined("rclone:nas:/", "x") == "rclone:nas:/x");
  CHECK(joined("rclone::webdav,url='http://h:1/':d", "x") ==
        "rclone::webdav,url='http://h:1/':d/x");
  CHECK(joined("/srv/b", "x") == "/srv/b/x");
  CHECK(joined("/srv/b//", "x") == "/srv/b/x");
  CHECK(joined("/", "x") == "/x");
  CHECK(joined("relative/dir", "x") == "relative/dir/x");
  // The current directory reads as the bare name, unless that would parse
  // as something else.
  CHECK(joined(".", "x.tar.zst") == "x.tar.zst");
  CHECK(joined(".", "-") == "./-");
  CHECK(joined(".", "rclone:x") == "./rclone:x");
  CHECK(join(parse_location("."), "-").kind == Kind::kLocal);
  CHECK(error_of([] { join(parse_location("-"), "x"); }).kind() == jb::ErrorKind::kUsage);
}

TEST_CASE("location: split_file undoes join", "[location]") {
  for (const char* dir :
       {"rclone:s3:", "rclone:s3:b", "rclone:s3:b/c/d", "rclone:nas:/", "rclone:nas:/srv",
        "rclone::webdav,url='http://h:1/':", "/", "/srv/b", ".", "rel", "rel/a"}) {
    for (const char* name : {"x.tar.zst", ".hidden", "-", "rclone:y"}) {
      INFO(dir << " + " << name);
      Location d = parse_location(dir);
      auto [back, back_name] = split_file(join(d, name));
      CHECK(back.kind == d.kind);
      CHECK(back.path == d.path);
      CHECK(back_name == name);
    }
  }
}

TEST_CASE("location: remote_dir_key spells one directory one way", "[location]") {
  auto key = [](const char* text) { return jb::remote_dir_key(parse_location(text)); };
  CHECK(key("rclone:dav:lockr") == "dav:lockr");
  for (const char* same : {"rclone:dav:lockr/", "rclone:dav:lockr//", "rclone:dav:lockr/sub/..",
                           "rclone:dav:./lockr", "rclone:dav:lockr/./"})
    CHECK(key(same) == "dav:lockr");
  CHECK(key("rclone:dav:") == "dav:");
  CHECK(key("rclone:dav:.") == "dav:");
  CHECK(key("rclone:nas:/") == "nas:/");
  CHECK(key("rclone:nas:/srv/") == "nas:/srv");
  // Absolute and home-relative are different places on SFTP.
  CHECK(key("rclone:nas:srv") != key("rclone:nas:/srv"));
  CHECK(key("rclone:s3:b/a") != key("rclone:s3:b/b"));
}
