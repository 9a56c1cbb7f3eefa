#include "jellyfin_backup/create/create.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <ctime>
#include <memory>
#include <thread>
#include <unordered_map>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/archive/checksum_list.h"
#include "jellyfin_backup/archive/manifest.h"
#include "jellyfin_backup/archive/sidecar.h"
#include "jellyfin_backup/archive/tar_writer.h"
#include "jellyfin_backup/archive/xxh128.h"
#include "jellyfin_backup/create/disk_entry.h"
#include "jellyfin_backup/create/tree_walk.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/atomic_file.h"
#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/io/location.h"
#include "jellyfin_backup/io/names.h"
#include "jellyfin_backup/io/paths.h"
#include "jellyfin_backup/io/rclone.h"
#include "jellyfin_backup/io/store.h"
#include "jellyfin_backup/jellyfin/install.h"
#include "jellyfin_backup/jellyfin/running_server.h"
#include "jellyfin_backup/restore/swap.h"
#include "jellyfin_backup/pipeline/compress_stage.h"
#include "jellyfin_backup/utc_time.h"
#include "jellyfin_backup/version.h"

namespace jb {
namespace {

constexpr std::size_t kReadBlock = 1 << 20;

// Where the archive goes, with the name it gets.
struct Output {
  std::unique_ptr<Store> store;  // the directory; holds the sidecar too
  std::string name;
  std::string path;  // as the user reads it
  bool generated = false;  // the name is ours (jellyfin.<stamp>_<version>.tar.zst)
};

Output resolve_output(const std::string& output, std::time_t now, const std::optional<std::string>& version) {
  OutputTarget target = output_target(output);
  Output out;
  out.store = open_store(target.dir);
  out.name = target.name.value_or(archive_file_name(now, version));
  out.generated = !target.name;
  // A local path stays as the user wrote it.
  out.path = target.dir.is_rclone() || !target.name ? out.store->display(out.name) : output;
  return out;
}

// The trees as the archive stores them: a tree nested in the other is
// stored once, under its own name, and skipped by the walk of the outer one;
// the log, cache and transcode directories inside a tree are left out.
struct TreeLayout {
  std::vector<TreeSpec> specs;  // config, data
  std::vector<ManifestTree> nesting;  // name, inside, inside_path only
  std::vector<LeftOut> left_out;
};

// The old trees a restore keeps inside a tree: "<target>/.jellyfin-backup-old.bak-<stamp>"
// in a mount point, "<inner>.bak-<stamp>" beside a nested tree restored
// alone. Backing them up would store every previous install again.
std::vector<LeaveOut> kept_old_trees(const std::vector<TreeSpec>& specs) {
  std::vector<LeaveOut> out;
  // A tree that cannot be opened here fails the walk later, with its message.
  auto scan = [&](const std::string& dir, const std::string& prefix) {
    try {
      if (std::optional<DirFd> d = DirFd::open_if_exists(dir))
        for (const auto& name : d->list(prefix)) out.push_back({"previous tree", d->path_of(name)});
    } catch (const Error&) {
    }
  };
  for (const auto& spec : specs) {
    scan(spec.source, ".jellyfin-backup-old.bak-");
    for (const auto& other : specs)
      if (&other != &spec && !relative_below(spec.source, other.source).empty())
        scan(parent_of(spec.source), name_of(spec.source) + ".bak-");
  }
  return out;
}

TreeLayout layout_trees(const std::string& config, const std::string& data,
                        std::vector<LeaveOut> leave_out) {
  TreeLayout l;
  l.specs = {{std::string(format::kConfigTree), config}, {std::string(format::kDataTree), data}};
  l.nesting = {{std::string(format::kConfigTree), config}, {std::string(format::kDataTree), data}};
  for (std::size_t inner = 0; inner < 2; ++inner) {
    std::size_t outer = 1 - inner;
    std::string rel = relative_below(l.specs[inner].source, l.specs[outer].source);
    if (rel.empty()) continue;
    l.specs[outer].skip.push_back(l.specs[inner].source);
    l.nesting[inner].inside = l.specs[outer].name;
    l.nesting[inner].inside_path = rel;
  }
  for (auto& old : kept_old_trees(l.specs)) leave_out.push_back(std::move(old));
  for (const auto& dir : leave_out) {
    // The transcode directory usually lies in the cache: left out once.
    bool covered = false;
    for (const auto& other : leave_out)
      covered |= &other != &dir && other.path != dir.path && lies_within(dir.path, other.path);
    if (covered) continue;
    // The deepest tree holding it: with nesting, the inner one.
    const TreeSpec* holder = nullptr;
    for (auto& spec : l.specs) {
      if (relative_below(dir.path, spec.source).empty()) continue;
      if (!holder || spec.source.size() > holder->source.size()) holder = &spec;
    }
    if (!holder) continue;
    bool other_tree = false;  // the log dir cannot be a whole tree
    for (auto& spec : l.specs) other_tree |= lies_within(spec.source, dir.path);
    if (other_tree) continue;
    for (auto& spec : l.specs) {
      if (&spec == holder) {
        spec.skip.push_back(dir.path);
        l.left_out.push_back({dir.kind, spec.name + "/" + relative_below(dir.path, spec.source), dir.path});
      }
    }
  }
  return l;
}

Manifest make_manifest(const BackupPlan& plan, const TreeLayout& layout, const CreateOptions& options,
                       std::time_t now) {
  Manifest m;
  m.format_version = format::kFormatVersion;
  m.tool_version = kToolVersion;
  m.created = utc_iso(now);
  m.host = host_name();
  m.app_version = options.server_version;
  if (options.server_version) m.app_version_source = options.version_source.value_or("command line");
  for (std::size_t i = 0; i < plan.trees.size(); ++i) {
    const PlannedTree& tree = plan.trees[i];
    m.trees.push_back({tree.spec.name, tree.spec.source, tree.files, tree.bytes, tree.entries,
                       layout.nesting[i].inside, layout.nesting[i].inside_path});
  }
  m.left_out = layout.left_out;
  m.excludes = options.excludes;
  m.compression_level = options.level;
  m.frame_bytes = format::kFrameTargetBytes;
  return m;
}

// Streams one archive entry: the whole hot loop of create.
class EntryStreamer {
 public:
  EntryStreamer(const BackupPlan& plan, TarWriter& tar, CompressStage& stage, Reporter& reporter)
      : plan_(plan), tar_(tar), stage_(stage), reporter_(reporter), buffer_(kReadBlock) {
    progress_.files_total = plan.total_files();
    progress_.bytes_total = plan.total_bytes();
  }

