// A file that appears under its final name only when complete.
//
// Bytes go to a hidden temporary ".<name>.tmp-XXXXXX" in the same directory,
// created 0600 with O_EXCL|O_NOFOLLOW (a backup holds password hashes and API
// keys, and a symlink planted in the directory must not redirect it).
// commit() fsyncs the file, renames it without ever replacing an existing
// file (unless created with kReplace), and fsyncs the directory.
// Destruction without commit() removes the temporary; so does an
// interrupting signal (see interrupt.h).
#pragma once

#include <string>

#include "jellyfin_backup/io/sink.h"
#include "jellyfin_backup/io/unique_fd.h"

namespace jb {

// fsync of a directory: makes renames and unlinks in it durable.
void fsync_dir(const std::string& dir);

// Throws what AtomicFile::create would for its directory `dir` (missing,
// or not a directory), with `missing_hint` for a missing one.
void check_output_dir(const std::string& dir, const std::string& missing_hint);

class AtomicFile : public Sink {
 public:
  enum Mode {
    kNoReplace,  // an archive: an existing file is never overwritten
    kReplace,    // a small file kept up to date (a sidecar): swapped in whole
  };

  // Throws Error: kRuntime if `final_path` exists (kNoReplace only) or the
  // directory is not writable or missing.
  static AtomicFile create(const std::string& final_path, Mode mode = kNoReplace);

  AtomicFile(AtomicFile&&) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  ~AtomicFile() override;

  void write(const void* data, std::size_t size) override;
  void commit() override;
  std::string name() const override { return final_path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFile(std::string final_path, std::string temp_path, UniqueFd fd, Mode mode);

  std::string final_path_;
  std::string temp_path_;
  UniqueFd fd_;
  Mode mode_ = kNoReplace;
  bool committed_ = false;
  int cleanup_slot_ = -1;  // see interrupt.h
};

}  // namespace jb
