// Writes the entries the Verifier accepted into staging directories, safely
// against hostile archives even though the Verifier has already judged them:
//   * every path is resolved component by component from the staging
//     directory's fd with openat(O_DIRECTORY | O_NOFOLLOW): a symlink in the
//     way is an error, never followed;
//   * every entry is created with O_EXCL / mkdirat / symlinkat / linkat, so
//     nothing existing is ever written through or over;
//   * a hardlink may only point at a file of the same tree made earlier;
//   * data beyond the size the header states is refused;
//   * device nodes are made, and setuid/setgid bits kept, only as root.
// Ownership (root only), permissions, mtimes (ns) and xattrs are restored;
// directories get theirs last, deepest first, after their contents.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jellyfin_backup/archive/tar_reader.h"
#include "jellyfin_backup/io/unique_fd.h"
#include "jellyfin_backup/reporter.h"

namespace jb {

struct ExtractTarget {
  std::string tree;     // "config" or "data"
  int root_fd = -1;     // the staging directory (not owned)
  std::string display;  // its path, for messages
};

class SafeExtractor {
 public:
  // `targets` lists the trees to extract; entries of other trees are skipped.
  SafeExtractor(std::vector<ExtractTarget> targets, Reporter& reporter);

  void begin_entry(archive_entry* entry);
  void data(const DataBlock& block);
  void end_entry();
  // Applies the deferred directory metadata. Call once, after the last entry.
  void finish();

  std::uint64_t files() const { return files_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  struct Meta {
    mode_t mode = 0;
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    timespec mtime{};
    std::vector<std::pair<std::string, std::string>> xattrs;
  };
  struct DeferredDir {
    std::size_t target;
    std::string rel;
    Meta meta;
  };

  Meta meta_of(archive_entry* entry);
  // The directory `rel` of target `t`, resolved without following links;
  // missing components are created (mode 0700) when `create`. The fd stays
  // valid until the next call.
  int open_dir(std::size_t t, const std::string& rel, bool create);
  void apply_to_fd(int fd, const Meta& meta, const std::string& display);
  void apply_xattrs(int fd, const Meta& meta, const std::string& display);
  [[noreturn]] void unsafe(const std::string& why);
  [[noreturn]] void io_failure(const std::string& what, int err);

  std::vector<ExtractTarget> targets_;
  Reporter& reporter_;
  bool root_;
  std::map<std::string, std::optional<uid_t>> users_;
  std::map<std::string, std::optional<gid_t>> groups_;
  std::vector<DeferredDir> dirs_;
  // The directories from the root of target chain_target_ down to the
  // parent used last, one open fd per level: entries arrive depth first, so
  // the next entry's parent shares most of them. At most format::kMaxDepth.
  struct OpenDir {
    std::string name;
    UniqueFd fd;
  };
  std::size_t chain_target_ = SIZE_MAX;
  std::vector<OpenDir> chain_;

  // The entry being extracted.
  std::string path_;
  UniqueFd file_;
  std::uint64_t size_ = 0;
  Meta meta_;
  bool skip_ = true;
  std::uint64_t files_ = 0, bytes_ = 0;
};

}  // namespace jb
