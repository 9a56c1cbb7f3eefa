// The archives of a backup directory (local or remote), read cheaply: the
// directory listing, each archive's first zstd frame (its manifest, a few
// hundred bytes) and its sidecar. What `list` shows and `prune` decides on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/archive/manifest.h"
#include "jellyfin_backup/io/store.h"
#include "jellyfin_backup/reporter.h"

namespace jb {

enum class SidecarState {
  kMissing,   // no "<archive>.xxh128"
  kMatches,   // well-formed, names this archive, written after it (list: verified)
  kStale,     // older than the archive: the archive changed since it was verified
  kInvalid,   // not one xxh128sum line naming this archive
  kMismatch,  // --check: the archive is damaged and does not hash to its sidecar
};
const char* sidecar_state_name(SidecarState state);  // "missing", "matches", ...

// What is known of an archive's bytes from its check record
// (check_record.h) and, with --check, this read.
enum class CheckState {
  kNever,    // no check record: never fully checked (or not here)
  kChecked,  // a record binds: fully checked at `checked_at`, intact
  kDamaged,  // a record binds and says damaged, or --check (the Verifier) found damage
  kChanged,  // a record exists, but the file is not the one it was written for
};
const char* check_state_name(CheckState state);  // "never", "checked", "damaged", "changed"

struct ArchiveInfo {
  std::string name;
  std::uint64_t size = 0;        // archive file size
  std::int64_t mtime = 0;
  // The archive's time: the UTC stamp in a name create generated
  // ("jellyfin.<YYYYMMDDTHHMMSSZ>_<version>.tar.zst"), else the manifest's
  // `created`. Sorting and prune use it.
  std::int64_t time = 0;
  std::string created;                  // `time` as "2026-11-25T03:15:00Z"
  std::optional<std::string> version;   // Jellyfin version: the name's, else the manifest's
  std::optional<Manifest> manifest;     // absent when the start is unreadable
  std::optional<std::string> error;     // why the start is unreadable
  SidecarState sidecar = SidecarState::kMissing;
  CheckState check = CheckState::kNever;
  std::int64_t checked_at = 0;          // when a record binds: the check's time
  std::optional<std::string> damage;    // kDamaged: what was found
  // Fully checked (every byte through the Verifier) and intact, as it is now.
  bool verified() const { return check == CheckState::kChecked; }
  // Known to be damaged: prune never lets it fill a keep slot.
  bool damaged() const { return error.has_value() || check == CheckState::kDamaged; }
};

struct CatalogOptions {
  // Verify every archive as `verify` does (every byte, through the
  // Verifier) and record the finding beside it (verify_stored).
  bool check = false;
  // How many archives are read at once (remote reads are slow to start).
  int parallel = 8;
};

struct Catalog {
  // Newest first (by time, then name).
  std::vector<ArchiveInfo> archives;
  // The directory's listing they were read from (every file, ours or not).
  std::vector<StoredFile> files;
};

// Candidates are the non-hidden files named "*.tar.zst". One whose start is
// a jellyfin-backup manifest is listed; one that is unreadable is listed
// with `error` only if its name is one create generates (it is ours, and
// damaged); any other file is ignored. Throws Error(kUsage) when the
// directory does not exist.
Catalog read_catalog(const Store& store, const CatalogOptions& options, Reporter& reporter);

// How far ahead of the clock an archive's date may be before it is not
// believed: a day covers clocks that drift and zones that confuse. Past
// that the date is wrong (a clock once set forward) or a lie (a planted
// file), and it must not steer retention: an archive from "2099" would be
// "the newest" and fill every keep slot.
constexpr std::int64_t kFutureSlackSeconds = 24 * 60 * 60;

// The latest of the archive's dates (its name's stamp, its manifest's
// `created`) if it lies more than kFutureSlackSeconds after `now`.
std::optional<std::int64_t> future_date(const ArchiveInfo& archive, std::int64_t now);

// The stamp and version of a name create generates, if it is one.
struct GeneratedName {
  std::int64_t time = 0;
  std::string version;  // "unknown" when create knew none
};
std::optional<GeneratedName> parse_archive_name(const std::string& name);

}  // namespace jb
