// Where archive bytes come from: a local file, standard input or an rclone
// remote. Readers of an archive stream from a Source and never seek, so a
// pipe works as well as a file.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "jellyfin_backup/io/location.h"
#include "jellyfin_backup/io/unique_fd.h"

namespace jb {

class Source {
 public:
  virtual ~Source() = default;
  // Reads up to `size` bytes; 0 means end of input. Throws Error on I/O errors.
  virtual std::size_t read(void* buffer, std::size_t size) = 0;
  // For messages: the path, or "stdin".
  virtual const std::string& name() const = 0;
  // Total size when known (a regular file).
  virtual std::optional<std::uint64_t> size() const = 0;
};

class FdSource : public Source {
 public:
  FdSource(UniqueFd fd, std::string name, std::optional<std::uint64_t> size)
      : fd_(std::move(fd)), name_(std::move(name)), size_(size) {}
  std::size_t read(void* buffer, std::size_t size) override;
  const std::string& name() const override { return name_; }
  std::optional<std::uint64_t> size() const override { return size_; }

 private:
  UniqueFd fd_;
  std::string name_;
  std::optional<std::uint64_t> size_;
};

// Bytes already in memory (an archive's head fetched with others).
class StringSource : public Source {
 public:
  StringSource(std::string_view bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {}
  std::size_t read(void* buffer, std::size_t size) override;
  const std::string& name() const override { return name_; }
  std::optional<std::uint64_t> size() const override { return bytes_.size(); }

 private:
  std::string_view bytes_;  // not owned
  std::string name_;
};

// Reads `inner` and remembers what it read, until rewind(); then serves the
// remembered bytes again before reading on. A stream's head read twice
// without reading its source twice (a pipe cannot be): restore reads an
// archive's manifest before it stops the server, and again as the start of
// its one verifying pass. Remembering more than `limit` bytes is
// Error(kDamaged): the head of an archive is bounded by what a manifest may
// be.
class RewindSource : public Source {
 public:
  RewindSource(std::unique_ptr<Source> inner, std::size_t limit) : inner_(std::move(inner)), limit_(limit) {}
  std::size_t read(void* buffer, std::size_t size) override;
  const std::string& name() const override { return inner_->name(); }
  std::optional<std::uint64_t> size() const override { return inner_->size(); }
  // From now on, reads start again at byte 0. Once only.
  void rewind();

 private:
  std::unique_ptr<Source> inner_;
  std::size_t limit_;
  std::string head_;
  std::size_t replayed_ = 0;
  bool rewound_ = false;
};

// "-" is standard input (refused with a usage error when it is a terminal);
// "rclone:REMOTE:path" a file on an rclone remote (see location.h);
// anything else a file path. Throws Error(kRuntime) if it cannot be opened,
// a missing file included, local or remote ("cannot open archive ...;
// check the path").
std::unique_ptr<Source> open_source(const std::string& path);
std::unique_ptr<Source> open_source(const Location& location);

// A local file (never standard input), as open_source opens one: only a
// regular file, never through a symlink in its last component, opened
// non-blocking so that a FIFO or a device put in its place cannot block us
// (open_regular_file). A symlink or a non-regular file is Error(kRefused),
// naming it and pointing at `-` for streams; a directory or a missing file
// is Error(kRuntime).
std::unique_ptr<Source> open_file_source(const std::string& path);
// Likewise the file `name` in `dir` (a backup directory held open).
class DirFd;
std::unique_ptr<Source> open_file_source(const DirFd& dir, const std::string& name);
// The one both use: `name` relative to `dir_fd` (AT_FDCWD for a path),
// shown as `display` in messages.
std::unique_ptr<Source> open_file_source(int dir_fd, const std::string& name, const std::string& display);

}  // namespace jb
