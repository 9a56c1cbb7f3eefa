// rclone as our one network engine: every remote operation is one run of
// the `rclone` binary (S3, B2, SFTP, WebDAV, Google Drive... whatever the
// user's rclone config knows). Archives stream through `rclone cat` and
// `rclone rcat`; nothing is copied to a local temporary file.
//
// The binary is $JELLYFIN_BACKUP_RCLONE if set, else `rclone` on $PATH.
// rclone runs with -q (errors only) and its stderr is captured, so a
// failure becomes one of our one-line errors quoting rclone's last line.
// rclone exit codes 3 and 4 ("directory/file not found") of a directory
// the user named (rclone_list) become Error(kUsage) ("not found"); every
// other failure is Error(kRuntime).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/io/child_process.h"
#include "jellyfin_backup/io/sink.h"
#include "jellyfin_backup/io/source.h"

namespace jb {

// The rclone binary, or Error(kUsage) saying how to install it.
std::string rclone_binary();

struct RemoteFile {
  std::string name;          // last path component
  std::uint64_t size = 0;
  std::int64_t mtime = 0;    // unix seconds; 0 when the remote has none
  bool is_dir = false;
};

// `rclone lsjson REMOTE:dir`: the entries directly in `dir` (not recursive).
std::vector<RemoteFile> rclone_list(const std::string& remote_dir);
// `rclone lsjson --stat REMOTE:path`; nullopt when it does not exist.
std::optional<RemoteFile> rclone_stat(const std::string& remote_path);
// `rclone deletefile`; a missing file is not an error when `missing_ok`.
void rclone_delete(const std::string& remote_path, bool missing_ok = false);
// `rclone moveto FROM TO` (server-side where the remote can).
void rclone_move(const std::string& from, const std::string& to);

// `rclone cat REMOTE:path` (with `--count head` when given: only the start).
// read() returns 0 only after rclone exited cleanly; a failing rclone is an
// error at that point, never a short archive.
class RcloneSource : public Source {
 public:
  RcloneSource(const std::string& remote_path, std::string display,
               std::optional<std::uint64_t> size = std::nullopt,
               std::optional<std::uint64_t> head = std::nullopt);
  std::size_t read(void* buffer, std::size_t size) override;
  const std::string& name() const override { return display_; }
  std::optional<std::uint64_t> size() const override { return size_; }

 private:
  std::string remote_path_, display_;
  std::optional<std::uint64_t> size_;
  ChildProcess child_;
  bool done_ = false;
};

// `rclone rcat` into a hidden temporary beside the final name
// (".<name>.tmp-XXXXXXXX"), then `rclone moveto` onto the final name in
// commit(): a remote never holds a partial archive under its final name.
// Refuses (Error(kRuntime), "already exists") when the final name exists.
// Without commit(), the destructor stops rclone before it could finish the
// upload and deletes the temporary.
class RcloneSink : public Sink {
 public:
  // `size`: the exact length, when known, as `rcat --size` (see Store::create).
  RcloneSink(const std::string& remote_path, std::string display,
             std::optional<std::uint64_t> size = std::nullopt);
  ~RcloneSink() override;
  void write(const void* data, std::size_t size) override;
  void commit() override;
  std::string name() const override { return display_; }

 private:
  std::string final_path_, temp_path_, display_;
  ChildProcess child_;
  bool committed_ = false;
};

// `rclone cat --files-from -`: the files `names` of `remote_dir`, one run
// of rclone for all of them, concatenated in no promised order; missing
// files add nothing, and a failing rclone just yields less. Stops after
// `max_bytes`. With `each`, only the first `each` bytes of every file.
// For callers that can tell the pieces apart (sidecars name their archive)
// and read the rest one by one.
std::string rclone_cat_files(const std::string& remote_dir, const std::vector<std::string>& names,
                             std::size_t max_bytes, std::optional<std::size_t> each = std::nullopt);

// Small whole files (sidecars). read: nullopt when missing; write replaces.
std::optional<std::string> rclone_read_small(const std::string& remote_path, std::size_t max_bytes);
void rclone_write_small(const std::string& remote_path, const std::string& content);

}  // namespace jb
