#include "jellyfin_backup/restore/state_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::test::make_dirs;
using StateDir = jb::test::PrivateStateDir;

TEST_CASE("state_dir: the path follows JELLYFIN_BACKUP_STATE_DIR, STATE_DIRECTORY, then the user",
          "[state_dir]") {
  StateDir state;
  CHECK(jb::state_dir_path() == state.path);
  ::setenv("JELLYFIN_BACKUP_STATE_DIR", (state.path + "//").c_str(), 1);
  CHECK(jb::state_dir_path() == state.path);
  ::unsetenv("JELLYFIN_BACKUP_STATE_DIR");
  ::setenv("STATE_DIRECTORY", "/run/x/state:/other", 1);
  CHECK(jb::state_dir_path() == "/run/x/state");
  ::unsetenv("STATE_DIRECTORY");
  if (::geteuid() == 0) {
    CHECK(jb::state_dir_path() == "/var/lib/jellyfin-backup");
  } else {
    ::setenv("XDG_STATE_HOME", "/xdg", 1);
    CHECK(jb::state_dir_path() == "/xdg/jellyfin-backup");
    ::unsetenv("XDG_STATE_HOME");
  }
  ::setenv("JELLYFIN_BACKUP_STATE_DIR", state.path.c_str(), 1);
}

TEST_CASE("state_dir: created 0700 when missing, refused when others can write it", "[state_dir]") {
  StateDir state;
  CHECK_FALSE(jb::open_state_dir().has_value());  // nothing was ever journaled
  jb::DirFd dir = jb::open_or_create_state_dir();
  struct stat st = dir.stat();
  CHECK(S_ISDIR(st.st_mode));
  CHECK((st.st_mode & 07777) == 0700);
  CHECK(st.st_uid == ::geteuid());
  CHECK(jb::open_state_dir().has_value());
  REQUIRE(::chmod(state.path.c_str(), 0770) == 0);
  try {
    jb::open_state_dir();
    FAIL("a group-writable state directory was trusted");
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kRefused);
    CHECK_THAT(std::string(e.what()), Catch::Contains(state.path));
  }
}

TEST_CASE("state_dir: untrusted_because names what is wrong", "[state_dir]") {
  struct stat st {};
  st.st_uid = ::geteuid();
  st.st_mode = S_IFDIR | 0700;
  CHECK_FALSE(jb::untrusted_because(st, true));
  CHECK(jb::untrusted_because(st, false));  // a directory where a file belongs
  st.st_mode = S_IFDIR | 0722;
  CHECK(jb::untrusted_because(st, true));
  st.st_mode = S_IFREG | 0600;
  CHECK_FALSE(jb::untrusted_because(st, false));
  st.st_uid = ::geteuid() + 1;
  CHECK(jb::untrusted_because(st, false));
}
