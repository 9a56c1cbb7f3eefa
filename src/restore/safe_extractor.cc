#include "jellyfin_backup/restore/safe_extractor.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/error.h"

namespace jb {
namespace {

// "." and ".." are real directories: O_NOFOLLOW does not stop them.
bool plain_name(std::string_view part) { return !part.empty() && part != "." && part != ".."; }

std::pair<std::string, std::string> split_parent(const std::string& rel) {
  auto slash = rel.rfind('/');
  if (slash == std::string::npos) return {"", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

}  // namespace

SafeExtractor::SafeExtractor(std::vector<ExtractTarget> targets, Reporter& reporter)
    : targets_(std::move(targets)), reporter_(reporter), root_(::geteuid() == 0) {}

void SafeExtractor::unsafe(const std::string& why) {
  // restore adds what this means for the targets.
  throw damaged_error(path_ + ": " + why + " (unsafe archive)");
}

void SafeExtractor::io_failure(const std::string& what, int err) {
  throw io_error(path_, what, err,
                 err == ENOSPC || err == EDQUOT ? "the target's filesystem is full; nothing was restored"
                                                : "nothing was restored");
}

SafeExtractor::Meta SafeExtractor::meta_of(archive_entry* entry) {
  Meta m;
  // setuid/setgid/sticky only as root: anyone else would hand out privileges.
  m.mode = archive_entry_perm(entry) & (root_ ? 07777 : 0777);
  if (root_) {
    // Names first, as tar does: on another machine the jellyfin user may have
    // another uid. Unknown names fall back to the stored number.
    m.uid = static_cast<uid_t>(archive_entry_uid(entry));
    m.gid = static_cast<gid_t>(archive_entry_gid(entry));
    if (const char* name = archive_entry_uname(entry); name && *name) {
      auto [it, fresh] = users_.try_emplace(name);
      if (fresh) {
        if (passwd* pw = ::getpwnam(name)) it->second = pw->pw_uid;
      }
      if (it->second) m.uid = *it->second;
    }
    if (const char* name = archive_entry_gname(entry); name && *name) {
      auto [it, fresh] = groups_.try_emplace(name);
      if (fresh) {
        if (group* gr = ::getgrnam(name)) it->second = gr->gr_gid;
      }
      if (it->second) m.gid = *it->second;
    }
  }
  m.mtime.tv_sec = archive_entry_mtime(entry);
  m.mtime.tv_nsec = archive_entry_mtime_nsec(entry);
  const char* name;
  const void* value;
  size_t size;
  archive_entry_xattr_reset(entry);
  while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK)
    m.xattrs.emplace_back(name, std::string(static_cast<const char*>(value), size));
  return m;
}

int SafeExtractor::open_dir(std::size_t t, const std::string& rel, bool create) {
  if (t != chain_target_) {
    chain_.clear();
    chain_target_ = t;
  }
  // Keep the directories `rel` shares with the chain; open the rest, one
  // component at a time, from the deepest kept one. Entries come depth
  // first, so this opens about one directory per entry, at any depth.
  std::size_t level = 0;
  std::size_t start = 0;
  while (start < rel.size()) {
    std::size_t slash = rel.find('/', start);
    if (slash == std::string::npos) slash = rel.size();
    std::string_view part(rel.data() + start, slash - start);
    if (level < chain_.size() && chain_[level].name == part) {
      ++level;
      start = slash + 1;
      continue;
    }
    chain_.erase(chain_.begin() + static_cast<std::ptrdiff_t>(level), chain_.end());
    if (!plain_name(part)) unsafe("path has an empty, '.' or '..' component");
    // The Verifier refuses deeper archives; this bounds our fds regardless.
    if (level >= format::kMaxDepth) unsafe("lies deeper than " + std::to_string(format::kMaxDepth) + " levels");
    const int parent = level == 0 ? targets_[t].root_fd : chain_[level - 1].fd.get();
    const std::string name(part);
    int next = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      // A parent the archive did not list: make it private; a later entry
      // for it (there is none in our archives) would set its metadata.
      if (::mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST)
        io_failure("cannot create directory", errno);
      next = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      if (errno == ELOOP || errno == ENOTDIR)
        unsafe("would be written through \"" + rel.substr(0, slash) + "\", which is not a directory");
      io_failure("cannot open parent directory", errno);
    }
    chain_.push_back({name, UniqueFd(next)});
    ++level;
    start = slash + 1;
  }
  chain_.erase(chain_.begin() + static_cast<std::ptrdiff_t>(level), chain_.end());
  return level == 0 ? targets_[t].root_fd : chain_.back().fd.get();
}

void SafeExtractor::apply_xattrs(int fd, const Meta& meta, const std::string& display) {
  for (const auto& [name, value] : meta.xattrs) {
    if (::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) != 0) {
      reporter_.warning(display + ": extended attribute " + name + " not restored: " +
                        std::strerror(errno));
    }
  }
}