  void stream(const PlannedEntry& planned) {
    throw_if_interrupted();
    std::string source = plan_.source_path(planned);
    bool has_data = S_ISREG(planned.st.st_mode) && planned.hardlink_target.empty();
    UniqueFd fd = open_planned(planned, source);
    warn_if_special(planned, source);
    ArchiveEntryPtr entry = builder_.build(planned, source, fd.get());
    std::string warning = tar_.write_header(entry.get());
    if (!warning.empty()) reporter_.warning(source + ": " + warning);
    if (S_ISREG(planned.st.st_mode)) {
      std::string hex = has_data ? copy_data(planned, source, fd.get(), entry.get())
                                 : sums_of_first_link(planned);
      checksums_ += format_checksum_line(hex, planned.archive_path);
      file_sums_.emplace(planned.archive_path, hex);
      ++progress_.files_done;
    }
    // A directory stays open for the entries below it, which come next.
    if (S_ISDIR(planned.st.st_mode)) {
      dirs_.emplace_back(std::move(fd), source);
      dir_paths_.push_back(planned.archive_path);
    }
    tar_.finish_entry();
    stage_.entry_boundary();
    reporter_.progress(progress_);
  }

  const std::string& checksums() const { return checksums_; }

 private:
  // Opens the entry relative to its parent directory's fd, never following
  // a link, and checks it is the inode the walk planned: a component the
  // tree's owner swapped since (for a symlink to /etc, say) is an error,
  // never read. The parent is on the stack of directories along the current
  // path: entries come depth-first, so it only ever pops back to the parent
  // (one fd per level of depth, each directory opened once).
  UniqueFd open_planned(const PlannedEntry& planned, const std::string& source) {
    const std::string& tree_name = plan_.trees[planned.tree].spec.name;
    UniqueFd fd;
    if (planned.archive_path == tree_name) {
      // The root, as the walk opened it: from "/", through no link.
      dirs_.clear();
      dir_paths_.clear();
      fd = DirFd::open_resolved(source).take_fd();
    } else {
      const std::size_t slash = planned.archive_path.rfind('/');
      const std::string_view parent = std::string_view(planned.archive_path).substr(0, slash);
      while (!dir_paths_.empty() && dir_paths_.back() != parent) {
        dirs_.pop_back();
        dir_paths_.pop_back();
      }
      if (dirs_.empty())  // the plan is in walk order, so this cannot happen
        throw Error(ErrorKind::kRuntime, source + ": entry out of walk order");
      const std::string name = planned.archive_path.substr(slash + 1);
      fd = open_in(dirs_.back(), name, planned.st.st_mode, source);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw io_error(source, "cannot stat", errno, "no archive was written");
    if (!same_file(st, planned.st)) throw changed_while_read(source);
    if (S_ISREG(st.st_mode)) {
      // Opened O_NONBLOCK so a FIFO swapped in could not block; it is a
      // regular file, so reads may block again.
      int flags = ::fcntl(fd.get(), F_GETFL);
      if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
        throw io_error(source, "cannot read", errno, "no archive was written");
    }
    return fd;
  }

  static UniqueFd open_in(const DirFd& dir, const std::string& name, mode_t mode,
                          const std::string& source) {
    UniqueFd fd;
    if (S_ISREG(mode)) {
      // O_NOATIME spares a write per file, but only the owner (or root) may use it.
      fd = dir.open_at(name, O_RDONLY | O_NONBLOCK | O_NOATIME);
      if (!fd && errno == EPERM) fd = dir.open_at(name, O_RDONLY | O_NONBLOCK);
    } else if (S_ISDIR(mode)) {
      fd = dir.open_at(name, O_RDONLY | O_DIRECTORY);
    } else {
      // Symlinks, FIFOs, devices: described, never opened for I/O.
      fd = dir.open_at(name, O_PATH);
    }
    if (fd) return fd;
    // Gone, or a symlink (ELOOP) or non-directory (ENOTDIR) in its place.
    if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) throw changed_while_read(source);
    throw io_error(source, "cannot read", errno,
                   errno == EACCES ? "run as a user that can read the whole tree "
                                     "(the jellyfin user or root); no archive was written"
                                   : "no archive was written");
  }

