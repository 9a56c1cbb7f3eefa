#include "jellyfin_backup/archive/checksum_list.h"

#include <functional>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/error.h"

namespace jb {
namespace {

bool is_hex_digest(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Error bad_line(std::size_t line_no, const std::string& why) {
  return damaged_error(std::string(format::kChecksumsName) + " line " +
                       std::to_string(line_no) + ": " + why);
}

}  // namespace

std::string format_checksum_line(std::string_view hex, std::string_view path) {
  if (path.find('\n') == std::string_view::npos) {
    std::string line;
    line.reserve(hex.size() + path.size() + 3);
    line.append(hex).append("  ").append(path).push_back('\n');
    return line;
  }
  std::string line = "\\";
  line.append(hex).append("  ");
  for (char c : path) {
    if (c == '\\') line += "\\\\";
    else if (c == '\n') line += "\\n";
    else line.push_back(c);
  }
  line.push_back('\n');
  return line;
}

void for_each_checksum_line(std::string_view text,
                            const std::function<void(ChecksumLine&&)>& fn) {
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    std::size_t end = text.find('\n');
    if (end == std::string_view::npos) throw bad_line(line_no, "missing final newline");
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);

    bool escaped = !line.empty() && line.front() == '\\';
    if (escaped) line.remove_prefix(1);
    if (line.size() < 35 || line.substr(32, 2) != "  " || !is_hex_digest(line.substr(0, 32)))
      throw bad_line(line_no, "not an xxh128sum line");

    ChecksumLine entry{std::string(line.substr(0, 32)), {}};
    std::string_view name = line.substr(34);
    if (!escaped) {
      entry.path = std::string(name);
    } else {
      for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] != '\\') { entry.path.push_back(name[i]); continue; }
        if (++i == name.size()) throw bad_line(line_no, "dangling escape");
        if (name[i] == '\\') entry.path.push_back('\\');
        else if (name[i] == 'n') entry.path.push_back('\n');
        else throw bad_line(line_no, "unknown escape");
      }
    }
    fn(std::move(entry));
  }
}

std::vector<ChecksumLine> parse_checksum_list(std::string_view text, std::size_t max_lines) {
  std::vector<ChecksumLine> lines;
  for_each_checksum_line(text, [&](ChecksumLine&& line) {
    if (lines.size() == max_lines)
      throw bad_line(lines.size() + 1, "more lines than the archive has files (" +
                                           std::to_string(max_lines) + ")");
    lines.push_back(std::move(line));
  });
  return lines;
}

}  // namespace jb
