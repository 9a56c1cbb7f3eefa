// A directory of archives on an rclone remote: each operation is one or two
// runs of rclone (rclone.h). Bucket remotes (S3, B2) have no real
// directories: there a missing "directory" lists as empty rather than
// failing with "no such directory".
#include "io/rclone_store.h"

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/lock_file.h"
#include "jellyfin_backup/io/names.h"
#include "jellyfin_backup/io/rclone.h"

namespace jb {
namespace {

StoredFile stored(const RemoteFile& file) { return {file.name, file.size, file.mtime, 0, 0, 0}; }

class RcloneStore : public Store {
 public:
  explicit RcloneStore(Location dir) : dir_(std::move(dir)) {}

  const Location& location() const override { return dir_; }

  std::optional<std::string> read_concatenated(const std::vector<std::string>& names, std::optional<std::size_t> head,
                                               std::size_t max_total) const override {
    return rclone_cat_files(dir_.path, names, max_total, head);
  }

  std::vector<StoredFile> list() const override {
    rclone_binary();  // not installed is its own error, not "no such directory"
    std::vector<RemoteFile> entries;
    try {
      entries = rclone_list(dir_.path);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kUsage) throw;  // kUsage from rclone_list: not found
      throw usage_error(dir_.display() + ": no such directory", "check the path");
    }
    // lsjson of a file lists that file alone; only a stat can tell it from
    // a directory holding one file of the same name.
    if (entries.size() == 1 && !entries[0].is_dir && entries[0].name == last_name()) {
      auto self = rclone_stat(dir_.path);
      if (self && !self->is_dir)
        throw usage_error(dir_.display() + ": not a directory", "name a directory of archives");
    }
    std::vector<StoredFile> files;
    for (const auto& entry : entries)
      if (!entry.is_dir) files.push_back(stored(entry));
    return files;
  }

  std::optional<StoredFile> stat(const std::string& name) const override {
    auto file = rclone_stat(path_of(name));
    if (!file || file->is_dir) return std::nullopt;
    return stored(*file);
  }

  bool exists(const std::string& name) const override { return rclone_stat(path_of(name)).has_value(); }

  std::unique_ptr<Source> open(const std::string& name,
                               std::optional<std::uint64_t> head) const override {
    // A full read is worth a stat first (the size, and a missing file
    // reported as open_source reports it); a head read is one of many in a
    // listing, on names list() just returned.
    if (!head) return open_source(join(dir_, name));
    return std::make_unique<RcloneSource>(path_of(name), display(name), std::nullopt, head);
  }

  std::unique_ptr<Sink> create(const std::string& name, std::optional<std::uint64_t> size = std::nullopt) const override {
    return std::make_unique<RcloneSink>(path_of(name), display(name), size);
  }

  std::optional<std::string> read_small(const std::string& name,
                                        std::size_t max_bytes) const override {
    return rclone_read_small(path_of(name), max_bytes);
  }

  void write_small(const std::string& name, const std::string& content) const override {
    rclone_write_small(path_of(name), content);
  }

  void remove(const std::string& name) const override {
    rclone_delete(path_of(name), /*missing_ok=*/true);
  }

  std::string lock_path() const override {
    // "s3:b/jb/" and "s3:b/x/../jb" are one directory and so one lock. The
    // name shows the remote's name and a hash of the rest: an on-the-fly
    // remote (":s3,secret_access_key=...:bucket") must not spell its
    // credentials into a world-readable directory.
    const std::string key = remote_dir_key(dir_);
    std::string remote = dir_.path.substr(dir_.path[0] == ':' ? 1 : 0);
    remote = remote.substr(0, remote.find_first_of(":,"));
    return keyed_lock_path("rclone_" + remote + "_" + short_hash(key));
  }

 private:
  std::string path_of(const std::string& name) const { return join(dir_, name).path; }

  // "jb" of "s3:b/jb"; empty for a remote's root.
  std::string last_name() const {
    try {
      return split_file(split_file(join(dir_, "x")).first).second;
    } catch (const Error&) {
      return {};
    }
  }

  Location dir_;
};

}  // namespace

std::unique_ptr<Store> make_rclone_store(const Location& dir) {
  return std::make_unique<RcloneStore>(dir);
}

}  // namespace jb
