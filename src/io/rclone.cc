// Every remote operation is one run of the rclone binary. Its arguments
// always start with -q (only errors: no NOTICE about a missing config file
// on a machine that configures remotes through the environment) and an
// empty --log-format (no timestamps in the line we quote), and its stderr
// is captured so that a failure is one of our errors quoting rclone's last
// line instead of rclone's own log on the user's terminal.
#include "jellyfin_backup/io/rclone.h"

#include <errno.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/io/location.h"
#include "jellyfin_backup/io/names.h"
#include "jellyfin_backup/utc_time.h"

namespace jb {
namespace {

std::string display_of(const std::string& remote_path) {
  return Location{Location::Kind::kRclone, remote_path}.display();
}

std::vector<std::string> rclone_argv(std::vector<std::string> args) {
  std::vector<std::string> argv = {rclone_binary(), "-q", "--log-format", ""};
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return argv;
}

// rclone's documented exit codes for "directory not found" and "file not found".
bool is_not_found(int status) { return status == 3 || status == 4; }

// The error for a run of rclone that exited with `status` != 0. If we were
// interrupted meanwhile (a Ctrl-C reaches rclone too), that is the error.
// "Not found" is the user's to fix (kUsage) only for a path they named
// (a directory to list); a file of ours that vanished half-way (a
// temporary, an archive opened a moment ago) is a runtime failure.
Error failure(int status, const std::string& tail, const std::string& display,
              const std::string& subcommand, bool user_named = false) {
  throw_if_interrupted();
  const std::string quoted = tail.empty() ? "" : ": " + tail;
  if (is_not_found(status))
    return Error(user_named ? ErrorKind::kUsage : ErrorKind::kRuntime, display + ": not found" + quoted);
  std::string hint;
  if (tail.find("didn't find section in config file") != std::string::npos)
    hint = "check the remote's name (`rclone listremotes`) or configure it (`rclone config`)";
  return Error(
      ErrorKind::kRuntime,
      display + ": rclone " + subcommand + " failed (exit " + std::to_string(status) + ")" + quoted,
      std::move(hint));
}

struct Run {
  int status = 0;
  std::string out;
  std::string tail;  // rclone's last stderr line
};

// rclone's stdout until it closes it, or until more than `max_bytes` came
// (the caller's destructor then stops rclone). An interruption throws.
std::string read_stdout(ChildProcess& child, const std::string& display, std::size_t max_bytes = SIZE_MAX) {
  std::string out;
  char buffer[16384];
  while (out.size() <= max_bytes) {
    ssize_t n = read_interruptibly(child.stdout_fd(), buffer, sizeof buffer);
    if (n < 0) throw io_error(display, "cannot read from rclone", errno);
    if (n == 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

// Runs rclone to completion with `args`, collecting its stdout.
Run run(std::vector<std::string> args, const std::string& display) {
  ChildProcess child = ChildProcess::spawn(
      rclone_argv(std::move(args)),
      {.out = ChildProcess::Stdout::kPipe, .err = ChildProcess::Stderr::kCapture});
  Run result;
  result.out = read_stdout(child, display);
  result.status = child.wait();
  result.tail = child.stderr_tail();
  return result;
}

Error failure(const Run& r, const std::string& display, const std::string& subcommand,
              bool user_named = false) {
  return failure(r.status, r.tail, display, subcommand, user_named);
}

// RFC 3339 as rclone prints it ("2026-11-25T03:15:00.123456789+01:00" or
// "...Z") to unix seconds; 0 when absent or unreadable (Go's zero time,
// year 1, included: the remote has no time).
std::int64_t parse_mtime(const std::string& text) {
  int year = 0;
  unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2u-%2uT%2u:%2u:%2u%n", &year, &month, &day, &hour, &minute,
                  &second, &used) != 6 ||
      used != 19 || year <= 1 || month < 1 || month > 12 || day < 1 || day > 31)
    return 0;
  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.')
    for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9';) ++pos;
  std::int64_t offset = 0;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    unsigned oh = 0, om = 0;
    if (std::sscanf(text.c_str() + pos + 1, "%2u:%2u", &oh, &om) != 2) return 0;
    offset = (text[pos] == '-' ? -1 : 1) * static_cast<std::int64_t>(oh * 3600 + om * 60);
  } else if (pos >= text.size() || (text[pos] != 'Z' && text[pos] != 'z')) {
    return 0;
  }
  const auto t = utc_seconds(year, static_cast<int>(month), static_cast<int>(day), static_cast<int>(hour),
                             static_cast<int>(minute), static_cast<int>(second));
  return t ? *t - offset : 0;
}

RemoteFile remote_file(const nlohmann::json& entry) {
  RemoteFile file;
  file.name = entry.value("Name", std::string());
  const std::int64_t size = entry.value("Size", std::int64_t{0});
  file.size = size > 0 ? static_cast<std::uint64_t>(size) : 0;  // -1: unknown (a directory)
  file.mtime = parse_mtime(entry.value("ModTime", std::string()));
  file.is_dir = entry.value("IsDir", false);
  return file;
}

nlohmann::json parse_json(const std::string& text, const std::string& display) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    throw Error(ErrorKind::kRuntime, display + ": cannot understand rclone lsjson's output",
                "is the rclone binary a real rclone?");
  }
}

