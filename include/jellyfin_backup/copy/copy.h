// `copy`: one archive from anywhere to anywhere (local path, stdin/stdout,
// rclone remote), verified while it streams:
//
//   Source -> HashingSource -> tee -> Sink (temporary at the destination)
//                                 \-> FrameDecompressor -> TarReader -> Verifier
//
// Only when the Verifier passed every byte is the destination committed
// under its final name, and its sidecar written. A damaged source leaves
// nothing at the destination.
#pragma once

#include <cstdint>
#include <string>

#include "jellyfin_backup/reporter.h"
#include "jellyfin_backup/verify/verify.h"

namespace jb {

struct CopyOptions {
  std::string source;  // location text: path, "-", "rclone:REMOTE:path"
  // A directory (local: an existing one, or ending in "/"; remote: not
  // ending in ".tar.zst") gets the source's name (or, from stdin, the name
  // create would have given it); anything else is the file name; "-" is
  // stdout.
  std::string dest;
};

struct CopyResult {
  std::string source;  // as displayed
  std::string dest;    // final location, as displayed ("-" for stdout)
  std::uint64_t bytes = 0;
  std::string xxh128;     // of the whole archive
  bool sidecar_written = false;
  VerifyResult verify;
  double seconds = 0;
};

// Throws Error(kDamaged) when the source fails verification (nothing is
// left at the destination), Error(kRuntime) "already exists" when the
// destination exists, other Errors for the environment.
CopyResult copy_archive(const CopyOptions& options, Reporter& reporter);

}  // namespace jb
