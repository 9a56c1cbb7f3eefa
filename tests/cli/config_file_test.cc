#include "cli/config_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "test_util.h"

using jb::cli::ConfigFile;
using jb::cli::load_config;
using jb::cli::parse_config;
using jb::test::error_of;

TEST_CASE("config: keys, values, comments and sections") {
  ConfigFile c = parse_config(
      "# comment\n"
      "output = /srv/backups   # where archives go\n"
      "\n"
      "  service=jellyfin\n"
      "exclude = \"* #1\"\n"
      "stop-cmd = curl http://x/#frag\n"
      "[create]\n"
      "level = 9\n"
      "[ prune ]\n"
      "keep-daily = 7\n",
      "f.conf");
  REQUIRE(c.settings.size() == 6);
  CHECK(c.settings[0].key == "output");
  CHECK(c.settings[0].value == "/srv/backups");
  CHECK(c.settings[0].section.empty());
  CHECK(c.settings[0].line == 2);
  CHECK(c.settings[1].value == "jellyfin");
  CHECK(c.settings[2].value == "* #1");
  CHECK(c.settings[3].value == "curl http://x/#frag");
  CHECK(c.settings[4].section == "create");
  CHECK(c.settings[4].value == "9");
  CHECK(c.settings[5].section == "prune");
  CHECK(c.settings[5].line == 10);
}

TEST_CASE("config: a flag written with its dashes is the same key") {
  ConfigFile c = parse_config("--keep-last = 3\n", "f.conf");
  REQUIRE(c.settings.size() == 1);
  CHECK(c.settings[0].key == "keep-last");
}

TEST_CASE("config: mistakes name the file and the line") {
  auto e = error_of([] { parse_config("output = /x\nkeep-dialy = 3\n", "/etc/jb.conf"); });
  CHECK(e.kind() == jb::ErrorKind::kUsage);
  CHECK_THAT(e.full_message(), Catch::Contains("/etc/jb.conf:2: unknown setting 'keep-dialy'"));
  CHECK_THAT(e.full_message(), Catch::Contains("--config-file none"));

  e = error_of([] { parse_config("[backup]\n", "f"); });
  CHECK_THAT(e.full_message(), Catch::Contains("f:1: [backup]: no such command"));
  e = error_of([] { parse_config("output /x\n", "f"); });
  CHECK_THAT(e.full_message(), Catch::Contains("f:1: 'output /x': expected key = value"));
  e = error_of([] { parse_config("[create\n", "f"); });
  CHECK_THAT(e.full_message(), Catch::Contains("f:1:"));
  // Values are checked as the file is read, whichever command reads it.
  e = error_of([] { parse_config("output = /x\n\nkeep-version-change = maybe\n", "f"); });
  CHECK_THAT(e.full_message(), Catch::Contains("f:3: keep-version-change = maybe: expected yes or no"));
  e = error_of([] { parse_config("output =\n", "f"); });
  CHECK_THAT(e.full_message(), Catch::Contains("f:1: 'output' has no value"));
  CHECK(parse_config("[prune]\nkeep-version-change = On\n", "f").settings.size() == 1);
  // Help and the config file itself are not settings.
  CHECK(error_of([] { parse_config("help = yes\n", "f"); }).kind() == jb::ErrorKind::kUsage);
  CHECK(error_of([] { parse_config("config-file = x\n", "f"); }).kind() == jb::ErrorKind::kUsage);
}

TEST_CASE("config: on/off values") {
  using jb::cli::parse_switch;
  for (const char* yes : {"yes", "YES", "true", "on", "1"}) CHECK(parse_switch(yes) == true);
  for (const char* no : {"no", "False", "off", "0"}) CHECK(parse_switch(no) == false);
  CHECK_FALSE(parse_switch("maybe").has_value());
  CHECK_FALSE(parse_switch("").has_value());
}

TEST_CASE("config: loading the file") {
  jb::test::TempDir tmp;
  const std::string path = tmp / "jb.conf";
  ::unsetenv("JELLYFIN_BACKUP_CONFIG");

  SECTION("an explicit file is read") {
    jb::test::write_file(path, "keep-last = 2\n", 0600);
    auto c = load_config(path);
    REQUIRE(c);
    CHECK(c->path == path);
    CHECK(c->settings.at(0).value == "2");
  }
  SECTION("the environment names it too") {
    jb::test::write_file(path, "quiet = yes\n", 0600);
    ::setenv("JELLYFIN_BACKUP_CONFIG", path.c_str(), 1);
    auto c = load_config(std::nullopt);
    ::unsetenv("JELLYFIN_BACKUP_CONFIG");
    REQUIRE(c);
    CHECK(c->settings.at(0).key == "quiet");
  }
  SECTION("none means no file") {
    CHECK_FALSE(load_config(std::string("none")));
    CHECK_FALSE(load_config(std::string("/dev/null")));
  }
  SECTION("a missing file that was asked for is a usage error") {
    auto e = error_of([&] { load_config(tmp / "missing.conf"); });
    CHECK(e.kind() == jb::ErrorKind::kUsage);
    CHECK_THAT(e.full_message(), Catch::Contains("missing.conf: no such config file"));
  }
  SECTION("a file others can write is refused: its commands run as us") {
    jb::test::write_file(path, "stop-cmd = true\n", 0600);
    ::chmod(path.c_str(), 0666);
    auto e = error_of([&] { load_config(path); });
    CHECK(e.kind() == jb::ErrorKind::kRefused);
    CHECK_THAT(e.full_message(), Catch::Contains("chmod go-w"));
  }
  SECTION("a symlink is followed, and the file it leads to is what is checked") {
    jb::test::write_file(tmp / "real.conf", "quiet = yes\n", 0600);
    REQUIRE(::symlink((tmp / "real.conf").c_str(), path.c_str()) == 0);
    auto c = load_config(path);
    REQUIRE(c);
    CHECK(c->settings.at(0).key == "quiet");
    ::chmod((tmp / "real.conf").c_str(), 0666);
    CHECK(error_of([&] { load_config(path); }).kind() == jb::ErrorKind::kRefused);
  }
  SECTION("a FIFO is refused at once, never waited on") {
    // Opened non-blocking and checked regular before a byte is read: a
    // FIFO with no writer would block the run for ever.
    REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    auto e = error_of([&] { load_config(path); });
    CHECK(e.kind() == jb::ErrorKind::kUsage);
    CHECK_THAT(e.full_message(), Catch::Contains("not a regular file"));
  }
  SECTION("a file of another user is refused (as root)") {
    if (::geteuid() != 0) return;
    jb::test::write_file(path, "quiet = yes\n", 0600);
    REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
    auto e = error_of([&] { load_config(path); });
    CHECK(e.kind() == jb::ErrorKind::kRefused);
    CHECK_THAT(e.full_message(), Catch::Contains("another user"));
  }
}

TEST_CASE("config: every key is a flag some command takes") {
  // The e2e test test_config_file.py checks the other direction against --help.
  for (const auto& key : jb::cli::known_config_keys()) {
    CHECK(key.find("--") == std::string::npos);
    CHECK(key != "help");
    CHECK(key != "config-file");
  }
}
