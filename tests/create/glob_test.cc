#include "jellyfin_backup/create/glob.h"

#include <fnmatch.h>
#include <locale.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

namespace {

// The tool runs in C.UTF-8 (main.cc), where glibc's fnmatch works on
// characters: so do we, and so does the comparison.
struct Utf8Locale {
  Utf8Locale() : old(::setlocale(LC_CTYPE, nullptr)) { ::setlocale(LC_CTYPE, "C.UTF-8"); }
  ~Utf8Locale() { ::setlocale(LC_CTYPE, old.c_str()); }
  std::string old;
};

bool fnmatch_says(const std::string& pattern, const std::string& subject) {
  return ::fnmatch(pattern.c_str(), subject.c_str(), 0) == 0;
}

}  // namespace

TEST_CASE("Glob agrees with fnmatch(3) on chosen cases", "[glob]") {
  Utf8Locale utf8;
  const std::vector<std::string> patterns = {
      "*.log", "log?.txt", "[ab]*.tmp", "[!ab]*", "[^x]?", "[]x]y", "[a-c]z", "[[:digit:]]*", "[[:alpha:]_]x",
      "a\\*b", "\\[x", "[x", "*", "**", "*a*b*c", "?", "", "a*", "*a", "data/metadata/*", "*/x/*",
      "[a-]z", "[\\]]q", ".*", "*.[ch]", "[[:upper:][:digit:]]", "a[!]]b", "x[:y", "a\\", "[[:foo:]]",
      "[![:foo:]]", "[=a=]", "[.a.]", "[[:a]", "[[:]", "[[:z:]]", "?.nfo", "[é]", "[[:alpha:]]", "[!a]",
      "[a-é]", "[]-a]", "[!]]", "[a\\-z]", "[z-a]", "[--0]", "\\a", "[[:alpha:]-z]", "é*", "*\xff", "\xff?",
      "[\xff]", "[!\xff]"};
  const std::vector<std::string> subjects = {
      "a.log", "log1.txt", "log12.txt", "a.tmp", "c.tmp", "xy", "]y", "bz", "dz", "7abc", "_x", "a*b", "axb",
      "[x", "", "a", "ab", "abc", "aXbYc", "data/metadata/a/b", "d/x/y", "-z", "]q", ".hidden", "f.c", "f.h",
      "Q", "5", "a]b", "acb", "x[:y", "/", "a\\", "é.nfo", "é", "b", "]", "-", "m", "\xff", "\xff" "a", "a\xff",
      "é\xff", "ééé"};
  for (const auto& p : patterns) {
    const jb::Glob glob(p);
    for (const auto& s : subjects) {
      INFO("pattern '" << p << "' subject '" << s << "'");
      CHECK(glob.matches(s) == fnmatch_says(p, s));
    }
  }
}

TEST_CASE("Glob agrees with fnmatch(3) on random patterns", "[glob]") {
  Utf8Locale utf8;
  // Deterministic: a failure replays.
  std::mt19937 rng(20261207);
  const std::vector<std::string> pattern_parts = {"*", "?", "[", "]", "!", "^", "-", "\\", "a", "b", "z", "é", "/",
                                                  ".", "[:alpha:]", "[:digit:]", "[=a=]", ":", "\xff"};
  const std::vector<std::string> subject_parts = {"a", "b", "z", "é", "/", ".", "-", "]", "[", "!", "5", "\\", "\xff", ":"};
  auto pick = [&](const std::vector<std::string>& from, int most) {
    std::string out;
    const int n = static_cast<int>(rng() % static_cast<unsigned>(most + 1));
    for (int i = 0; i < n; ++i) out += from[rng() % from.size()];
    return out;
  };
  int disagreements = 0;
  for (int i = 0; i < 200000 && disagreements < 5; ++i) {
    const std::string p = pick(pattern_parts, 6), s = pick(subject_parts, 6);
    const bool ours = jb::Glob(p).matches(s), theirs = fnmatch_says(p, s);
    if (ours != theirs) {
      ++disagreements;
      INFO("pattern '" << p << "' subject '" << s << "'");
      CHECK(ours == theirs);
    }
  }
  CHECK(disagreements == 0);
}

TEST_CASE("Glob: many stars match in bounded time, and the work is counted", "[glob]") {
  // fnmatch backtracks exponentially here.
  std::string pattern;
  for (int i = 0; i < 60; ++i) pattern += "*a";
  pattern += "*b";
  const std::string subject(4000, 'a');
  const jb::Glob glob(pattern);
  std::uint64_t steps = 0;
  CHECK_FALSE(glob.matches(subject, &steps));
  CHECK(steps > 0);
  CHECK(steps <= pattern.size() * subject.size());
  CHECK(glob.matches(subject + "b"));
}