// ".<name>.tmp-XXXXXXXX" in the directory of `remote_path`: hidden from
// casual listings, and a server-side move away from the final name.
std::string temp_beside(const std::string& remote_path) {
  auto [dir, name] = split_file(Location{Location::Kind::kRclone, remote_path});
  return join(dir, "." + name + ".tmp-" + random_suffix()).path;
}

ChildProcess start_rcat(const std::string& remote_path, std::optional<std::uint64_t> size = std::nullopt) {
  std::vector<std::string> args = {"rcat", remote_path};
  if (size) args.insert(args.begin() + 1, {"--size", std::to_string(*size)});
  return ChildProcess::spawn(rclone_argv(std::move(args)),
                             {.in = ChildProcess::Stdin::kPipe,
                              .out = ChildProcess::Stdout::kNull,
                              .err = ChildProcess::Stderr::kCapture});
}

// Writes all of `data` into rcat's stdin. When rclone has gone away (EPIPE:
// we ignore SIGPIPE), its own message is the one worth showing.
void feed(ChildProcess& child, const void* data, std::size_t size, const std::string& display) {
  if (child.stdin_fd() < 0)
    throw Error(ErrorKind::kRuntime, display + ": written to after its upload was finished");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write_interruptibly(child.stdin_fd(), p, size);
    if (n >= 0) {
      p += n;
      size -= static_cast<std::size_t>(n);
    } else if (errno == EPIPE) {
      const int status = child.wait();
      if (status != 0) throw failure(status, child.stderr_tail(), display, "rcat");
      throw Error(ErrorKind::kRuntime, display + ": rclone rcat stopped reading before the end");
    } else {
      throw io_error(display, "cannot write to rclone", errno);
    }
  }
}

// EOF to rcat, and its verdict on the upload.
void finish_rcat(ChildProcess& child, const std::string& display) {
  child.close_stdin();
  const int status = child.wait();
  throw_if_interrupted();
  if (status != 0) throw failure(status, child.stderr_tail(), display, "rcat");
}

Error already_exists(const std::string& display, const char* hint) {
  return exists_error(display, hint);
}

// rcat into `temp_path`, once we know there is nothing at `final_path`.
ChildProcess start_upload(const std::string& final_path, const std::string& temp_path,
                          const std::string& display, std::optional<std::uint64_t> size) {
  if (rclone_stat(final_path))
    throw already_exists(display, "choose another name; an existing file is never overwritten");
  return start_rcat(temp_path, size);
}

}  // namespace

