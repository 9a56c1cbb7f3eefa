// A directory of archives, local or on an rclone remote: what `list`,
// `prune`, `copy` and `create --output DIR` work on. The commands never ask
// which kind it is.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/io/location.h"
#include "jellyfin_backup/io/sink.h"
#include "jellyfin_backup/io/source.h"

namespace jb {

struct StoredFile {
  std::string name;         // no directory part
  std::uint64_t size = 0;
  std::int64_t mtime = 0;   // unix seconds; 0 when unknown
  std::int64_t mtime_nsec = 0;
  // Status change time, which no one can set: 0 when unknown (a remote).
  std::int64_t ctime = 0;
  std::int64_t ctime_nsec = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // The directory as the user writes it: "/srv/backups", "rclone:s3:bucket/jb".
  virtual const Location& location() const = 0;
  // A file in it, as the user writes it: "/srv/backups/x.tar.zst".
  std::string display(const std::string& name) const { return join(location(), name).display(); }

  // The regular files directly in the directory (hidden ones too), in no
  // particular order. Throws Error(kUsage) when the directory does not
  // exist or is not a directory ("create it first"), kRuntime otherwise.
  virtual std::vector<StoredFile> list() const = 0;
  // One file; nullopt when it does not exist.
  virtual std::optional<StoredFile> stat(const std::string& name) const = 0;
  // Whether anything at all is under `name`, also what list() leaves out (a
  // symlink, a directory): before deleting what would otherwise be an
  // orphan's sidecar.
  virtual bool exists(const std::string& name) const { return stat(name).has_value(); }

  // Reads a file. `head`: the reader needs only about that many first
  // bytes (a remote then fetches only those; a local file ignores it).
  virtual std::unique_ptr<Source> open(const std::string& name,
                                       std::optional<std::uint64_t> head = std::nullopt) const = 0;
  // Writes a new file atomically: nothing under `name` before commit(),
  // an existing `name` is never replaced (Error(kRuntime) "already exists"),
  // and without commit() nothing is left behind. `size`, when the writer
  // knows it (a copy), lets a remote that cannot take a stream of unknown
  // length (WebDAV) stream anyway instead of rclone spooling it to disk.
  virtual std::unique_ptr<Sink> create(const std::string& name,
                                       std::optional<std::uint64_t> size = std::nullopt) const = 0;

  // Small files (sidecars): the content, or nullopt when missing. Reads at
  // most max_bytes + 1 bytes, so a caller can tell an oversized file.
  virtual std::optional<std::string> read_small(const std::string& name, std::size_t max_bytes) const = 0;
  // Several files at once, concatenated in no promised order, in one run
  // of rclone instead of one each; nullopt where one read each costs no
  // more (a local directory). With `head`, only the first `head` bytes of
  // each (all of a shorter one). Missing files add nothing; stops after
  // `max_total` bytes. Only for contents that say which file they came from.
  virtual std::optional<std::string> read_concatenated(const std::vector<std::string>& /*names*/,
                                                       std::optional<std::size_t> /*head*/,
                                                       std::size_t /*max_total*/) const {
    return std::nullopt;
  }
  // Replaces `name` atomically with `content` (temporary + rename).
  virtual void write_small(const std::string& name, const std::string& content) const = 0;
  // Deletes a file; a missing file is not an error.
  virtual void remove(const std::string& name) const = 0;

  // The lock file that keeps two writing runs (create, copy, prune) on this
  // directory apart: keyed_lock_path() of the resolved local path, or of the
  // remote. It lives in the machine's lock directory, so runs on other
  // machines are not seen, and locking never touches the directory.
  virtual std::string lock_path() const = 0;
};

// A local directory or an rclone remote directory. Does not touch it:
// errors come from the first operation. Throws Error(kUsage) for stdio.
std::unique_ptr<Store> open_store(const Location& dir);

}  // namespace jb
