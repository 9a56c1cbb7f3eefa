#include "jellyfin_backup/restore/tree_diff.h"

#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "jellyfin_backup/create/tree_walk.h"

namespace jb {
namespace {

constexpr std::size_t kListed = 20;

struct Seen {
  struct stat st;
  std::string link;
};

std::map<std::string, Seen> walk(const std::string& root, const std::vector<std::string>& ignore) {
  std::map<std::string, Seen> out;
  struct stat st;
  if (::lstat(root.c_str(), &st) != 0) return out;
  Reporter silent;
  std::vector<std::string> patterns;
  for (const auto& rel : ignore) patterns.push_back("t/" + rel);
  ExcludeSet excludes(patterns);
  BackupPlan plan = plan_backup({{"t", root}}, excludes, silent);
  for (const auto& e : plan.entries) {
    if (e.archive_path == "t") continue;  // the root itself
    Seen s{e.st, {}};
    if (S_ISLNK(e.st.st_mode)) {
      std::string path = plan.source_path(e);
      char buf[4096];
      ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
      if (n > 0) s.link.assign(buf, static_cast<std::size_t>(n));
    }
    out.emplace(e.archive_path.substr(2), std::move(s));
  }
  return out;
}

bool same(const Seen& a, const Seen& b) {
  const auto type = [](mode_t m) { return m & S_IFMT; };
  if (type(a.st.st_mode) != type(b.st.st_mode) || a.link != b.link) return false;
  if ((a.st.st_mode & 07777) != (b.st.st_mode & 07777)) return false;
  if (a.st.st_uid != b.st.st_uid || a.st.st_gid != b.st.st_gid) return false;
  if (S_ISDIR(a.st.st_mode)) return true;  // a directory's mtime follows its contents
  return a.st.st_size == b.st.st_size && a.st.st_mtim.tv_sec == b.st.st_mtim.tv_sec &&
         a.st.st_mtim.tv_nsec == b.st.st_mtim.tv_nsec;
}

void note(std::vector<std::string>& list, const std::string& path) {
  if (list.size() < kListed) list.push_back(path);
}

}  // namespace

TreeDiff diff_trees(const std::string& staged, const std::string& target,
                    const std::vector<std::string>& ignore) {
  const auto now = walk(target, ignore);
  const auto next = walk(staged, ignore);
  TreeDiff diff;
  for (const auto& [path, seen] : next) {
    auto it = now.find(path);
    if (it == now.end()) {
      ++diff.added;
      note(diff.added_paths, path);
    } else if (!same(seen, it->second)) {
      ++diff.changed;
      note(diff.changed_paths, path);
    } else {
      ++diff.unchanged;
    }
  }
  for (const auto& [path, seen] : now) {
    if (!next.count(path)) {
      ++diff.removed;
      note(diff.removed_paths, path);
    }
  }
  return diff;
}

}  // namespace jb