std::string rclone_binary() {
  if (const char* env = std::getenv("JELLYFIN_BACKUP_RCLONE"); env && *env) {
    // Checked here rather than left to the spawn: a wrong setting is the
    // user's to fix (kUsage), like a missing rclone.
    const std::string name = env;
    std::optional<std::string> path;
    if (name.find('/') == std::string::npos)
      path = find_on_path(name);
    else if (::access(name.c_str(), X_OK) == 0)
      path = name;
    if (!path)
      throw usage_error("JELLYFIN_BACKUP_RCLONE=" + name + ": no such rclone program",
                        "point it at the rclone binary, or unset it to use rclone from PATH");
    return *path;
  }
  if (auto path = find_on_path("rclone")) return *path;
  throw usage_error("rclone is not installed",
                    "install it (apt install rclone) to use rclone: locations");
}

std::vector<RemoteFile> rclone_list(const std::string& remote_dir) {
  const std::string display = display_of(remote_dir);
  Run r = run({"lsjson", "--no-mimetype", remote_dir}, display);
  if (r.status != 0) throw failure(r, display, "lsjson", /*user_named=*/true);
  nlohmann::json entries = parse_json(r.out, display);
  if (!entries.is_array()) parse_json("", display);  // throws: not what lsjson prints
  std::vector<RemoteFile> files;
  files.reserve(entries.size());
  for (const auto& entry : entries) files.push_back(remote_file(entry));
  return files;
}

std::optional<RemoteFile> rclone_stat(const std::string& remote_path) {
  const std::string display = display_of(remote_path);
  Run r = run({"lsjson", "--stat", "--no-mimetype", "--retries", "1", remote_path}, display);
  if (is_not_found(r.status)) return std::nullopt;
  if (r.status != 0) throw failure(r, display, "lsjson");
  nlohmann::json entry = parse_json(r.out, display);
  if (!entry.is_object()) parse_json("", display);
  return remote_file(entry);
}

// Deletes a temporary of ours after a failure, also (and above all) after
// an interruption: unlike every other call, this one does not stop at the
// signal that got us here. A second Ctrl-C still kills us, as it should.
// Whether it worked is not an error: the first error is the one to report.
void remove_temporary(const std::string& temp) noexcept {
  try {
    // Bounded: an unreachable remote must not hold up what comes after
    // (starting the server again, exiting before systemd kills us).
    ChildProcess child = ChildProcess::spawn(rclone_argv({"deletefile", "--retries", "1", "--low-level-retries", "1",
                                                          "--contimeout", "10s", "--timeout", "20s", temp}),
                                             {.out = ChildProcess::Stdout::kNull,
                                              .err = ChildProcess::Stderr::kCapture});
    child.wait();
  } catch (...) {
  }
}

void rclone_delete(const std::string& remote_path, bool missing_ok) {
  const std::string display = display_of(remote_path);
  Run r = run({"deletefile", "--retries", "1", remote_path}, display);
  if (r.status == 0) return;
  // deletefile says "is a directory or doesn't exist" with exit 1; a stat
  // tells which. When the stat fails too, deletefile's error is the one.
  bool missing = is_not_found(r.status);
  try {
    missing = missing || !rclone_stat(remote_path);
  } catch (const Error&) {
    throw failure(r, display, "deletefile");
  }
  if (!missing) throw failure(r, display, "deletefile");
  if (!missing_ok) throw failure(3, r.tail, display, "deletefile");
}

void rclone_move(const std::string& from, const std::string& to) {
  // --ignore-times: a destination of the same size and time would
  // otherwise count as already there, and moveto would just delete `from`.
  Run r = run({"moveto", "--ignore-times", from, to}, display_of(to));
  if (r.status != 0) throw failure(r, display_of(is_not_found(r.status) ? from : to), "moveto");
}

