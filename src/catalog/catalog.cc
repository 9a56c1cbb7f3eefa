// Reading a directory of archives: one listing, then per archive its first
// frame (the manifest) and its sidecar, several archives at a time because
// a remote read takes a second or more just to start.
//
// Which failures are whose: a damaged archive is a fact about that archive
// (recorded in its `error`, the rest go on); a failing store (rclone exits,
// a permission error, an interruption) is a fact about the run, and
// read_catalog throws it. Listing every archive as "unreadable" because the
// network went away would be wrong, and prune must not decide on half a
// picture.
#include "jellyfin_backup/catalog/catalog.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <exception>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/archive/check_record.h"
#include "jellyfin_backup/archive/checksum_list.h"
#include "jellyfin_backup/archive/sidecar.h"
#include "jellyfin_backup/create/create.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/utc_time.h"
#include "jellyfin_backup/verify/inspect.h"
#include "jellyfin_backup/verify/verify.h"

namespace jb {
namespace {

// The manifest frame is a few hundred bytes; this leaves room for a large
// manifest (many excludes) without fetching more than one request's worth.
constexpr std::uint64_t kHeadBytes = 64 * 1024;

bool is_candidate(const std::string& name) {
  return !name.empty() && name[0] != '.' && format::has_archive_suffix(name);
}

// Progress of --check across the reading threads (a Reporter is not
// thread-safe).
class SharedProgress {
 public:
  SharedProgress(Reporter& reporter, std::uint64_t files, std::uint64_t bytes)
      : reporter_(reporter) {
    progress_.files_total = files;
    progress_.bytes_total = bytes;
  }
  void add(std::uint64_t bytes, std::uint64_t files) {
    std::lock_guard<std::mutex> lock(mutex_);
    progress_.bytes_done += bytes;
    progress_.files_done += files;
    reporter_.progress(progress_);
  }
  void warning(const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    reporter_.warning(message);
  }

 private:
  Reporter& reporter_;
  std::mutex mutex_;
  Progress progress_;
};

// Runs `worker` on up to `threads` threads, this one among them, and waits
// for all. Workers take tasks until none is left, so fewer threads (the
// system would not start more) only take longer. `worker` must not throw.
template <typename Worker>
void run_workers(std::size_t threads, Worker& worker) {
  std::vector<std::thread> pool;
  try {
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  } catch (const std::system_error&) {
  }
  worker();
  for (std::thread& t : pool) t.join();
}

struct Job {
  const StoredFile* file;
  const StoredFile* sidecar;  // null when there is none
  const StoredFile* record;   // the check record; null when there is none
  ArchiveInfo info;
  bool listed = false;
  std::optional<std::string> sidecar_text;  // fetched with the others
  std::optional<Manifest> manifest;          // from a head fetched with the others
};

// On a remote every read is a run of rclone, and starting rclone costs more
// than reading a sidecar: the sidecars are fetched in one run, and split
// back by what each line says. A line is taken as the sidecar of the
// archive it names only when no other line names that archive and its
// length is that sidecar's listed size; any other sidecar (an invalid one,
// one rclone did not fetch) is read on its own, as if nothing was fetched.
void prefetch_sidecars(const Store& store, std::vector<Job>& jobs) {
  std::vector<std::string> names;
  std::uint64_t total = 0;
  for (const Job& job : jobs)
    if (job.sidecar) {
      names.push_back(job.sidecar->name);
      total += job.sidecar->size;
    }
  if (names.size() < 2) return;
  const std::optional<std::string> fetched = store.read_concatenated(names, std::nullopt, total + kMaxSidecarBytes);
  if (!fetched) return;
  const std::string& text = *fetched;

  std::map<std::string, std::vector<std::string>> lines_naming;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end + 1 - start);
    start = end == std::string::npos ? text.size() : end + 1;
    try {
      std::vector<ChecksumLine> parsed = parse_checksum_list(line);
      if (parsed.size() != 1) continue;
      const std::string& path = parsed[0].path;
      lines_naming[path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1)]
          .push_back(line);
    } catch (const Error&) {
      // Not a sidecar line: whichever sidecar holds it is read alone.
    }
  }
  for (Job& job : jobs) {
    if (!job.sidecar) continue;
    auto it = lines_naming.find(job.info.name);
    if (it != lines_naming.end() && it->second.size() == 1 && it->second[0].size() == job.sidecar->size)
      job.sidecar_text = it->second[0];
  }
}

