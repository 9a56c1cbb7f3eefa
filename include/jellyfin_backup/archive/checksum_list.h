// CHECKSUMS.xxh128: one "<32 hex>  <path>" line per regular file, in the
// exact format of xxh128sum so `xxh128sum -c` works inside an extraction.
// Paths that contain a newline cannot be written plainly; they use the GNU
// coreutils escaped form (line starts with '\', "\\" and "\n" in the name),
// which newer xxhsum versions read as well.
#pragma once

#include <cstdint>
#include <functional>
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

// Calls `fn` with each line of the file, in order, holding no more than
// one: what a reader of a hostile list uses. Throws as parse_checksum_list,
// at the first malformed line (the lines before it have been passed on).
void for_each_checksum_line(std::string_view text,
                            const std::function<void(ChecksumLine&&)>& fn);

// Parses the whole file. Throws Error(kDamaged) naming the line number of the
// first malformed line, or of line max_lines + 1 (the caller knows how many
// files the archive holds: a longer list is refused before it is stored);
// hostile input never makes it read out of bounds.
std::vector<ChecksumLine> parse_checksum_list(std::string_view text,
                                              std::size_t max_lines = SIZE_MAX);

}  // namespace jb
