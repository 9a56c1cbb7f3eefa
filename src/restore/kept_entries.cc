#include "jellyfin_backup/restore/kept_entries.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/error.h"

namespace jb {
namespace {

constexpr std::string_view kOurNames = ".jellyfin-backup-";
// The most glob matching one restore does against a current tree (the
// patterns come from the archive): a few seconds.
constexpr std::uint64_t kMaxMatchSteps = 1'000'000'000;
constexpr std::size_t kMaxXattrBytes = 64 * 1024;

std::string join(const std::string& rel, const std::string& name) { return rel.empty() ? name : rel + "/" + name; }

Error changed(const std::string& path) {
  return refused_error(path + ": changed while the restore linked it into the restored tree",
                       "is the server (or anything else) still writing the trees? stop it and retry");
}

// One walk: the accumulated results and the checks every step makes.
class Keeper {
 public:
  Keeper(const KeepRule& rule, const std::vector<std::string>& skip, dev_t dev, struct stat staged_root,
         Reporter& reporter)
      : rule_(rule), skip_(skip), dev_(dev), staged_root_(staged_root), reporter_(reporter) {}

  // Looks for kept entries in `current` (relative path `rel`), whose
  // counterpart in the staged tree is `staged`.
  void search(const DirFd& current, const DirFd& staged, const std::string& rel, std::size_t depth) {
    for (const auto& name : current.list()) {
      if (rel.empty() && std::string_view(name).starts_with(kOurNames)) continue;
      const std::string path = join(rel, name);
      if (std::find(skip_.begin(), skip_.end(), path) != skip_.end()) continue;
      const std::optional<struct stat> st = current.stat_at(name);
      if (!st) continue;  // gone since the listing
      if (same_file(*st, staged_root_)) throw changed(current.path_of(name));
      const bool is_dir = S_ISDIR(st->st_mode);
      const std::optional<struct stat> there = staged.stat_at(name);
      if (std::optional<std::string> why = rule_.reason(path, is_dir)) {
        if (there) continue;  // the archive has its own: it wins
        KeptEntry entry{rule_.tree() + "/" + path, *why, 0, 0};
        if (!link(current, staged, name, *st, path, depth, entry)) continue;
        kept_.push_back(std::move(entry));
        continue;
      }
      // Only into directories both trees have: below one the archive does
      // not hold, nothing is the archive's to complete.
      if (!is_dir || !there || !S_ISDIR(there->st_mode) || st->st_dev != dev_ || !rule_.may_keep_below(path))
        continue;
      if (depth >= format::kMaxDepth) continue;  // the archive holds nothing deeper
      DirFd sub = current.open_dir(name);
      if (!same_file(sub.stat(), *st)) throw changed(current.path_of(name));
      search(sub, staged.open_dir(name), path, depth + 1);
    }
  }

  std::vector<KeptEntry> take() { return std::move(kept_); }

 private:
  // Puts `name` (planned as `st`) from `current` into `staged`; false when
  // it is passed over (another filesystem mounted there).
  bool link(const DirFd& current, const DirFd& staged, const std::string& name, const struct stat& st,
            const std::string& rel, std::size_t depth, KeptEntry& entry) {
    if (st.st_dev != dev_) {
      reporter_.warning(current.path_of(name) + " is another filesystem mounted in the tree: not kept in the "
                        "restored tree (it stays mounted where the old tree goes)");
      return false;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (::linkat(current.fd(), name.c_str(), staged.fd(), name.c_str(), 0) != 0) {
        if (errno == ENOENT) return false;  // gone since the listing (a log rotated)
        throw io_error(current.path_of(name), "cannot keep it in the restored tree (hard link into " +
                                                  staged.path() + ")",
                       errno);
      }
      // The name may have been swapped since it was planned: what was
      // linked must be what was seen.
      const std::optional<struct stat> linked = staged.stat_at(name);
      if (!linked || !same_file(*linked, st)) throw changed(current.path_of(name));
      ++entry.entries;
      if (S_ISREG(st.st_mode)) entry.bytes += static_cast<std::uint64_t>(st.st_size);
      return true;
    }
    if (depth >= format::kMaxDepth)
      throw refused_error(current.path_of(name) + ": deeper than " + std::to_string(format::kMaxDepth) +
                          " levels, too deep to keep in the restored tree");
    if (same_file(st, staged_root_)) throw changed(current.path_of(name));
    DirFd from = current.open_dir(name);
    const struct stat opened = from.stat();
    if (!same_file(opened, st)) throw changed(current.path_of(name));
    if (::mkdirat(staged.fd(), name.c_str(), 0700) != 0)
      throw io_error(staged.path_of(name), "cannot create directory", errno);
    DirFd to = staged.open_dir(name);
    ++entry.entries;
    for (const auto& child : from.list()) {
      const std::optional<struct stat> cst = from.stat_at(child);
      if (cst) link(from, to, child, *cst, join(rel, child), depth + 1, entry);
    }
    copy_metadata(from, to, opened);
    return true;
  }