  // Restore refuses these unless told otherwise: say so now, not on the day
  // of the restore.
  void warn_if_special(const PlannedEntry& planned, const std::string& source) {
    const mode_t mode = planned.st.st_mode;
    if (S_ISCHR(mode) || S_ISBLK(mode))
      reporter_.warning(source + ": device node stored; restore refuses it unless --allow-special");
    else if (!S_ISDIR(mode) && (mode & (S_ISUID | S_ISGID)) != 0)
      reporter_.warning(source + ": setuid/setgid file stored; restore refuses it unless --allow-special");
  }

  // The data regions of the entry: its sparse map, or the whole file.
  static std::vector<std::pair<std::uint64_t, std::uint64_t>> regions(archive_entry* entry,
                                                                      std::uint64_t size) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
    if (archive_entry_sparse_reset(entry) > 0) {
      la_int64_t offset, length;
      while (archive_entry_sparse_next(entry, &offset, &length) == ARCHIVE_OK)
        out.emplace_back(offset, length);
    }
    if (out.empty()) out.emplace_back(0, size);
    return out;
  }

  // Reads the file once, exactly as many bytes as its header states: the
  // hash and the archive see the same bytes even if the file changes.
  std::string copy_data(const PlannedEntry& planned, const std::string& source, int fd,
                        archive_entry* entry) {
    const auto size = static_cast<std::uint64_t>(planned.st.st_size);
    Xxh128 hash;
    std::uint64_t position = 0;
    bool shrank = false;
    auto emit = [&](const char* data, std::size_t n) {
      hash.update(data, n);
      tar_.write_data(data, n);
      position += n;
      progress_.bytes_done += n;
      reporter_.progress(progress_);
    };
    auto emit_zeros = [&](std::uint64_t n) {
      std::fill(buffer_.begin(), buffer_.end(), 0);
      while (n > 0) {
        std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(n, buffer_.size()));
        emit(buffer_.data(), chunk);
        n -= chunk;
      }
    };
    for (auto [offset, length] : regions(entry, size)) {
      if (offset > position) emit_zeros(offset - position);  // a hole: pax stores none of it
      std::uint64_t end = std::min(size, offset + length);
      while (position < end && !shrank) {
        throw_if_interrupted();
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(end - position, buffer_.size()));
        ssize_t n = ::pread(fd, buffer_.data(), want, static_cast<off_t>(position));
        if (n < 0) {
          if (errno == EINTR) continue;
          throw io_error(source, "cannot read", errno, "no archive was written");
        }
        if (n == 0) shrank = true;
        else emit(buffer_.data(), static_cast<std::size_t>(n));
      }
    }
    if (position < size) emit_zeros(size - position);  // trailing hole, or the file shrank

