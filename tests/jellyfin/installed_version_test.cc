#include "jellyfin_backup/jellyfin/installed_version.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <optional>
#include <string>

#include "test_util.h"

using jb::dpkg_version_of;
using jb::version_in_log_line;
using jb::test::make_dirs;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

using Version = std::optional<std::string>;

// Sets a file's mtime to `seconds` past the epoch (and `nanos`).
void set_mtime(const std::string& path, std::time_t seconds, long nanos = 0) {
  struct timespec times[2];
  times[0].tv_sec = seconds;
  times[0].tv_nsec = nanos;
  times[1] = times[0];
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

// A log file as the server writes it: some chatter around its start line.
std::string log_with(const std::string& version) {
  return "[2025-10-20 19:01:05.100 -04:00] [INF] [1] Main: Jellyfin version: \"" + version +
         "\"\n"
         "[2025-10-20 19:01:05.200 -04:00] [INF] [1] Main: Environment Variables: "
         "[\"[JELLYFIN_DATA_DIR, /var/lib/jellyfin]\"]\n"
         "[2025-10-20 19:01:06.000 -04:00] [INF] [1] Main: FFmpeg version 6.0.1\n";
}

constexpr std::time_t kOld = 1760000000;  // October 2025
constexpr std::time_t kNew = kOld + 86400;

std::string stanza(const std::string& package, const std::string& status, const std::string& version) {
  return "Package: " + package + "\nStatus: " + status +
         "\nPriority: optional\nSection: video\nArchitecture: amd64\nVersion: " + version +
         "\nDescription: something\n";
}

}  // namespace

TEST_CASE("version_in_log_line: the three forms the server writes", "[installed_version]") {
  CHECK(version_in_log_line(
            "[2025-10-20 19:01:05.123 -04:00] [INF] [1] Main: Jellyfin version: \"10.11.0\"") ==
        Version("10.11.0"));
  CHECK(version_in_log_line("[2025-10-20 19:01:05.123 -04:00] [INF] Jellyfin version: \"10.11.0\"") ==
        Version("10.11.0"));
  CHECK(version_in_log_line("[14:24:38] [INF] [10] Main: Jellyfin version: 10.11.8") ==
        Version("10.11.8"));
}

TEST_CASE("version_in_log_line: what follows the number is not part of it", "[installed_version]") {
  CHECK(version_in_log_line("[14:24:38] [INF] [10] Main: Jellyfin version: 10.11.8\r") ==
        Version("10.11.8"));
  CHECK(version_in_log_line("[14:24:38] [INF] Jellyfin version: \"10.10.7\" starting") ==
        Version("10.10.7"));
  CHECK(version_in_log_line("[14:24:38] [INF] Jellyfin version: 10.11.0.0") == Version("10.11.0.0"));
  CHECK(version_in_log_line("[14:24:38] [INF] Jellyfin version: 10.11.0-rc2") ==
        Version("10.11.0-rc2"));
}

TEST_CASE("version_in_log_line: lines that announce no Jellyfin version", "[installed_version]") {
  for (const char* line : {
           "ffmpeg version 6.0",
           "[14:24:38] [INF] [10] Main: FFmpeg version: 6.0.1",
           "[14:24:38] [INF] [10] Main: Jellyfin version: unknown",
           "[14:24:38] [INF] [10] Main: Jellyfin version: \"\"",
           "[14:24:38] [INF] [10] Main: Jellyfin version: 10",  // no dotted number
           "[14:24:38] [INF] [10] Main: Jellyfin version:",
           "[14:24:38] [INF] [10] Main: Jellyfin 10.11.0",
           "[14:24:38] [INF] [10] Main: Operating system: Linux 6.1.0",
           "",
       }) {
    INFO(line);
    CHECK_FALSE(version_in_log_line(line));
  }
}

TEST_CASE("version_from_logs: the newest log by mtime wins", "[installed_version]") {
  TempDir tmp;
  // Names sort the other way: mtime decides, not the name.
  write_file(tmp / "log_20251021.log", log_with("10.10.7"));
  write_file(tmp / "log_20251020.log", log_with("10.11.0"));
  set_mtime(tmp / "log_20251021.log", kOld);
  set_mtime(tmp / "log_20251020.log", kNew);
  auto v = jb::version_from_logs(tmp.path());
  REQUIRE(v);
  CHECK(v->version == "10.11.0");
  CHECK(v->source == "log " + (tmp / "log_20251020.log"));

  SECTION("nanoseconds count") {
    set_mtime(tmp / "log_20251021.log", kNew, 500);
    auto w = jb::version_from_logs(tmp.path());
    REQUIRE(w);
    CHECK(w->version == "10.10.7");
  }
  SECTION("the same mtime: the greater name wins") {
    set_mtime(tmp / "log_20251021.log", kNew);
    auto w = jb::version_from_logs(tmp.path());
    REQUIRE(w);
    CHECK(w->version == "10.10.7");
  }
}

