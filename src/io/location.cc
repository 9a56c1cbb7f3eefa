// The spelling of a location. An rclone remote spec is either a configured
// name ("s3", "my-nas") or an on-the-fly backend with parameters
// (":webdav,url='http://host:8080'"); the latter may contain ':' inside
// quotes, so the ':' that ends the spec is the first one outside quotes
// (and after the leading ':' of an on-the-fly backend).
#include "jellyfin_backup/io/location.h"

#include <filesystem>
#include <string_view>

#include "jellyfin_backup/error.h"

namespace jb {
namespace {

constexpr std::string_view kRclonePrefix = "rclone:";

const char* const kRcloneSpelling = "write rclone:REMOTE:path, e.g. rclone:s3:bucket/backups";

// The index of the ':' that ends the remote spec in "REMOTE:path", or npos.
// `display` names the location in errors.
std::size_t remote_end(const std::string& spec, const std::string& display) {
  char quote = 0;
  for (std::size_t i = spec.starts_with(':') ? 1 : 0; i < spec.size(); ++i) {
    const char c = spec[i];
    if (quote) {
      if (c == quote) quote = 0;  // a doubled quote reopens at once: same effect
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == ':') {
      return i;
    }
  }
  if (quote)
    throw usage_error(display + ": unterminated quote in the rclone remote", kRcloneSpelling);
  return std::string::npos;
}

// "REMOTE:" and "path" of an rclone location's path.
std::pair<std::string, std::string> split_remote(const Location& location) {
  std::size_t end = remote_end(location.path, location.display());
  if (end == std::string::npos)
    throw usage_error(location.display() + ": names no rclone remote", kRcloneSpelling);
  return {location.path.substr(0, end + 1), location.path.substr(end + 1)};
}

// "a/b//" -> "a/b", "/" stays "/": the directory part of a path, without
// the slashes that would double up when a name is appended.
std::string without_trailing_slashes(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

// `dir` (a path without its remote) with `name` appended.
std::string append_name(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  const std::string d = without_trailing_slashes(dir);
  return d == "/" ? "/" + name : d + "/" + name;
}

// Splits a path (without its remote) at its last '/'. Throws when there is
// no file name: "", "dir/", "dir/..".
std::pair<std::string, std::string> split_path(const std::string& path, const std::string& display,
                                               const std::string& no_dir) {
  const std::size_t slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..")
    throw usage_error(display + ": names no file", "name a file, e.g. DIR/backup.tar.zst");
  if (slash == std::string::npos) return {no_dir, name};
  std::string dir = without_trailing_slashes(path.substr(0, slash));
  return {dir.empty() ? "/" : dir, name};
}

}  // namespace

std::string Location::display() const {
  switch (kind) {
    case Kind::kStdio:
      return "-";
    case Kind::kRclone:
      return std::string(kRclonePrefix) + path;
    case Kind::kLocal:
      break;
  }
  return path;
}

Location parse_location(const std::string& text) {
  if (text.empty())
    throw usage_error("an empty location names nothing",
                      "name a path, - for standard input/output, or rclone:REMOTE:path");
  if (text == "-") return {Location::Kind::kStdio, "-"};
  if (!text.starts_with(kRclonePrefix)) return {Location::Kind::kLocal, text};
  Location location{Location::Kind::kRclone, text.substr(kRclonePrefix.size())};
  split_remote(location);  // throws unless there is a remote
  return location;
}

std::pair<Location, std::string> split_file(const Location& file) {
  switch (file.kind) {
    case Location::Kind::kStdio:
      throw usage_error("-: standard input/output is not a file in a directory");
    case Location::Kind::kRclone: {
      auto [remote, path] = split_remote(file);
      auto [dir, name] = split_path(path, file.display(), "");
      return {Location{Location::Kind::kRclone, remote + dir}, name};
    }
    case Location::Kind::kLocal:
      break;
  }
  auto [dir, name] = split_path(file.path, file.display(), ".");
  return {Location{Location::Kind::kLocal, dir}, name};
}

Location join(const Location& dir, const std::string& name) {
  switch (dir.kind) {
    case Location::Kind::kStdio:
      throw usage_error("-: standard input/output is not a directory");
    case Location::Kind::kRclone: {
      auto [remote, path] = split_remote(dir);
      return {Location::Kind::kRclone, remote + append_name(path, name)};
    }
    case Location::Kind::kLocal:
      break;
  }
  // "x.tar.zst" reads better than "./x.tar.zst" in messages, unless the
  // bare name would parse as something else.
  if (dir.path.empty() || dir.path == ".") {
    if (name == "-" || name.starts_with(kRclonePrefix))
      return {Location::Kind::kLocal, "./" + name};
    return {Location::Kind::kLocal, name};
  }
  return {Location::Kind::kLocal, append_name(dir.path, name)};
}

std::string remote_dir_key(const Location& dir) {
  auto [remote, path] = split_remote(dir);
  std::string normal = std::filesystem::path(path).lexically_normal().string();
  if (normal == ".") normal.clear();
  return remote + without_trailing_slashes(normal);
}

}  // namespace jb
