#include "cli/terminal_escape.h"

#include <cstdio>
#include <string>

#include <catch2/catch.hpp>

using jb::cli::print;
using jb::cli::terminal_escape;

TEST_CASE("terminal_escape: printable text, ASCII or not, is kept as it is") {
  CHECK(terminal_escape("") == "");
  CHECK(terminal_escape("data/metadata/library/a b ~!@#$%^&*()") == "data/metadata/library/a b ~!@#$%^&*()");
  CHECK(terminal_escape("Amélie (2001)/Ça.mkv") == "Amélie (2001)/Ça.mkv");
  CHECK(terminal_escape("千と千尋の神隠し") == "千と千尋の神隠し");
  CHECK(terminal_escape("\xf0\x9f\x8e\xac") == "\xf0\x9f\x8e\xac");  // U+1F3AC clapper board
  // A family emoji: four code points held together by zero-width joiners.
  const std::string family = "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7";
  CHECK(terminal_escape(family) == family);
  CHECK(terminal_escape("\xc2\xa0\xc2\xa9") == "\xc2\xa0\xc2\xa9");  // U+00A0, U+00A9 follow the C1 block
  CHECK(terminal_escape("\xf4\x8f\xbf\xbf") == "\xf4\x8f\xbf\xbf");  // U+10FFFF, the last code point
}

TEST_CASE("terminal_escape: C0 controls, ESC, DEL and the backslash") {
  CHECK(terminal_escape("a\nb") == "a\\nb");
  CHECK(terminal_escape("\a\b\t\n\v\f\r") == "\\a\\b\\t\\n\\v\\f\\r");
  CHECK(terminal_escape("\x1b[2J") == "\\e[2J");
  CHECK(terminal_escape(std::string("\0x", 2)) == "\\x00x");
  CHECK(terminal_escape("\x01\x1f\x7f") == "\\x01\\x1f\\x7f");
  CHECK(terminal_escape("C:\\new") == "C:\\\\new");  // else "\n" printed here would mean a newline
  // The attack of the issue: a carriage return and an erase-line sequence
  // that would turn the rest of the name into a fake verify line.
  CHECK(terminal_escape("data/x\r\x1b[2Kfake.tar.zst: OK: 1 files") ==
        "data/x\\r\\e[2Kfake.tar.zst: OK: 1 files");
}

