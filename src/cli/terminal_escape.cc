#include "cli/terminal_escape.h"

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

namespace jb::cli {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void append_byte_escape(std::string& out, unsigned char byte) {
  out += "\\x";
  out += kHex[byte >> 4];
  out += kHex[byte & 0xf];
}

// Length of the well-formed UTF-8 sequence at text[i] (Unicode 15, table
// 3-7: this excludes overlong forms, surrogates and anything above
// U+10FFFF), or 0 if there is none; `code_point` gets its value.
std::size_t utf8_sequence(std::string_view text, std::size_t i, char32_t& code_point) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char lead = byte(0);
  std::size_t length;
  unsigned char low = 0x80, high = 0xbf;  // the allowed range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;   // overlong below U+0800
    if (lead == 0xed) high = 0x9f;  // surrogates U+D800-U+DFFF
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;   // overlong below U+10000
    if (lead == 0xf4) high = 0x8f;  // above U+10FFFF
  } else {
    return 0;  // ASCII is handled by the caller; 0x80-0xc1 and 0xf5-0xff never lead
  }
  if (text.size() - i < length) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k)
    if (byte(k) < 0x80 || byte(k) > 0xbf) return 0;
  code_point = lead & (0x7f >> length);
  for (std::size_t k = 1; k < length; ++k) code_point = (code_point << 6) | (byte(k) & 0x3f);
  return length;
}

// Well-formed, but invisible and acting on the terminal or the text around
// it (see the header).
bool hidden_code_point(char32_t c) {
  return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f || c == 0x2028 ||
         c == 0x2029 || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

void append_code_point_escape(std::string& out, char32_t c) {
  std::string digits;
  for (; c != 0 || digits.size() < 4; c >>= 4) digits.insert(digits.begin(), kHex[c & 0xf]);
  out += "\\u{" + digits + "}";
}

void append_ascii(std::string& out, unsigned char c) {
  switch (c) {
    case '\a': out += "\\a"; return;
    case '\b': out += "\\b"; return;
    case '\t': out += "\\t"; return;
    case '\n': out += "\\n"; return;
    case '\v': out += "\\v"; return;
    case '\f': out += "\\f"; return;
    case '\r': out += "\\r"; return;
    case 0x1b: out += "\\e"; return;
    case '\\': out += "\\\\"; return;
  }
  if (c < 0x20 || c == 0x7f) append_byte_escape(out, c);
  else out += static_cast<char>(c);
}

// One conversion of print()'s format: `spec` is "%-10s" and the like.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
template <typename T>
void append_formatted(std::string& out, const std::string& spec, T value) {
  char small[64];
  const int n = std::snprintf(small, sizeof small, spec.c_str(), value);
  if (n < 0) throw std::invalid_argument("print: bad conversion " + spec);
  if (static_cast<std::size_t>(n) < sizeof small) {
    out.append(small, static_cast<std::size_t>(n));
    return;
  }
  std::string big(static_cast<std::size_t>(n) + 1, '\0');
  std::snprintf(big.data(), big.size(), spec.c_str(), value);
  out.append(big.data(), static_cast<std::size_t>(n));
}
#pragma GCC diagnostic pop

template <typename Signed, typename Unsigned>
void append_integer(std::string& out, const std::string& spec, char conversion, va_list& args) {
  if (conversion == 'd' || conversion == 'i') append_formatted(out, spec, va_arg(args, Signed));
  else append_formatted(out, spec, va_arg(args, Unsigned));
}

// Formats `format` with every string and character argument escaped.
std::string format_escaped(const char* format, va_list& args) {
  std::string out;
  for (const char* p = format; *p != '\0';) {
    if (*p != '%') {
      out += *p++;
      continue;
    }
    const char* start = p++;
    if (*p == '%') {
      out += '%';
      ++p;
      continue;
    }
    while (*p != '\0' && std::string_view("-+ #0'").find(*p) != std::string_view::npos) ++p;
    while (*p >= '0' && *p <= '9') ++p;
    if (*p == '.') {
      ++p;
      while (*p >= '0' && *p <= '9') ++p;
    }
    const char* length = p;
    while (*p != '\0' && std::string_view("hljztL").find(*p) != std::string_view::npos) ++p;
    const std::string modifier(length, p);
    const char conversion = *p;
    if (conversion == '\0') throw std::invalid_argument("print: format ends inside a conversion");
    ++p;
    const std::string spec(start, p);
    switch (conversion) {
      case 'd': case 'i': case 'u': case 'o': case 'x': case 'X':
        if (modifier.empty() || modifier == "h" || modifier == "hh")
          append_integer<int, unsigned>(out, spec, conversion, args);
        else if (modifier == "l") append_integer<long, unsigned long>(out, spec, conversion, args);
        else if (modifier == "ll") append_integer<long long, unsigned long long>(out, spec, conversion, args);
        else if (modifier == "z") append_integer<std::ptrdiff_t, std::size_t>(out, spec, conversion, args);
        else if (modifier == "j") append_integer<std::intmax_t, std::uintmax_t>(out, spec, conversion, args);
        else if (modifier == "t") append_integer<std::ptrdiff_t, std::size_t>(out, spec, conversion, args);
        else throw std::invalid_argument("print: unsupported conversion " + spec);
        break;
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
        if (modifier == "L") append_formatted(out, spec, va_arg(args, long double));
        else if (modifier.empty()) append_formatted(out, spec, va_arg(args, double));
        else throw std::invalid_argument("print: unsupported conversion " + spec);
        break;
      case 's': case 'c': {
        if (!modifier.empty()) throw std::invalid_argument("print: unsupported conversion " + spec);
        std::string text;
        if (conversion == 'c') text.assign(1, static_cast<char>(va_arg(args, int)));
        else if (const char* s = va_arg(args, const char*)) text = s;
        else text = "(null)";
        // Width and precision apply to what is shown, as for %s.
        append_formatted(out, spec.substr(0, spec.size() - 1) + "s", terminal_escape(text).c_str());
        break;
      }
      default:  // '*', %n, %p, %a: the CLI has no use for them
        throw std::invalid_argument("print: unsupported conversion " + spec);
    }
  }
  return out;
}

}  // namespace

std::string terminal_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      append_ascii(out, c);
      ++i;
      continue;
    }
    char32_t code_point = 0;
    const std::size_t length = utf8_sequence(text, i, code_point);
    if (length == 0) {
      append_byte_escape(out, c);  // resynchronise on the next byte
      ++i;
    } else if (hidden_code_point(code_point)) {
      append_code_point_escape(out, code_point);
      i += length;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

void print(std::FILE* out, const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::string text;
  try {
    text = format_escaped(format, args);
  } catch (...) {
    va_end(args);
    throw;
  }
  va_end(args);
  std::fwrite(text.data(), 1, text.size(), out);
}

}  // namespace jb::cli