    struct stat now;
    bool changed = shrank || ::fstat(fd, &now) != 0 || now.st_size != planned.st.st_size ||
                   now.st_mtim.tv_sec != planned.st.st_mtim.tv_sec ||
                   now.st_mtim.tv_nsec != planned.st.st_mtim.tv_nsec;
    if (changed) {
      std::string message = source + ": changed while it was read; the archive holds " +
                            std::to_string(size) + " bytes of it (is the server running?)";
      reporter_.warning(message);
    }
    return hash.hex_digest();
  }

  std::string sums_of_first_link(const PlannedEntry& planned) {
    return file_sums_.at(planned.hardlink_target);
  }

  const BackupPlan& plan_;
  TarWriter& tar_;
  CompressStage& stage_;
  Reporter& reporter_;
  DiskEntryBuilder builder_;
  std::vector<DirFd> dirs_;             // the current path's directories, root first
  std::vector<std::string> dir_paths_;  // their archive paths
  std::vector<char> buffer_;
  std::string checksums_;
  std::unordered_map<std::string, std::string> file_sums_;
  Progress progress_;
};

}  // namespace

std::string archive_file_name(std::int64_t unix_time, const std::optional<std::string>& version) {
  std::string v;
  for (char c : version.value_or(std::string(format::kUnknownVersion))) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '+' || c == '-';
    v.push_back(safe ? c : '_');
  }
  if (v.empty()) v = format::kUnknownVersion;
  return std::string(format::kArchivePrefix) + utc_compact(unix_time) +
         "_" + v + std::string(format::kArchiveSuffix);
}

OutputTarget output_target(const std::string& output) {
  const Location where = parse_location(output);
  if (where.is_stdio()) throw usage_error("standard output is not a directory");
  // One rule, the same locally and on a remote: a name ending in .tar.zst
  // is the archive file; anything else is the directory it goes into.
  if (!format::has_archive_suffix(where.path)) return {where, std::nullopt};
  auto [dir, name] = split_file(where);
  return {dir, name};
}

void prepare_output_dir(const OutputTarget& target) {
  if (target.dir.is_rclone()) {
    // A remote answers a stat of a name that is not there with nothing (an
    // upload makes the directory); a remote name rclone does not know, or
    // one it cannot reach, with an error.
    if (target.name) return;
    auto dir = rclone_stat(target.dir.path);
    if (dir && !dir->is_dir)
      throw io_error(target.dir.display(), "is a file, not a directory (a name not ending in .tar.zst is the "
                                           "directory the archive goes into)", 0);
    return;
  }
  const std::string dir = target.dir.path.empty() ? "." : target.dir.path;
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return;
    throw io_error(dir, target.name ? "is not a directory"
                                    : "is a file, not a directory (a name not ending in .tar.zst is the "
                                      "directory the archive goes into)", 0);
  }
  if (errno != ENOENT) throw io_error(dir, "cannot use the output directory", errno);
  if (target.name)
    throw io_error(dir, "the directory for the archive does not exist", ENOENT, "create it first");
  // The directory of the archives: made, private, when its parent exists.
  std::string trimmed = dir;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  const std::string parent = parent_of(trimmed);
  if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw io_error(dir, "neither the backup directory nor its parent " + parent + " exists", ENOENT,
                   "create the parent directory first");
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw io_error(dir, "cannot create the backup directory", errno);
}

void check_output(const std::string& output) {
  if (output == "-") return;
  const OutputTarget target = output_target(output);
  prepare_output_dir(target);
  if (!target.name) return;
  auto store = open_store(target.dir);
  if (store->stat(*target.name)) throw exists_error(store->display(*target.name), "an existing file is never overwritten");
}

namespace {
CreateResult create(const CreateOptions& options, Reporter& outer_reporter);
}  // namespace

CreateResult create_archive(const CreateOptions& options, Reporter& reporter) {
  try {
    return create(options, reporter);
  } catch (const Error& e) {
    if (interrupted_signal() == 0 || !e.hint().empty()) throw;
    throw e.with_hint("the partial archive was removed");
  }
}

