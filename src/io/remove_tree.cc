#include "jellyfin_backup/io/remove_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/unique_fd.h"

namespace jb {
namespace {

void remove_contents(int fd, const std::string& display) {
  int dup_fd = ::dup(fd);
  if (dup_fd < 0) throw io_error(display, "cannot remove", errno);
  DIR* dir = ::fdopendir(dup_fd);
  if (!dir) {
    ::close(dup_fd);
    throw io_error(display, "cannot remove", errno);
  }
  std::vector<std::string> names;
  while (dirent* d = ::readdir(dir)) {
    std::string_view n = d->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(dir);
  for (const auto& name : names) remove_tree_at(fd, name, display + "/" + name);
}

}  // namespace

void remove_tree_at(int dir_fd, const std::string& name, const std::string& display) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw io_error(display, "cannot remove", errno);
  }
  if (S_ISDIR(st.st_mode)) {
    // A restored read-only (or unreadable) directory must become readable and
    // writable to be emptied. fchmodat does not follow: st says it is a dir.
    if ((st.st_mode & 0700) != 0700) ::fchmodat(dir_fd, name.c_str(), 0700, 0);
    UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw io_error(display, "cannot remove", errno);
    remove_contents(fd.get(), display);
    if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      throw io_error(display, "cannot remove", errno);
    return;
  }
  if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT)
    throw io_error(display, "cannot remove", errno);
}

void remove_tree(const std::string& path) { remove_tree_at(AT_FDCWD, path, path); }

}  // namespace jb
