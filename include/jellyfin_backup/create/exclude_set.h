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

// A glob compiled once: fnmatch(3) semantics without flags ('*' and '?'
// match any character, '/' and a leading '.' included; "[...]" sets with
// ranges, negation and "[:name:]" classes; a backslash quotes), matched in
// O(pattern x subject) time.
struct GlobToken {
  enum Kind { kLiteral, kAny, kStar, kClass } kind;
  std::string text;  // kLiteral: the character; kClass: the set, brackets removed
  bool negate;       // kClass
};
std::vector<GlobToken> compile_glob(std::string_view glob);
bool glob_matches(const std::vector<GlobToken>& pattern, std::string_view subject);

// At most format::kMaxExcludes patterns of format::kMaxExcludeBytes each.
class ExcludeSet {
 public:
  ExcludeSet() = default;
  explicit ExcludeSet(std::vector<std::string> patterns);

  bool excluded(std::string_view archive_path, bool is_dir) const { return match(archive_path, is_dir) != nullptr; }
  // The first pattern that excludes the entry, as given; nullptr if none.
  const std::string* match(std::string_view archive_path, bool is_dir) const;
  bool empty() const { return rules_.empty(); }
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  struct Rule {
    std::string glob;
    bool whole_path;
    bool dirs_only;
    std::vector<GlobToken> tokens;
  };
  std::vector<std::string> patterns_;
  std::vector<Rule> rules_;
};

}  // namespace jb
