#include "jellyfin_backup/create/tree_walk.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"

namespace jb {
namespace {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

class Walker {
 public:
  Walker(BackupPlan& plan, const ExcludeSet& excludes, Reporter& reporter)
      : plan_(plan), excludes_(excludes), reporter_(reporter) {}

  void walk_tree(std::size_t tree_index) {
    // Hardlinks are resolved within a tree only: each tree is restored on
    // its own (possibly onto another filesystem), so a link across trees is
    // stored as two files.
    inodes_.clear();
    const TreeSpec& spec = plan_.trees[tree_index].spec;
    struct stat st;
    // The root may be a symlink to the real directory: follow it, once.
    if (::stat(spec.source.c_str(), &st) != 0)
      throw io_error(spec.source, "cannot read " + spec.name + " directory", errno);
    if (!S_ISDIR(st.st_mode))
      throw usage_error(spec.source + ": not a directory (--" + spec.name + ")");
    add(tree_index, spec.name, st);
    walk_dir(tree_index, spec.source, spec.name);
  }

 private:
  bool skipped(std::size_t tree_index, const std::string& path) const {
    const auto& skip = plan_.trees[tree_index].spec.skip;
    return std::find(skip.begin(), skip.end(), path) != skip.end();
  }

  void add(std::size_t tree_index, std::string archive_path, const struct stat& st) {
    PlannedTree& tree = plan_.trees[tree_index];
    PlannedEntry entry{tree_index, std::move(archive_path), st, {}};
    ++tree.entries;
    if (S_ISREG(st.st_mode)) {
      ++tree.files;
      if (st.st_nlink > 1) {
        auto [it, first] = inodes_.try_emplace({st.st_dev, st.st_ino}, entry.archive_path);
        if (!first) entry.hardlink_target = it->second;
      }
      if (entry.hardlink_target.empty()) tree.bytes += static_cast<std::uint64_t>(st.st_size);
    }
    plan_.entries.push_back(std::move(entry));
  }

  void walk_dir(std::size_t tree_index, const std::string& dir, const std::string& archive_dir) {
    throw_if_interrupted();
    std::unique_ptr<DIR, DirCloser> handle(::opendir(dir.c_str()));
    if (!handle) throw io_error(dir, "cannot read directory", errno);
    std::vector<std::string> names;
    errno = 0;
    while (dirent* d = ::readdir(handle.get())) {
      std::string_view name = d->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    if (errno != 0) throw io_error(dir, "cannot read directory", errno);
    handle.reset();
    std::sort(names.begin(), names.end());  // bytewise: deterministic archives

    for (const auto& name : names) {
      std::string path = dir + "/" + name;
      std::string archive_path = archive_dir + "/" + name;
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) continue;  // vanished between readdir and lstat
        throw io_error(path, "cannot stat", errno);
      }
      if (excludes_.excluded(archive_path, S_ISDIR(st.st_mode))) continue;
      if (S_ISDIR(st.st_mode) && skipped(tree_index, path)) continue;
      if (S_ISSOCK(st.st_mode)) {
        reporter_.warning(path + ": socket skipped (sockets cannot be archived)");
        continue;
      }
      add(tree_index, archive_path, st);
      if (S_ISDIR(st.st_mode)) walk_dir(tree_index, path, archive_path);
    }
  }

  BackupPlan& plan_;
  const ExcludeSet& excludes_;
  Reporter& reporter_;
  std::map<std::pair<dev_t, ino_t>, std::string> inodes_;
};

}  // namespace

std::string BackupPlan::source_path(const PlannedEntry& entry) const {
  const TreeSpec& spec = trees[entry.tree].spec;
  return spec.source + entry.archive_path.substr(spec.name.size());
}

std::uint64_t BackupPlan::total_files() const {
  std::uint64_t n = 0;
  for (const auto& t : trees) n += t.files;
  return n;
}

std::uint64_t BackupPlan::total_bytes() const {
  std::uint64_t n = 0;
  for (const auto& t : trees) n += t.bytes;
  return n;
}

BackupPlan plan_backup(const std::vector<TreeSpec>& trees, const ExcludeSet& excludes,
                       Reporter& reporter) {
  BackupPlan plan;
  for (const auto& spec : trees) plan.trees.push_back({spec});
  Walker walker(plan, excludes, reporter);
  for (std::size_t i = 0; i < trees.size(); ++i) walker.walk_tree(i);
  return plan;
}

}  // namespace jb
