#include "jellyfin_backup/io/source.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::test::error_of;

namespace {

// Reads `source` to its end, `chunk` bytes at a time.
std::string read_all(jb::Source& source, std::size_t chunk) {
  std::string out, buf(chunk, '\0');
  while (std::size_t n = source.read(buf.data(), buf.size())) out.append(buf.data(), n);
  return out;
}

}  // namespace

TEST_CASE("RewindSource serves the head again, then reads on", "[source]") {
  const std::string bytes = "0123456789abcdefghijklmnopqrstuvwxyz";
  jb::RewindSource source(std::make_unique<jb::StringSource>(bytes, "stdin"), 64);
  char head[10];
  REQUIRE(source.read(head, 4) == 4);
  REQUIRE(source.read(head + 4, 6) == 6);
  CHECK(std::string(head, 10) == "0123456789");
  source.rewind();
  // Smaller and larger reads than the remembered head: every byte, once.
  CHECK(read_all(source, 3) == bytes);
  CHECK(source.name() == "stdin");
}

TEST_CASE("RewindSource remembers no more than its limit", "[source]") {
  const std::string bytes(100, 'x');
  jb::RewindSource source(std::make_unique<jb::StringSource>(bytes, "a.tar.zst"), 16);
  char buf[64];
  REQUIRE(source.read(buf, 16) == 16);
  const jb::Error e = error_of([&] { source.read(buf, 64); });
  CHECK(e.kind() == jb::ErrorKind::kDamaged);
  CHECK(std::string(e.what()).find("a.tar.zst") != std::string::npos);
}

TEST_CASE("RewindSource after rewind reads past its limit freely", "[source]") {
  const std::string bytes(100, 'y');
  jb::RewindSource source(std::make_unique<jb::StringSource>(bytes, "s"), 8);
  char buf[8];
  REQUIRE(source.read(buf, 8) == 8);
  source.rewind();
  CHECK(read_all(source, 7) == bytes);
}
