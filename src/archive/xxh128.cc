#include "jellyfin_backup/archive/xxh128.h"

#include <algorithm>
#include <new>

namespace jb {

Xxh128::Xxh128() : state_(XXH3_createState()) {
  if (!state_) throw std::bad_alloc();
  reset();
}

void Xxh128::reset() { XXH3_128bits_reset(state_.get()); }

void Xxh128::update(const void* data, std::size_t size) {
  XXH3_128bits_update(state_.get(), data, size);
}

void Xxh128::update_zeros(std::uint64_t size) {
  static const char kZeros[64 * 1024] = {};
  while (size > 0) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size, sizeof kZeros));
    update(kZeros, n);
    size -= n;
  }
}

std::string Xxh128::hex_digest() const {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state_.get()));
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (unsigned char byte : canonical.digest) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 15]);
  }
  return out;
}

std::string Xxh128::hex_of(std::string_view data) {
  Xxh128 h;
  h.update(data.data(), data.size());
  return h.hex_digest();
}

}  // namespace jb