// The manifests of one run's heads, by the archive name each makes; nullopt
// unless they account for exactly the names asked for, one head each, all
// readable. Anything else (a damaged head, a renamed copy, a file gone or
// changed since the listing) and the run tells nothing for sure.
std::optional<std::map<std::string, Manifest>> heads_by_name(std::string_view heads,
                                                             const std::vector<std::string>& names,
                                                             const std::string& where) {
  if (heads.size() != names.size() * kHeadBytes) return std::nullopt;
  std::map<std::string, Manifest> by_name;
  for (std::size_t at = 0; at < heads.size(); at += kHeadBytes) {
    StringSource head(heads.substr(at, kHeadBytes), where);
    Manifest manifest = inspect_archive(head, /*list=*/false).manifest;
    const auto created = parse_utc_iso(manifest.created);
    if (!created) return std::nullopt;
    if (!by_name.emplace(archive_file_name(*created, manifest.app_version), std::move(manifest)).second)
      return std::nullopt;
  }
  for (const std::string& name : names)
    if (!by_name.count(name)) return std::nullopt;
  return by_name;
}

// Likewise an archive's start, which takes a run of rclone each: the heads
// of the archives with generated names come kHeadsPerRun to a run of
// rclone, kHeadBytes each. A run is used only when its heads are exactly
// the archives asked for, each known by the name its manifest makes
// (archive_file_name of its created time and version, as create named
// it); otherwise each of its archives is read on its own, as if nothing
// was fetched, and shows its own damage. Memory stays at one run per thread.
void prefetch_heads(const Store& store, std::vector<Job>& jobs, int parallel) {
  constexpr std::size_t kHeadsPerRun = 32;
  std::vector<Job*> wanted;
  for (Job& job : jobs)
    if (job.file->size >= kHeadBytes && parse_archive_name(job.info.name)) wanted.push_back(&job);
  if (wanted.size() < 2) return;
  const std::size_t runs = (wanted.size() + kHeadsPerRun - 1) / kHeadsPerRun;

  std::atomic<std::size_t> next{0};
  std::atomic<bool> local{false};
  auto worker = [&]() noexcept {
    // Nothing may escape a thread: a run that fails in any way is a run
    // not used.
    for (std::size_t run; !local && !interrupted_signal() && (run = next.fetch_add(1)) < runs;) {
      try {
        const std::size_t first = run * kHeadsPerRun, end = std::min(wanted.size(), first + kHeadsPerRun);
        std::vector<std::string> names;
        for (std::size_t i = first; i < end; ++i) names.push_back(wanted[i]->info.name);
        const std::optional<std::string> heads = store.read_concatenated(names, kHeadBytes, names.size() * kHeadBytes);
        if (!heads) {
          local = true;  // nothing to gain: every archive is opened on its own
          return;
        }
        auto by_name = heads_by_name(*heads, names, store.location().display());
        if (!by_name) continue;
        // Each run's archives are its own: no other thread touches them.
        for (std::size_t i = first; i < end; ++i) wanted[i]->manifest = std::move(by_name->at(wanted[i]->info.name));
      } catch (...) {
        // Read one by one, where an error shows if it lasts.
      }
    }
  };
  run_workers(std::min<std::size_t>(runs, static_cast<std::size_t>(std::max(1, parallel))), worker);
}

// The start of the archive: manifest, or the damage that hides it.
void read_start(const Store& store, Job& job) {
  ArchiveInfo& info = job.info;
  std::optional<GeneratedName> generated = parse_archive_name(info.name);
  try {
    if (!job.manifest) {
      try {
        auto source = store.open(info.name, kHeadBytes);
        job.manifest = inspect_archive(*source, /*list=*/false).manifest;
      } catch (const Error& e) {
        // A manifest frame larger than the head we fetched looks truncated;
        // only the whole file can tell.
        if (!e.is_truncated() || info.size <= kHeadBytes) throw;
        auto source = store.open(info.name);
        job.manifest = inspect_archive(*source, /*list=*/false).manifest;
      }
    }
    info.manifest = std::move(job.manifest);
  } catch (const Error& e) {
    // Gone since the listing (a prune ran meanwhile): not there to list.
    if (e.kind() != ErrorKind::kDamaged && !interrupted_signal() && !store.stat(info.name)) return;
    if (e.kind() != ErrorKind::kDamaged) throw;
    // A damaged file under a name create generates is ours: list it. Any
    // other is not a jellyfin-backup archive, and none of our business.
    if (!generated) return;
    // The name is shown beside the error; the message names it already.
    std::string what = e.what();
    const std::string named = info.name + ": ";
    if (auto at = what.find(named); at != std::string::npos) what = what.substr(at + named.size());
    info.error = what;
  }
  job.listed = true;

  if (generated) {
    info.time = generated->time;
  } else if (auto created = parse_utc_iso(info.manifest->created)) {
    info.time = *created;
  } else {
    // No date at all: judged, it would count as from 1970 and go first.
    // Not an archive as ours writes them: kept and reported, like a damaged one.
    info.error = std::string(format::kManifestName) + ": `created` is not a UTC time (" +
                 info.manifest->created.substr(0, 40) + ")";
  }
  info.created = utc_iso(info.time);
  if (generated && generated->version != format::kUnknownVersion) {
    info.version = generated->version;
  } else if (info.manifest) {
    info.version = info.manifest->app_version;
  }
}

