// `restore` and `recover`.
//
// restore: read the manifest -> version guard and free-space check -> for
// each tree a staging directory beside its target (a target nested in the
// other is staged inside the other's staging directory and swapped with
// it, in one rename) -> every entry through the
// Verifier into the SafeExtractor (restore is "verify, plus write") -> all
// verified? what the archive left out linked in from the current trees
// (kept_entries.h) -> directory metadata, syncfs -> journal -> swap (swap.h).
// Any failure before the journal removes the staging directories and leaves
// the targets exactly as they were.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/archive/manifest.h"
#include "jellyfin_backup/reporter.h"
#include "jellyfin_backup/restore/kept_entries.h"
#include "jellyfin_backup/restore/tree_diff.h"

namespace jb {

struct RestoreOptions {
  std::string archive;                 // path, or "-" for stdin
  std::string data_dir;                // --data
  std::string config_dir;              // --config
  std::optional<std::string> only;     // --only data|config
  bool dry_run = false;                // --dry-run: everything but the swap
  bool discard_old = false;            // --discard-old (default: --keep-old)
  // What the archive left out (its excludes, the log/cache/transcode
  // directories) is kept from the current trees (kept_entries.h);
  // --no-keep-excluded clears it: the restored trees are the archive's alone.
  bool keep_excluded = true;
  // --skip-damaged: an archive whose damage is to some files' contents only
  // (not the config, not a database) is restored without them; the current
  // trees' versions are kept in their place (kept_entries.h).
  bool skip_damaged = false;
  bool force = false;                  // --force: override the version guard and running check
  // --allow-special: restore device nodes and setuid/setgid files (as root:
  // as archived). Without it they are refused as an unsafe archive.
  bool allow_special = false;
  std::optional<std::string> server_version;  // installed Jellyfin: --server-version or detected
  std::optional<std::string> version_source;  // where server_version came from
  std::string stop_hint;               // how to stop this install's server, for the refusal
  double stop_grace_seconds = 0;       // after a stop command: how long the server may take to exit
};

struct RestoredTree {
  std::string name;
  std::string target;
  bool target_existed = false;
  std::optional<std::string> backup;  // where the old tree went (kept)
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::optional<TreeDiff> diff;  // with --dry-run
  std::optional<std::string> inside;  // restored as part of this tree (nested targets)
  std::vector<KeptEntry> kept;        // taken from the current tree: the archive left it out
};

struct RestoreResult {
  Manifest manifest;
  std::vector<RestoredTree> trees;
  bool dry_run = false;
  std::optional<std::string> forced;  // what --force overrode
  std::vector<std::string> skipped_damaged;  // --skip-damaged: archive paths not restored
  double seconds = 0;
  std::vector<std::string> warnings;
};

// A restore in two steps, so that every refusal that can be made while the
// server runs is made before it is stopped (a mistyped archive, an archive
// from a newer Jellyfin, a full disk must not cost a stopped server).
class Restore {
 public:
  // The targets (where they are, how they nest, --only), no interrupted
  // restore pending on them, the archive opened and its manifest read
  // through the Verifier (the trees asked for are in it), the version
  // guard, free space. Writes nothing. A dry run's running-server check
  // (a warning) is made here too.
  Restore(const RestoreOptions& options, Reporter& reporter);
  ~Restore();
  Restore(const Restore&) = delete;
  Restore& operator=(const Restore&) = delete;

  // The rest, once the server is stopped: the running-server check
  // (allowing a stopped server `stop_grace_seconds` to exit), one pass over
  // the archive verifying every byte into staging, then the journaled swap.
  // Once only.
  RestoreResult run(double stop_grace_seconds);

 private:
  struct State;
  void prepare();
  RestoreResult finish();
  std::unique_ptr<State> s_;
};

// Both steps at once (options.stop_grace_seconds for run()).
RestoreResult restore_archive(const RestoreOptions& options, Reporter& reporter);

struct RecoverResult {
  enum class Outcome { kNothingPending, kCompleted, kRolledBack } outcome;
  std::string archive;                     // of the interrupted restore
  std::vector<std::string> removed_staging;  // leftovers cleaned up
};

// Finishes (or, if it cannot, undoes) an interrupted restore into these
// targets; with nothing pending, removes leftover staging directories.
RecoverResult recover(const std::string& data_dir, const std::string& config_dir,
                      Reporter& reporter);

}  // namespace jb
