#include "jellyfin_backup/create/exclude_set.h"

#include <fnmatch.h>

#include "jellyfin_backup/error.h"

namespace jb {

ExcludeSet::ExcludeSet(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {
  for (const auto& pattern : patterns_) {
    Rule rule{pattern, false, false};
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
    rules_.push_back(std::move(rule));
  }
}

bool ExcludeSet::excluded(std::string_view archive_path, bool is_dir) const {
  if (archive_path.find('/') == std::string_view::npos) return false;  // a tree root
  std::string path(archive_path);
  const char* base = path.c_str() + path.rfind('/') + 1;
  for (const auto& rule : rules_) {
    if (rule.dirs_only && !is_dir) continue;
    const char* subject = rule.whole_path ? path.c_str() : base;
    if (::fnmatch(rule.glob.c_str(), subject, 0) == 0) return true;
  }
  return false;
}

}  // namespace jb
