#include "jellyfin_backup/io/remove_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/io/unique_fd.h"

namespace jb {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

// New entries may keep appearing in a directory the owner can write: after
// this many relistings of one directory, give up rather than loop for ever.
constexpr int kMaxRelists = 8;

// One directory on the way down: who it is, its name in its parent, and the
// subdirectories still to remove (listed once, when it was entered).
struct Level {
  dev_t dev;
  ino_t ino;
  std::string name;
  std::string display;
  std::vector<std::string> pending;
  int relists = 0;
};

Error changed_under_us(const std::string& display) {
  return io_error(display, "changed while it was being removed (moved or replaced)", 0,
                  "is another process using it? remove what is left by hand");
}

int openat_retry(int dir_fd, const char* name, int flags) {
  int fd;
  do fd = ::openat(dir_fd, name, flags);
  while (fd < 0 && errno == EINTR);
  return fd;
}

// Opens the directory `name` in `parent`, never through a symlink, checks it
// is `expected`, and makes it readable and writable for its owner through
// the fd (never by name). Unprivileged, a directory without read permission
// cannot be opened for reading: it is opened O_PATH, chmod'ed through
// /proc/self/fd (which names that very inode) and reopened as ".".
UniqueFd open_checked(int parent, const std::string& name, const struct stat& expected,
                      const std::string& display) {
  UniqueFd fd(openat_retry(parent, name.c_str(), kDirFlags));
  if (!fd && errno == EACCES) {
    UniqueFd path_fd(openat_retry(parent, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!path_fd) throw io_error(display, "cannot remove", errno);
    struct stat st;
    if (::fstat(path_fd.get(), &st) != 0) throw io_error(display, "cannot remove", errno);
    if (!same_file(st, expected)) throw changed_under_us(display);
    const std::string proc = "/proc/self/fd/" + std::to_string(path_fd.get());
    if (::chmod(proc.c_str(), (st.st_mode & 07777) | 0700) != 0)
      throw io_error(display, "cannot make it writable to remove it", errno);
    fd.reset(openat_retry(path_fd.get(), ".", kDirFlags));
  }
  if (!fd) {
    if (errno == ELOOP || errno == ENOTDIR) throw changed_under_us(display);
    throw io_error(display, "cannot remove", errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw io_error(display, "cannot remove", errno);
  if (!same_file(st, expected)) throw changed_under_us(display);
  // A restored read-only directory must become writable to be emptied.
  if ((st.st_mode & 0700) != 0700 && ::fchmod(fd.get(), (st.st_mode & 07777) | 0700) != 0)
    throw io_error(display, "cannot make it writable to remove it", errno);
  return fd;
}

// Removes every entry of `dir` but its subdirectories, which it returns.
std::vector<std::string> remove_files(const DirFd& dir) {
  std::vector<std::string> subdirs;
  for (const auto& name : dir.list()) {
    auto st = dir.stat_at(name);
    if (!st) continue;
    if (S_ISDIR(st->st_mode)) {
      subdirs.push_back(name);
    } else if (::unlinkat(dir.fd(), name.c_str(), 0) != 0 && errno != ENOENT) {
      // EISDIR: a directory took the name since the fstatat.
      if (errno == EISDIR) throw changed_under_us(dir.path_of(name));
      throw io_error(dir.path_of(name), "cannot remove", errno);
    }
  }
  return subdirs;
}

Level enter(DirFd& cur, const std::string& name, const std::string& display) {
  struct stat st = cur.stat();
  Level level{st.st_dev, st.st_ino, name, display, {}, 0};
  level.pending = remove_files(cur);
  return level;
}

}  // namespace

void remove_tree_at(int dir_fd, const std::string& name, const std::string& display) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw io_error(display, "cannot remove", errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT)
      throw io_error(display, "cannot remove", errno);
    return;
  }

  // Depth first, one directory fd held: `stack` remembers who each level is,
  // not an fd, so the depth costs memory, not descriptors.
  DirFd cur(open_checked(dir_fd, name, st, display), display);
  std::vector<Level> stack;
  stack.push_back(enter(cur, name, display));
  for (;;) {
    Level& top = stack.back();
    if (!top.pending.empty()) {
      const std::string child = std::move(top.pending.back());
      top.pending.pop_back();
      auto child_st = cur.stat_at(child);
      if (!child_st) continue;  // gone already
      if (!S_ISDIR(child_st->st_mode)) throw changed_under_us(cur.path_of(child));
      const std::string child_display = cur.path_of(child);
      // Another filesystem mounted in the tree is not part of it.
      if (child_st->st_dev != st.st_dev)
        throw io_error(child_display, "is a mount point: not removed", 0,
                       "unmount it, then remove what is left by hand");
      DirFd next(open_checked(cur.fd(), child, *child_st, child_display), child_display);
      cur = std::move(next);
      stack.push_back(enter(cur, child, child_display));
      continue;
    }
    // `cur` is empty (but for what appeared meanwhile): climb and remove it.
    if (stack.size() == 1) {
      cur = DirFd();
      if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return;
      if (errno == ENOTEMPTY && ++top.relists <= kMaxRelists) {
        cur = DirFd(open_checked(dir_fd, name, st, display), display);
        top.pending = remove_files(cur);
        continue;
      }
      throw io_error(display, "cannot remove", errno);
    }
    const Level& parent = stack[stack.size() - 2];
    UniqueFd up(openat_retry(cur.fd(), "..", kDirFlags));
    if (!up) throw io_error(top.display, "cannot remove", errno);
    struct stat up_st;
    if (::fstat(up.get(), &up_st) != 0) throw io_error(parent.display, "cannot remove", errno);
    // Moved elsewhere under us: ".." is no longer the parent we came from.
    if (up_st.st_dev != parent.dev || up_st.st_ino != parent.ino) throw changed_under_us(top.display);
    DirFd up_dir(std::move(up), parent.display);
    // The name must still be the directory we emptied, not one swapped in.
    auto named = up_dir.stat_at(top.name);
    if (named && (named->st_dev != top.dev || named->st_ino != top.ino)) throw changed_under_us(top.display);
    if (named && ::unlinkat(up_dir.fd(), top.name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      if (errno != ENOTEMPTY || ++top.relists > kMaxRelists)
        throw io_error(top.display, "cannot remove", errno);
      top.pending = remove_files(cur);  // entries appeared: empty it again
      continue;
    }
    cur = std::move(up_dir);
    stack.pop_back();
  }
}

void remove_tree(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const std::size_t slash = p.rfind('/');
  if (slash == std::string::npos) return remove_tree_at(AT_FDCWD, p, path);
  const std::string parent = slash == 0 ? "/" : p.substr(0, slash);
  auto dir = DirFd::open_if_exists(parent);
  if (!dir) return;
  remove_tree_at(dir->fd(), p.substr(slash + 1), path);
}

}  // namespace jb
