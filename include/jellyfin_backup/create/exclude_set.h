// --exclude patterns. A pattern without '/' matches an entry's base name at
// any depth ("*.log", "transcodes"); a pattern with '/' matches the whole
// archive path ("data/metadata/*", "config/*.xml") and '*' crosses '/'. A
// trailing '/' restricts a pattern to directories. The tree roots themselves
// ("config", "data") are never excluded. An excluded directory takes
// everything below it along.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace jb {

class ExcludeSet {
 public:
  ExcludeSet() = default;
  explicit ExcludeSet(std::vector<std::string> patterns);

  bool excluded(std::string_view archive_path, bool is_dir) const;
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  struct Rule {
    std::string glob;
    bool whole_path;
    bool dirs_only;
  };
  std::vector<std::string> patterns_;
  std::vector<Rule> rules_;
};

}  // namespace jb
