// The sidecar "<archive>.xxh128": one xxh128sum line over the whole archive
// file, "<32 hex>  <archive file name>\n", so a copy anywhere can be checked
// with standard tools: `cd DIR && xxh128sum -c ARCHIVE.xxh128`.
// `create`, and every successful `verify` and `copy`, write it; `list`
// reads it to mark archives as verified.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "jellyfin_backup/archive/xxh128.h"
#include "jellyfin_backup/io/sink.h"
#include "jellyfin_backup/io/source.h"

namespace jb {

class Store;

// "<archive_name>.xxh128"
std::string sidecar_name(const std::string& archive_name);

// "<hex>  <archive_name>\n" (xxh128sum's format, escaped form for odd names).
std::string format_sidecar(const std::string& hex, const std::string& archive_name);

// The hash, when `text` is exactly one well-formed line naming
// `archive_name` (a path with directories is accepted if its last
// component is the name); nullopt otherwise.
std::optional<std::string> parse_sidecar(const std::string& text, const std::string& archive_name);

// The largest sidecar we read (a real one is ~100 bytes).
inline constexpr std::size_t kMaxSidecarBytes = 4096;

// Writes (replacing) the sidecar of `archive_name` in `store`.
void write_sidecar(const Store& store, const std::string& archive_name, const std::string& hex);

// Passes reads through and hashes every byte (the whole-file hash of what
// was read, for the sidecar).
class HashingSource : public Source {
 public:
  explicit HashingSource(Source& inner) : inner_(inner) {}
  std::size_t read(void* buffer, std::size_t size) override;
  const std::string& name() const override { return inner_.name(); }
  std::optional<std::uint64_t> size() const override { return inner_.size(); }
  std::string hex_digest() const { return hash_.hex_digest(); }
  std::uint64_t bytes() const { return bytes_; }

 private:
  Source& inner_;
  Xxh128 hash_;
  std::uint64_t bytes_ = 0;
};

// Passes writes through and hashes every byte.
class HashingSink : public Sink {
 public:
  explicit HashingSink(Sink& inner) : inner_(inner) {}
  void write(const void* data, std::size_t size) override;
  void commit() override { inner_.commit(); }
  std::string name() const override { return inner_.name(); }
  std::string hex_digest() const { return hash_.hex_digest(); }
  std::uint64_t bytes() const { return bytes_; }

 private:
  Sink& inner_;
  Xxh128 hash_;
  std::uint64_t bytes_ = 0;
};

}  // namespace jb
