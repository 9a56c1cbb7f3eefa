#include "jellyfin_backup/io/sink.h"

#include <cerrno>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"

namespace jb {

void write_all(int fd, const void* data, std::size_t size, const std::string& name) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write_interruptibly(fd, p, size);
    if (n < 0) {
      if (errno == EPIPE)
        throw io_error(name, "cannot write", errno, "the reading end of the pipe went away");
      throw io_error(name, "cannot write", errno);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void FdSink::write(const void* data, std::size_t size) { write_all(fd_, data, size, name_); }

}  // namespace jb
