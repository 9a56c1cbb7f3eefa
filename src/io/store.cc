// open_store() and the local kind of Store: a directory on this machine,
// read with the same calls as any other file of ours (open_source,
// AtomicFile), so a local store keeps their guarantees (0600 archives,
// no partial file under a final name, fsync'ed renames).
//
// Anyone who can put a file in the store is untrusted: a name in it may be
// a symlink to anywhere, a FIFO (a read blocks for ever) or a device. So
// every file is opened beneath the directory's fd, never through a
// symlink, non-blocking, and read only once fstat says it is a regular file
// (open_regular_file); list() shows nothing else.
#include "jellyfin_backup/io/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "io/rclone_store.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/atomic_file.h"
#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/io/lock_file.h"

namespace jb {
namespace {

StoredFile stored(const std::string& name, const struct stat& st) {
  return {name, static_cast<std::uint64_t>(st.st_size), st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
          st.st_ctim.tv_sec, st.st_ctim.tv_nsec};
}

class LocalStore : public Store {
 public:
  explicit LocalStore(Location dir) : dir_(std::move(dir)) {}

  const Location& location() const override { return dir_; }

  std::vector<StoredFile> list() const override {
    const DirFd dir = open_dir();
    std::vector<StoredFile> files;
    for (const std::string& name : dir.list()) {
      auto st = dir.stat_at(name);  // nullopt: deleted since the listing
      if (st && S_ISREG(st->st_mode)) files.push_back(stored(name, *st));
    }
    return files;
  }

  std::optional<StoredFile> stat(const std::string& name) const override {
    struct stat st;
    if (::lstat(path_of(name).c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
      throw io_error(display(name), "cannot stat", errno);
    }
    // As list() sees it: only a regular file is a file of the store.
    if (!S_ISREG(st.st_mode)) return std::nullopt;
    return stored(name, st);
  }

  bool exists(const std::string& name) const override {
    struct stat st;
    if (::lstat(path_of(name).c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    throw io_error(display(name), "cannot stat", errno);
  }

  std::unique_ptr<Source> open(const std::string& name,
                               std::optional<std::uint64_t> /*head*/) const override {
    // A missing directory is a missing archive, as a path's open says.
    auto dir = open_dir_if_exists();
    if (!dir) throw io_error(display(name), "cannot open archive", ENOENT, "check the path");
    return open_file_source(*dir, name);
  }

  std::unique_ptr<Sink> create(const std::string& name, std::optional<std::uint64_t> = std::nullopt) const override {
    return std::make_unique<AtomicFile>(AtomicFile::create(path_of(name)));
  }

  std::optional<std::string> read_small(const std::string& name,
                                        std::size_t max_bytes) const override {
    const std::string path = path_of(name);
    auto dir = open_dir_if_exists();
    if (!dir) return std::nullopt;
    UniqueFd fd = open_regular_file(dir->fd(), name);
    if (!fd) {
      if (errno == ENOENT) return std::nullopt;
      // A sidecar that is a symlink, a FIFO or a device was not written by
      // us: never followed, never read (a FIFO would block for ever).
      if (errno == ELOOP || errno == EINVAL || errno == EISDIR)
        throw io_error(path, "not a regular file: not read", 0,
                       "someone else put it there; remove it (verify writes a new one)");
      throw io_error(path, "cannot open", errno);
    }
    // Up to max_bytes + 1, grown as it comes: the cap is a limit, not a size.
    const std::size_t limit = max_bytes == SIZE_MAX ? max_bytes : max_bytes + 1;
    std::string content;
    char buffer[65536];
    while (content.size() < limit) {
      ssize_t n = ::read(fd.get(), buffer, std::min(sizeof buffer, limit - content.size()));
      if (n == 0) break;
      if (n > 0) {
        content.append(buffer, static_cast<std::size_t>(n));
      } else if (errno == EINTR) {
        throw_if_interrupted();
      } else {
        throw io_error(path, "cannot read", errno);
      }
    }
    return content;
  }

  void write_small(const std::string& name, const std::string& content) const override {
    AtomicFile file = AtomicFile::create(path_of(name), AtomicFile::kReplace);
    file.write(content.data(), content.size());
    file.commit();
  }

  void remove(const std::string& name) const override {
    const std::string path = path_of(name);
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) return;
      throw io_error(path, "cannot delete", errno);
    }
    fsync_dir(dir_.path.empty() ? "." : dir_.path);  // a pruned archive stays pruned
  }

  // Keyed by the resolved path, so "out", "./out/" and a symlink to it
  // share one lock; kept outside the directory, which locking never touches.
  std::string lock_path() const override {
    return keyed_lock_path(lock_key(dir_.path.empty() ? "." : dir_.path));
  }

 private:
  // The directory itself, as the user named it: its path is trusted (like a
  // tree's root), what is in it is not. Throws Error(kUsage) when it is
  // missing or not a directory.
  DirFd open_dir() const {
    if (auto dir = open_dir_if_exists()) return std::move(*dir);
    if (errno == ENOTDIR) throw usage_error(dir_.display() + ": not a directory", "name a directory of archives");
    throw usage_error(dir_.display() + ": no such directory", "check the path");
  }
  // Same, but nullopt (errno ENOENT or ENOTDIR) when it is missing or not a
  // directory.
  std::optional<DirFd> open_dir_if_exists() const {
    const std::string dir = dir_.path.empty() ? "." : dir_.path;
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd) return DirFd(std::move(fd), dir_.display());
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw io_error(dir_.display(), "cannot open directory", errno);
  }

  std::string path_of(const std::string& name) const { return join(dir_, name).path; }

  Location dir_;
};

}  // namespace

std::unique_ptr<Store> open_store(const Location& dir) {
  if (dir.is_stdio())
    throw usage_error("-: standard input/output is not a directory of archives",
                      "name a directory, or rclone:REMOTE:path");
  if (dir.is_rclone()) return make_rclone_store(dir);
  return std::make_unique<LocalStore>(dir);
}

}  // namespace jb
