#include "jellyfin_backup/io/source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/io/paths.h"
#include "jellyfin_backup/io/rclone.h"

namespace jb {

std::size_t StringSource::read(void* buffer, std::size_t size) {
  const std::size_t n = std::min(size, bytes_.size());
  std::memcpy(buffer, bytes_.data(), n);
  bytes_.remove_prefix(n);
  return n;
}

std::size_t RewindSource::read(void* buffer, std::size_t size) {
  if (rewound_) {
    if (replayed_ < head_.size()) {
      const std::size_t n = std::min(size, head_.size() - replayed_);
      std::memcpy(buffer, head_.data() + replayed_, n);
      replayed_ += n;
      return n;
    }
    return inner_->read(buffer, size);
  }
  const std::size_t n = inner_->read(buffer, std::min(size, limit_ - head_.size() + 1));
  if (head_.size() + n > limit_)
    throw damaged_error(name() + ": the archive's first zstd frame is longer than a manifest may be",
                        "this is not an archive written by jellyfin-backup");
  head_.append(static_cast<const char*>(buffer), n);
  return n;
}

void RewindSource::rewind() {
  rewound_ = true;
  replayed_ = 0;
}

std::size_t FdSource::read(void* buffer, std::size_t size) {
  ssize_t n = read_interruptibly(fd_.get(), buffer, size);
  if (n < 0) throw io_error(name_, "cannot read", errno);
  return static_cast<std::size_t>(n);
}

namespace {

// The stat answers what a local open() would: a missing file fails here,
// with the same message, not as a short read later; and the size is known.
std::uint64_t stat_remote_archive(const Location& location) {
  const std::string display = location.display();
  auto file = rclone_stat(location.path);
  if (!file) throw io_error(display, "cannot open archive", ENOENT, "check the path");
  if (file->is_dir)
    throw Error(ErrorKind::kRuntime, ErrorCode::kIsDirectory, display + ": is a directory, not an archive");
  return file->size;
}

}  // namespace

std::unique_ptr<Source> open_source(const std::string& path) {
  return open_source(parse_location(path));
}

std::unique_ptr<Source> open_source(const Location& location) {
  if (location.is_stdio()) {
    if (::isatty(STDIN_FILENO))
      throw usage_error("stdin: is a terminal, not an archive",
                        "pipe an archive in, e.g. `cat ARCHIVE | jellyfin-backup verify -`");
    int fd = ::dup(STDIN_FILENO);
    if (fd < 0) throw io_error("stdin", "cannot use", errno);
    return std::make_unique<FdSource>(UniqueFd(fd), "stdin", std::nullopt);
  }
  if (!location.is_rclone()) return open_file_source(location.path);
  return std::make_unique<RcloneSource>(location.path, location.display(), stat_remote_archive(location));
}

std::unique_ptr<Source> open_file_source(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    // A link the user named (`latest.tar.zst`) is followed where nobody else
    // could have put it (resolve_path refuses it otherwise, by name); what it
    // names is then opened from "/" through no link.
    const std::string real = resolve_path(path, "archive");
    DirFd dir = DirFd::open_resolved(parent_of(real));
    return open_file_source(dir.fd(), name_of(real), path);
  }
  return open_file_source(AT_FDCWD, path, path);
}

std::unique_ptr<Source> open_file_source(const DirFd& dir, const std::string& name) {
  return open_file_source(dir.fd(), name, dir.path_of(name));
}

std::unique_ptr<Source> open_file_source(int dir_fd, const std::string& name, const std::string& display) {
  // An archive may sit where others can write (a backup directory): a
  // symlink there could lead anywhere, and a FIFO or a device would block
  // the read for ever. Only a regular file, opened as itself, is read. A
  // stream is still welcome, on purpose, as `-` (standard input).
  UniqueFd fd = open_regular_file(dir_fd, name);
  if (!fd) {
    const int err = errno;
    if (err == EISDIR)
      throw Error(ErrorKind::kRuntime, ErrorCode::kIsDirectory, display + ": is a directory, not an archive");
    if (err == ELOOP)
      throw refused_error(display + ": is a symlink: not followed (whoever can write its directory could "
                                    "point it anywhere)",
                          "name the archive itself (`realpath` shows it), or pipe it in as `-`");
    if (err == EINVAL)
      throw refused_error(display + ": not a regular file (a FIFO, socket or device): not read",
                          "to read a stream, name the archive as `-` and redirect it to standard input");
    throw io_error(display, "cannot open archive", err, err == ENOENT ? "check the path" : "");
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw io_error(display, "cannot stat", errno);
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::make_unique<FdSource>(std::move(fd), display, static_cast<std::uint64_t>(st.st_size));
}

}  // namespace jb
