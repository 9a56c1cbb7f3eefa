#include <sys/stat.h>

#include "cli/options.h"
#include "jellyfin_backup/io/store.h"

namespace jb::cli {

std::vector<LockFile> lock_install(const Install& install, const std::string& command, Reporter& reporter) {
  return lock_trees({install.config.path, install.data.path}, command, reporter);
}

std::optional<LockFile> lock_backup_dir(const Location& dir, const std::string& command, Reporter& reporter) {
  if (dir.is_stdio()) return std::nullopt;
  if (!dir.is_rclone()) {
    struct stat st;
    if (::stat(dir.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  }
  auto store = open_store(dir);
  return LockFile::acquire(store->lock_path(), "the backup directory " + dir.display(), command, reporter);
}

}  // namespace jb::cli
