// The one judge of "this archive is good", shared by every command that
// reads an archive (verify and inspect now, restore later: restore is
// "verify, plus write"). It sees entries in archive order and checks:
//   * MANIFEST.json first, valid, of a format version this tool reads;
//   * every path safe (relative, no "." / ".." / empty components), inside
//     a tree the manifest lists, and not beneath an earlier entry that is not
//     a directory (a symlink there would redirect an extractor); no
//     duplicates; only supported entry types; hardlinks only to a regular
//     file earlier in the same tree;
//   * every regular file hashed (holes of sparse files as zeros) and equal to
//     its CHECKSUMS.xxh128 line; every listed file present, every file listed;
//   * per-tree file, byte and entry counts equal to the manifest's;
//   * CHECKSUMS.xxh128 last: nothing after it.
//   * what the archive makes a reader keep is bounded by what the manifest
//     announced: more entries or files in a tree than it states, a checksum
//     list longer than the files seen can need, a path deeper than
//     format::kMaxDepth are refused as soon as they are seen, and reading
//     stops there (stopped()): a hostile archive cannot make us allocate or
//     work first and judge later.
//   * device nodes and setuid/setgid regular files: for a restore, refused
//     (and reading stops) unless the policy allows them; otherwise noted
//     (notes()), as they are not damage.
// Problems that concern one entry are recorded and the walk goes on, so the
// report can count bad entries; a missing or invalid manifest throws
// Error(kDamaged) because nothing after it can be judged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "jellyfin_backup/archive/entry_paths.h"
#include "jellyfin_backup/archive/manifest.h"
#include "jellyfin_backup/archive/tar_reader.h"
#include "jellyfin_backup/archive/xxh128.h"

namespace jb {

// What a problem says about the archive, for callers that act on it
// (restore --skip-damaged may restore around content damage, nothing else).
enum class ProblemKind {
  kStructure,  // unsafe, malformed or unreadable: the archive as a whole is suspect
  kContent,    // a file's content does not match its checksum, or has none, or is missing
  kCount,      // a tree's counts differ from the manifest's (what content damage entails)
  kFrame,      // a zstd frame failed its checksum (the file checksums say which files)
};

struct Problem {
  std::uint64_t entry_index = 0;  // archive order, for "first bad entry"
  std::string path;               // entry path; empty for archive-wide problems
  std::string problem;
  std::string expected;  // for checksum and count mismatches
  std::string actual;
  ProblemKind kind = ProblemKind::kStructure;
};

// "<path>: <problem> (expected X, actual Y)", the one line users see.
std::string describe_problem(const Problem& problem);

// What the reader will do with the entries it is given.
struct VerifierPolicy {
  enum class Special {
    kNote,    // verify, copy: device nodes and setuid/setgid files are notes
    kRefuse,  // restore: they are refused, naming the first
    kAllow,   // restore --allow-special: extracted as archived, and noted
  };
  Special special = Special::kNote;
};

class Verifier {
 public:
  explicit Verifier(VerifierPolicy policy = {}) : policy_(policy) {}

  // Returns false when the entry is unsafe or out of place: an extractor must
  // not write it.
  bool begin_entry(archive_entry* entry);
  // Whether the entry begun last belongs to a tree (config/..., data/...),
  // as opposed to MANIFEST.json or CHECKSUMS.xxh128.
  bool in_tree() const { return in_tree_; }
  // The tree of that entry ("config" or "data").
  const std::string& tree() const { return tree_; }
  void data(const DataBlock& block);
  void end_entry();
  // Records a failure of the stream itself (zstd or tar damage); nothing
  // more can be read after it. With `in_entry`, it is the current entry's
  // data that is damaged; otherwise the damage lies after it (a zstd frame
  // holds whole entries, so a frame that fails its checksum after the
  // current entry began does not make that entry suspect).
  void stream_failed(const std::string& message, bool in_entry = true);
  // A problem of the archive as a whole (a zstd frame that failed its
  // checksum); reported after the entries it may explain.
  void archive_problem(const std::string& message) { add("", message, {}, {}, ProblemKind::kFrame); }
  // After the end-of-archive marker: completeness checks. Sorts problems into
  // archive order.
  void finish();

  // The archive went beyond what may be read (see above): the reader must
  // stop before the entry's data, and finish().
  bool stopped() const { return stopped_; }

  const std::optional<Manifest>& manifest() const { return manifest_; }
  const std::vector<Problem>& problems() const { return problems_; }
  // Special files accepted (policy kNote or kAllow), in archive order.
  const std::vector<Problem>& notes() const { return notes_; }
  bool ok() const { return problems_.empty(); }
  // Entries with at least one problem.
  std::uint64_t bad_entries() const;
  std::uint64_t files_verified() const { return files_; }
  std::uint64_t bytes_verified() const { return bytes_; }
  std::uint64_t entries() const { return index_; }

 private:
  enum class Kind { kManifest, kChecksums, kFile, kOther };
  struct TreeCount {
    std::uint64_t files = 0, bytes = 0, entries = 0;
  };
  struct FileSum {
    std::uint64_t entry_index;
    std::string hex;
    bool listed = false;  // its CHECKSUMS.xxh128 line was seen
  };

  void add(std::string path, std::string problem, std::string expected = {},
           std::string actual = {}, ProblemKind kind = ProblemKind::kStructure);
  void add_at(std::uint64_t index, std::string path, std::string problem,
              std::string expected = {}, std::string actual = {},
              ProblemKind kind = ProblemKind::kStructure);
  bool check_path(const std::string& path);
  bool check_counts(const ManifestTree& tree, bool file);
  bool check_special(archive_entry* entry);
  void refuse(std::string problem, std::string expected = {}, std::string actual = {});
  void add_sum(const std::string& path, std::uint64_t entry_index, std::string hex);
  void compare_checksums();
  void compare_counts();

  VerifierPolicy policy_;
  std::optional<Manifest> manifest_;
  std::optional<std::string> checksums_text_;
  std::vector<Problem> problems_;
  std::vector<Problem> notes_;
  std::unordered_map<std::string, FileSum> sums_;   // regular files seen
  // The most CHECKSUMS.xxh128 can need for sums_: each line escaped.
  std::uint64_t checksums_budget_ = 0;
  EntryPaths paths_;                                // every tree path seen
  std::unordered_map<std::string, TreeCount> counts_;
  bool stopped_ = false;
  std::uint64_t index_ = 0;  // entries begun
  std::uint64_t files_ = 0, bytes_ = 0;

  // The entry being read.
  Kind kind_ = Kind::kOther;
  std::string path_;
  std::string tree_;
  std::uint64_t size_ = 0;
  std::uint64_t position_ = 0;
  bool hashing_ = false;
  bool in_tree_ = false;
  Xxh128 hash_;
  std::string buffer_;  // content of MANIFEST.json / CHECKSUMS.xxh128
  bool stream_broken_ = false;
};

}  // namespace jb
