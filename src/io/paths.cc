#include "jellyfin_backup/io/paths.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

#include "jellyfin_backup/error.h"

namespace jb {

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool lies_within(const std::string& inner, const std::string& outer) {
  return inner == outer ||
         (inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
          (outer == "/" || inner[outer.size()] == '/'));
}

std::string absolute_dir(const std::string& path, const char* flag) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (!real) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR)
      throw usage_error(path + ": no such directory (" + flag + ")",
                        "check the path; it must be an existing directory");
    throw io_error(path, std::string("cannot use ") + flag + " directory", err);
  }
  std::string result(real);
  ::free(real);
  struct stat st;
  if (::stat(result.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw usage_error(path + ": not a directory (" + flag + ")");
  return result;
}

std::string absolute_target(const std::string& path, const char* flag) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  std::string name = name_of(p);
  if (name.empty() || name == "." || name == ".." || p == "/")
    throw usage_error(path + ": cannot restore into this path (" + flag + ")",
                      "name the directory itself, e.g. /var/lib/jellyfin");
  std::string parent = parent_of(p);
  char* real = ::realpath(parent.c_str(), nullptr);
  if (!real)
    throw usage_error(parent + ": the parent of " + flag + " " + path + " does not exist",
                      "create it first or check the path");
  std::string resolved(real);
  ::free(real);
  return resolved == "/" ? "/" + name : resolved + "/" + name;
}

void check_distinct_trees(const std::string& config, const std::string& data) {
  if (config == data)
    throw usage_error("--config and --data are the same directory (" + config + ")",
                      "Jellyfin keeps them apart; check the paths (`jellyfin-backup where` shows them)");
}

std::string relative_below(const std::string& inner, const std::string& outer) {
  if (inner == outer || !lies_within(inner, outer)) return {};
  return inner.substr(outer == "/" ? 1 : outer.size() + 1);
}

}  // namespace jb
