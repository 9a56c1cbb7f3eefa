// `create`: stream the config and data trees into one archive.
//
//   plan (stat-only walk) -> MANIFEST.json -> for each entry: header, then
//   file bytes read once, hashed (XXH3-128) and tar-formatted on this thread
//   -> CompressStage (its own thread + zstd workers) -> Sink
//   -> CHECKSUMS.xxh128 -> commit (fsync + rename, never replacing; or a
//   remote's temporary moved to its name) -> sidecar "<archive>.xxh128".
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/archive/manifest.h"
#include "jellyfin_backup/io/location.h"
#include "jellyfin_backup/reporter.h"

namespace jb {

// A Jellyfin directory create leaves out when it lies inside a tree.
struct LeaveOut {
  std::string kind;  // "log", "cache", "transcodes"
  std::string path;  // absolute
};

struct CreateOptions {
  std::string data_dir;    // --data
  std::string config_dir;  // --config
  // --output: a directory, a file path, "-" (stdout), or an rclone remote
  // ("rclone:REMOTE:dir" or "rclone:REMOTE:dir/name.tar.zst").
  std::string output;
  std::optional<std::string> server_version;  // --server-version, or detected
  std::optional<std::string> version_source;  // where server_version came from
  std::vector<LeaveOut> leave_out;  // without --include-logs / --include-cache
  bool force = false;               // --force: back up even while the server runs
  std::string stop_hint;            // how to stop this install's server, for the refusal
  double stop_grace_seconds = 0;    // after a stop command: how long the server may take to exit
  // Called once every file has been read, before the archive is finished
  // (compressed, synced, uploaded, named): the server may start again.
  std::function<void()> trees_read;
  // Called once the trees are planned, before the first entry is read: a
  // test seam to change a tree in that gap, as its owner could.
  std::function<void()> planned;
  int level = 3;           // --level
  int threads = 0;         // --threads; 0 means the number of online CPUs
  std::vector<std::string> excludes;  // --exclude
};

struct CreateResult {
  std::string path;             // final archive path, or "-"
  std::string sidecar;          // "<path>.xxh128" once written; empty for stdout
  std::uint64_t bytes_in = 0;   // file content read from the trees
  std::uint64_t tar_bytes = 0;  // uncompressed archive size
  std::uint64_t bytes_out = 0;  // archive size
  std::uint64_t files = 0;
  std::uint64_t entries = 0;
  std::uint64_t frames = 0;
  double seconds = 0;
  std::optional<std::string> version;
  std::vector<LeftOut> left_out;
  std::optional<std::string> forced;
  std::vector<std::string> warnings;
};

// Where an archive written to `output` goes: its directory, and its file
// name unless `output` names a directory (the writer then generates one).
// One rule, local and remote alike: a name ending in ".tar.zst" is the
// archive file, anything else the directory of archives, so no archive is
// ever written under a name list and prune do not see. Throws
// Error(kUsage) for "-" (stdout).
struct OutputTarget {
  Location dir;
  std::optional<std::string> name;
};
OutputTarget output_target(const std::string& output);

// Makes sure `target`'s directory can take the archive: a local directory
// of archives that does not exist is created (mode 0700) when its parent
// exists; the directory of a named file must exist. Throws Error(kRuntime)
// otherwise, and when a file stands where the directory should be.
void prepare_output_dir(const OutputTarget& target);

// Before the server is stopped: that `output` can be written to (its
// directory prepared; rclone installed and the remote answering) and
// does not name an existing file, so a typo does not cost a stopped server.
// Throws what create_archive would.
void check_output(const std::string& output);

// Throws Error; on any error no file exists under the final name.
CreateResult create_archive(const CreateOptions& options, Reporter& reporter);

// "jellyfin.<YYYYMMDDTHHMMSSZ>_<version>.tar.zst", version reduced to
// [A-Za-z0-9._+-] so it is always a safe file name.
std::string archive_file_name(std::int64_t unix_time, const std::optional<std::string>& version);

}  // namespace jb
