#include "jellyfin_backup/io/dir_fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "jellyfin_backup/error.h"

namespace jb {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

int openat_retry(int dir_fd, const char* name, int flags, mode_t mode) {
  int fd;
  do fd = ::openat(dir_fd, name, flags, mode);
  while (fd < 0 && errno == EINTR);
  return fd;
}

}  // namespace

DirFd DirFd::open(const std::string& path) {
  int fd = openat_retry(AT_FDCWD, path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) throw io_error(path, "cannot open directory", errno);
  return DirFd(UniqueFd(fd), path);
}

std::optional<DirFd> DirFd::open_if_exists(const std::string& path) {
  int fd = openat_retry(AT_FDCWD, path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw io_error(path, "cannot open directory", errno);
  }
  return DirFd(UniqueFd(fd), path);
}

DirFd DirFd::open_resolved(const std::string& path) {
  if (path.empty() || path[0] != '/') throw io_error(path, "not an absolute path", 0);
  DirFd dir = open("/").open_beneath(std::string_view(path).substr(1));
  dir.path_ = path;
  return dir;
}

DirFd DirFd::open_dir(std::string_view name) const {
  const std::string n(name);
  int fd = openat_retry(fd_.get(), n.c_str(), kDirFlags, 0);
  if (fd < 0) {
    // ELOOP: the last component is a symlink. Name the surprise plainly.
    if (errno == ELOOP) throw io_error(path_of(name), "is a symlink, not a directory", 0);
    throw io_error(path_of(name), "cannot open directory", errno);
  }
  return DirFd(UniqueFd(fd), path_of(name));
}

std::optional<DirFd> DirFd::open_dir_if_exists(std::string_view name) const {
  const std::string n(name);
  int fd = openat_retry(fd_.get(), n.c_str(), kDirFlags, 0);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == ELOOP) throw io_error(path_of(name), "is a symlink, not a directory", 0);
    throw io_error(path_of(name), "cannot open directory", errno);
  }
  return DirFd(UniqueFd(fd), path_of(name));
}

DirFd DirFd::open_beneath(std::string_view relative) const {
  DirFd here(UniqueFd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0)), path_);
  if (!here) throw io_error(path_, "cannot open directory", errno);
  while (!relative.empty()) {
    std::size_t slash = relative.find('/');
    std::string_view part = relative.substr(0, slash);
    relative = slash == std::string_view::npos ? std::string_view() : relative.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") throw io_error(here.path_of(part), "'..' is not allowed here", 0);
    here = here.open_dir(part);
  }
  return here;
}

UniqueFd DirFd::open_at(std::string_view name, int flags, mode_t mode) const {
  const std::string n(name);
  return UniqueFd(openat_retry(fd_.get(), n.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode));
}

struct stat DirFd::stat() const {
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) throw io_error(path_, "cannot stat", errno);
  return st;
}

std::optional<struct stat> DirFd::stat_at(std::string_view name) const {
  const std::string n(name);
  struct stat st;
  if (::fstatat(fd_.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return st;
  if (errno == ENOENT) return std::nullopt;
  throw io_error(path_of(name), "cannot stat", errno);
}

std::vector<std::string> DirFd::list(std::string_view prefix) const {
  // A fresh open file description: its own read position, so list() never
  // depends on (or disturbs) another reader of this fd.
  int fd = openat_retry(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) throw io_error(path_, "cannot read directory", errno);
  std::unique_ptr<DIR, DirCloser> dir(::fdopendir(fd));
  if (!dir) {
    int err = errno;
    ::close(fd);
    throw io_error(path_, "cannot read directory", err);
  }
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir.get());
    if (!entry) {
      if (errno != 0) throw io_error(path_, "cannot read directory", errno);
      break;
    }
    std::string_view n = entry->d_name;
    if (n == "." || n == "..") continue;
    if (n.substr(0, prefix.size()) == prefix) names.emplace_back(n);
  }
  std::sort(names.begin(), names.end());  // bytewise: the same order every run
  return names;
}

void DirFd::sync() const {
  if (::fsync(fd_.get()) != 0 && errno != EINVAL) throw io_error(path_, "cannot sync directory", errno);
}

std::string DirFd::path_of(std::string_view name) const {
  std::string out = path_;
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && (a.st_mode & S_IFMT) == (b.st_mode & S_IFMT);
}

namespace {

UniqueFd open_regular(int dir_fd, const std::string& name, bool follow_link) {
  const int open_flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | (follow_link ? 0 : O_NOFOLLOW);
  UniqueFd fd(openat_retry(dir_fd, name.c_str(), open_flags, 0));
  if (!fd) return fd;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return UniqueFd();
  if (!S_ISREG(st.st_mode)) {
    errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    return UniqueFd();
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) return UniqueFd();
  return fd;
}

}  // namespace

UniqueFd open_regular_file(int dir_fd, const std::string& name) { return open_regular(dir_fd, name, false); }

std::optional<std::string> read_regular_file(const std::string& path, std::size_t max_bytes, bool follow_link) {
  UniqueFd fd = open_regular(AT_FDCWD, path, follow_link);
  if (!fd) return std::nullopt;
  std::string content;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) return content;
    if (content.size() + static_cast<std::size_t>(n) > max_bytes) return std::nullopt;
    content.append(buffer, static_cast<std::size_t>(n));
  }
}

}  // namespace jb
