// The paths of an archive's entries seen so far, kept as a tree of path
// components, so that the checks every entry needs ("seen before?", "does
// it lie beneath an entry that is not a directory?") cost one pass over its
// name, whatever its depth. A set of full paths costs a hash of every
// prefix: quadratic in the depth, which a hostile archive of 20,000 nested
// directories turns into hours.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace jb {

class EntryPaths {
 public:
  enum class Outcome {
    kAdded,
    kDuplicate,        // the path was added before
    kBeneathNonDir,    // a prefix of it is an entry that is not a directory
    kNonDirOverEntries // it is not a directory, yet entries beneath it were added
  };

  EntryPaths();

  // Adds `path` ("a/b/c": no empty, "." or ".." components; the caller
  // checked) unless one of the other outcomes applies; then nothing changes.
  // For kBeneathNonDir, `*blocking` gets the offending prefix.
  Outcome add(std::string_view path, bool is_dir, std::string* blocking = nullptr);

  std::size_t size() const { return added_; }

 private:
  struct Node {
    bool added = false;     // an entry of its own (not only a parent of one)
    bool non_dir = false;   // that entry is not a directory
    bool has_children = false;
  };
  // The child `name` of node `parent`, or kNone.
  std::uint32_t find(std::uint32_t parent, std::string_view name) const;
  static std::string key(std::uint32_t parent, std::string_view name);

  static constexpr std::uint32_t kNone = UINT32_MAX;
  std::vector<Node> nodes_;                                // [0] is the root
  std::unordered_map<std::string, std::uint32_t> children_;  // key(parent, name) -> node
  std::size_t added_ = 0;
};

}  // namespace jb
