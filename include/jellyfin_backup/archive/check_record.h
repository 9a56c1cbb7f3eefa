// The check record "<archive>.checked": what the last full check of an
// archive (verify ARCHIVE, verify DIR, copy) found, kept beside it so
// that `list`, `prune` and `status` can say "checked at T" or "DAMAGED"
// without reading the archive again.
//
// It is a file of its own, not a line in the sidecar: `xxh128sum -c
// ARCHIVE.xxh128` must stay clean, and xxhsum 0.8.1 warns about any line
// that is not a checksum. One line of JSON, newline-terminated (so a
// remote's records can be fetched in one run of rclone and split again):
//
//   {"archive":"<name>","result":"ok"|"damaged","checked":"2026-12-06T03:15:00Z",
//    "size":N,"mtime":S,"mtime_nsec":NS,"ctime":S,"ctime_nsec":NS,
//    "xxh128":"<32 hex>",
//    "problem":"<first problem>","bad_entries":N,"tool":"jellyfin-backup 0.1.0"}
//
// The backup store is untrusted, and a record is a note, not a proof: it
// is believed only about the very file it was written for (binds()): the
// same name, size and modification time (to the nanosecond where both
// sides know it), the same change time where the store has one (a local
// directory: no one can set a ctime, so any write, touch or replacement
// since the check shows), and for an "ok" record the same whole-file hash
// as the sidecar. A record that does not bind says "changed", never
// "checked". Whoever can write the store can still forge a record for a
// file as it is; they could as well replace the archive, which is why
// restore always verifies every byte itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "jellyfin_backup/io/store.h"

namespace jb {

struct CheckRecord {
  std::string archive;            // the archive's file name
  bool ok = false;                // the Verifier passed every byte
  std::int64_t checked = 0;       // when (unix seconds)
  std::uint64_t size = 0;         // the archive as it was checked
  std::int64_t mtime = 0;
  std::int64_t mtime_nsec = 0;    // 0 when unknown
  std::int64_t ctime = 0;         // 0 when unknown (remotes)
  std::int64_t ctime_nsec = 0;
  std::string xxh128;             // of the bytes read
  std::string problem;            // damaged: the first problem
  std::uint64_t bad_entries = 0;  // damaged: how many entries
  std::string tool;               // "jellyfin-backup 0.1.0"
};

// "<archive_name>.checked"
std::string check_record_name(const std::string& archive_name);

// The largest record we read or write (a real one is ~300 bytes; the
// problem is cut to fit).
inline constexpr std::size_t kMaxCheckRecordBytes = 4096;

// One line of JSON ending in "\n", at most kMaxCheckRecordBytes.
std::string format_check_record(const CheckRecord& record);

// The record, when `text` is one well-formed record naming `archive_name`
// within the size bound; nullopt otherwise (never throws).
std::optional<CheckRecord> parse_check_record(const std::string& text, const std::string& archive_name);

// Whether `record` is about `archive` as it is now (see above).
// `sidecar_hex`: the hash of a well-formed sidecar, if there is one.
bool binds(const CheckRecord& record, const StoredFile& archive,
           const std::optional<std::string>& sidecar_hex);

// A record of `archive` as stat'ed (name, size, times) and checked now.
CheckRecord make_check_record(const StoredFile& archive, bool ok, std::string xxh128,
                              std::string problem = {}, std::uint64_t bad_entries = 0);

// Writes (replacing, atomically) the record of record.archive in `store`.
void write_check_record(const Store& store, const CheckRecord& record);

}  // namespace jb
