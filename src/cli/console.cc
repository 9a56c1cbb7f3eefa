#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/cli.h"

namespace jb::cli {

std::string human_bytes(std::uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  return buf;
}

std::string table_time(const std::string& iso) {
  std::string t = iso;
  if (t.size() > 10 && t[10] == 'T') t[10] = ' ';
  return t;
}

ConsoleReporter::ConsoleReporter(const CommonFlags& flags, std::string verb)
    : show_progress_(!flags.quiet && ::isatty(STDERR_FILENO)),
      verb_(std::move(verb)),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

ConsoleReporter::~ConsoleReporter() { clear_line(); }

void ConsoleReporter::clear_line() {
  if (!line_shown_) return;
  std::fputs("\r\033[K", stderr);
  line_shown_ = false;
}

void ConsoleReporter::warning(const std::string& message) {
  warnings_.push_back(message);
  clear_line();
  print(stderr, "jellyfin-backup: warning: %s\n", message.c_str());
}

void ConsoleReporter::progress(const Progress& p) {
  if (!show_progress_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(200)) return;  // a terminal is slow
  last_ = now;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double rate = elapsed > 0 ? static_cast<double>(p.bytes_done) / elapsed : 0;
  std::string line = verb_ + ": ";
  if (p.files_total > 0)
    line += std::to_string(p.files_done) + "/" + std::to_string(p.files_total) + " files, ";
  line += human_bytes(p.bytes_done);
  if (p.bytes_total > 0) line += " of " + human_bytes(p.bytes_total);
  line += ", " + human_bytes(static_cast<std::uint64_t>(rate)) + "/s";
  if (p.bytes_total > p.bytes_done && rate > 0) {
    auto eta = static_cast<long>(static_cast<double>(p.bytes_total - p.bytes_done) / rate);
    char buf[32];
    std::snprintf(buf, sizeof buf, ", ETA %ld:%02ld", eta / 60, eta % 60);
    line += buf;
  }
  print(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  line_shown_ = true;
}

ReportMode& report_mode() {
  static ReportMode mode;
  return mode;
}

void print_json(const nlohmann::json& object, bool to_stderr) {
  std::string text = object.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fputs(text.c_str(), to_stderr ? stderr : stdout);
  std::fflush(to_stderr ? stderr : stdout);
}

void add_failure(nlohmann::json& object, ErrorKind kind, const std::string& error) {
  object["exit_code"] = static_cast<int>(kind);
  object["error"] = error;
}

int report_failure(ErrorKind kind, const std::string& error) {
  print(stderr, "jellyfin-backup: error: %s\n", error.c_str());
  report_mode().error_line = error;
  return static_cast<int>(kind);
}

Error flag_error(const std::string& command, const std::string& message, const std::string& flag) {
  return usage_error(message, "see `jellyfin-backup " + command + " --help`").with_flag(flag);
}

}  // namespace jb::cli
