#include "jellyfin_backup/create/disk_entry.h"

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
  archive_entry_copy_sourcepath(entry.get(), source_path.c_str());
  archive_entry_copy_pathname(entry.get(), source_path.c_str());
  int ret = archive_read_disk_entry_from_file(disk_.get(), entry.get(), fd, &planned.st);
  if (ret != ARCHIVE_OK && ret != ARCHIVE_WARN)
    throw Error(ErrorKind::kRuntime, source_path + ": " + archive_message(disk_.get()));
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

}  // namespace jb