SidecarState sidecar_state(const Store& store, const Job& job, std::optional<std::string>* hex) {
  if (!job.sidecar) return SidecarState::kMissing;
  const std::string& name = job.info.name;
  auto text = job.sidecar_text ? job.sidecar_text : store.read_small(job.sidecar->name, kMaxSidecarBytes);
  if (!text) return SidecarState::kMissing;  // removed since the listing
  if (text->size() > kMaxSidecarBytes) return SidecarState::kInvalid;
  *hex = parse_sidecar(*text, name);
  if (!*hex) return SidecarState::kInvalid;
  // Written before the archive's last change: the archive was replaced or
  // modified after it was verified. Unknown times (0) prove nothing.
  const StoredFile& archive = *job.file;
  const StoredFile& sidecar = *job.sidecar;
  if (archive.mtime != 0 && sidecar.mtime != 0 &&
      std::make_pair(sidecar.mtime, sidecar.mtime_nsec) <
          std::make_pair(archive.mtime, archive.mtime_nsec))
    return SidecarState::kStale;
  return SidecarState::kMatches;
}

// What the archive's check record, if it binds, says. The record is a note
// in an untrusted store: bounded, believed only about the file as it is.
void read_check_record(const Store& store, Job& job, const std::optional<std::string>& sidecar_hex) {
  if (!job.record) return;
  ArchiveInfo& info = job.info;
  info.check = CheckState::kChanged;
  if (job.record->size > kMaxCheckRecordBytes) return;
  const auto text = store.read_small(job.record->name, kMaxCheckRecordBytes);
  if (!text) {
    info.check = CheckState::kNever;  // removed since the listing
    return;
  }
  const auto record = parse_check_record(*text, info.name);
  if (!record || !binds(*record, *job.file, sidecar_hex)) return;
  info.check = record->ok ? CheckState::kChecked : CheckState::kDamaged;
  info.checked_at = record->checked;
  if (!record->ok) info.damage = record->problem.empty() ? std::string("damaged") : record->problem;
}

// One archive's check, as seen by the run's shared progress: this
// archive's bytes are added as they are read, its warnings passed on.
class CheckReporter : public Reporter {
 public:
  CheckReporter(SharedProgress& shared, const std::atomic<bool>& failed) : shared_(shared), failed_(failed) {}
  void warning(const std::string& message) override { shared_.warning(message); }
  void progress(const Progress& p) override {
    // Nobody waits minutes for a check whose result will be thrown away.
    if (failed_) throw Error(ErrorKind::kRuntime, "stopped: reading another archive failed");
    if (p.bytes_done > done_) shared_.add(p.bytes_done - done_, 0);
    done_ = std::max(done_, p.bytes_done);
  }

 private:
  SharedProgress& shared_;
  const std::atomic<bool>& failed_;
  std::uint64_t done_ = 0;
};

// --check: the archive read whole by the one judge, as `verify` reads it;
// its finding recorded beside it (verify_stored: the check record, and the
// sidecar when intact), and what the listing knows updated from it.
void check_archive(const Store& store, Job& job, const std::optional<std::string>& sidecar_hex,
                   SharedProgress& progress, const std::atomic<bool>& failed) {
  CheckReporter reporter(progress, failed);
  const StoredVerified v = verify_stored(store, job.info.name, reporter);
  progress.add(0, 1);
  ArchiveInfo& info = job.info;
  if (sidecar_hex && *sidecar_hex != v.xxh128 && !v.sidecar) info.sidecar = SidecarState::kMismatch;
  else if (v.sidecar) info.sidecar = SidecarState::kMatches;  // (re)written from this check
  info.check = v.result.ok() ? CheckState::kChecked : CheckState::kDamaged;
  info.checked_at = v.record ? v.record->checked : static_cast<std::int64_t>(std::time(nullptr));
  info.damage.reset();
  if (!v.result.ok()) info.damage = v.result.damage_summary();
}

void read_one(const Store& store, const CatalogOptions& options, Job& job, SharedProgress& progress,
              const std::atomic<bool>& failed) {
  throw_if_interrupted();
  read_start(store, job);
  if (!job.listed) return;
  std::optional<std::string> hex;
  job.info.sidecar = sidecar_state(store, job, &hex);
  read_check_record(store, job, hex);
  // A stale sidecar may still hold the right hash (a copy that did not
  // keep times); --check settles it either way.
  if (options.check && !job.info.error) check_archive(store, job, hex, progress, failed);
}

}  // namespace

