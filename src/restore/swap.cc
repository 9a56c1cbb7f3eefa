#include "jellyfin_backup/restore/swap.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/atomic_file.h"
#include "jellyfin_backup/io/paths.h"
#include "jellyfin_backup/io/remove_tree.h"
#include "jellyfin_backup/io/unique_fd.h"
#include "jellyfin_backup/restore/staging_dir.h"

namespace jb {
namespace {

using nlohmann::json;


json to_json(const SwapPlan& plan) {
  json trees = json::array();
  for (const auto& t : plan.trees) {
    trees.push_back({{"name", t.name},
                     {"target", t.target},
                     {"staging", t.staging},
                     {"backup", t.backup},
                     {"target_existed", t.target_existed},
                     {"staged_dev", static_cast<std::uint64_t>(t.staged_dev)},
                     {"staged_ino", static_cast<std::uint64_t>(t.staged_ino)},
                     {"in_place", t.in_place}});
  }
  return {{"journal", "jellyfin-backup restore"},
          {"version", 1},
          {"archive", plan.archive},
          {"archive_created", plan.archive_created},
          {"discard_old", plan.discard_old},
          {"trees", trees}};
}

SwapPlan from_json(const json& j) {
  SwapPlan plan;
  plan.archive = j.at("archive").get<std::string>();
  plan.archive_created = j.at("archive_created").get<std::string>();
  plan.discard_old = j.at("discard_old").get<bool>();
  for (const auto& t : j.at("trees")) {
    SwapTree tree;
    tree.name = t.at("name").get<std::string>();
    tree.target = t.at("target").get<std::string>();
    tree.staging = t.at("staging").get<std::string>();
    tree.backup = t.at("backup").get<std::string>();
    tree.target_existed = t.at("target_existed").get<bool>();
    tree.staged_dev = static_cast<dev_t>(t.at("staged_dev").get<std::uint64_t>());
    tree.staged_ino = static_cast<ino_t>(t.at("staged_ino").get<std::uint64_t>());
    tree.in_place = t.value("in_place", false);
    plan.trees.push_back(std::move(tree));
  }
  return plan;
}

// Does `path` hold the staged (new) tree of `tree`?
bool holds_staged(const std::string& path, const SwapTree& tree) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && st.st_dev == tree.staged_dev &&
         st.st_ino == tree.staged_ino;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Holds off SIGINT/SIGTERM for a scope: the swap's few renames run to the
// end; a signal that arrives meanwhile is delivered afterwards.
class BlockSignals {
 public:
  BlockSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~BlockSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

}  // namespace

void remove_journal_leftovers(const std::string& target) {
  // AtomicFile's temporaries: ".<journal name>.tmp-XXXXXXXX".
  const std::string dir = parent_of(target);
  const std::string prefix = "." + name_of(journal_path(target)) + ".tmp-";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> found;
  while (dirent* e = ::readdir(d)) {
    if (std::string_view(e->d_name).substr(0, prefix.size()) == prefix) found.emplace_back(e->d_name);
  }
  ::closedir(d);
  for (const auto& name : found) ::unlink((dir + "/" + name).c_str());
}

namespace {

void remove_journals(const SwapPlan& plan) {
  for (const auto& t : plan.trees) {
    remove_journal_leftovers(t.target);
    if (::unlink(journal_path(t.target).c_str()) != 0 && errno != ENOENT)
      throw io_error(journal_path(t.target), "cannot remove journal", errno);
    fsync_dir(parent_of(t.target));
  }
}

constexpr const char* kAsideMarker = ".jellyfin-backup-moved-aside";

std::vector<std::string> children(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw io_error(dir, "cannot read directory", errno);
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  return names;
}

void move_child(const std::string& from_dir, const std::string& to_dir, const std::string& name) {
  if (::renameat2(AT_FDCWD, (from_dir + "/" + name).c_str(), AT_FDCWD, (to_dir + "/" + name).c_str(),
                  RENAME_NOREPLACE) != 0)
    throw io_error(from_dir + "/" + name, "cannot move into " + to_dir, errno,
                   "run `jellyfin-backup recover` to finish or undo the restore");
}

// Gives the mount point the staged root's owner, mode and mtime.
void apply_root_metadata(const struct stat& st, const std::string& to) {
  if (::geteuid() == 0 && ::chown(to.c_str(), st.st_uid, st.st_gid) != 0)
    throw io_error(to, "cannot set owner", errno);
  if (::chmod(to.c_str(), st.st_mode & 07777) != 0) throw io_error(to, "cannot set permissions", errno);
  const timespec times[2] = {{0, UTIME_NOW}, st.st_mtim};
  if (::utimensat(AT_FDCWD, to.c_str(), times, 0) != 0)
    throw io_error(to, "cannot set modification time", errno);
}

// Step 1, one level down: old children aside, then staged children in.
void put_in_place_inside(const SwapTree& t) {
  const std::string marker = t.backup + "/" + kAsideMarker;
  const std::string staging_name = name_of(t.staging), backup_name = name_of(t.backup);
  if (!exists(marker)) {
    if (!holds_staged(t.staging, t)) return;  // nothing staged: rolled back, or never begun
    if (::mkdir(t.backup.c_str(), 0700) != 0 && errno != EEXIST)
      throw io_error(t.backup, "cannot create", errno);
    for (const auto& name : children(t.target))
      if (name != staging_name && name != backup_name) move_child(t.target, t.backup, name);
    UniqueFd fd(::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (!fd || ::fsync(fd.get()) != 0) throw io_error(marker, "cannot write", errno);
    fsync_dir(t.backup);
    fsync_dir(t.target);
  }
  if (!exists(t.staging)) return;  // the second half is done
  // Read the staged root's metadata before emptying it changes its mtime
  // (after a crash in this loop the mtime is the one thing not exact).
  struct stat root;
  if (::stat(t.staging.c_str(), &root) != 0) throw io_error(t.staging, "cannot stat", errno);
  for (const auto& name : children(t.staging)) move_child(t.staging, t.target, name);
  if (::rmdir(t.staging.c_str()) != 0 && errno != ENOENT)
    throw io_error(t.staging, "cannot remove", errno);
  apply_root_metadata(root, t.target);  // after the rmdir, which touches the mtime
  fsync_dir(t.target);
}

// Undo, one level down: new children out, old children back.
void take_back_inside(const SwapTree& t) {
  const std::string marker = t.backup + "/" + kAsideMarker;
  const std::string staging_name = name_of(t.staging), backup_name = name_of(t.backup);
  if (exists(t.backup)) {
    if (exists(marker)) {  // the target's children are (partly) new ones
      for (const auto& name : children(t.target))
        if (name != staging_name && name != backup_name) remove_tree(t.target + "/" + name);
      ::unlink(marker.c_str());
    }
    for (const auto& name : children(t.backup)) move_child(t.backup, t.target, name);
    ::rmdir(t.backup.c_str());
  }
  remove_tree(t.staging);
  fsync_dir(t.target);
}

// Step 1 for one tree: the staged tree takes the target's name.
void put_in_place(const SwapTree& t) {
  if (t.in_place) return put_in_place_inside(t);
  if (holds_staged(t.target, t)) return;  // done before a crash
  int ret = t.target_existed && exists(t.target)
                ? ::renameat2(AT_FDCWD, t.staging.c_str(), AT_FDCWD, t.target.c_str(), RENAME_EXCHANGE)
                : ::renameat2(AT_FDCWD, t.staging.c_str(), AT_FDCWD, t.target.c_str(), RENAME_NOREPLACE);
  if (ret != 0)
    throw io_error(t.target, "cannot swap in the restored tree", errno,
                   "run `jellyfin-backup recover` to finish or undo the restore");
  fsync_dir(parent_of(t.target));
}

// Step 2 for one tree: the old tree, now under the staging name, goes aside.
void put_old_aside(const SwapTree& t, bool discard, Reporter& reporter) {
  if (t.in_place) {
    struct stat root;
    if (!discard || !exists(t.backup) || ::stat(t.target.c_str(), &root) != 0) return;
    remove_tree(t.backup);
    const timespec times[2] = {{0, UTIME_OMIT}, root.st_mtim};  // the restored mtime stays
    ::utimensat(AT_FDCWD, t.target.c_str(), times, 0);
    return;
  }
  if (!exists(t.staging) || holds_staged(t.staging, t)) return;
  if (discard) {
    remove_tree(t.staging);
  } else if (::renameat2(AT_FDCWD, t.staging.c_str(), AT_FDCWD, t.backup.c_str(), RENAME_NOREPLACE) != 0) {
    throw io_error(t.backup, "cannot move the old tree aside", errno,
                   "the restored tree is in place; the old one is at " + t.staging);
  }
  fsync_dir(parent_of(t.target));
  (void)reporter;
}

// Undo step 1 for one tree: the old tree back, the new one removed.
void take_back(const SwapTree& t) {
  if (t.in_place) return take_back_inside(t);
  if (holds_staged(t.target, t)) {
    int ret = t.target_existed
                  ? ::renameat2(AT_FDCWD, t.staging.c_str(), AT_FDCWD, t.target.c_str(), RENAME_EXCHANGE)
                  : ::renameat2(AT_FDCWD, t.target.c_str(), AT_FDCWD, t.staging.c_str(), RENAME_NOREPLACE);
    if (ret != 0) throw io_error(t.target, "cannot put the old tree back", errno);
    fsync_dir(parent_of(t.target));
  }
  if (holds_staged(t.staging, t)) remove_tree(t.staging);
}

}  // namespace

std::string journal_path(const std::string& target) {
  return parent_of(target) + "/." + name_of(target) + ".jellyfin-backup-journal";
}

void write_journal(const SwapPlan& plan) {
  const std::string text = to_json(plan).dump(2) + "\n";
  for (const auto& t : plan.trees) {
    std::string path = journal_path(t.target);
    if (exists(path))
      throw refused_error(path + ": a restore journal exists already",
                          "run `jellyfin-backup recover` first");
    AtomicFile file = AtomicFile::create(path);
    file.write(text.data(), text.size());
    file.commit();  // fsync, rename, fsync of the directory
  }
}

std::optional<SwapPlan> read_journal(const std::string& target) {
  std::string path = journal_path(target);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!exists(path)) return std::nullopt;
    throw io_error(path, "cannot read restore journal", errno);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  try {
    if (j.is_discarded() || j.value("journal", "") != "jellyfin-backup restore") throw 0;
    return from_json(j);
  } catch (...) {
    throw damaged_error(path + ": not a readable restore journal",
                        "inspect it by hand; remove it only once both trees are known good");
  }
}

void check_no_pending_restore(const std::vector<std::string>& targets) {
  for (const auto& target : targets) {
    std::string path = journal_path(target);
    if (exists(path))
      throw refused_error(target + ": a restore into it was interrupted (" + path + ")",
                          "run `jellyfin-backup recover --data DIR --config DIR` first");
  }
}

SwapOutcome complete_swap(const SwapPlan& plan, Reporter& reporter) {
  BlockSignals hold;
  // Roll forward only if every new tree is still there, in place or staged.
  bool forward = true;
  for (const auto& t : plan.trees) {
    bool staged = t.in_place ? holds_staged(t.staging, t) || exists(t.backup + "/" + kAsideMarker)
                             : holds_staged(t.target, t) || holds_staged(t.staging, t);
    forward = forward && staged;
  }
  if (forward) {
    for (const auto& t : plan.trees) put_in_place(t);
    for (const auto& t : plan.trees) put_old_aside(t, plan.discard_old, reporter);
  } else {
    reporter.warning("a staged tree of the interrupted restore is missing: rolling back");
    for (const auto& t : plan.trees) take_back(t);
  }
  remove_journals(plan);
  return forward ? SwapOutcome::kCompleted : SwapOutcome::kRolledBack;
}

}  // namespace jb
