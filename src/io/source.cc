#include "jellyfin_backup/io/source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"

namespace jb {

std::size_t FdSource::read(void* buffer, std::size_t size) {
  for (;;) {
    ssize_t n = ::read(fd_.get(), buffer, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) {
      throw_if_interrupted();
      continue;
    }
    throw io_error(name_, "cannot read", errno);
  }
}

std::unique_ptr<Source> open_source(const std::string& path) {
  if (path == "-") {
    if (::isatty(STDIN_FILENO))
      throw usage_error("stdin: is a terminal, not an archive",
                        "pipe an archive in, e.g. `cat ARCHIVE | jellyfin-backup verify -`");
    int fd = ::dup(STDIN_FILENO);
    if (fd < 0) throw io_error("stdin", "cannot use", errno);
    return std::make_unique<FdSource>(UniqueFd(fd), "stdin", std::nullopt);
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    throw io_error(path, "cannot open archive", errno,
                   errno == ENOENT ? "check the path" : "");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw io_error(path, "cannot stat", errno);
  if (S_ISDIR(st.st_mode))
    throw io_error(path, "is a directory, not an archive", 0,
                   "name an archive file (see `jellyfin-backup inspect`)");
  std::optional<std::uint64_t> size;
  if (S_ISREG(st.st_mode)) {
    size = static_cast<std::uint64_t>(st.st_size);
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  return std::make_unique<FdSource>(std::move(fd), path, size);
}

}  // namespace jb
