#include "jellyfin_backup/io/paths.h"

#include <sys/stat.h>
#include <unistd.h>

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

std::string absolute_path(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char* cwd = ::getcwd(nullptr, 0);
  if (!cwd) throw io_error(".", "cannot read the current directory", errno);
  std::string out = std::string(cwd) + "/" + path;
  ::free(cwd);
  return out;
}

namespace {

// May a symlink in the directory `dir` be followed? Only where nobody but
// root and us could have put it there or could change it: the directory is
// root's or ours and not writable by group or others, or (like /tmp) it is
// sticky and the link itself is root's or ours.
bool trusted_link(const struct stat& dir, const struct stat& link) {
  const uid_t me = ::geteuid();
  const bool mine_or_root = dir.st_uid == 0 || dir.st_uid == me;
  if (mine_or_root && (dir.st_mode & (S_IWGRP | S_IWOTH)) == 0) return true;
  return (dir.st_mode & S_ISVTX) != 0 && (link.st_uid == 0 || link.st_uid == me);
}

constexpr int kMaxLinks = 40;  // as the kernel's ELOOP limit

}  // namespace

std::string resolve_path(const std::string& path, const char* flag) {
  std::string resolved = "/";
  std::string rest = absolute_path(path);
  int links = 0;
  struct stat here;  // the directory `resolved` names
  if (::lstat("/", &here) != 0) throw io_error("/", "cannot stat", errno);
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    const std::string part = rest.substr(0, slash);
    rest = slash == std::string::npos ? std::string() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      resolved = parent_of(resolved);
      if (::lstat(resolved.c_str(), &here) != 0) throw io_error(resolved, "cannot stat", errno);
      continue;
    }
    const std::string next = resolved == "/" ? "/" + part : resolved + "/" + part;
    struct stat st;
    if (::lstat(next.c_str(), &st) != 0) {
      // What does not exist stays as written; the caller says what it needs.
      resolved = next;
      for (std::size_t at = 0; at < rest.size();) {
        std::size_t end = rest.find('/', at);
        std::string more = rest.substr(at, end == std::string::npos ? std::string::npos : end - at);
        if (!more.empty() && more != ".") resolved += "/" + more;
        at = end == std::string::npos ? rest.size() : end + 1;
      }
      return resolved;
    }
    if (S_ISLNK(st.st_mode)) {
      if (!trusted_link(here, st))
        throw refused_error(next + " (" + flag + " " + path + "): a symlink in " + resolved +
                                ", a directory another user can write: not followed",
                            "name the real directory instead; a link there may have been planted by the tree's owner");
      if (++links > kMaxLinks) throw io_error(path, std::string("cannot use ") + flag, ELOOP);
      std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 4096) + 1, '\0');
      ssize_t n = ::readlink(next.c_str(), target.data(), target.size());
      if (n < 0) throw io_error(next, "cannot read symlink", errno);
      target.resize(static_cast<std::size_t>(n));
      if (!target.empty() && target[0] == '/') {
        resolved = "/";
        if (::lstat("/", &here) != 0) throw io_error("/", "cannot stat", errno);
      }
      rest = rest.empty() ? target : target + "/" + rest;
      continue;
    }
    resolved = next;
    here = st;
  }
  return resolved;
}

std::string absolute_dir(const std::string& path, const char* flag) {
  const std::string result = resolve_path(path, flag);
  struct stat st;
  if (::lstat(result.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR)
      throw usage_error(path + ": no such directory (" + flag + ")",
                        "check the path; it must be an existing directory");
    throw io_error(path, std::string("cannot use ") + flag + " directory", err);
  }
  if (!S_ISDIR(st.st_mode)) throw usage_error(path + ": not a directory (" + flag + ")");
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
  const std::string resolved = resolve_path(parent, flag);
  struct stat st;
  if (::lstat(resolved.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw usage_error(parent + ": the parent of " + flag + " " + path + " does not exist",
                      "create it first or check the path");
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