const char* check_state_name(CheckState state) {
  switch (state) {
    case CheckState::kNever: return "never";
    case CheckState::kChecked: return "checked";
    case CheckState::kDamaged: return "damaged";
    case CheckState::kChanged: return "changed";
  }
  return "?";
}

const char* sidecar_state_name(SidecarState state) {
  switch (state) {
    case SidecarState::kMissing: return "missing";
    case SidecarState::kMatches: return "matches";
    case SidecarState::kStale: return "stale";
    case SidecarState::kInvalid: return "invalid";
    case SidecarState::kMismatch: return "mismatch";
  }
  return "unknown";
}

std::optional<std::int64_t> future_date(const ArchiveInfo& archive, std::int64_t now) {
  std::optional<std::int64_t> latest;
  auto consider = [&](std::optional<std::int64_t> t) {
    if (t && *t > now + kFutureSlackSeconds && (!latest || *t > *latest)) latest = t;
  };
  if (auto generated = parse_archive_name(archive.name)) consider(generated->time);
  if (archive.manifest) consider(parse_utc_iso(archive.manifest->created));
  return latest;
}

std::optional<GeneratedName> parse_archive_name(const std::string& name) {
  const std::size_t prefix = format::kArchivePrefix.size();
  const std::size_t stamp = 16;  // YYYYMMDDTHHMMSSZ
  const std::size_t suffix = format::kArchiveSuffix.size();
  if (name.size() < prefix + stamp + 2 + suffix || name.compare(0, prefix, format::kArchivePrefix) != 0 ||
      !format::has_archive_suffix(name) || name[prefix + stamp] != '_')
    return {};
  const auto time = parse_utc_compact(std::string_view(name).substr(prefix, stamp));
  if (!time) return {};

  GeneratedName out;
  out.time = *time;
  out.version = name.substr(prefix + stamp + 1, name.size() - prefix - stamp - 1 - suffix);
  // The characters archive_file_name() lets through; anything else was not
  // generated by create.
  for (char c : out.version) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '+' || c == '-';
    if (!safe) return {};
  }
  return out;
}

Catalog read_catalog(const Store& store, const CatalogOptions& options, Reporter& reporter) {
  std::vector<StoredFile> files = store.list();
  std::map<std::string, const StoredFile*> by_name;
  for (const StoredFile& f : files) by_name[f.name] = &f;

  std::vector<Job> jobs;
  std::uint64_t check_bytes = 0, check_files = 0;
  for (const StoredFile& f : files) {
    if (!is_candidate(f.name)) continue;
    auto sidecar = by_name.find(sidecar_name(f.name));
    auto record = by_name.find(check_record_name(f.name));
    Job job{&f, sidecar == by_name.end() ? nullptr : sidecar->second,
            record == by_name.end() ? nullptr : record->second, {}, false, {}, {}};
    job.info.name = f.name;
    job.info.size = f.size;
    job.info.mtime = f.mtime;
    check_bytes += f.size;
    ++check_files;
    jobs.push_back(std::move(job));
  }
  SharedProgress progress(reporter, options.check ? check_files : 0, options.check ? check_bytes : 0);
  prefetch_sidecars(store, jobs);
  prefetch_heads(store, jobs, options.parallel);

  // Threads take the next archive until none is left; nothing escapes a
  // thread but as the run's first failure. After it no new archive is
  // started, and hashes in progress stop: the run is going to fail anyway.
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex first_failure_mutex;
  std::exception_ptr first_failure;
  auto worker = [&] {
    for (std::size_t i; !failed && (i = next.fetch_add(1)) < jobs.size();) {
      try {
        read_one(store, options, jobs[i], progress, failed);
      } catch (...) {
        std::lock_guard<std::mutex> lock(first_failure_mutex);
        if (!first_failure) first_failure = std::current_exception();
        failed = true;
      }
    }
  };
  std::size_t threads = static_cast<std::size_t>(std::max(1, options.parallel));
  // A check decompresses and hashes: as many at once as there are cores.
  if (options.check) threads = std::min<std::size_t>(threads, std::max(1u, std::thread::hardware_concurrency()));
  run_workers(std::min<std::size_t>(jobs.size(), threads), worker);

  throw_if_interrupted();
  if (first_failure) std::rethrow_exception(first_failure);
  Catalog catalog;
  for (Job& job : jobs)
    if (job.listed) catalog.archives.push_back(std::move(job.info));
  catalog.files = std::move(files);  // the jobs that pointed into it are done
  std::sort(catalog.archives.begin(), catalog.archives.end(),
            [](const ArchiveInfo& a, const ArchiveInfo& b) {
              return a.time != b.time ? a.time > b.time : a.name > b.name;
            });
  return catalog;
}

}  // namespace jb
