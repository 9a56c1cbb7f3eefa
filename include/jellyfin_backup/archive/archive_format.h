// The one place that knows the on-disk format of a jellyfin-backup archive.
// The writer (create), the reader and the verifier all include this file;
// README.md ("Archive format") and man/jellyfin-backup.1 describe it in prose.
//
// Format v1, outside in:
//   * zstd: a sequence of independent frames, each with its content checksum.
//     A frame ends at an entry boundary once it holds >= kFrameTargetBytes of
//     tar input, so readers can later decompress frames in parallel or seek.
//     The first frame holds MANIFEST.json alone: reading an archive's
//     manifest costs a few hundred bytes of input. There is no skippable
//     frame (zstd magic 0x184D2A50..5F): readers refuse one anywhere, since
//     `zstd -d` and tar would pass over its content in silence.
//   * POSIX pax tar (libarchive), readable by GNU tar 1.34 and bsdtar.
//   * Entries: kManifestName first, then the config tree under "config/",
//     then the data tree under "data/", each depth-first with children in
//     bytewise order, and kChecksumsName last. Nothing follows the trailer but
//     the tar end-of-archive zero blocks (at most kMaxTarPadding bytes of
//     them).
//   * MANIFEST.json is UTF-8 JSON text: it holds no NUL byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace jb::format {

inline constexpr std::string_view kFormatId = "jellyfin-backup";
inline constexpr int kFormatVersion = 1;

inline constexpr std::string_view kManifestName = "MANIFEST.json";
inline constexpr std::string_view kChecksumsName = "CHECKSUMS.xxh128";
inline constexpr std::string_view kChecksumAlgorithm = "xxh3-128";

// Tree names, in archive order. They double as the top-level directories of
// an extracted archive, matching the hand-made "<backup>/config, <backup>/data"
// layout of Jellyfin's documentation.
inline constexpr std::string_view kConfigTree = "config";
inline constexpr std::string_view kDataTree = "data";

// A new zstd frame starts at the first entry boundary after this much input.
inline constexpr std::uint64_t kFrameTargetBytes = 16u << 20;

inline constexpr int kDefaultLevel = 3;
inline constexpr int kMinLevel = 1;
inline constexpr int kMaxLevel = 19;

// Readers refuse metadata entries larger than these: a hostile archive must
// not make us allocate without bound before anything is verified.
// A real manifest is a few KiB; parsed JSON costs tens of times its size.
inline constexpr std::uint64_t kMaxManifestBytes = 1u << 20;
inline constexpr std::uint64_t kMaxChecksumsBytes = 1ull << 30;

// Everything else a reader keeps per entry is bounded by the manifest's
// counts (more entries or files than it announced are refused as soon as
// they appear) and by these. Jellyfin's trees are < 20 levels deep; deeper
// entries are refused, which keeps an extractor's open directory fds (one
// per level) and per-entry work bounded.
inline constexpr std::size_t kMaxDepth = 256;            // components below the tree root
inline constexpr std::size_t kMaxNameBytes = 255;        // one path component (NAME_MAX)
// The --exclude patterns an archive records (restore matches them against
// the current trees to keep what was left out): create accepts no more.
inline constexpr std::size_t kMaxExcludes = 256;
inline constexpr std::size_t kMaxExcludeBytes = 256;  // one pattern
// Zero bytes a reader accepts after the first end-of-archive block (ours
// write 512 more); two default tar records, so a stream GNU tar padded to
// its 10240-byte records still reads, but no endless stream of zeros does.
inline constexpr std::uint64_t kMaxTarPadding = 20480;

// Archive file names made for a directory --output:
// "jellyfin.<UTC YYYYMMDDTHHMMSSZ>_<version>.tar.zst".
inline constexpr std::string_view kArchivePrefix = "jellyfin.";
inline constexpr std::string_view kArchiveSuffix = ".tar.zst";
inline constexpr std::string_view kUnknownVersion = "unknown";

// What `list` and `prune` take for an archive: a name ending in kArchiveSuffix.
inline bool has_archive_suffix(std::string_view name) {
  return name.size() > kArchiveSuffix.size() && name.substr(name.size() - kArchiveSuffix.size()) == kArchiveSuffix;
}

}  // namespace jb::format
