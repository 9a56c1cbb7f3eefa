// RAII owners for libarchive handles and the one helper that translates
// libarchive's return codes (OK / WARN / RETRY / FAILED / FATAL), as bsdtar
// does at every call.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <string>

#include "jellyfin_backup/error.h"

namespace jb {

struct ArchiveReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveEntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchiveReadPtr = std::unique_ptr<archive, ArchiveReadDeleter>;
using ArchiveWritePtr = std::unique_ptr<archive, ArchiveWriteDeleter>;
using ArchiveEntryPtr = std::unique_ptr<archive_entry, ArchiveEntryDeleter>;

// libarchive's message for the last error, or a generic one.
std::string archive_message(archive* a);

// Returns normally for ARCHIVE_OK and ARCHIVE_WARN (the warning text is
// left for the caller, which can ask archive_message); throws Error of
// `kind` for anything worse, prefixed with `context`.
void check_archive(int ret, archive* a, ErrorKind kind, const std::string& context);

}  // namespace jb