namespace {

// A generated name taken this second waits for the next; so many runs in a
// row mean something else makes these names.
constexpr int kMaxNameAttempts = 5;

CreateResult create(const CreateOptions& options, Reporter& outer_reporter) {
  const auto start = std::chrono::steady_clock::now();
  CreateResult result;
  CollectingReporter reporter(outer_reporter, result.warnings);

  // First, check the request and fix what the archive will hold.
  if (options.level < format::kMinLevel || options.level > format::kMaxLevel)
    throw bad_flag_error("level", "--level " + std::to_string(options.level) + ": must be between " +
                                      std::to_string(format::kMinLevel) + " and " + std::to_string(format::kMaxLevel));
  const std::string config = absolute_dir(options.config_dir, "--config");
  const std::string data = absolute_dir(options.data_dir, "--data");
  check_distinct_trees(config, data);
  for (const auto& [dir, tree] : {std::pair{config, "config"}, std::pair{data, "data"}}) {
    if (auto why = misplaced_tree(dir, tree))
      throw usage_error(*why, "are --data and --config swapped?");
  }
  // A half-finished restore leaves the trees mixed until `recover` has run.
  check_no_pending_restore({config, data});
  // Never read a database the server is writing.
  result.forced = refuse_if_running({config, data}, options.force, options.stop_hint, reporter,
                                    options.stop_grace_seconds);
  const ExcludeSet excludes(options.excludes);
  const TreeLayout layout = layout_trees(config, data, options.leave_out);
  const BackupPlan plan = plan_backup(layout.specs, excludes, reporter);
  result.left_out = layout.left_out;

  // Second, open the output: nothing appears under its final name before
  // commit. A generated name carries the second the archive was made; when
  // another run of this same second took it, the next second names ours
  // (and dates its manifest), so two runs in one second both succeed.
  std::unique_ptr<Sink> sink;
  Output output;
  std::time_t now = std::time(nullptr);
  if (options.output == "-") {
    sink = std::make_unique<FdSink>(STDOUT_FILENO, "stdout");
    result.path = "-";
  } else {
    for (int attempt = 0;; ++attempt) {
      output = resolve_output(options.output, now, options.server_version);
      try {
        sink = output.store->create(output.name);
        break;
      } catch (const Error& e) {
        if (!output.generated || !e.is_exists() || attempt >= kMaxNameAttempts) throw;
      }
      throw_if_interrupted();
      while (std::time(nullptr) <= now) ::usleep(20 * 1000);
      now = std::time(nullptr);
    }
    result.path = output.path;
  }
  Manifest manifest = make_manifest(plan, layout, options, now);
  manifest.forced = result.forced;
  const std::string manifest_text = manifest.serialize();

  // The whole archive's hash, for the sidecar, as it is written.
  HashingSink hashed(*sink);

  // Third, stream: manifest, every entry, then the checksum trailer.
  int threads = options.threads > 0 ? options.threads
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CompressStage stage(hashed, {options.level, threads, format::kFrameTargetBytes});
  TarWriter tar = TarWriter::open(stage);
  tar.write_memory_file(format::kManifestName, manifest_text, now);
  stage.end_frame();  // the manifest alone in frame 1: inspect and list read only that
  EntryStreamer streamer(plan, tar, stage, reporter);
  if (options.planned) options.planned();
  for (const auto& entry : plan.entries) streamer.stream(entry);
  // Nothing more is read from the trees: the server need not wait for the
  // compression, the fsync or an upload to finish.
  if (options.trees_read) options.trees_read();
  std::string checksums = format_checksum_line(Xxh128::hex_of(manifest_text), format::kManifestName);
  checksums += streamer.checksums();
  tar.write_memory_file(format::kChecksumsName, checksums, now);
  tar.close();

  // Last, make it durable and give it its name, then its sidecar.
  stage.commit();
  if (output.store) {
    try {
      write_sidecar(*output.store, output.name, hashed.hex_digest());
      result.sidecar = output.store->display(sidecar_name(output.name));
    } catch (const Error& e) {
      reporter.warning("the archive is complete, but its sidecar was not written: " + e.full_message() +
                       "; `jellyfin-backup verify` writes it");
    }
  }

  result.bytes_in = plan.total_bytes();
  result.tar_bytes = stage.bytes_in();
  result.bytes_out = stage.bytes_out();
  result.frames = stage.frames();
  result.files = plan.total_files();
  result.entries = plan.entries.size();
  result.version = options.server_version;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace

}  // namespace jb
