// Where an archive, or a directory of archives, lives: a local path,
// standard input/output ("-"), or any rclone remote ("rclone:REMOTE:path",
// e.g. "rclone:s3:bucket/jellyfin", "rclone:nas:backups/x.tar.zst"). Only
// this file knows the spelling; everything else asks a Location.
#pragma once

#include <string>
#include <utility>

namespace jb {

struct Location {
  enum class Kind { kStdio, kLocal, kRclone };
  Kind kind = Kind::kLocal;
  // kLocal: the path as given; kRclone: "REMOTE:path" as rclone takes it
  // (the "rclone:" prefix removed); kStdio: "-".
  std::string path;

  bool is_stdio() const { return kind == Kind::kStdio; }
  bool is_rclone() const { return kind == Kind::kRclone; }
  // As the user writes it: "/srv/backups", "rclone:s3:bucket/x", "-".
  std::string display() const;
};

// Throws Error(kUsage) for "rclone:" without a remote ("rclone:path"),
// an empty string, or a remote spec with an unterminated quote.
Location parse_location(const std::string& text);

// A file location split into its directory and its name:
// "rclone:s3:b/dir/x.tar.zst" -> ("rclone:s3:b/dir", "x.tar.zst"),
// "rclone:s3:x.tar.zst" -> ("rclone:s3:", "x.tar.zst"), "x.tar.zst" -> (".", "x.tar.zst").
// Throws Error(kUsage) for stdio, or when there is no file name (ends in "/").
std::pair<Location, std::string> split_file(const Location& file);

// `dir` joined with `name`, the inverse of split_file.
Location join(const Location& dir, const std::string& name);

// An rclone directory's "REMOTE:path" as one spelling, as far as text can
// tell: "s3:b/jb/", "s3:b//jb" and "s3:b/x/../jb" are all "s3:b/jb". What
// keys a remote directory's lock.
std::string remote_dir_key(const Location& dir);

}  // namespace jb