TEST_CASE("terminal_escape: bytes that are not well-formed UTF-8 become \\xHH") {
  CHECK(terminal_escape("\xff") == "\\xff");
  CHECK(terminal_escape("a\x80z") == "a\\x80z");                  // stray continuation byte
  CHECK(terminal_escape("\xc3") == "\\xc3");                       // truncated at the end
  CHECK(terminal_escape("\xc3z") == "\\xc3z");                     // truncated by ASCII
  CHECK(terminal_escape("\xe4\xb8") == "\\xe4\\xb8");              // truncated three-byte form
  CHECK(terminal_escape("\xc0\xaf") == "\\xc0\\xaf");              // overlong '/'
  CHECK(terminal_escape("\xc1\xbf") == "\\xc1\\xbf");              // overlong DEL
  CHECK(terminal_escape("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");     // overlong '/' in three bytes
  CHECK(terminal_escape("\xe0\x9f\xbf") == "\\xe0\\x9f\\xbf");     // overlong U+07FF
  CHECK(terminal_escape("\xf0\x80\x80\xaf") == "\\xf0\\x80\\x80\\xaf");  // overlong in four bytes
  CHECK(terminal_escape("\xc0\x9b") == "\\xc0\\x9b");              // an ESC smuggled as overlong
  CHECK(terminal_escape("\xed\xa0\x80") == "\\xed\\xa0\\x80");     // surrogate U+D800
  CHECK(terminal_escape("\xed\xbf\xbf") == "\\xed\\xbf\\xbf");     // surrogate U+DFFF
  CHECK(terminal_escape("\xed\x9f\xbf") == "\xed\x9f\xbf");        // U+D7FF is fine
  CHECK(terminal_escape("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  CHECK(terminal_escape("\xf5\x80\x80\x80") == "\\xf5\\x80\\x80\\x80");
  // A bad byte does not swallow the good text after it.
  CHECK(terminal_escape("\xe4\xb8\xe5\x8d\x83") == "\\xe4\\xb8\xe5\x8d\x83");
}

TEST_CASE("terminal_escape: invisible code points that act on the terminal or the text") {
  CHECK(terminal_escape("\xc2\x80") == "\\u{0080}");
  CHECK(terminal_escape("\xc2\x9b" "2J") == "\\u{009b}2J");  // C1 CSI, ESC [ in one code point
  CHECK(terminal_escape("\xc2\x9f") == "\\u{009f}");
  CHECK(terminal_escape("a\xe2\x80\xa8" "b\xe2\x80\xa9") == "a\\u{2028}b\\u{2029}");
  // "txt.exe" shown as "exe.txt": a right-to-left override.
  CHECK(terminal_escape("\xe2\x80\xaetxt.exe") == "\\u{202e}txt.exe");
  CHECK(terminal_escape("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad") ==
        "\\u{202a}\\u{202b}\\u{202c}\\u{202d}");
  CHECK(terminal_escape("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9") ==
        "\\u{2066}\\u{2067}\\u{2068}\\u{2069}");
  CHECK(terminal_escape("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c") == "\\u{200e}\\u{200f}\\u{061c}");
}

TEST_CASE("terminal_escape: the result holds no control byte, whatever the input") {
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  const std::string shown = terminal_escape(every_byte + every_byte);
  for (unsigned char c : shown) {
    INFO(static_cast<int>(c));
    CHECK(c >= 0x20);
    CHECK(c != 0x7f);
  }
}

namespace {

// What print() writes, read back from a temporary file.
template <typename... Args>
std::string printed(const char* format, Args... args) {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  print(f, format, args...);
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[256];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  std::fclose(f);
  return out;
}

}  // namespace

TEST_CASE("print: string and character arguments are escaped, the format is not") {
  CHECK(printed("%s: OK\n", "a\r\x1b[2Kb") == "a\\r\\e[2Kb: OK\n");
  CHECK(printed("\r\x1b[K%s", "copy: 1/2 files") == "\r\x1b[Kcopy: 1/2 files");
  CHECK(printed("%c%04o %s", '\n', 0755u, "x") == "\\n0755 x");
  CHECK(printed("[%-6s|%6s|%.3s]", "ab", "\x01", "\x1b\x1b") == "[ab    |  \\x01|\\e\\]");
  CHECK(printed("100%% %s", static_cast<const char*>(nullptr)) == "100% (null)");
}

TEST_CASE("print: numbers as printf formats them") {
  CHECK(printed("%d %i %u %x %X %o", -3, 4, 5u, 255u, 255u, 8u) == "-3 4 5 ff FF 10");
  CHECK(printed("%ld %lu %lld %llu", -1L, 2UL, -3LL, 18446744073709551615ULL) ==
        "-1 2 -3 18446744073709551615");
  CHECK(printed("%zu files, %8llu|%-4d|", std::size_t{7}, 42ULL, 1) == "7 files,       42|1   |");
  CHECK(printed("%.1f s, %.0f%%, %.2f, %5.1f", 1.25, 99.6, 0.125, 3.0) == "1.2 s, 100%, 0.12,   3.0");
  CHECK(printed("ETA %ld:%02ld", 3L, 7L) == "ETA 3:07");
  const std::string wide(300, 'w');
  CHECK(printed("%s|", wide.c_str()) == wide + "|");  // longer than the small buffer
}

TEST_CASE("print: a conversion it does not take is an error, not garbage") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  int width = 3;
  CHECK_THROWS_AS(print(f, "%*d", width, 1), std::invalid_argument);
  CHECK_THROWS_AS(print(f, "%p", static_cast<void*>(f)), std::invalid_argument);
  std::fclose(f);
}
