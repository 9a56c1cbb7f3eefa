// Where archive bytes go. The core streams into a Sink and never needs to
// know whether it is a local file written atomically or standard output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "jellyfin_backup/io/unique_fd.h"

namespace jb {

class Sink {
 public:
  virtual ~Sink() = default;
  // Writes all of `data` or throws Error.
  virtual void write(const void* data, std::size_t size) = 0;
  // Makes everything written durable and visible under the final name.
  // Until commit() returns, no complete-looking output exists.
  virtual void commit() = 0;
  // Human-readable name for messages ("stdout" or the final path).
  virtual std::string name() const = 0;
};

// Writes to a descriptor it does not own (standard output).
class FdSink : public Sink {
 public:
  FdSink(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  void write(const void* data, std::size_t size) override;
  void commit() override {}
  std::string name() const override { return name_; }

 private:
  int fd_;
  std::string name_;
};

// Loops over short writes and EINTR; throws io_error naming `name`.
void write_all(int fd, const void* data, std::size_t size, const std::string& name);

}  // namespace jb
