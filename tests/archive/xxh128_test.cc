#include "jellyfin_backup/archive/xxh128.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

namespace {

// A deterministic, non-trivial buffer (not all one byte value).
std::string pattern(std::size_t size) {
  std::string s(size, '\0');
  std::uint32_t x = 12345;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

}  // namespace

TEST_CASE("known XXH3-128 digests, as printed by xxh128sum", "[xxh128]") {
  // printf '' | xxh128sum ; printf abc | xxh128sum
  CHECK(jb::Xxh128::hex_of("") == "99aa06d3014798d86001c324468d497f");
  CHECK(jb::Xxh128::hex_of("abc") == "06b05ab6733a618578af5f94892f3950");

  jb::Xxh128 h;
  CHECK(h.hex_digest() == "99aa06d3014798d86001c324468d497f");
  h.update("abc", 3);
  CHECK(h.hex_digest() == "06b05ab6733a618578af5f94892f3950");
}

TEST_CASE("hex_digest is 32 lower-case hex digits", "[xxh128]") {
  std::string hex = jb::Xxh128::hex_of(pattern(1000));
  REQUIRE(hex.size() == 32);
  for (char c : hex) CHECK(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
}

TEST_CASE("hex_digest does not consume the state", "[xxh128]") {
  jb::Xxh128 h;
  h.update("ab", 2);
  std::string first = h.hex_digest();
  CHECK(h.hex_digest() == first);
  h.update("c", 1);
  CHECK(h.hex_digest() == jb::Xxh128::hex_of("abc"));
}

TEST_CASE("streaming in pieces equals hashing in one shot", "[xxh128]") {
  // Sizes around XXH3's internal 240-byte / 1 KiB stripe and 256-byte
  // buffer boundaries, and a large one.
  auto size = GENERATE(as<std::size_t>{}, 1, 16, 17, 128, 129, 240, 241, 1024, 1025, 100000);
  auto piece = GENERATE(as<std::size_t>{}, 1, 3, 64, 255, 4096);
  const std::string data = pattern(size);
  const std::string one_shot = jb::Xxh128::hex_of(data);

  jb::Xxh128 h;
  for (std::size_t pos = 0; pos < data.size(); pos += piece)
    h.update(data.data() + pos, std::min(piece, data.size() - pos));
  INFO("size " << size << ", piece " << piece);
  CHECK(h.hex_digest() == one_shot);
}

TEST_CASE("different inputs give different digests", "[xxh128]") {
  std::string a = pattern(4096);
  std::string b = a;
  b[2000] ^= 1;
  CHECK(jb::Xxh128::hex_of(a) != jb::Xxh128::hex_of(b));
  CHECK(jb::Xxh128::hex_of("abc") != jb::Xxh128::hex_of("abd"));
}

TEST_CASE("update_zeros equals hashing a zero buffer", "[xxh128]") {
  // Crosses the 64 KiB chunk size used internally.
  auto size = GENERATE(as<std::uint64_t>{}, 0, 1, 100, 65535, 65536, 65537, 200000);
  const std::string zeros(static_cast<std::size_t>(size), '\0');

  jb::Xxh128 h;
  h.update_zeros(size);
  INFO("size " << size);
  CHECK(h.hex_digest() == jb::Xxh128::hex_of(zeros));
}

TEST_CASE("update_zeros mixes with data like a sparse file", "[xxh128]") {
  // "abc", a 70000-byte hole, "xyz", a trailing 10-byte hole.
  std::string whole = "abc" + std::string(70000, '\0') + "xyz" + std::string(10, '\0');
  jb::Xxh128 h;
  h.update("abc", 3);
  h.update_zeros(70000);
  h.update("xyz", 3);
  h.update_zeros(10);
  CHECK(h.hex_digest() == jb::Xxh128::hex_of(whole));
}

TEST_CASE("reset starts over", "[xxh128]") {
  jb::Xxh128 h;
  h.update("something else entirely", 23);
  h.reset();
  CHECK(h.hex_digest() == jb::Xxh128::hex_of(""));
  h.update("abc", 3);
  CHECK(h.hex_digest() == "06b05ab6733a618578af5f94892f3950");
}
