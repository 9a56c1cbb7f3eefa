// Streaming XXH3-128, the per-file checksum of the archive format.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <xxhash.h>

namespace jb {

class Xxh128 {
 public:
  Xxh128();
  void update(const void* data, std::size_t size);
  // Feeds `size` zero bytes: the holes of a sparse file hash as zeros.
  void update_zeros(std::uint64_t size);
  // Lower-case hex of the canonical (big-endian) form, as xxh128sum prints it.
  std::string hex_digest() const;
  void reset();

  static std::string hex_of(std::string_view data);

 private:
  struct StateDeleter {
    void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
  };
  std::unique_ptr<XXH3_state_t, StateDeleter> state_;
};

}  // namespace jb
