#include "jellyfin_backup/create/exclude_set.h"

#include <cctype>
#include <cstring>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/error.h"

namespace jb {
namespace {

// One character of a bracket expression: "[abc]", "[!a-z]", "[[:digit:]_]".
bool class_contains(std::string_view cls, unsigned char c) {
  static const struct {
    const char* name;
    int (*test)(int);
  } kNamed[] = {{"alnum", isalnum}, {"alpha", isalpha}, {"blank", isblank}, {"cntrl", iscntrl},
                {"digit", isdigit}, {"graph", isgraph}, {"lower", islower}, {"print", isprint},
                {"punct", ispunct}, {"space", isspace}, {"upper", isupper}, {"xdigit", isxdigit}};
  for (std::size_t i = 0; i < cls.size();) {
    if (cls.compare(i, 2, "[:") == 0) {
      const std::size_t end = cls.find(":]", i + 2);
      if (end != std::string_view::npos) {
        const std::string name(cls.substr(i + 2, end - i - 2));
        for (const auto& n : kNamed)
          if (name == n.name && n.test(c)) return true;
        i = end + 2;
        continue;
      }
    }
    unsigned char lo = static_cast<unsigned char>(cls[i]);
    if (lo == '\\' && i + 1 < cls.size()) lo = static_cast<unsigned char>(cls[++i]);
    ++i;
    if (i + 1 < cls.size() && cls[i] == '-') {
      unsigned char hi = static_cast<unsigned char>(cls[i + 1]);
      if (hi == '\\' && i + 2 < cls.size()) hi = static_cast<unsigned char>(cls[++i + 1]);
      i += 2;
      if (lo <= c && c <= hi) return true;
    } else if (c == lo) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<GlobToken> compile_glob(std::string_view glob) {
  std::vector<GlobToken> out;
  for (std::size_t i = 0; i < glob.size(); ++i) {
    const char c = glob[i];
    if (c == '*') {
      if (out.empty() || out.back().kind != GlobToken::kStar) out.push_back({GlobToken::kStar, {}, false});
    } else if (c == '?') {
      out.push_back({GlobToken::kAny, {}, false});
    } else if (c == '\\' && i + 1 < glob.size()) {
      out.push_back({GlobToken::kLiteral, std::string(1, glob[++i]), false});
    } else if (c == '[') {
      // As fnmatch: "[!" or "[^" negates, a ']' right after opens the set,
      // "[:name:]" is a named class; without a closing ']' it is a literal.
      std::size_t j = i + 1;
      const bool negate = j < glob.size() && (glob[j] == '!' || glob[j] == '^');
      if (negate) ++j;
      const std::size_t first = j;
      if (j < glob.size() && glob[j] == ']') ++j;
      while (j < glob.size() && glob[j] != ']') {
        if (glob.compare(j, 2, "[:") == 0) {
          const std::size_t end = glob.find(":]", j + 2);
          if (end != std::string_view::npos) {
            j = end + 2;
            continue;
          }
        }
        if (glob[j] == '\\' && j + 1 < glob.size()) ++j;
        ++j;
      }
      if (j >= glob.size()) {
        out.push_back({GlobToken::kLiteral, "[", false});
        continue;
      }
      out.push_back({GlobToken::kClass, std::string(glob.substr(first, j - first)), negate});
      i = j;
    } else {
      out.push_back({GlobToken::kLiteral, std::string(1, c), false});
    }
  }
  return out;
}

bool glob_matches(const std::vector<GlobToken>& pattern, std::string_view subject) {
  // Greedy, going back only to the last '*': O(pattern x subject) at worst,
  // where a backtracking fnmatch is exponential in the number of stars (the
  // patterns restore matches come from an archive, which may be hostile).
  auto one = [](const GlobToken& t, unsigned char c) {
    switch (t.kind) {
      case GlobToken::kAny: return true;
      case GlobToken::kLiteral: return static_cast<unsigned char>(t.text[0]) == c;
      case GlobToken::kClass: return class_contains(t.text, c) != t.negate;
      case GlobToken::kStar: break;
    }
    return false;
  };
  std::size_t p = 0, s = 0, star = SIZE_MAX, resume = 0;
  while (s < subject.size()) {
    if (p < pattern.size() && pattern[p].kind == GlobToken::kStar) {
      star = p++;
      resume = s;
    } else if (p < pattern.size() && one(pattern[p], static_cast<unsigned char>(subject[s]))) {
      ++p;
      ++s;
    } else if (star != SIZE_MAX) {
      p = star + 1;
      s = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p].kind == GlobToken::kStar) ++p;
  return p == pattern.size();
}

ExcludeSet::ExcludeSet(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {
  if (patterns_.size() > format::kMaxExcludes)
    throw bad_flag_error("exclude", std::to_string(patterns_.size()) + " --exclude patterns: at most " +
                                        std::to_string(format::kMaxExcludes) + " are accepted",
                         "exclude a parent directory instead of many of its entries");
  for (const auto& pattern : patterns_) {
    if (pattern.size() > format::kMaxExcludeBytes)
      throw bad_flag_error("exclude", "--exclude pattern of " + std::to_string(pattern.size()) +
                                          " bytes: at most " + std::to_string(format::kMaxExcludeBytes) +
                                          " are accepted");
    Rule rule{pattern, false, false, {}};
    while (rule.glob.size() > 1 && rule.glob.back() == '/') {
      rule.glob.pop_back();
      rule.dirs_only = true;
    }
    if (rule.glob.empty() || rule.glob == "/")
      throw bad_flag_error("exclude", "--exclude '" + pattern + "': empty pattern");
    if (rule.glob.front() == '/')
      throw bad_flag_error("exclude", "--exclude '" + pattern + "': patterns are relative to the archive",
                        "write e.g. 'data/metadata/*' or '*.log'");
    rule.whole_path = rule.glob.find('/') != std::string::npos;
    rule.tokens = compile_glob(rule.glob);
    rules_.push_back(std::move(rule));
  }
}

const std::string* ExcludeSet::match(std::string_view archive_path, bool is_dir) const {
  if (archive_path.find('/') == std::string_view::npos) return nullptr;  // a tree root
  const std::string_view base = archive_path.substr(archive_path.rfind('/') + 1);
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Rule& rule = rules_[i];
    if (rule.dirs_only && !is_dir) continue;
    if (glob_matches(rule.tokens, rule.whole_path ? archive_path : base))
      return &patterns_[i];
  }
  return nullptr;
}

}  // namespace jb
