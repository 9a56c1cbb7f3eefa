// A glob pattern compiled once and matched in O(pattern x subject) time:
// fnmatch(3) without flags, as glibc does it in the UTF-8 locale the tool
// runs in ('*' and '?' match any character, '/' and a leading '.' included;
// "[...]" sets with ranges, '!'/'^' negation, "[:name:]" classes, "[=c=]"
// and "[.c.]"; a backslash quotes). As glibc 2.36 does, a subject matches
// when it matches character by character (code points; when both are
// valid UTF-8) or byte by byte. A pattern ending in a lone backslash, or
// naming an unknown class, matches nothing (fnmatch fails on it).
//
// A backtracking fnmatch is exponential in the number of stars; restore
// matches patterns an archive recorded (which may be hostile) against the
// live trees, so this one goes back only to the last star, and counts its
// steps for a caller that bounds the work.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <wctype.h>

namespace jb {

class Glob {
 public:
  explicit Glob(std::string_view pattern);

  // `steps`, if given, is increased by the work done.
  bool matches(std::string_view subject, std::uint64_t* steps = nullptr) const;

 private:
  struct Token {
    enum Kind { kLiteral, kAny, kStar, kClass } kind;
    char32_t ch = 0;  // kLiteral
    bool negate = false;
    std::vector<std::pair<char32_t, char32_t>> ranges;  // kClass
    std::vector<wctype_t> named;                         // kClass: [:alpha:] ...
  };
  struct Compiled {
    std::vector<Token> tokens;
    bool never = false;
  };
  static Compiled compile(const std::vector<char32_t>& pattern);
  static bool match(const Compiled& p, const std::vector<char32_t>& subject, bool bytes, std::uint64_t* steps);

  Compiled wide_;   // the pattern as code points (when it is valid UTF-8)
  Compiled bytes_;  // the pattern as bytes
  bool wide_ok_ = false;
};

}  // namespace jb
