#include "jellyfin_backup/restore/restore.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/io/paths.h"
#include "jellyfin_backup/io/remove_tree.h"
#include "jellyfin_backup/io/source.h"
#include "jellyfin_backup/jellyfin/server_version.h"
#include "jellyfin_backup/restore/safe_extractor.h"
#include "jellyfin_backup/restore/staging_dir.h"
#include "jellyfin_backup/restore/swap.h"
#include "jellyfin_backup/verify/verify.h"

namespace jb {
namespace {

// Per-tree allowance for what file contents do not count: inodes,
// directory blocks, the tail block of every file.
constexpr std::uint64_t kOverheadPerEntry = 4096;

std::string utc_stamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string human(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// "<target>.bak-<stamp>", or with ".1", ".2"... if that exists: the name is
// fixed in the journal, so it must be free before the swap starts.
std::string free_backup_name(const std::string& target, const std::string& stamp) {
  std::string base = target + ".bak-" + stamp;
  std::string name = base;
  struct stat st;
  for (int n = 1; ::lstat(name.c_str(), &st) == 0; ++n) name = base + "." + std::to_string(n);
  return name;
}

struct TreeTarget {
  std::string name;
  std::string target;
  bool in_place = false;  // a mount point: staged and swapped one level down
};

// Jellyfin cannot downgrade its database: an archive from a newer server than
// the installed one would not start.
void check_version(const Manifest& m, const RestoreOptions& options, Reporter& reporter) {
  if (!options.server_version || !m.app_version) return;
  const std::string& archived = *m.app_version;
  const std::string& installed = *options.server_version;
  auto cmp = compare_server_versions(archived, installed);
  if (!cmp || *cmp == 0) return;
  if (*cmp > 0) {
    std::string what = "the archive is from Jellyfin " + archived + ", newer than the installed " +
                       installed + ": Jellyfin cannot downgrade its database";
    if (!options.force)
      throw refused_error(what, "install Jellyfin " + archived + " first, or pass --force");
    reporter.warning(what + " (--force given, restoring anyway)");
  } else {
    reporter.warning("the archive is from Jellyfin " + archived + ", older than the installed " +
                     installed + ": Jellyfin will migrate it on its next start, and that is one-way");
  }
}

// Refuses before anything is written when a target's filesystem cannot hold
// what the manifest announces (trees on one filesystem add up).
void check_free_space(const Manifest& m, const std::vector<TreeTarget>& trees) {
  struct Need {
    std::string where;
    std::uint64_t need = 0, avail = 0;
  };
  std::map<dev_t, Need> by_fs;
  for (const auto& t : trees) {
    const ManifestTree* mt = m.find_tree(t.name);
    std::string parent = t.in_place ? t.target : parent_of(t.target);
    struct stat st;
    struct statvfs vfs;
    if (::stat(parent.c_str(), &st) != 0 || ::statvfs(parent.c_str(), &vfs) != 0)
      throw io_error(parent, "cannot check free space", errno);
    Need& n = by_fs[st.st_dev];
    if (n.where.empty()) n.where = parent;
    else if (n.where != parent) n.where += " and " + parent;
    n.need += mt->bytes + mt->entries * kOverheadPerEntry;
    n.avail = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  }
  for (const auto& [dev, n] : by_fs) {
    if (n.avail < n.need)
      throw refused_error(n.where + ": not enough free space for the restore: needs " +
                              human(n.need) + ", " + human(n.avail) + " available",
                          "free some space (the old tree is kept until the swap), then retry");
  }
}

// A target that is a mount point (a Docker volume) cannot be renamed.
bool is_mount_point(const std::string& target) {
  struct stat a, b;
  if (::lstat(target.c_str(), &a) != 0 || !S_ISDIR(a.st_mode)) return false;
  if (::stat(parent_of(target).c_str(), &b) != 0) return false;
  return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

// The writing half of restore: sees the manifest, prepares staging, and
// hands every accepted entry to the SafeExtractor.
class RestoreConsumer : public EntryConsumer {
 public:
  RestoreConsumer(const RestoreOptions& options, std::vector<TreeTarget> trees, Reporter& reporter)
      : options_(options), trees_(std::move(trees)), reporter_(reporter) {}

  void on_manifest(const Manifest& m) override {
    for (const auto& t : trees_) {
      if (!m.find_tree(t.name))
        throw damaged_error("the archive holds no " + t.name + " tree",
                            "it cannot restore --" + t.name);
    }
    check_version(m, options_, reporter_);
    check_free_space(m, trees_);
    std::vector<ExtractTarget> targets;
    for (const auto& t : trees_) {
      staging_.push_back(StagingDir::create(t.target, t.in_place));
      targets.push_back({t.name, staging_.back().fd(), staging_.back().path()});
    }
    extractor_ = std::make_unique<SafeExtractor>(std::move(targets), reporter_);
  }
  void begin_entry(archive_entry* entry) override { extractor_->begin_entry(entry); }
  void data(const DataBlock& block) override { extractor_->data(block); }
  void end_entry() override { extractor_->end_entry(); }

  bool prepared() const { return extractor_ != nullptr; }
  SafeExtractor& extractor() { return *extractor_; }
  std::vector<StagingDir>& staging() { return staging_; }

 private:
  const RestoreOptions& options_;
  std::vector<TreeTarget> trees_;
  Reporter& reporter_;
  std::vector<StagingDir> staging_;
  std::unique_ptr<SafeExtractor> extractor_;
};



}  // namespace

namespace {
RestoreResult restore(const RestoreOptions& options, Reporter& outer);
}  // namespace

RestoreResult restore_archive(const RestoreOptions& options, Reporter& reporter) {
  try {
    return restore(options, reporter);
  } catch (const Error& e) {
    if (interrupted_signal() == 0 || !e.hint().empty()) throw;
    throw Error(e.kind(), e.what(), "nothing was restored; the targets are untouched");
  }
}

namespace {

RestoreResult restore(const RestoreOptions& options, Reporter& outer) {
  const auto start = std::chrono::steady_clock::now();
  RestoreResult result;
  CollectingReporter reporter(outer, result.warnings);
  result.dry_run = options.dry_run;

  // First, the targets: where they are, that nothing is pending on them.
  const std::string data = absolute_target(options.data_dir, "--data");
  const std::string config = absolute_target(options.config_dir, "--config");
  check_not_nested(config, data);
  check_no_pending_restore({config, data});
  std::vector<TreeTarget> trees;
  for (const auto& [name, target] : {std::pair{std::string(format::kConfigTree), config},
                                     std::pair{std::string(format::kDataTree), data}}) {
    if (options.only && *options.only != name) continue;
    trees.push_back({name, target, is_mount_point(target)});
  }

  // Second, read the archive once: verify every byte while extracting into
  // staging. Nothing outside the staging directories is written.
  auto source = open_source(options.archive);
  RestoreConsumer consumer(options, trees, reporter);
  VerifyResult verified = verify_archive(*source, reporter, &consumer);
  if (!verified.ok()) {
    throw damaged_error(source->name() + ": " + describe_problem(verified.problems.front()) + "; " +
                            std::to_string(verified.bad_entries) + " bad entries",
                        "nothing was restored; the targets are untouched");
  }
  if (!consumer.prepared()) throw damaged_error(source->name() + ": no manifest");
  result.manifest = *verified.manifest;

  // Third, finish the staged trees and make them durable before any swap.
  consumer.extractor().finish();
  for (auto& staged : consumer.staging()) {
    if (::syncfs(staged.fd()) != 0) throw io_error(staged.path(), "cannot sync", errno);
  }

  const std::string stamp = utc_stamp();
  SwapPlan plan;
  plan.archive = source->name();
  plan.archive_created = result.manifest.created;
  plan.discard_old = options.discard_old;
  for (std::size_t i = 0; i < trees.size(); ++i) {
    StagingDir& staged = consumer.staging()[i];
    const ManifestTree* mt = result.manifest.find_tree(trees[i].name);
    RestoredTree out{trees[i].name, trees[i].target, false, std::nullopt, mt->files, mt->bytes, {}};
    struct stat st;
    out.target_existed = ::lstat(trees[i].target.c_str(), &st) == 0;
    if (options.dry_run) {
      out.diff = diff_trees(staged.path(), trees[i].target, trees[i].in_place ? name_of(staged.path()) : "");
    } else {
      if (::fstat(staged.fd(), &st) != 0) throw io_error(staged.path(), "cannot stat", errno);
      std::string backup = trees[i].in_place
                               ? free_backup_name(trees[i].target + "/.jellyfin-backup-old", stamp)
                               : free_backup_name(trees[i].target, stamp);
      SwapTree t{trees[i].name, trees[i].target, staged.path(), backup, out.target_existed,
                 st.st_dev, st.st_ino, trees[i].in_place};
      if (out.target_existed && !options.discard_old) out.backup = t.backup;
      plan.trees.push_back(std::move(t));
    }
    result.trees.push_back(std::move(out));
  }
  if (options.dry_run) {
    for (auto& staged : consumer.staging()) staged.remove();
  } else {
    // Last, the swap: from here the journal, not the staging RAII, owns the
    // staged trees.
    write_journal(plan);
    for (auto& staged : consumer.staging()) staged.release();
    if (complete_swap(plan, reporter) != SwapOutcome::kCompleted)
      throw Error(ErrorKind::kRuntime, "the restore was rolled back", "the targets are as they were");
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace

RecoverResult recover(const std::string& data_dir, const std::string& config_dir,
                      Reporter& reporter) {
  const std::string data = absolute_target(data_dir, "--data");
  const std::string config = absolute_target(config_dir, "--config");
  RecoverResult result{RecoverResult::Outcome::kNothingPending, {}, {}};

  std::optional<SwapPlan> plan = read_journal(data);
  if (!plan) plan = read_journal(config);
  if (plan) {
    result.archive = plan->archive;
    result.outcome = complete_swap(*plan, reporter) == SwapOutcome::kCompleted
                         ? RecoverResult::Outcome::kCompleted
                         : RecoverResult::Outcome::kRolledBack;
    return result;
  }

  // Nothing pending: staging directories of restores that died before
  // their swap are leftovers, unless their process still runs.
  for (const auto& [target, inside] : {std::pair{data, false}, std::pair{config, false},
                                       std::pair{data, true}, std::pair{config, true}}) {
    if (inside && !is_mount_point(target)) continue;
    if (!inside) remove_journal_leftovers(target);
    const std::string prefix = StagingDir::prefix_for(target, inside);
    const std::string dir = parent_of(prefix);
    const std::string name_prefix = name_of(prefix);
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    std::vector<std::string> found;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.compare(0, name_prefix.size(), name_prefix) == 0) found.push_back(name);
    }
    ::closedir(d);
    for (const auto& name : found) {
      std::string pid_text = name.substr(name_prefix.size());
      pid_t pid = static_cast<pid_t>(std::atol(pid_text.c_str()));
      // A restore running now (EPERM: alive, but another user's).
      if (pid > 0 && pid != ::getpid() && (::kill(pid, 0) == 0 || errno == EPERM)) continue;
      remove_tree(dir + "/" + name);
      result.removed_staging.push_back(dir + "/" + name);
    }
  }
  return result;
}

}  // namespace jb