TEST_CASE("version_from_logs: a newer log without a start line defers to an older one",
          "[installed_version]") {
  TempDir tmp;
  write_file(tmp / "log_1.log", log_with("10.11.0"));
  write_file(tmp / "log_2.log", "[2025-10-21 00:00:00.000 +00:00] [INF] [5] Scheduled task ran\n");
  set_mtime(tmp / "log_1.log", kOld);
  set_mtime(tmp / "log_2.log", kNew);
  auto v = jb::version_from_logs(tmp.path());
  REQUIRE(v);
  CHECK(v->version == "10.11.0");
  CHECK(v->source == "log " + (tmp / "log_1.log"));
}

TEST_CASE("version_from_logs: the last version line in a file wins", "[installed_version]") {
  TempDir tmp;
  // The server was upgraded and restarted on the same day.
  write_file(tmp / "log_1.log", log_with("10.10.7") + log_with("10.11.0") +
                                    "[14:24:38] [INF] [10] Main: Jellyfin version: 10.11.8\n"
                                    "[14:24:39] [INF] [10] Main: shutting down\n");
  auto v = jb::version_from_logs(tmp.path());
  REQUIRE(v);
  CHECK(v->version == "10.11.8");
}

TEST_CASE("version_from_logs: only *.log files are read", "[installed_version]") {
  TempDir tmp;
  write_file(tmp / "log_1.log", log_with("10.10.7"));
  set_mtime(tmp / "log_1.log", kOld);
  for (const char* name : {"log_2.txt", "log_3.log.gz", ".hidden.log", "log"}) {
    write_file(tmp / name, log_with("10.11.0"));
    set_mtime(tmp / name, kNew);
  }
  make_dirs(tmp / "dir.log");
  write_file(tmp / "dir.log/inner.log", log_with("10.11.0"));
  set_mtime(tmp / "dir.log", kNew);
  auto v = jb::version_from_logs(tmp.path());
  REQUIRE(v);
  CHECK(v->version == "10.10.7");
}

TEST_CASE("version_from_logs: a FIFO or a symlink named like a log is never read",
          "[installed_version]") {
  // The log directory is the jellyfin user's: a FIFO would hang a reader
  // for ever, a symlink would make root read any file.
  TempDir tmp;
  make_dirs(tmp / "log");
  make_dirs(tmp / "elsewhere");
  write_file(tmp / "log/log_1.log", log_with("10.10.7"));
  set_mtime(tmp / "log/log_1.log", kOld);
  write_file(tmp / "elsewhere/secret", log_with("10.11.0"));
  REQUIRE(::symlink((tmp / "elsewhere/secret").c_str(), (tmp / "log/log_2.log").c_str()) == 0);
  REQUIRE(::mkfifo((tmp / "log/log_3.log").c_str(), 0644) == 0);
  set_mtime(tmp / "log/log_3.log", kNew);
  auto v = jb::version_from_logs(tmp / "log");
  REQUIRE(v);
  CHECK(v->version == "10.10.7");
  CHECK(v->source == "log " + (tmp / "log/log_1.log"));
}

TEST_CASE("version_from_logs: no logs, no version", "[installed_version]") {
  TempDir tmp;
  CHECK_FALSE(jb::version_from_logs(tmp / "missing"));
  CHECK_FALSE(jb::version_from_logs(tmp.path()));
  write_file(tmp / "log_1.log", "");
  write_file(tmp / "log_2.log", "[14:24:38] [INF] nothing to see\n");
  CHECK_FALSE(jb::version_from_logs(tmp.path()));
  write_file(tmp / "file", "");
  CHECK_FALSE(jb::version_from_logs(tmp / "file"));  // not a directory
}

TEST_CASE("dpkg_version_of: jellyfin-server is preferred over jellyfin", "[installed_version]") {
  const std::string meta = stanza("jellyfin", "install ok installed", "10.11.0+deb12");
  const std::string server = stanza("jellyfin-server", "install ok installed", "10.11.1+deb12");
  const std::string web = stanza("jellyfin-web", "install ok installed", "10.11.2+deb12");
  CHECK(dpkg_version_of(meta + "\n" + server + "\n" + web) == Version("10.11.1+deb12"));
  CHECK(dpkg_version_of(web + "\n" + server + "\n" + meta) == Version("10.11.1+deb12"));
  // The older packaging: one package named jellyfin.
  CHECK(dpkg_version_of(web + "\n" + meta) == Version("10.11.0+deb12"));
  // Jellyfin's other packages are not the server.
  CHECK_FALSE(
      dpkg_version_of(web + "\n" + stanza("jellyfin-ffmpeg7", "install ok installed", "7.1.1-7")));
  CHECK_FALSE(dpkg_version_of(""));
}