void SafeExtractor::apply_to_fd(int fd, const Meta& meta, const std::string& display) {
  // Owner before mode: chown clears setuid bits.
  if (meta.uid && ::fchown(fd, *meta.uid, *meta.gid) != 0) io_failure("cannot set owner", errno);
  if (::fchmod(fd, meta.mode) != 0) io_failure("cannot set permissions", errno);
  apply_xattrs(fd, meta, display);
  const timespec times[2] = {{0, UTIME_NOW}, meta.mtime};
  if (::futimens(fd, times) != 0) io_failure("cannot set modification time", errno);
}

void SafeExtractor::begin_entry(archive_entry* entry) {
  const char* raw = archive_entry_pathname(entry);
  path_ = raw ? raw : "";
  while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
  skip_ = true;
  file_.reset();
  size_ = 0;

  std::string tree = path_.substr(0, path_.find('/'));
  std::size_t t = 0;
  while (t < targets_.size() && targets_[t].tree != tree) ++t;
  if (t == targets_.size()) return;  // a tree we were not asked to restore
  skip_ = false;
  const std::string rel = path_.size() > tree.size() ? path_.substr(tree.size() + 1) : "";
  const auto type = archive_entry_filetype(entry);
  meta_ = meta_of(entry);

  if (rel.empty()) {  // the tree's root: the staging directory itself
    if (type != AE_IFDIR) unsafe("tree root is not a directory");
    dirs_.push_back({t, "", meta_});
    return;
  }
  auto [parent_rel, name] = split_parent(rel);
  if (!plain_name(name)) unsafe("path has an empty, '.' or '..' component");
  const int parent = open_dir(t, parent_rel, /*create=*/true);

  if (const char* hardlink = archive_entry_hardlink(entry)) {
    std::string target(hardlink);
    if (target.compare(0, tree.size() + 1, tree + "/") != 0)
      unsafe("hardlink to \"" + target + "\" outside its tree");
    auto [target_parent_rel, target_name] = split_parent(target.substr(tree.size() + 1));
    if (!plain_name(target_name)) unsafe("hardlink target has an empty, '.' or '..' component");
    // Resolve the link's target directory first: the next open_dir may
    // close it.
    UniqueFd target_parent(::dup(open_dir(t, target_parent_rel, /*create=*/false)));
    if (!target_parent) io_failure("cannot open parent directory", errno);
    const int link_parent = open_dir(t, parent_rel, /*create=*/true);
    struct stat st;
    if (::fstatat(target_parent.get(), target_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode))
      unsafe("hardlink to \"" + target + "\", which was not extracted as a regular file");
    if (::linkat(target_parent.get(), target_name.c_str(), link_parent, name.c_str(), 0) != 0) {
      if (errno == EEXIST) unsafe("exists already (duplicate entry)");
      io_failure("cannot create hardlink", errno);
    }
    ++files_;
    return;
  }

  switch (type) {
    case AE_IFREG: {
      int fd = ::openat(parent, name.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0) {
        if (errno == EEXIST || errno == ELOOP) unsafe("exists already (duplicate entry)");
        io_failure("cannot create file", errno);
      }
      file_.reset(fd);
      size_ = archive_entry_size(entry) > 0 ? static_cast<std::uint64_t>(archive_entry_size(entry)) : 0;
      return;
    }
    case AE_IFDIR: {
      if (::mkdirat(parent, name.c_str(), 0700) != 0) {
        struct stat st;
        bool made_as_parent = errno == EEXIST &&
                              ::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                              S_ISDIR(st.st_mode);
        if (!made_as_parent) {
          if (errno == EEXIST) unsafe("exists already (duplicate entry)");
          io_failure("cannot create directory", errno);
        }
      }
      dirs_.push_back({t, rel, meta_});
      return;
    }
    case AE_IFLNK: {
      const char* link = archive_entry_symlink(entry);
      if (!link) unsafe("symlink without a target");
      if (::symlinkat(link, parent, name.c_str()) != 0) {
        if (errno == EEXIST) unsafe("exists already (duplicate entry)");
        io_failure("cannot create symlink", errno);
      }
      if (meta_.uid && ::fchownat(parent, name.c_str(), *meta_.uid, *meta_.gid, AT_SYMLINK_NOFOLLOW) != 0)
        io_failure("cannot set owner", errno);
      const timespec times[2] = {{0, UTIME_NOW}, meta_.mtime};
      if (::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
        io_failure("cannot set modification time", errno);
      return;
    }
    case AE_IFIFO:
    case AE_IFCHR:
    case AE_IFBLK: {
      if (type != AE_IFIFO && !root_) {
        reporter_.warning(path_ + ": device node not restored (only root can create one)");
        return;
      }
      mode_t kind = type == AE_IFIFO ? S_IFIFO : type == AE_IFCHR ? S_IFCHR : S_IFBLK;
      dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(entry);
      if (::mknodat(parent, name.c_str(), kind | 0600, dev) != 0) {
        if (errno == EEXIST) unsafe("exists already (duplicate entry)");
        io_failure("cannot create special file", errno);
      }
      // Opening a FIFO or device would block or act on it: use an O_PATH fd.
      UniqueFd fd(::openat(parent, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) io_failure("cannot open special file", errno);
      std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
      if (meta_.uid && ::fchownat(parent, name.c_str(), *meta_.uid, *meta_.gid, AT_SYMLINK_NOFOLLOW) != 0)
        io_failure("cannot set owner", errno);
      if (::chmod(proc.c_str(), meta_.mode) != 0) io_failure("cannot set permissions", errno);
      const timespec times[2] = {{0, UTIME_NOW}, meta_.mtime};
      if (::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
        io_failure("cannot set modification time", errno);
      return;
    }
    default:
      unsafe("unsupported entry type");
  }
}

void SafeExtractor::data(const DataBlock& block) {
  if (skip_ || !file_) return;
  if (block.offset > size_ || block.bytes.size() > size_ - block.offset)
    unsafe("more data than its header states");
  const char* p = block.bytes.data();
  std::size_t left = block.bytes.size();
  off_t offset = static_cast<off_t>(block.offset);
  while (left > 0) {
    ssize_t n = ::pwrite(file_.get(), p, left, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_failure("cannot write", errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
    offset += n;
  }
  bytes_ += block.bytes.size();
}

void SafeExtractor::end_entry() {
  if (skip_ || !file_) return;
  // Holes (sparse files, a trailing hole) were skipped, not written: the
  // size comes from the header.
  if (::ftruncate(file_.get(), static_cast<off_t>(size_)) != 0) io_failure("cannot set size", errno);
  apply_to_fd(file_.get(), meta_, path_);
  if (::close(file_.release()) != 0) io_failure("cannot close", errno);
  ++files_;
}

void SafeExtractor::finish() {
  // Archive order is depth first: backwards, every directory comes after
  // everything inside it, so setting its mtime and a read-only mode last
  // cannot be undone or refused by what follows.
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    path_ = targets_[it->target].tree + (it->rel.empty() ? "" : "/" + it->rel);
    apply_to_fd(open_dir(it->target, it->rel, /*create=*/false), it->meta, path_);
  }
  dirs_.clear();
  chain_.clear();
  chain_target_ = SIZE_MAX;
}

}  // namespace jb
