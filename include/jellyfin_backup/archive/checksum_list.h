// CHECKSUMS.xxh128: one "<32 hex>  <path>" line per regular file, in the
// exact format of xxh128sum so `xxh128sum -c` works inside an extraction.
// Paths that contain a newline cannot be written plainly; they use the GNU
// coreutils escaped form (line starts with '\', "\\" and "\n" in the name),
// which newer xxhsum versions read as well.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jb {

struct ChecksumLine {
  std::string hex;   // 32 lower-case hex digits
  std::string path;  // raw bytes, relative to the extraction root
};

// Formats one line, newline included.
std::string format_checksum_line(std::string_view hex, std::string_view path);

// Parses the whole file. Throws Error(kDamaged) naming the line number of the
// first malformed line; hostile input never makes it read out of bounds.
std::vector<ChecksumLine> parse_checksum_list(std::string_view text);

}  // namespace jb
