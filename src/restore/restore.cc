#include "jellyfin_backup/restore/restore.h"

#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <stdexcept>
#include <tuple>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/io/paths.h"
#include "jellyfin_backup/io/remove_tree.h"
#include "jellyfin_backup/io/source.h"
#include "jellyfin_backup/io/unique_fd.h"
#include "jellyfin_backup/jellyfin/install.h"
#include "jellyfin_backup/jellyfin/running_server.h"
#include "jellyfin_backup/jellyfin/server_version.h"
#include "jellyfin_backup/restore/safe_extractor.h"
#include "jellyfin_backup/restore/staging_dir.h"
#include "jellyfin_backup/restore/state_dir.h"
#include "jellyfin_backup/restore/swap.h"
#include "jellyfin_backup/utc_time.h"
#include "jellyfin_backup/verify/inspect.h"
#include "jellyfin_backup/verify/verify.h"

namespace jb {
namespace {

// Per-tree allowance for what file contents do not count: inodes,
// directory blocks, the tail block of every file.
constexpr std::uint64_t kOverheadPerEntry = 4096;

std::string human(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// The backup's id: "<stamp>", or "<stamp>.1", "<stamp>.2"... if
// "<backup_base>.bak-<stamp>" exists: the name is derived from the id in the
// journal, so it must be free before the swap starts.
std::string free_backup_id(const std::string& backup_base, const std::string& stamp) {
  std::string id = stamp;
  struct stat st;
  for (int n = 1; ::lstat((backup_base + ".bak-" + id).c_str(), &st) == 0; ++n)
    id = stamp + "." + std::to_string(n);
  return id;
}

struct TreeTarget {
  std::string name;
  std::string target;
  bool in_place = false;  // a mount point: staged and swapped one level down
  // A target inside the other tree's target: staged inside that tree's
  // staging directory at `nested_path`, and swapped with it.
  std::optional<std::size_t> nested_in;
  std::string nested_path;
};

// Where a nested tree is extracted until its place in the outer staged
// tree is free of the outer tree's own entries.
std::string nested_temp_name(const std::string& tree) { return ".jellyfin-backup-nested-" + tree; }

// Jellyfin cannot downgrade its database: an archive from a newer server than
// the installed one would not start.
void check_version(const Manifest& m, const RestoreOptions& options, Reporter& reporter) {
  if (!options.server_version || !m.app_version) return;
  const std::string& archived = *m.app_version;
  const std::string& installed = *options.server_version;
  auto cmp = compare_server_versions(archived, installed);
  if (!cmp || *cmp == 0) return;
  const std::string from =
      options.version_source ? " (" + *options.version_source + ")" : std::string();
  if (*cmp > 0) {
    std::string what = "the archive is from Jellyfin " + archived + ", newer than the installed " +
                       installed + from + ": Jellyfin cannot downgrade its database";
    if (!options.force)
      throw refused_error(what, "install Jellyfin " + archived + " first, or pass --force");
    reporter.warning(what + " (--force given, restoring anyway)");
  } else {
    reporter.warning("the archive is from Jellyfin " + archived + ", older than the installed " +
                     installed + from + ": Jellyfin will migrate it on its next start, and that is one-way");
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
    const TreeTarget& placed = t.nested_in ? trees[*t.nested_in] : t;
    std::string parent = placed.in_place ? placed.target : parent_of(placed.target);
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
      throw refused_error(ErrorCode::kNoSpace, n.where + ": not enough free space for the restore: needs " +
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

// The two targets as absolute paths. A target nested in the other need not
// have an existing parent: restore makes the outer tree first.
std::pair<std::string, std::string> resolve_targets(const std::string& config_dir, const std::string& data_dir) {
  auto lexical = [](const std::string& p) {
    if (p.empty() || p[0] != '/') return std::string();
    std::string out = p;
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
  };
  std::string config, data;
  try {
    data = absolute_target(data_dir, "--data");
  } catch (const Error&) {
    config = absolute_target(config_dir, "--config");
    data = lexical(data_dir);
    if (data.empty() || relative_below(data, config).empty()) throw;
  }
  if (config.empty()) {
    try {
      config = absolute_target(config_dir, "--config");
    } catch (const Error&) {
      config = lexical(config_dir);
      if (config.empty() || relative_below(config, data).empty()) throw;
    }
  }
  check_distinct_trees(config, data);
  return {config, data};
}

// The trees to restore, in archive order (config, data), and how they nest.
std::vector<TreeTarget> plan_targets(const std::string& config, const std::string& data,
                                     const std::optional<std::string>& only) {
  std::vector<TreeTarget> trees = {{std::string(format::kConfigTree), config, false, {}, {}},
                                   {std::string(format::kDataTree), data, false, {}, {}}};
  for (std::size_t inner = 0; inner < 2; ++inner) {
    const std::size_t outer = 1 - inner;
    std::string rel = relative_below(trees[inner].target, trees[outer].target);
    if (rel.empty()) continue;
    if (only && *only == trees[outer].name)
      throw bad_flag_error("only", "--only " + *only + ": the " + trees[inner].name + " directory " +
                            trees[inner].target + " lies inside " + trees[outer].target +
                            ", so replacing " + *only + " alone would replace it too",
                        "restore both trees (drop --only)");
    trees[inner].nested_in = outer;
    trees[inner].nested_path = rel;
  }
  if (only) {
    trees.erase(std::remove_if(trees.begin(), trees.end(), [&](const TreeTarget& t) { return t.name != *only; }),
                trees.end());
    trees.front().nested_in.reset();  // restored on its own, beside itself
  }
  for (auto& t : trees)
    if (!t.nested_in) t.in_place = is_mount_point(t.target);
  return trees;
}

// The writing half of restore: sees the manifest, prepares staging, and
// hands every accepted entry to the SafeExtractor.
class RestoreConsumer : public EntryConsumer {
 public:
  // `roots`: both trees as given (config, data), even with --only.
  RestoreConsumer(const RestoreOptions& options, std::vector<TreeTarget> trees,
                  std::vector<std::string> roots, Reporter& reporter)
      : options_(options), trees_(std::move(trees)), roots_(std::move(roots)), reporter_(reporter) {}

  // The manifest was read and checked before (Restore::prepare); these are
  // the same bytes, replayed.
  void on_manifest(const Manifest& manifest) override {
    manifest_ = manifest;
    staging_.reserve(trees_.size());
    nested_.resize(trees_.size());
    for (const auto& t : trees_)
      if (!t.nested_in) staging_.push_back(StagingDir::create(t.target, t.in_place, roots_));
    std::vector<ExtractTarget> targets;
    for (std::size_t i = 0; i < trees_.size(); ++i) {
      const TreeTarget& t = trees_[i];
      if (!t.nested_in) {
        const StagingDir& staged = staging_for(i);
        targets.push_back({t.name, staged.fd(), staged.path()});
        continue;
      }
      const StagingDir& outer = staging_for(*t.nested_in);
      const std::string name = nested_temp_name(t.name);
      if (::mkdirat(outer.fd(), name.c_str(), 0700) != 0)
        throw io_error(outer.path() + "/" + name, "cannot create staging directory", errno);
      nested_[i] = UniqueFd(::openat(outer.fd(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!nested_[i]) throw io_error(outer.path() + "/" + name, "cannot open staging directory", errno);
      targets.push_back({t.name, nested_[i].get(), outer.path() + "/" + name});
    }
    extractor_ = std::make_unique<SafeExtractor>(std::move(targets), reporter_);
  }

  // The staging directory of a tree that is not nested.
  StagingDir& staging_for(std::size_t tree) {
    std::size_t k = 0;
    for (std::size_t i = 0; i < tree; ++i)
      if (!trees_[i].nested_in) ++k;
    return staging_[k];
  }

  // Moves each nested tree to its place in the outer staged tree. Done
  // before the extractor's last pass, which then sets the parents' mtimes.
  void place_nested() {
    for (std::size_t i = 0; i < trees_.size(); ++i) {
      const TreeTarget& t = trees_[i];
      if (!t.nested_in) continue;
      const StagingDir& outer = staging_for(*t.nested_in);
      UniqueFd parent(::dup(outer.fd()));
      std::string rel = t.nested_path;
      // Parents the outer tree does not have are made, as the server would.
      for (std::size_t slash; (slash = rel.find('/')) != std::string::npos; rel = rel.substr(slash + 1)) {
        std::string part = rel.substr(0, slash);
        ::mkdirat(parent.get(), part.c_str(), 0755);
        int next = ::openat(parent.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) throw io_error(outer.path() + "/" + t.nested_path, "cannot place the " + t.name + " tree", errno);
        parent.reset(next);
      }
      if (::renameat2(outer.fd(), nested_temp_name(t.name).c_str(), parent.get(), rel.c_str(),
                      RENAME_NOREPLACE) != 0) {
        if (errno == EEXIST || errno == ENOTEMPTY)
          throw refused_error("the archive's " + trees_[*t.nested_in].name + " tree has its own " +
                                  t.nested_path + ", where the " + t.name + " tree must go (--" +
                                  t.name + " " + t.target + ")",
                              "nothing was restored; restore into separate directories, or one tree with --only");
        throw io_error(outer.path() + "/" + t.nested_path, "cannot place the " + t.name + " tree", errno);
      }
    }
  }

  // A tree's staged root, once placed.
  DirFd staged_dir(std::size_t tree) {
    const TreeTarget& t = trees_[tree];
    if (!t.nested_in) {
      const StagingDir& s = staging_for(tree);
      UniqueFd fd(::dup(s.fd()));
      if (!fd) throw io_error(s.path(), "cannot open", errno);
      return DirFd(std::move(fd), s.path());
    }
    const StagingDir& outer = staging_for(*t.nested_in);
    UniqueFd fd(::dup(outer.fd()));
    if (!fd) throw io_error(outer.path(), "cannot open", errno);
    return DirFd(std::move(fd), outer.path()).open_beneath(t.nested_path);
  }

  // Where a tree's staged root is once placed.
  std::string staged_root(std::size_t tree) {
    const TreeTarget& t = trees_[tree];
    if (!t.nested_in) return staging_for(tree).path();
    return staging_for(*t.nested_in).path() + "/" + t.nested_path;
  }
  void begin_entry(archive_entry* entry) override { extractor_->begin_entry(entry); }
  void data(const DataBlock& block) override { extractor_->data(block); }
  void end_entry() override { extractor_->end_entry(); }

  bool prepared() const { return extractor_ != nullptr; }
  const Manifest& manifest() const { return manifest_; }
  const std::vector<std::string>& roots() const { return roots_; }
  SafeExtractor& extractor() { return *extractor_; }
  std::vector<StagingDir>& staging() { return staging_; }

 private:
  const RestoreOptions& options_;
  std::vector<TreeTarget> trees_;
  std::vector<std::string> roots_;
  Reporter& reporter_;
  Manifest manifest_;
  std::vector<StagingDir> staging_;  // trees that are not nested, in order
  std::vector<UniqueFd> nested_;     // by tree: the nested trees' temporary roots
  std::unique_ptr<SafeExtractor> extractor_;
};

// --skip-damaged: which files the restore leaves out (those of the trees
// restored whose content is damaged), or the refusal.
std::vector<std::string> damaged_to_skip(const VerifyResult& v, const RestoreOptions& options,
                                         const std::vector<TreeTarget>& trees, const std::string& name,
                                         Reporter& reporter) {
  const std::string untouched = "nothing was restored; the targets are untouched";
  auto restored = [&](const std::string& tree) {
    return std::any_of(trees.begin(), trees.end(), [&](const TreeTarget& t) { return t.name == tree; });
  };
  const bool config = v.config_damaged() && restored(std::string(format::kConfigTree));
  const bool database = v.database_damaged() && restored(std::string(format::kDataTree));
  const bool content_only = v.content_damage_only();
  if (!options.skip_damaged || !content_only || config || database) {
    std::string hint = untouched;
    if (content_only && !config && !database)
      hint += "; --skip-damaged restores the rest, keeping the damaged files from the current trees";
    else if (options.skip_damaged && !content_only)
      hint += "; --skip-damaged cannot help: the damage is not confined to files' contents";
    else if (options.skip_damaged)
      hint += std::string("; --skip-damaged cannot help: ") + (config ? "the config" : "a database") +
              " is damaged, and it is not optional";
    throw damaged_error(v.damage(name), hint);
  }
  std::vector<std::string> skipped;
  for (const auto& path : v.content_damaged()) {
    const std::string tree = path.substr(0, path.find('/'));
    if (!restored(tree)) continue;
    // A path that names no entry plainly (a hostile checksum list's
    // "data//x") cannot be left out by name: refused, not guessed at.
    bool plain = path.size() > tree.size() + 1;
    for (std::size_t start = tree.size() + 1; plain && start <= path.size();) {
      const std::size_t end = std::min(path.find('/', start), path.size());
      const std::string_view part(path.data() + start, end - start);
      plain = !part.empty() && part != "." && part != "..";
      start = end + 1;
    }
    if (!plain)
      throw damaged_error(v.damage(name), untouched + "; --skip-damaged cannot help: the damaged entry \"" + path +
                                              "\" is not a plain path");
    skipped.push_back(path);
  }
  for (const Problem& p : v.problems)
    if (p.kind == ProblemKind::kFrame)
      reporter.warning(name + ": " + p.problem + "; the files in it whose contents verified are restored, "
                       "but their metadata (owner, mode, times, link targets) has no checksum of its own");
  return skipped;
}

// A damaged file out of the staged tree, before the current one is kept in
// its place. One with other names in the archive (hard links) would leave
// its damaged content under them: refused.
void drop_from_staging(const DirFd& staged, const std::string& rel, const std::string& path) {
  const std::size_t slash = rel.rfind('/');
  std::optional<DirFd> parent_holder;
  const DirFd* parent = &staged;
  if (slash != std::string::npos) {
    try {
      parent_holder = staged.open_beneath(rel.substr(0, slash));
    } catch (const Error& e) {
      if (e.sys_errno() != ENOENT) throw;
      return;  // its directory was never made: nothing of it is staged
    }
    parent = &*parent_holder;
  }
  const std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  const std::optional<struct stat> st = parent->stat_at(name);
  if (!st) return;
  if (S_ISDIR(st->st_mode) || st->st_nlink > 1)
    throw refused_error(path + ": damaged, and " + (S_ISDIR(st->st_mode) ? "a directory" : "hard-linked elsewhere in the archive") +
                            ": --skip-damaged cannot leave it out alone",
                        "nothing was restored; the targets are untouched");
  if (::unlinkat(parent->fd(), name.c_str(), 0) != 0) throw io_error(parent->path_of(name), "cannot remove", errno);
}

// What the archive left out of tree `i` that the current tree has, linked
// into its staged tree (before the extractor's last pass: the directories
// the archive has get their mtimes after the links are made).
std::vector<KeptEntry> keep_left_out(const std::vector<TreeTarget>& trees, std::size_t i, const KeepRule& rule,
                                     RestoreConsumer& consumer, Reporter& reporter) {
  const TreeTarget& t = trees[i];
  if (rule.empty()) return {};
  std::optional<DirFd> current = open_target_parent(t.target, consumer.roots()).open_dir_if_exists(name_of(t.target));
  if (!current) return {};
  std::vector<std::string> skip;  // a tree nested in this one is kept on its own
  for (const auto& inner : trees)
    if (inner.nested_in && trees[*inner.nested_in].name == t.name) skip.push_back(inner.nested_path);
  try {
    return keep_from_current(*current, consumer.staged_dir(i), rule, skip, reporter);
  } catch (const Error& e) {
    if (!e.hint().empty()) throw;
    throw e.with_hint("nothing was restored; --no-keep-excluded restores without what the archive left out");
  }
}

// The most of an archive's head restore reads (and remembers) to get its
// manifest before the server is stopped: the manifest's frame, compressed
// (a manifest that compresses badly is a bit larger than itself), and what
// the decoder reads ahead.
constexpr std::size_t kHeadLimit = 2 * format::kMaxManifestBytes + (1u << 20);

}  // namespace

struct Restore::State {
  State(const RestoreOptions& o, Reporter& outer) : options(o), reporter(outer, result.warnings) {}
  RestoreOptions options;
  RestoreResult result;
  CollectingReporter reporter;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::string config, data;
  std::vector<TreeTarget> trees;
  std::vector<std::string> in_use;  // targets that exist: a server may hold them
  std::unique_ptr<RewindSource> source;
  bool ran = false;
};

namespace {

// An interrupted restore says what it left: nothing.
template <typename F>
auto untouched_on_interrupt(F&& step) {
  try {
    return step();
  } catch (const Error& e) {
    if (interrupted_signal() == 0 || !e.hint().empty()) throw;
    throw e.with_hint("nothing was restored; the targets are untouched");
  }
}

}  // namespace

Restore::Restore(const RestoreOptions& options, Reporter& reporter)
    : s_(std::make_unique<State>(options, reporter)) {
  untouched_on_interrupt([this] { prepare(); });
}

Restore::~Restore() = default;

RestoreResult Restore::run(double stop_grace_seconds) {
  if (s_->ran) throw std::logic_error("Restore::run called twice");
  s_->ran = true;
  s_->options.stop_grace_seconds = stop_grace_seconds;
  return untouched_on_interrupt([this] { return finish(); });
}

RestoreResult restore_archive(const RestoreOptions& options, Reporter& reporter) {
  Restore restore(options, reporter);
  return restore.run(options.stop_grace_seconds);
}

void Restore::prepare() {
  State& s = *s_;
  const RestoreOptions& options = s.options;
  s.result.dry_run = options.dry_run;

  // First, the targets: where they are, how they nest, that nothing is
  // pending on them.
  std::tie(s.config, s.data) = resolve_targets(options.config_dir, options.data_dir);
  check_no_pending_restore({s.config, s.data});
  s.trees = plan_targets(s.config, s.data, options.only);
  for (const auto& t : s.trees)
    if (::access(t.target.c_str(), F_OK) == 0) s.in_use.push_back(t.target);
  if (options.dry_run) {
    // Changes nothing, so it may look while the server runs.
    const ProcessScan scan = scan_server_processes(s.in_use);
    if (!scan.processes.empty())
      s.reporter.warning("the Jellyfin trees are in use: " + describe_processes(scan.processes) +
                         "; the real restore will refuse until the server is stopped");
  }

  // Second, the archive's manifest, judged as verify judges it; its bytes
  // are kept for the one pass that reads the archive whole.
  s.source = std::make_unique<RewindSource>(open_source(options.archive), kHeadLimit);
  try {
    s.result.manifest = read_manifest_ahead(*s.source);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kDamaged || !e.hint().empty()) throw;
    throw e.with_hint("nothing was restored; the targets are untouched");
  }
  s.source->rewind();
  const Manifest& m = s.result.manifest;
  for (const auto& t : s.trees) {
    if (!m.find_tree(t.name))
      throw damaged_error(s.source->name() + ": the archive holds no " + t.name + " tree",
                          "it cannot restore --" + t.name);
  }
  check_version(m, options, s.reporter);
  check_free_space(m, s.trees);
}

RestoreResult Restore::finish() {
  State& s = *s_;
  const RestoreOptions& options = s.options;
  RestoreResult& result = s.result;
  Reporter& reporter = s.reporter;
  const std::vector<TreeTarget>& trees = s.trees;
  const std::vector<std::string>& in_use = s.in_use;
  const std::string& config = s.config;
  const std::string& data = s.data;
  Source* source = s.source.get();

  if (!options.dry_run)
    result.forced = refuse_if_running(in_use, options.force, options.stop_hint, reporter,
                                      options.stop_grace_seconds);

  // Third, read the archive once: verify every byte while extracting into
  // staging. Nothing outside the staging directories is written.
  RestoreConsumer consumer(options, trees, {config, data}, reporter);
  VerifierPolicy policy;
  policy.special = options.allow_special ? VerifierPolicy::Special::kAllow : VerifierPolicy::Special::kRefuse;
  VerifyResult verified = verify_archive(*source, reporter, &consumer, policy);
  if (!verified.ok()) result.skipped_damaged = damaged_to_skip(verified, options, trees, source->name(), reporter);
  if (!consumer.prepared()) throw damaged_error(source->name() + ": no manifest");
  result.manifest = *verified.manifest;

  // Fourth, finish the staged trees and make them durable before any swap:
  // what the archive left out, and the damaged files --skip-damaged left
  // out, taken from the current trees.
  consumer.place_nested();
  std::vector<std::vector<KeptEntry>> kept(trees.size());
  for (std::size_t i = 0; i < trees.size(); ++i) {
    KeepRule rule = options.keep_excluded ? KeepRule::left_out_by(consumer.manifest(), trees[i].name)
                                          : KeepRule(trees[i].name);
    const std::string prefix = trees[i].name + "/";
    for (const auto& path : result.skipped_damaged) {
      if (!path.starts_with(prefix)) continue;
      const std::string rel = path.substr(prefix.size());
      drop_from_staging(consumer.staged_dir(i), rel, path);
      rule.add(rel, "damaged in the archive");
    }
    kept[i] = keep_left_out(trees, i, rule, consumer, reporter);
  }
  consumer.extractor().finish();
  for (std::size_t i = 0; i < trees.size(); ++i) {
    // Caught here, not by a server that refuses to start.
    if (auto why = misplaced_tree(consumer.staged_root(i), trees[i].name))
      throw refused_error("the archive's " + trees[i].name + " tree is not Jellyfin's " + trees[i].name +
                              " directory: " + *why,
                          "nothing was restored; was the archive made with --data and --config swapped?");
  }
  for (auto& staged : consumer.staging()) {
    if (::syncfs(staged.fd()) != 0) throw io_error(staged.path(), "cannot sync", errno);
  }
  // The extraction may have taken long: look again right before the swap.
  if (!options.dry_run) {
    auto forced = refuse_if_running(in_use, options.force, options.stop_hint, reporter, options.stop_grace_seconds);
    if (!result.forced) result.forced = forced;
  }

  const std::string stamp = utc_compact(std::time(nullptr));
  SwapPlan plan;
  plan.archive = source->name();
  plan.archive_created = result.manifest.created;
  plan.discard_old = options.discard_old;
  for (std::size_t i = 0; i < trees.size(); ++i) {
    const TreeTarget& t = trees[i];
    const ManifestTree* mt = result.manifest.find_tree(t.name);
    RestoredTree out{t.name, t.target, false, std::nullopt, mt->files, mt->bytes, {}, {}, std::move(kept[i])};
    struct stat st;
    out.target_existed = ::lstat(t.target.c_str(), &st) == 0;
    if (t.nested_in) {
      out.inside = trees[*t.nested_in].name;
      if (options.dry_run) out.diff = diff_trees(consumer.staged_root(i), t.target);
      result.trees.push_back(std::move(out));
      continue;
    }
    StagingDir& staged = consumer.staging_for(i);
    std::vector<std::string> ignore;
    if (t.in_place) ignore.push_back(name_of(staged.path()));
    for (const auto& inner : trees)
      if (inner.nested_in && trees[*inner.nested_in].name == t.name) ignore.push_back(inner.nested_path);
    if (options.dry_run) {
      out.diff = diff_trees(staged.path(), t.target, ignore);
    } else {
      if (::fstat(staged.fd(), &st) != 0) throw io_error(staged.path(), "cannot stat", errno);
      std::string backup_id = t.in_place ? free_backup_id(t.target + "/.jellyfin-backup-old", stamp)
                                         : free_backup_id(t.target, stamp);
      SwapTree swap{t.name, t.target, staged.id(), backup_id, out.target_existed,
                    st.st_dev, st.st_ino, t.in_place};
      if (out.target_existed && !options.discard_old) out.backup = swap.backup();
      plan.trees.push_back(std::move(swap));
    }
    result.trees.push_back(std::move(out));
  }
  // A nested tree went wherever its enclosing tree went.
  for (std::size_t i = 0; i < trees.size(); ++i) {
    if (!trees[i].nested_in) continue;
    const RestoredTree& outer = result.trees[*trees[i].nested_in];
    if (outer.backup && result.trees[i].target_existed)
      result.trees[i].backup = *outer.backup + "/" + trees[i].nested_path;
  }
  if (options.dry_run) {
    for (auto& staged : consumer.staging()) staged.remove();
  } else {
    // Last, the swap: from here the journal, not the staging RAII, owns the
    // staged trees.
    write_journal(plan);
    for (auto& staged : consumer.staging()) staged.release();
    if (complete_swap(plan, {config, data}, reporter) != SwapOutcome::kCompleted)
      throw Error(ErrorKind::kRuntime, "the restore was rolled back", "the targets are as they were");
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - s.start).count();
  return result;
}

RecoverResult recover(const std::string& data_dir, const std::string& config_dir,
                      Reporter& reporter) {
  const auto [config, data] = resolve_targets(config_dir, data_dir);
  RecoverResult result{RecoverResult::Outcome::kNothingPending, {}, {}};

  // The journals come from the state directory, which only we can write
  // (read_journal refuses any other); still, a journal is executed only if
  // every tree it names is one this command was given.
  std::optional<SwapPlan> plan = read_journal(data);
  if (!plan) plan = read_journal(config);
  if (plan) {
    for (const auto& t : plan->trees) {
      const std::string& given = t.name == format::kConfigTree ? config : data;
      if (t.target != given)
        throw refused_error("the interrupted restore's " + t.name + " tree is " + t.target +
                                ", not " + given + ": its journal was not executed",
                            "run recover with --data and --config as the restore had them");
    }
    result.archive = plan->archive;
    result.outcome = complete_swap(*plan, {config, data}, reporter) == SwapOutcome::kCompleted
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
    auto dir = DirFd::open_if_exists(parent_of(prefix));
    if (!dir) continue;
    const std::string name_prefix = name_of(prefix);
    for (const auto& name : dir->list(name_prefix)) {
      const std::string pid_text = name.substr(name_prefix.size());
      if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
      pid_t pid = static_cast<pid_t>(std::atol(pid_text.c_str()));
      // A restore running now (EPERM: alive, but another user's).
      if (pid > 0 && pid != ::getpid() && (::kill(pid, 0) == 0 || errno == EPERM)) continue;
      // Removed through the fd of its parent, never following a link: at
      // worst a look-alike the tree's owner made in a parent it can write.
      remove_tree_at(dir->fd(), name, dir->path_of(name));
      result.removed_staging.push_back(dir->path_of(name));
    }
  }
  return result;
}

}  // namespace jb
