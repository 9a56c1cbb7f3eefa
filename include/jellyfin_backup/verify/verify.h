// `verify` (and, later, restore's reading half): one pass over an archive
// through FrameDecompressor -> TarReader -> Verifier.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/archive/check_record.h"
#include "jellyfin_backup/archive/manifest.h"
#include "jellyfin_backup/archive/verifier.h"
#include "jellyfin_backup/io/source.h"
#include "jellyfin_backup/io/store.h"
#include "jellyfin_backup/reporter.h"

namespace jb {

// Receives every tree entry the Verifier accepts, with its data (restore's
// extractor). Entries the Verifier rejects are never passed on, nor are
// MANIFEST.json and CHECKSUMS.xxh128.
class EntryConsumer {
 public:
  virtual ~EntryConsumer() = default;
  // Called once, with the validated manifest, before any tree entry.
  virtual void on_manifest(const Manifest& manifest) { (void)manifest; }
  virtual void begin_entry(archive_entry* entry) = 0;
  virtual void data(const DataBlock& block) = 0;
  virtual void end_entry() = 0;
};

struct VerifyResult {
  std::optional<Manifest> manifest;
  std::vector<Problem> problems;  // archive order; empty when intact
  std::uint64_t bad_entries = 0;
  std::uint64_t files = 0;        // regular files hashed
  std::uint64_t bytes = 0;        // their bytes
  std::uint64_t entries = 0;
  std::uint64_t frames = 0;
  std::uint64_t compressed_bytes = 0;
  // The archive was read to its end (damage stopped nothing): what was
  // not reported damaged verified.
  bool read_to_end = true;
  bool ok() const { return problems.empty(); }
  // The entries with a problem, archive order, each once.
  std::vector<std::string> damaged_paths() const;
  // Whether the config tree, or a Jellyfin database, is among them: what
  // cannot be rebuilt.
  bool config_damaged() const;
  bool database_damaged() const;
  // The damage is to files' contents only (ProblemKind kContent, with the
  // count and frame problems that entails), the archive read to its end:
  // every other entry verified. Then content_damaged() lists those files.
  bool content_damage_only() const;
  std::vector<std::string> content_damaged() const;
  // "<source>: <first problem>; N bad entries: a, b, c and 4 more; the
  // config and the databases are intact" (or "DAMAGED: the config"), for
  // the error of a command that read a damaged archive.
  std::string damage(const std::string& source) const;
  // The same without "<source>: ", for a line that names the archive itself.
  std::string damage_summary() const;
};

// Damage of any kind ends up in the result (exit 3 material); only errors of
// the environment (cannot read the source, interrupted) are thrown. Special
// files the policy accepts are reported as warnings once the archive is read.
VerifyResult verify_archive(Source& source, Reporter& reporter, EntryConsumer* consumer = nullptr,
                            VerifierPolicy policy = {});

// One archive of a store (a local directory or an rclone remote) verified,
// and what that leaves beside it: when intact, its sidecar (re)written, so
// `xxh128sum -c` checks it anywhere; intact or damaged, its check record
// (check_record.h), so list, prune and status know without reading it
// again. Neither is written for a file that changed while it was read, or
// was removed (a prune meanwhile: we take no lock); one that cannot be
// written is a warning, not a failure: the archive is what was checked.
struct StoredVerified {
  VerifyResult result;
  std::string xxh128;                  // of the whole archive file (of what was read, when damaged)
  std::optional<std::string> sidecar;  // written (display path)
  std::optional<CheckRecord> record;   // written
};
StoredVerified verify_stored(const Store& store, const std::string& name, Reporter& reporter);

struct LocationVerified {
  VerifyResult result;
  std::string xxh128;                  // of the whole archive file
  std::optional<std::string> sidecar;  // written (display path)
  std::optional<std::string> record;   // check record written (display path)
};

// `verify ARCHIVE`: `location` is a path, "-" or "rclone:REMOTE:path".
// A file is verified with verify_stored (sidecar and check record); "-"
// leaves nothing behind.
LocationVerified verify_location(const std::string& location, Reporter& reporter);

}  // namespace jb