TEST_CASE("dpkg_version_of: only installed packages count", "[installed_version]") {
  const std::string meta = stanza("jellyfin", "install ok installed", "10.10.7+deb12");
  CHECK(dpkg_version_of(stanza("jellyfin-server", "deinstall ok config-files", "10.11.0+deb12") + "\n" +
                        meta) == Version("10.10.7+deb12"));
  CHECK(dpkg_version_of(stanza("jellyfin-server", "install ok not-installed", "10.11.0+deb12") + "\n" +
                        meta) == Version("10.10.7+deb12"));
  CHECK(dpkg_version_of(stanza("jellyfin-server", "install ok half-installed", "10.11.0+deb12") + "\n" +
                        meta) == Version("10.10.7+deb12"));
  CHECK_FALSE(dpkg_version_of(stanza("jellyfin-server", "deinstall ok config-files", "10.11.0+deb12")));
  // A held package is still installed.
  CHECK(dpkg_version_of(stanza("jellyfin-server", "hold ok installed", "10.11.0+deb12")) ==
        Version("10.11.0+deb12"));
}

TEST_CASE("dpkg_version_of: the last stanza needs no blank line after it", "[installed_version]") {
  const std::string server =
      "Package: jellyfin-server\nStatus: install ok installed\nVersion: 10.11.0+deb12";
  CHECK(dpkg_version_of(server) == Version("10.11.0+deb12"));
  CHECK(dpkg_version_of(stanza("jellyfin-web", "install ok installed", "1") + "\n" + server) ==
        Version("10.11.0+deb12"));
  // Windows line ends, and fields in another order.
  CHECK(dpkg_version_of("Version: 10.11.0+deb12\r\nPackage: jellyfin-server\r\n"
                        "Status: install ok installed\r\n") ==
        Version("10.11.0+deb12"));
}

TEST_CASE("dpkg_version_of: fields do not leak from one stanza into the next", "[installed_version]") {
  // An installed package without a version, then the server without a status.
  const std::string text = "Package: jellyfin-server\nStatus: install ok installed\n\n"
                           "Package: other\nVersion: 10.11.0\n";
  CHECK_FALSE(dpkg_version_of(text));
}

TEST_CASE("version_from_packages: dpkg's status file under a root", "[installed_version]") {
  TempDir tmp;
  make_dirs(tmp / "var/lib/dpkg");
  write_file(tmp / "var/lib/dpkg/status",
             stanza("jellyfin", "install ok installed", "10.11.0+deb12") + "\n" +
                 stanza("jellyfin-server", "install ok installed", "10.11.0+deb12"));
  auto v = jb::version_from_packages(tmp.path());
  REQUIRE(v);
  CHECK(v->version == "10.11.0");
  CHECK(v->source.find("dpkg") != std::string::npos);
  CHECK(v->source.find(tmp / "var/lib/dpkg/status") != std::string::npos);
  CHECK(v->source.find("10.11.0+deb12") != std::string::npos);

  SECTION("an epoch and a Debian revision are dropped") {
    write_file(tmp / "var/lib/dpkg/status",
               stanza("jellyfin-server", "install ok installed", "1:10.10.7-1"));
    auto w = jb::version_from_packages(tmp.path());
    REQUIRE(w);
    CHECK(w->version == "10.10.7");
  }
  SECTION("an Ubuntu suffix") {
    write_file(tmp / "var/lib/dpkg/status",
               stanza("jellyfin-server", "install ok installed", "10.11.8+ubu2404"));
    auto w = jb::version_from_packages(tmp.path());
    REQUIRE(w);
    CHECK(w->version == "10.11.8");
  }
  SECTION("no jellyfin package installed") {
    write_file(tmp / "var/lib/dpkg/status", stanza("bash", "install ok installed", "5.2.15-2+b7"));
    CHECK_FALSE(jb::version_from_packages(tmp.path()));
  }
}

TEST_CASE("version_from_packages: a root without a package database", "[installed_version]") {
  TempDir tmp;
  CHECK_FALSE(jb::version_from_packages(tmp.path()));
}
