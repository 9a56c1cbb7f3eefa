#include "jellyfin_backup/verify/verify.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "jellyfin_backup/archive/frame_decompressor.h"
#include "jellyfin_backup/archive/sidecar.h"
#include "jellyfin_backup/archive/tar_reader.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/io/location.h"
#include "jellyfin_backup/io/paths.h"
#include "jellyfin_backup/io/store.h"

namespace jb {
namespace {

// The first entry that starts in each frame, for messages about a frame.
class FrameEntries {
 public:
  void saw(std::uint64_t frame_start, std::uint64_t header_position, const char* path) {
    if (header_position >= frame_start && frame_start != last_start_) {
      last_start_ = frame_start;
      std::string name = path ? path : "";
      while (name.size() > 1 && name.back() == '/') name.pop_back();
      first_.emplace(frame_start, std::move(name));
    }
  }
  std::string first_in(std::uint64_t frame_start) const {
    auto it = first_.find(frame_start);
    return it == first_.end() ? std::string() : it->second;
  }

 private:
  std::uint64_t last_start_ = UINT64_MAX;
  std::map<std::uint64_t, std::string> first_;
};

// The main loop of every archive reader, top to bottom.
void read_all(FrameDecompressor& input, TarReader& tar, Verifier& verifier,
              EntryConsumer* consumer, Source& source, Reporter& reporter, FrameEntries& frames) {
  Progress progress;
  progress.bytes_total = source.size().value_or(0);
  while (archive_entry* entry = tar.next()) {
    throw_if_interrupted();
    frames.saw(input.frame_output_start(), tar.header_position(), archive_entry_pathname(entry));
    const bool had_manifest = verifier.manifest().has_value();
    const bool pass_on = verifier.begin_entry(entry) && verifier.in_tree() && consumer;
    // Beyond what may be read (a bound, a refused special file): not one
    // more byte, and nothing after it matters.
    if (verifier.stopped()) return;
    if (pass_on) consumer->begin_entry(entry);
    while (auto block = tar.read_block()) {
      verifier.data(*block);
      if (pass_on) consumer->data(*block);
      progress.bytes_done = input.compressed_bytes();
      reporter.progress(progress);
    }
    verifier.end_entry();
    if (pass_on) consumer->end_entry();
    if (!had_manifest && verifier.manifest() && consumer) consumer->on_manifest(*verifier.manifest());
    ++progress.files_done;
  }
  tar.check_nothing_follows();
}

}  // namespace

namespace {

// A Jellyfin database in the data tree: "data/data/jellyfin.db" and its
// WAL and shared-memory files, library.db before 10.11, ...
bool is_database(const std::string& path) {
  if (!path.starts_with("data/")) return false;
  for (const char* end : {".db", ".db-wal", ".db-shm"})
    if (path.ends_with(end)) return true;
  return false;
}

}  // namespace

std::vector<std::string> VerifyResult::damaged_paths() const {
  std::vector<std::string> paths;
  std::set<std::string> seen;
  for (const Problem& p : problems)
    if (!p.path.empty() && seen.insert(p.path).second) paths.push_back(p.path);
  return paths;
}

bool VerifyResult::config_damaged() const {
  for (const Problem& p : problems)
    if (p.path.starts_with("config/") || p.path == "config") return true;
  return false;
}

bool VerifyResult::database_damaged() const {
  for (const Problem& p : problems)
    if (is_database(p.path)) return true;
  return false;
}

bool VerifyResult::content_damage_only() const {
  if (!read_to_end || !manifest) return false;
  bool content = false;
  for (const Problem& p : problems) {
    if (p.kind == ProblemKind::kStructure) return false;
    content = content || p.kind == ProblemKind::kContent;
  }
  return content;
}

std::vector<std::string> VerifyResult::content_damaged() const {
  std::vector<std::string> paths;
  std::set<std::string> seen;
  for (const Problem& p : problems)
    if (p.kind == ProblemKind::kContent && seen.insert(p.path).second) paths.push_back(p.path);
  return paths;
}

std::string VerifyResult::damage(const std::string& source) const { return source + ": " + damage_summary(); }

std::string VerifyResult::damage_summary() const {
  std::string out = describe_problem(problems.front()) + "; " + std::to_string(bad_entries) +
                    (bad_entries == 1 ? " bad entry" : " bad entries");
  // Which files, and whether what cannot be rebuilt (the config, the
  // databases) is among them: what the user asks next.
  const std::vector<std::string> paths = damaged_paths();
  constexpr std::size_t kShown = 3;
  for (std::size_t i = 0; i < paths.size() && i < kShown; ++i) out += (i == 0 ? ": " : ", ") + paths[i];
  if (paths.size() > kShown) out += " and " + std::to_string(paths.size() - kShown) + " more";
  const bool config = config_damaged(), database = database_damaged();
  if (config || database)
    out += std::string("; DAMAGED: ") + (config ? "the config" : "") + (config && database ? " and " : "") +
           (database ? "a database" : "");
  else if (read_to_end && manifest)
    out += "; the config and the databases are intact";
  return out;
}

VerifyResult verify_archive(Source& source, Reporter& reporter, EntryConsumer* consumer,
                            VerifierPolicy policy) {
  FrameDecompressor input(source);
  Verifier verifier(policy);
  std::unique_ptr<TarReader> tar;
  FrameEntries frames;
  bool read_to_end = true;
  try {
    tar = std::make_unique<TarReader>(input);
    read_all(input, *tar, verifier, consumer, source, reporter, frames);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kDamaged) throw;
    read_to_end = false;
    // Frames hold whole entries: if the failing frame starts after the
    // current entry's header, that entry came out of an intact frame.
    bool in_entry = !tar || tar->header_position() >= input.frame_output_start();
    verifier.stream_failed(e.full_message(), in_entry);
  }
  std::set<std::string> frame_problems;
  for (const auto& damaged : input.damaged_frames()) {
    std::string first = frames.first_in(damaged.output_start);
    const std::string problem = "zstd frame " + std::to_string(damaged.index) + " (at byte " +
                                std::to_string(damaged.offset) + (first.empty() ? "" : ", from " + first + " on") +
                                "): content checksum mismatch";
    verifier.archive_problem(problem);
    frame_problems.insert(problem);
  }
  verifier.finish();
  const bool allowed = policy.special == VerifierPolicy::Special::kAllow;
  for (const Problem& note : verifier.notes()) {
    reporter.warning(note.path + ": " + note.problem +
                     (allowed ? " (restored as archived: --allow-special)"
                              : " (restore refuses it without --allow-special)"));
  }

