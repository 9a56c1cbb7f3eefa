// How the core tells its caller what is happening, without knowing about
// terminals or JSON (the CLI implements this; tests use a silent or
// recording one).
#pragma once

#include <cstdint>
#include <string>

namespace jb {

struct Progress {
  std::uint64_t files_done = 0;
  std::uint64_t files_total = 0;  // 0 when unknown
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;  // 0 when unknown
};

class Reporter {
 public:
  virtual ~Reporter() = default;
  // Something the user should know that does not stop the run.
  virtual void warning(const std::string& message) { (void)message; }
  // Called often (every block); implementations throttle their output.
  virtual void progress(const Progress& progress) { (void)progress; }
};

}  // namespace jb
