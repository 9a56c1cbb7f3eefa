#include "jellyfin_backup/create/glob.h"

namespace jb {
namespace {

// Strict UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF); false if `text` is not that.
bool decode_utf8(std::string_view text, std::vector<char32_t>& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : (b >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + static_cast<std::size_t>(len) > text.size()) return false;
    char32_t c = len == 1 ? b : len == 2 ? b & 0x1f : len == 3 ? b & 0x0f : b & 0x07;
    for (int k = 1; k < len; ++k) {
      const auto cont = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
      if ((cont >> 6) != 0x2) return false;
      c = (c << 6) | (cont & 0x3f);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < kMin[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return false;
    out.push_back(c);
    i += static_cast<std::size_t>(len);
  }
  return true;
}

void as_bytes(std::string_view text, std::vector<char32_t>& out) {
  out.clear();
  for (char c : text) out.push_back(static_cast<unsigned char>(c));
}

}  // namespace

Glob::Glob(std::string_view pattern) {
  std::vector<char32_t> units;
  as_bytes(pattern, units);
  bytes_ = compile(units);
  wide_ok_ = decode_utf8(pattern, units);
  if (wide_ok_) wide_ = compile(units);
}

Glob::Compiled Glob::compile(const std::vector<char32_t>& p) {
  Compiled out;
  const std::size_t n = p.size();
  auto literal = [&](char32_t c) {
    Token t{Token::kLiteral, c, false, {}, {}};
    out.tokens.push_back(std::move(t));
  };
  for (std::size_t i = 0; i < n; ++i) {
    const char32_t c = p[i];
    if (c == '*') {
      if (out.tokens.empty() || out.tokens.back().kind != Token::kStar) out.tokens.push_back({Token::kStar});
    } else if (c == '?') {
      out.tokens.push_back({Token::kAny});
    } else if (c == '\\') {
      if (i + 1 == n) out.never = true;  // a lone backslash at the end: fnmatch fails
      else literal(p[++i]);
    } else if (c != '[') {
      literal(c);
    } else {
      // A bracket expression; without its closing ']' the '[' is a literal.
      Token set{Token::kClass, 0, false, {}, {}};
      std::size_t j = i + 1;
      if (j < n && (p[j] == '!' || p[j] == '^')) {
        set.negate = true;
        ++j;
      }
      const std::size_t first = j;
      bool closed = false;
      // One element at j: a character (quoted, or "[=c=]" / "[.c.]"), or a
      // named class (then `*named` is set). False when the pattern fails.
      auto element = [&](char32_t* ch, bool* named) {
        *named = false;
        if (p[j] == '[' && j + 1 < n && (p[j + 1] == ':' || p[j + 1] == '=' || p[j + 1] == '.')) {
          const char32_t kind = p[j + 1];
          std::size_t k = j + 2;
          while (k + 1 < n && !(p[k] == kind && p[k + 1] == ']')) ++k;
          if (k + 1 < n) {
            if (kind == ':') {
              std::string name;
              for (std::size_t m = j + 2; m < k; ++m) name += p[m] < 0x80 ? static_cast<char>(p[m]) : '?';
              const wctype_t type = ::wctype(name.c_str());
              if (type == 0) return false;  // an unknown class: fnmatch fails
              set.named.push_back(type);
              *named = true;
            } else {
              if (k != j + 3) return false;  // multi-character collating elements: none here
              *ch = p[j + 2];
            }
            j = k + 2;
            return true;
          }
          if (kind != ':') return false;  // "[." or "[=" unclosed: fnmatch fails ("[:" is literal)
        }
        if (p[j] == '\\' && j + 1 < n) ++j;
        *ch = p[j++];
        return true;
      };
      while (j < n) {
        if (p[j] == ']' && j != first) {
          closed = true;
          break;
        }
        char32_t lo = 0;
        bool named = false;
        if (!element(&lo, &named)) {
          out.never = true;
          closed = true;
          break;
        }
        if (named) continue;
        if (j + 1 < n && p[j] == '-' && p[j + 1] != ']') {
          ++j;
          char32_t hi = 0;
          if (!element(&hi, &named) || named) {  // a class cannot end a range
            out.never = true;
            closed = true;
            break;
          }
          set.ranges.push_back({lo, hi});
        } else {
          set.ranges.push_back({lo, lo});
        }
      }
      if (out.never) break;
      if (!closed) {
        literal('[');
        continue;
      }
      out.tokens.push_back(std::move(set));
      i = j;  // the closing ']'
    }
  }
  return out;
}

bool Glob::match(const Compiled& pattern, const std::vector<char32_t>& subject, bool bytes, std::uint64_t* steps) {
  if (pattern.never) return false;
  const std::vector<Token>& tokens = pattern.tokens;
  auto one = [bytes](const Token& t, char32_t c) {
    switch (t.kind) {
      case Token::kAny: return true;
      case Token::kLiteral: return t.ch == c;
      case Token::kClass: {
        bool in = false;
        for (const auto& [lo, hi] : t.ranges) in = in || (lo <= c && c <= hi);
        // Byte by byte, a byte past ASCII is no letter or digit of any class.
        for (wctype_t type : t.named) in = in || ((!bytes || c < 0x80) && ::iswctype(static_cast<wint_t>(c), type));
        return in != t.negate;
      }
      case Token::kStar: break;
    }
    return false;
  };
  std::size_t p = 0, s = 0, star = SIZE_MAX, resume = 0;
  std::uint64_t work = 0;
  while (s < subject.size()) {
    ++work;
    if (p < tokens.size() && tokens[p].kind == Token::kStar) {
      star = p++;
      resume = s;
    } else if (p < tokens.size() && one(tokens[p], subject[s])) {
      ++p;
      ++s;
    } else if (star != SIZE_MAX) {
      p = star + 1;
      s = ++resume;
    } else {
      break;
    }
  }
  if (steps) *steps += work;
  if (s < subject.size()) return false;
  while (p < tokens.size() && tokens[p].kind == Token::kStar) ++p;
  return p == tokens.size();
}

bool Glob::matches(std::string_view subject, std::uint64_t* steps) const {
  // Per call, not per Glob: matching runs on several threads at once.
  thread_local std::vector<char32_t> units;
  // glibc 2.36 (Debian 12) in a UTF-8 locale: a match by characters or by
  // bytes is a match ("??" matches "é", as does "?").
  if (wide_ok_ && decode_utf8(subject, units) && match(wide_, units, /*bytes=*/false, steps)) return true;
  as_bytes(subject, units);
  return match(bytes_, units, /*bytes=*/true, steps);
}

}  // namespace jb
