#include "jellyfin_backup/create/exclude_set.h"

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/error.h"

namespace jb {
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
    Rule rule{pattern, false, false, Glob("")};
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
    rule.matcher = Glob(rule.glob);
    rules_.push_back(std::move(rule));
  }
}

const std::string* ExcludeSet::match(std::string_view archive_path, bool is_dir, std::uint64_t* steps) const {
  if (archive_path.find('/') == std::string_view::npos) return nullptr;  // a tree root
  const std::string_view base = archive_path.substr(archive_path.rfind('/') + 1);
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Rule& rule = rules_[i];
    if (rule.dirs_only && !is_dir) continue;
    if (rule.matcher.matches(rule.whole_path ? archive_path : base, steps))
      return &patterns_[i];
  }
  return nullptr;
}

}  // namespace jb
