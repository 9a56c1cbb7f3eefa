#include "jellyfin_backup/create/tree_walk.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>

#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/io/interrupt.h"

namespace jb {
namespace {

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
    // The root's path was resolved (resolve_path) with every link in it
    // checked: open it from "/" without following any, so a component the
    // tree's owner swapped for a link since then is an error, not a detour.
    struct stat seen;
    if (::lstat(spec.source.c_str(), &seen) == 0 && !S_ISDIR(seen.st_mode) && !S_ISLNK(seen.st_mode))
      throw usage_error(spec.source + ": not a directory (--" + spec.name + ")");
    DirFd root = DirFd::open_resolved(spec.source);
    const struct stat st = root.stat();
    add(tree_index, spec.name, st);
    walk_dir(tree_index, root, spec.name, 1);
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

  // `dir` is held open while its subdirectories are walked: one fd per level.
  // `depth` is the number of components of its entries below the tree root
  // (the root's children are at 1); it bounds the fds in use.
  void walk_dir(std::size_t tree_index, const DirFd& dir, const std::string& archive_dir,
                std::size_t depth) {
    throw_if_interrupted();
    for (const auto& name : dir.list()) {
      // The path is for messages and the skip list; every act goes through `dir`.
      std::string path = dir.path_of(name);
      std::string archive_path = archive_dir + "/" + name;
      std::optional<struct stat> st = dir.stat_at(name);
      if (!st) continue;  // vanished between readdir and fstatat
      if (excludes_.excluded(archive_path, S_ISDIR(st->st_mode))) continue;
      if (S_ISDIR(st->st_mode) && skipped(tree_index, path)) continue;
      if (S_ISSOCK(st->st_mode)) {
        reporter_.warning(path + ": socket skipped (sockets cannot be archived)");
        continue;
      }
      if (depth > kMaxTreeDepth) {
        throw Error(ErrorKind::kRuntime,
                    path + ": lies more than " + std::to_string(kMaxTreeDepth) +
                        " levels deep below " + plan_.trees[tree_index].spec.source,
                    "restore would refuse it; exclude it (--exclude) or flatten the tree; "
                    "no archive was written");
      }
      if (!S_ISDIR(st->st_mode)) {
        add(tree_index, archive_path, *st);
        continue;
      }
      // Opened without following a link, then checked against what fstatat
      // saw: a directory swapped for a symlink or another directory in
      // between is never walked.
      UniqueFd fd = dir.open_at(name, O_RDONLY | O_DIRECTORY);
      if (!fd) {
        if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) throw changed_while_read(path);
        throw io_error(path, "cannot read directory", errno);
      }
      DirFd child(std::move(fd), path);
      if (!same_file(child.stat(), *st)) throw changed_while_read(path);
      add(tree_index, archive_path, *st);
      walk_dir(tree_index, child, archive_path, depth + 1);
    }
  }

  BackupPlan& plan_;
  const ExcludeSet& excludes_;
  Reporter& reporter_;
  std::map<std::pair<dev_t, ino_t>, std::string> inodes_;
};

}  // namespace

Error changed_while_read(const std::string& path) {
  return Error(ErrorKind::kRuntime,
               path + ": changed while the backup ran (the tree changed under us: is the server running?)",
               "no archive was written");
}

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
