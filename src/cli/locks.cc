#include <sys/stat.h>

#include "cli/options.h"
#include "jellyfin_backup/io/store.h"

namespace jb::cli {

void add_lock_flags(cxxopts::Options& options) {
  options.add_options()
      ("wait-lock", "When another run holds a lock, wait up to SECONDS for it (default 0: exit 5 at once)",
       cxxopts::value<double>()->default_value("0"), "SECONDS");
}

double lock_wait_seconds(const cxxopts::ParseResult& result) {
  const double seconds = result["wait-lock"].as<double>();
  if (!(seconds >= 0 && seconds <= 7 * 24 * 3600.0))
    throw bad_flag_error("wait-lock", "--wait-lock takes seconds between 0 and 604800");
  return seconds;
}

std::vector<LockFile> lock_install(const Install& install, const std::string& command, Reporter& reporter,
                                   double wait_seconds) {
  return lock_trees({install.config.path, install.data.path}, command, reporter, wait_seconds);
}

std::optional<LockFile> lock_backup_dir(const Location& dir, const std::string& command, Reporter& reporter,
                                        double wait_seconds) {
  if (dir.is_stdio()) return std::nullopt;
  if (!dir.is_rclone()) {
    struct stat st;
    if (::stat(dir.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  }
  auto store = open_store(dir);
  return LockFile::acquire(store->lock_path(), "the backup directory " + dir.display(), command, reporter,
                           wait_seconds);
}

}  // namespace jb::cli