  // Owner (as root), mode, extended attributes and mtime, after the
  // contents (which change the mtime).
  void copy_metadata(const DirFd& from, const DirFd& to, const struct stat& st) {
    if (::geteuid() == 0 && ::fchown(to.fd(), st.st_uid, st.st_gid) != 0)
      throw io_error(to.path(), "cannot set owner", errno);
    if (::fchmod(to.fd(), st.st_mode & 07777) != 0) throw io_error(to.path(), "cannot set permissions", errno);
    copy_xattrs(from, to);
    const timespec times[2] = {{0, UTIME_NOW}, st.st_mtim};
    if (::futimens(to.fd(), times) != 0) throw io_error(to.path(), "cannot set modification time", errno);
  }

  void copy_xattrs(const DirFd& from, const DirFd& to) {
    std::string names(kMaxXattrBytes, '\0');
    const ssize_t n = ::flistxattr(from.fd(), names.data(), names.size());
    if (n <= 0) return;
    names.resize(static_cast<std::size_t>(n));
    std::string value(kMaxXattrBytes, '\0');
    for (std::size_t i = 0; i < names.size(); i += std::strlen(names.c_str() + i) + 1) {
      const char* attr = names.c_str() + i;
      const ssize_t len = ::fgetxattr(from.fd(), attr, value.data(), value.size());
      if (len < 0 || ::fsetxattr(to.fd(), attr, value.data(), static_cast<std::size_t>(len), 0) != 0)
        reporter_.warning(to.path() + ": extended attribute " + attr + " not kept: " + std::strerror(errno));
    }
  }

  const KeepRule& rule_;
  const std::vector<std::string>& skip_;
  const dev_t dev_;
  // The staged tree: inside a mount point it lies in the current tree,
  // where its owner may rename it to a name that is kept.
  const struct stat staged_root_;
  Reporter& reporter_;
  std::vector<KeptEntry> kept_;
};

}  // namespace

KeepRule KeepRule::left_out_by(const Manifest& manifest, const std::string& tree) {
  KeepRule rule(tree);
  try {
    rule.excludes_ = ExcludeSet(manifest.excludes);
  } catch (const Error& e) {  // create would not have written it
    throw damaged_error("the archive's manifest records an exclude create does not accept: " + std::string(e.what()));
  }
  const std::string prefix = tree + "/";
  for (const LeftOut& l : manifest.left_out) {
    if (l.kind == "previous tree" || !l.path.starts_with(prefix) || l.path.size() == prefix.size()) continue;
    rule.add(l.path.substr(prefix.size()), l.kind + " directory, never backed up");
  }
  return rule;
}

void KeepRule::add(std::string rel, std::string reason) { paths_.emplace(std::move(rel), std::move(reason)); }

std::optional<std::string> KeepRule::reason(const std::string& rel, bool is_dir) const {
  if (auto it = paths_.find(rel); it != paths_.end()) return it->second;
  const std::string* pattern = excludes_.match(tree_ + "/" + rel, is_dir, &steps_);
  if (steps_ > kMaxMatchSteps)
    throw refused_error("the archive's --exclude patterns take too long to match against the " + tree_ +
                        " tree (is the archive's manifest hostile?)");
  if (pattern) return "--exclude '" + *pattern + "'";
  return std::nullopt;
}

bool KeepRule::may_keep_below(const std::string& rel) const {
  if (!excludes_.empty() || rel.empty()) return !empty();
  const std::string prefix = rel + "/";
  auto it = paths_.lower_bound(prefix);
  return it != paths_.end() && it->first.starts_with(prefix);
}

std::vector<KeptEntry> keep_from_current(const DirFd& current, const DirFd& staged, const KeepRule& rule,
                                         const std::vector<std::string>& skip, Reporter& reporter) {
  if (rule.empty()) return {};
  Keeper keeper(rule, skip, current.stat().st_dev, staged.stat(), reporter);
  keeper.search(current, staged, "", 0);
  return keeper.take();
}

}  // namespace jb