  VerifyResult result;
  result.read_to_end = read_to_end;
  result.manifest = verifier.manifest();
  result.problems = verifier.problems();
  // A damaged frame is the cause of what else went wrong in it (a manifest
  // that is no JSON, a bad checksum): the one line users see names it.
  std::stable_partition(result.problems.begin(), result.problems.end(),
                        [&](const Problem& p) { return p.path.empty() && frame_problems.count(p.problem); });
  result.bad_entries = verifier.bad_entries();
  result.files = verifier.files_verified();
  result.bytes = verifier.bytes_verified();
  result.entries = verifier.entries();
  result.frames = input.frames();
  result.compressed_bytes = input.compressed_bytes();
  return result;
}

namespace {

// The same file as before the read: same size and times (ctime included,
// where the store has one), so nothing wrote to it meanwhile.
bool unchanged(const StoredFile& a, const StoredFile& b) {
  return a.size == b.size && a.mtime == b.mtime && a.mtime_nsec == b.mtime_nsec && a.ctime == b.ctime &&
         a.ctime_nsec == b.ctime_nsec;
}

}  // namespace

StoredVerified verify_stored(const Store& store, const std::string& name, Reporter& reporter) {
  StoredVerified out;
  const std::optional<StoredFile> before = store.stat(name);
  auto source = store.open(name);
  HashingSource hashed(*source);
  out.result = verify_archive(hashed, reporter);
  out.xxh128 = hashed.hex_digest();

  try {
    // Not for an archive a prune removed while we read it, nor one that
    // changed: the result is about bytes that are no longer there.
    const std::optional<StoredFile> after = store.stat(name);
    if (!before || !after || !unchanged(*before, *after) ||
        (out.result.ok() && hashed.bytes() != after->size)) {
      if (after) reporter.warning(store.display(name) + ": changed while it was read; no check record written");
      return out;
    }
    if (out.result.ok()) {
      const std::string sidecar = sidecar_name(name);
      auto current = store.read_small(sidecar, kMaxSidecarBytes);
      if (current && parse_sidecar(*current, name) != out.xxh128)
        reporter.warning(store.display(sidecar) + " did not match the archive; rewritten from this verify");
      // Rewritten even when it says the same: its time records this verify.
      write_sidecar(store, name, out.xxh128);
      out.sidecar = store.display(sidecar);
    }
    const Problem* first = out.result.ok() ? nullptr : &out.result.problems.front();
    CheckRecord record = make_check_record(*after, out.result.ok(), out.xxh128,
                                           first ? describe_problem(*first) : std::string(),
                                           out.result.bad_entries);
    write_check_record(store, record);
    out.record = std::move(record);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kInterrupted || interrupted_signal()) throw;
    const bool sidecar_missing = out.result.ok() && !out.sidecar;
    reporter.warning(std::string(out.result.ok() ? "the archive is intact" : "the archive is damaged") +
                     ", but its " + (sidecar_missing ? "sidecar was not written (nor its check record)" : "check record was not written") +
                     ": " + e.full_message());
  }
  return out;
}

LocationVerified verify_location(const std::string& location, Reporter& reporter) {
  LocationVerified out;
  const Location where = parse_location(location);
  if (where.is_stdio()) {
    auto source = open_source(location);
    HashingSource hashed(*source);
    out.result = verify_archive(hashed, reporter);
    out.xxh128 = hashed.hex_digest();
    return out;
  }
  Location file = where;
  struct stat st;
  if (!where.is_rclone() && ::lstat(location.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    // A link the user named (`latest.tar.zst`) is followed as open_source
    // follows one: only through links nobody else could have put there
    // (resolve_path refuses the others). The file it names is verified,
    // and gets its sidecar and record, in its own directory.
    file = parse_location(resolve_path(location, "archive"));
  }
  auto [dir, name] = split_file(file);
  auto store = open_store(dir);
  StoredVerified v = verify_stored(*store, name, reporter);
  out.result = std::move(v.result);
  out.xxh128 = std::move(v.xxh128);
  out.sidecar = std::move(v.sidecar);
  if (v.record) out.record = store->display(check_record_name(name));
  return out;
}

}  // namespace jb
