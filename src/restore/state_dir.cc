#include "jellyfin_backup/restore/state_dir.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/paths.h"

namespace jb {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string home_dir() {
  std::string home = env("HOME");
  if (!home.empty() && home[0] == '/') return home;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_dir) return pw->pw_dir;
  return {};
}

std::string strip_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

Error refuse(const std::string& path, const std::string& why) {
  return refused_error(path + ": the restore journal directory " + why,
                       "it must be a directory owned by uid " + std::to_string(::geteuid()) +
                           " and writable by nobody else (chown " + std::to_string(::geteuid()) +
                           " DIR; chmod 0700 DIR), or set JELLYFIN_BACKUP_STATE_DIR");
}

// Opens `path` without following a symlink in its last component, and
// checks owner, mode and that it is what lstat saw.
// `absent_if_unreachable`: a directory we cannot even look at (EACCES,
// ENOTDIR on the way) holds no journal of ours either.
std::optional<DirFd> open_checked(const std::string& path, bool absent_if_unreachable) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || (absent_if_unreachable && (errno == EACCES || errno == ENOTDIR)))
      return std::nullopt;
    throw io_error(path, "cannot use the restore journal directory", errno);
  }
  if (auto why = untrusted_because(st, /*dir=*/true)) throw refuse(path, *why);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ELOOP || errno == ENOTDIR) throw refuse(path, "changed while it was opened");
    throw io_error(path, "cannot open the restore journal directory", errno);
  }
  struct stat opened;
  if (::fstat(fd.get(), &opened) != 0) throw io_error(path, "cannot stat", errno);
  if (!same_file(st, opened)) throw refuse(path, "changed while it was opened");
  if (auto why = untrusted_because(opened, /*dir=*/true)) throw refuse(path, *why);
  return DirFd(std::move(fd), path);
}

}  // namespace

std::optional<std::string> untrusted_because(const struct stat& st, bool dir) {
  if (S_ISLNK(st.st_mode)) return "is a symlink";
  if (dir && !S_ISDIR(st.st_mode)) return "is not a directory";
  if (!dir && !S_ISREG(st.st_mode)) return "is not a regular file";
  if (st.st_uid != ::geteuid())
    return "is owned by uid " + std::to_string(st.st_uid) + ", not " + std::to_string(::geteuid());
  if ((st.st_mode & 022) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return std::string("is writable by group or others (mode ") + mode + ")";
  }
  return std::nullopt;
}

std::string state_dir_path() {
  if (std::string dir = env("JELLYFIN_BACKUP_STATE_DIR"); !dir.empty()) return strip_slashes(dir);
  if (std::string dirs = env("STATE_DIRECTORY"); !dirs.empty())
    return strip_slashes(dirs.substr(0, dirs.find(':')));
  if (::geteuid() == 0) return "/var/lib/jellyfin-backup";
  std::string base = env("XDG_STATE_HOME");
  if (base.empty() || base[0] != '/') {
    const std::string home = home_dir();
    if (home.empty())
      throw usage_error("cannot tell where to keep restore journals: no HOME",
                        "set JELLYFIN_BACKUP_STATE_DIR or XDG_STATE_HOME");
    base = strip_slashes(home) + "/.local/state";
  }
  return strip_slashes(base) + "/jellyfin-backup";
}

std::optional<DirFd> open_state_dir() {
  std::string path;
  try {
    path = state_dir_path();
  } catch (const Error&) {
    return std::nullopt;  // nowhere to keep journals: none were written
  }
  return open_checked(path, /*absent_if_unreachable=*/true);
}

DirFd open_or_create_state_dir() {
  const std::string path = state_dir_path();
  if (auto dir = open_checked(path, false)) return std::move(*dir);
  // Missing parents too (~/.local/state), each private: mkdir -p -m 0700.
  std::string prefix;
  std::size_t from = 1;
  for (;;) {
    std::size_t slash = path.find('/', from);
    prefix = path.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
      throw io_error(prefix, "cannot create the restore journal directory", errno,
                     "create it (mode 0700), or set JELLYFIN_BACKUP_STATE_DIR");
    if (slash == std::string::npos) break;
    from = slash + 1;
  }
  auto dir = open_checked(path, false);
  if (!dir) throw io_error(path, "cannot create the restore journal directory", ENOENT);
  return std::move(*dir);
}

}  // namespace jb
