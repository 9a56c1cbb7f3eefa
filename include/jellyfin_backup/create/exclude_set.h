// --exclude patterns. A pattern without '/' matches an entry's base name at
// any depth ("*.log", "transcodes"); a pattern with '/' matches the whole
// archive path ("data/metadata/*", "config/*.xml") and '*' crosses '/'. A
// trailing '/' restricts a pattern to directories. The tree roots themselves
// ("config", "data") are never excluded. An excluded directory takes
// everything below it along.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "jellyfin_backup/create/glob.h"

namespace jb {

// At most format::kMaxExcludes patterns of format::kMaxExcludeBytes each.
class ExcludeSet {
 public:
  ExcludeSet() = default;
  explicit ExcludeSet(std::vector<std::string> patterns);

  bool excluded(std::string_view archive_path, bool is_dir) const { return match(archive_path, is_dir) != nullptr; }
  // The first pattern that excludes the entry, as given; nullptr if none.
  // `steps`, if given, is increased by the matching work (glob.h).
  const std::string* match(std::string_view archive_path, bool is_dir, std::uint64_t* steps = nullptr) const;
  bool empty() const { return rules_.empty(); }
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  struct Rule {
    std::string glob;
    bool whole_path;
    bool dirs_only;
    Glob matcher;
  };
  std::vector<std::string> patterns_;
  std::vector<Rule> rules_;
};

}  // namespace jb
