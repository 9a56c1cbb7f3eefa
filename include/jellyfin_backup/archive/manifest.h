// MANIFEST.json, the first entry of every archive: what was backed up, from
// where, by which Jellyfin version, and how. Counts and sizes come from the
// stat-only walk done before streaming, so a reader can check them exactly
// (and restore can check free space) before reading any file data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace jb {

struct ManifestTree {
  std::string name;      // "config" or "data": the top-level archive directory
  std::string source;    // absolute path the tree was read from
  std::uint64_t files = 0;    // regular-file entries, hardlinks included
  std::uint64_t bytes = 0;    // sum of stored regular file sizes
  std::uint64_t entries = 0;  // every entry of the tree, directories included
  // Where the tree lay inside the other one on the source (official Docker
  // image: config inside data at "config"); stored once, under its own name.
  std::optional<std::string> inside = {};  // the enclosing tree's name
  std::string inside_path = {};            // relative to the enclosing tree
};

// A directory inside a tree that create left out on purpose (Jellyfin's log,
// cache or transcode directory): regenerable, often large.
struct LeftOut {
  std::string kind;    // "log", "cache", "transcodes", "previous tree" (kept by a restore)
  std::string path;    // archive path it would have had: "data/log"
  std::string source;  // where it was on disk
};

struct Manifest {
  int format_version = 0;
  std::string tool_version;
  std::string created;  // UTC, ISO 8601, "2026-11-25T10:15:00Z"
  std::string host;
  std::optional<std::string> app_version;         // Jellyfin version, if known
  std::optional<std::string> app_version_source;  // where the version came from
  std::vector<ManifestTree> trees;
  std::vector<std::string> excludes;
  std::vector<LeftOut> left_out;
  // Set when --force overrode a safety check (a running server): what it was.
  std::optional<std::string> forced;
  int compression_level = 0;
  std::uint64_t frame_bytes = 0;

  const ManifestTree* find_tree(std::string_view name) const;
  std::uint64_t total_files() const;
  std::uint64_t total_bytes() const;

  nlohmann::json to_json() const;
  // The exact bytes stored in the archive (pretty-printed, final newline).
  std::string serialize() const;

  // Validates as well as parses: throws Error(kDamaged) for anything that is
  // not a well-formed manifest of a format version this tool reads.
  static Manifest parse(std::string_view text);
};

}  // namespace jb
