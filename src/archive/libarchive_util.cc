#include "jellyfin_backup/archive/libarchive_util.h"

namespace jb {

std::string archive_message(archive* a) {
  const char* msg = archive_error_string(a);
  return msg ? msg : "unknown libarchive error";
}

void check_archive(int ret, archive* a, ErrorKind kind, const std::string& context) {
  if (ret == ARCHIVE_OK || ret == ARCHIVE_WARN) return;
  throw Error(kind, context + ": " + archive_message(a));
}

}  // namespace jb