RcloneSource::RcloneSource(const std::string& remote_path, std::string display,
                           std::optional<std::uint64_t> size, std::optional<std::uint64_t> head)
    : remote_path_(remote_path),
      display_(std::move(display)),
      size_(size),
      child_(ChildProcess::spawn(
          rclone_argv(
              head ? std::vector<std::string>{"cat", "--count", std::to_string(*head), remote_path}
                   : std::vector<std::string>{"cat", remote_path}),
          {.out = ChildProcess::Stdout::kPipe, .err = ChildProcess::Stderr::kCapture})) {}

std::size_t RcloneSource::read(void* buffer, std::size_t size) {
  if (done_ || size == 0) return 0;
  ssize_t n = read_interruptibly(child_.stdout_fd(), buffer, size);
  if (n < 0) throw io_error(display_, "cannot read from rclone", errno);
  if (n > 0) return static_cast<std::size_t>(n);
  // EOF is the end of the file only if rclone says it got all of it.
  const int status = child_.wait();
  throw_if_interrupted();
  if (status != 0) throw failure(status, child_.stderr_tail(), display_, "cat");
  done_ = true;
  return 0;
}

RcloneSink::RcloneSink(const std::string& remote_path, std::string display, std::optional<std::uint64_t> size)
    : final_path_(remote_path),
      temp_path_(temp_beside(remote_path)),
      display_(std::move(display)),
      child_(start_upload(final_path_, temp_path_, display_, size)) {}

RcloneSink::~RcloneSink() {
  if (committed_) return;
  try {
    // Stopped while its stdin is still open: rclone never sees the end of
    // the input, so it cannot complete the upload.
    child_.terminate();
    remove_temporary(temp_path_);
  } catch (...) {
    // Best effort: we may be unwinding from the error that matters.
  }
}

void RcloneSink::write(const void* data, std::size_t size) { feed(child_, data, size, display_); }

void RcloneSink::commit() {
  if (committed_) return;
  finish_rcat(child_, display_);
  // moveto replaces; the check in the constructor was long ago.
  if (rclone_stat(final_path_))
    throw already_exists(display_,
                         "it was created while the archive was written; nothing was "
                         "overwritten");
  rclone_move(temp_path_, final_path_);
  committed_ = true;
}

std::string rclone_cat_files(const std::string& remote_dir, const std::vector<std::string>& names,
                             std::size_t max_bytes, std::optional<std::size_t> each) {
  const std::string display = display_of(remote_dir);
  // --files-from: exact names, no pattern syntax to escape, and no listing.
  std::vector<std::string> args = {"cat", "--files-from", "-", remote_dir};
  if (each) args.insert(args.begin() + 1, {"--count", std::to_string(*each)});
  ChildProcess child = ChildProcess::spawn(rclone_argv(std::move(args)),
                                           {.in = ChildProcess::Stdin::kPipe,
                                            .out = ChildProcess::Stdout::kPipe,
                                            .err = ChildProcess::Stderr::kCapture});
  std::string list;
  for (const auto& name : names) list += name + "\n";
  // rclone reads the whole list before it writes anything.
  feed(child, list.data(), list.size(), display);
  child.close_stdin();
  return read_stdout(child, display, max_bytes);
}

std::optional<std::string> rclone_read_small(const std::string& remote_path,
                                             std::size_t max_bytes) {
  const std::string display = display_of(remote_path);
  std::vector<std::string> args = {"cat", remote_path};
  if (max_bytes < SIZE_MAX)
    args.insert(args.begin() + 1, {"--count", std::to_string(max_bytes + 1)});
  Run r = run(std::move(args), display);
  if (is_not_found(r.status)) return std::nullopt;
  if (r.status != 0) throw failure(r, display, "cat");
  return std::move(r.out);
}

void rclone_write_small(const std::string& remote_path, const std::string& content) {
  const std::string display = display_of(remote_path);
  const std::string temp = temp_beside(remote_path);
  ChildProcess child = start_rcat(temp);
  try {
    feed(child, content.data(), content.size(), display);
    finish_rcat(child, display);
    rclone_move(temp, remote_path);
  } catch (...) {
    child.terminate();
    remove_temporary(temp);
    throw;
  }
}

}  // namespace jb
