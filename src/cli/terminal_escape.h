// What reaches the terminal. Names, paths and manifest fields come from
// archives and from directories other users can write: printed raw, a
// carriage return, an ESC sequence or a newline in one of them could fake an
// "OK" line, a table row, or clear the screen. Everything the CLI prints for
// humans goes through print() (or terminal_escape() where it builds text),
// so no such byte ever reaches the terminal; --json output is JSON and is
// not escaped here.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace jb::cli {

// `text` with every byte that is not printable UTF-8 escaped, in the spirit
// of GNU ls --quoting-style=escape:
//   \a \b \t \n \v \f \r   those C0 controls, as C writes them
//   \e                     ESC (0x1b), the start of every terminal sequence
//   \\                     a backslash itself, so that escapes are unambiguous
//   \xHH                   any other C0 control, DEL (0x7f), and each byte that
//                          is not part of well-formed UTF-8 (stray continuation
//                          bytes, truncated sequences, overlong encodings,
//                          surrogates, code points above U+10FFFF)
//   \u{HHHH}               a well-formed code point that is invisible and acts
//                          on the terminal or the text around it: the C1
//                          controls U+0080-U+009F, U+2028/U+2029 (line and
//                          paragraph separators), and the bidirectional
//                          marks, embeddings, overrides and isolates (U+061C,
//                          U+200E-U+200F, U+202A-U+202E, U+2066-U+2069)
// Everything else (ASCII, accents, CJK, emoji with their joiners) is kept
// as it is. Hex digits are lower case. The result never contains a byte
// below 0x20 or 0x7f.
std::string terminal_escape(std::string_view text);

// std::fprintf for human output: the format is ours and printed as it is
// (it may hold "\n", or the progress line's "\r\033[K"); every %s and %c
// argument goes through terminal_escape first, so a field from an archive or
// the disk cannot be printed raw by forgetting to escape it. Takes the
// conversions the CLI uses (flags, width and precision as digits, the length
// modifiers hh h l ll z j t L; d i u o x X c s f F e E g G %), not `*` or %n.
void print(std::FILE* out, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace jb::cli
