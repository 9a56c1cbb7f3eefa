// How the core tells its caller what is happening, without knowing about
// terminals or JSON (the CLI implements this; tests use a silent or
// recording one).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

// Keeps every warning (for a command's result and --json) while passing
// everything on to `next`.
class CollectingReporter : public Reporter {
 public:
  CollectingReporter(Reporter& next, std::vector<std::string>& warnings)
      : next_(next), warnings_(warnings) {}
  void warning(const std::string& message) override {
    warnings_.push_back(message);
    next_.warning(message);
  }
  void progress(const Progress& p) override { next_.progress(p); }

 private:
  Reporter& next_;
  std::vector<std::string>& warnings_;
};

}  // namespace jb
