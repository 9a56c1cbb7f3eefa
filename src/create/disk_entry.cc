#include "jellyfin_backup/create/disk_entry.h"

#include <unistd.h>

#include <cerrno>
#include <vector>

#include "jellyfin_backup/error.h"

namespace jb {

DiskEntryBuilder::DiskEntryBuilder() : disk_(archive_read_disk_new()) {
  if (!disk_) throw std::bad_alloc();
  archive* a = disk_.get();
  check_archive(archive_read_disk_set_standard_lookup(a), a, ErrorKind::kRuntime, "libarchive");
  // File flags (chattr) are not restorable by GNU tar and reading them opens
  // every directory once more.
  check_archive(archive_read_disk_set_behavior(a, ARCHIVE_READDISK_NO_FFLAGS), a,
                ErrorKind::kRuntime, "libarchive");
}

ArchiveEntryPtr DiskEntryBuilder::build(const PlannedEntry& planned,
                                        const std::string& source_path, int fd) {
  ArchiveEntryPtr entry(archive_entry_new());
  if (!entry) throw std::bad_alloc();
  const mode_t type = planned.st.st_mode & S_IFMT;
  if (type == S_IFREG || type == S_IFDIR) {
    // libarchive falls back to the source path where it has no fd call (a
    // directory's default ACL on Linux): the magic link is that very inode.
    const std::string by_fd = "/proc/self/fd/" + std::to_string(fd);
    archive_entry_copy_sourcepath(entry.get(), by_fd.c_str());
    archive_entry_copy_pathname(entry.get(), by_fd.c_str());
    int ret = archive_read_disk_entry_from_file(disk_.get(), entry.get(), fd, &planned.st);
    if (ret != ARCHIVE_OK && ret != ARCHIVE_WARN)
      throw Error(ErrorKind::kRuntime, source_path + ": " + archive_message(disk_.get()));
  } else {
    describe_other(entry.get(), planned, source_path, fd);
  }
  archive_entry_copy_sourcepath(entry.get(), source_path.c_str());
  archive_entry_copy_pathname(entry.get(), planned.archive_path.c_str());
  archive_entry_unset_atime(entry.get());
  archive_entry_unset_ctime(entry.get());
  archive_entry_unset_birthtime(entry.get());
  if (!planned.hardlink_target.empty()) {
    archive_entry_copy_hardlink(entry.get(), planned.hardlink_target.c_str());
    archive_entry_set_size(entry.get(), 0);
    archive_entry_sparse_clear(entry.get());
  }
  return entry;
}

void DiskEntryBuilder::describe_other(archive_entry* entry, const PlannedEntry& planned,
                                      const std::string& source_path, int fd) {
  archive_entry_copy_stat(entry, &planned.st);
  if (const char* name = archive_read_disk_uname(disk_.get(), planned.st.st_uid))
    archive_entry_copy_uname(entry, name);
  if (const char* name = archive_read_disk_gname(disk_.get(), planned.st.st_gid))
    archive_entry_copy_gname(entry, name);
  if (!S_ISLNK(planned.st.st_mode)) return;
  // A symlink's target cannot change (only the link can be replaced), and fd
  // is the checked link itself. st_size is the target's length, but a
  // filesystem may report 0: grow until readlinkat leaves room to spare.
  std::vector<char> target(static_cast<std::size_t>(planned.st.st_size) + 1);
  if (target.size() < 256) target.resize(256);
  for (;;) {
    ssize_t n = ::readlinkat(fd, "", target.data(), target.size());
    if (n < 0) throw io_error(source_path, "cannot read symlink", errno, "no archive was written");
    if (static_cast<std::size_t>(n) < target.size()) {
      archive_entry_copy_symlink(entry, std::string(target.data(), static_cast<std::size_t>(n)).c_str());
      return;
    }
    target.resize(target.size() * 2);
  }
}

}  // namespace jb
