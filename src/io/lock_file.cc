// The protocol, and why each step is there:
//   acquire: open(O_CREAT) -> flock(LOCK_EX|LOCK_NB) -> check that the path
//            still names the inode we locked (else retry) -> write our holder.
//   release: unlink the path while we still hold the lock -> close.
// A run that releases unlinks before it unlocks, so anyone who opened the
// old file meanwhile wins its flock on an unlinked inode; the inode check
// sends it back to open the path again. That is what makes removing the
// file safe: two runs can never both hold "the" lock of a path. A lock left
// by a dead run is just a file nobody holds a flock on; it is taken over.
//
// The lock directory (/run/lock, /tmp) is writable by everyone, so what is
// found at a lock path may have been planted there: a symlink or a hard
// link to a file elsewhere (root would truncate and write it), a FIFO or a
// device (an open or a read would block), another user's file (its text
// would be shown as a holder). So a new lock file is created with O_EXCL,
// and an existing one is first opened read-only, O_NOFOLLOW|O_NONBLOCK, and
// checked (regular, one link, owned by us or root) before it is written or
// its text believed. Anything else is refused, naming the file.
#include "jellyfin_backup/io/lock_file.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/utc_time.h"
#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/io/names.h"
#include "jellyfin_backup/io/paths.h"

namespace jb {
namespace {

// More than a lock file ever holds; the rest of a huge file is not ours.
constexpr std::size_t kMaxHolderBytes = 4096;
// Escaped keys longer than this are cut and given a hash of the whole key,
// keeping "jellyfin-backup.<key>.lock" well below NAME_MAX (255).
constexpr std::size_t kMaxEscapedKey = 180;
constexpr std::size_t kCutEscapedKey = 160;
// Each retry means another run removed the file between our open and
// flock; so many in a row mean something else keeps deleting it.
constexpr int kMaxAttempts = 100;

std::string holder_text(const LockHolder& holder) {
  nlohmann::json j = {{"pid", holder.pid},
                      {"host", holder.host},
                      {"command", holder.command},
                      {"since", holder.since}};
  return j.dump() + "\n";
}

std::optional<LockHolder> parse_holder(const std::string& text) {
  // A lock file is written by us; anything that does not parse is treated
  // as saying nothing (a crash can leave it empty).
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto pid = j.find("pid");
  if (pid == j.end() || !pid->is_number_integer() || pid->get<long long>() <= 0 ||
      pid->get<long long>() > INT_MAX)
    return std::nullopt;
  LockHolder holder;
  holder.pid = static_cast<pid_t>(pid->get<long long>());
  auto text_of = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  holder.host = text_of("host");
  holder.command = text_of("command");
  holder.since = text_of("since");
  return holder;
}

// What the open lock file says (it may be being written right now).
std::string read_fd(int fd) {
  std::string text(kMaxHolderBytes, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return text;
}

std::string describe_holder(const LockHolder& holder, bool with_host) {
  std::string command = holder.command.empty() ? "" : " " + holder.command;
  std::string out = "jellyfin-backup" + command + " (pid " + std::to_string(holder.pid);
  if (with_host && !holder.host.empty()) out += " on " + holder.host;
  if (!holder.since.empty()) out += ", since " + holder.since;
  return out + ")";
}

// True if `path` still names the file open as `fd` (never through a
// symlink: a link planted in its place is not our file).
bool path_names(const std::string& path, int fd) {
  struct stat by_fd, by_path;
  return ::fstat(fd, &by_fd) == 0 && ::lstat(path.c_str(), &by_path) == 0 &&
         same_file(by_fd, by_path);
}

int open_retry(const std::string& path, int flags, mode_t mode = 0) {
  int fd;
  do fd = ::open(path.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
  while (fd < 0 && errno == EINTR);
  return fd;
}

// A lock file as found at its path, checked before it is used.
struct OpenedLock {
  UniqueFd fd;          // O_RDWR when `writable`, else O_RDONLY
  bool writable = false;
  bool ours = false;    // owned by this user or root: its text can be believed
  uid_t owner = 0;
};

constexpr const char* kRemoveHint = "remove it if no jellyfin-backup run is using it";

// Opens what is at `path` for locking: creates it when nothing is there,
// else checks what is there. nullopt when it vanished meanwhile (retry).
std::optional<OpenedLock> open_lock(const std::string& path) {
  OpenedLock lock;
  lock.fd.reset(open_retry(path, O_RDWR | O_CREAT | O_EXCL, 0644));
  if (lock.fd) {
    lock.writable = lock.ours = true;
    lock.owner = ::geteuid();
    return lock;
  }
  const int create_err = errno;
  if (create_err != EEXIST) {
    const bool directory_unusable =
        create_err == ENOENT || create_err == ENOTDIR || create_err == EACCES || create_err == EROFS;
    throw io_error(path, "cannot create the lock file", create_err,
                   directory_unusable ? "the lock directory (JELLYFIN_BACKUP_LOCK_DIR, else /run/lock, else /tmp) "
                                        "must be an existing directory this user can write"
                                      : "");
  }
  // Something is there. Read-only and non-blocking first: nothing is
  // written, and nothing can block, before it is known to be a lock file.
  lock.fd.reset(open_retry(path, O_RDONLY));
  if (!lock.fd) {
    if (errno == ENOENT) return std::nullopt;  // released meanwhile
    if (errno == ELOOP)
      throw refused_error(path + ": is a symlink, not a lock file: not followed",
                          "someone else put it there; " + std::string(kRemoveHint));
    throw io_error(path, "cannot open the lock file", errno, kRemoveHint);
  }
  struct stat st;
  if (::fstat(lock.fd.get(), &st) != 0) throw io_error(path, "cannot stat the lock file", errno);
  if (!S_ISREG(st.st_mode))
    throw refused_error(path + ": is not a regular file, not a lock file",
                        "someone else put it there; " + std::string(kRemoveHint));
  if (st.st_nlink != 1)
    throw refused_error(path + ": the lock file has other hard links: writing it would change another file",
                        "someone else put it there; " + std::string(kRemoveHint));
  lock.owner = st.st_uid;
  lock.ours = st.st_uid == ::geteuid() || st.st_uid == 0;
  if (!lock.ours) return lock;  // never written, whoever we are
  UniqueFd rw(open_retry(path, O_RDWR));
  if (!rw) {
    // Root's file, and we are not root: flock still tells whether it is
    // held (it works on any descriptor), for the better message.
    if (errno == EACCES) return lock;
    if (errno == ENOENT) return std::nullopt;
    throw io_error(path, "cannot open the lock file", errno);
  }
  struct stat again;
  if (::fstat(rw.get(), &again) != 0 || !same_file(st, again)) return std::nullopt;  // replaced
  lock.fd = std::move(rw);
  lock.writable = true;
  return lock;
}

bool keep_byte(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_';
}

}  // namespace

LockFile LockFile::acquire(const std::string& path, const std::string& what,
                           const std::string& command, Reporter& reporter, double wait_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_seconds);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    std::optional<OpenedLock> opened = open_lock(path);
    if (!opened) continue;
    UniqueFd fd = std::move(opened->fd);

    int locked;
    do locked = ::flock(fd.get(), LOCK_EX | LOCK_NB);
    while (locked != 0 && errno == EINTR);
    if (locked != 0) {
      if (errno != EWOULDBLOCK) throw io_error(path, "cannot lock", errno);
      // --wait-lock: the holder is alive; ask again until the deadline.
      if (std::chrono::steady_clock::now() < deadline) {
        fd.reset();
        throw_if_interrupted();
        ::usleep(100 * 1000);
        throw_if_interrupted();
        --attempt;  // waiting is not a replaced lock file
        continue;
      }
      // Another user's file says whatever that user wrote: not shown.
      auto holder = opened->ours ? parse_holder(read_fd(fd.get())) : std::nullopt;
      const std::string by =
          holder ? describe_holder(*holder, true)
          : opened->ours ? "another jellyfin-backup run"
                         : "a process of uid " + std::to_string(opened->owner) + ", which owns the lock file";
      throw Error(ErrorKind::kLocked, ErrorCode::kLocked, what + " is in use by " + by,
                  "wait for it to finish (lock file " + path + ")");
    }
    if (!opened->ours)
      throw refused_error(path + ": the lock file belongs to uid " + std::to_string(opened->owner) +
                              ", not to this user or root: not taken over",
                          kRemoveHint);
    if (!opened->writable)
      throw io_error(path, "cannot take over the lock file", EACCES,
                     "another user's run left it and is no longer running; remove the file");
    // Locked an inode another run unlinked (it released) or replaced: the
    // path's lock is elsewhere now.
    if (!path_names(path, fd.get())) continue;

    // From here the file is ours: a failure below removes it on the way out.
    LockFile lock(path, std::move(fd));
    const std::string old_text = read_fd(lock.fd_.get());
    LockHolder me{::getpid(), host_name(), command, utc_iso(std::time(nullptr))};
    // A released lock file is removed, so any holder still written in the
    // one we locked is a run that died holding it.
    if (auto old = parse_holder(old_text)) {
      // A dead run leaves all its locks (directory, trees): one warning says it.
      static std::set<std::pair<long, std::string>> reported;
      if (reported.insert({static_cast<long>(old->pid), old->host}).second)
        reporter.warning("took over the lock " + path + " left by " + describe_holder(*old, false) +
                         ", which is no longer running");
    } else if (old_text.find_first_not_of(" \t\r\n") != std::string::npos) {
      reporter.warning("took over the lock " + path +
                       " left by a jellyfin-backup run that is no longer running");
    }

    const std::string text = holder_text(me);
    if (::ftruncate(lock.fd_.get(), 0) != 0) throw io_error(path, "cannot write the lock file", errno);
    std::size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::pwrite(lock.fd_.get(), text.data() + done, text.size() - done,
                           static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw io_error(path, "cannot write the lock file", n < 0 ? errno : ENOSPC);
      done += static_cast<std::size_t>(n);
    }
    return lock;
  }
  throw io_error(path, "cannot lock: the lock file keeps being replaced", 0,
                 "check what else removes files in " + parent_of(path));
}

LockFile::LockFile(LockFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::move(other.fd_)) {}

LockFile::~LockFile() {
  if (!fd_) return;
  // Unlink before unlocking (see the top of the file), and only our own
  // file: if something removed ours, the path may be another run's lock.
  if (path_names(path_, fd_.get())) ::unlink(path_.c_str());
  fd_.reset();
}

std::optional<LockHolder> read_lock_holder(const std::string& path) {
  UniqueFd fd(open_regular_file(AT_FDCWD, path));
  if (!fd) return std::nullopt;
  return parse_holder(read_fd(fd.get()));
}

std::string lock_directory() {
  if (const char* dir = std::getenv("JELLYFIN_BACKUP_LOCK_DIR"); dir && *dir) return dir;
  struct stat st;
  if (::stat("/run/lock", &st) == 0 && S_ISDIR(st.st_mode) && ::access("/run/lock", W_OK) == 0)
    return "/run/lock";
  return "/tmp";
}

std::string keyed_lock_path(const std::string& key) {
  // Injective: '/' becomes '-', so a literal '-' (like any byte outside
  // [A-Za-z0-9._]) is escaped as %HH; "/a-b" and "/a/b" stay apart.
  static const char kHex[] = "0123456789ABCDEF";
  std::string escaped;
  for (unsigned char c : key) {
    if (keep_byte(c)) {
      escaped.push_back(static_cast<char>(c));
    } else if (c == '/') {
      escaped.push_back('-');
    } else {
      escaped.push_back('%');
      escaped.push_back(kHex[c >> 4]);
      escaped.push_back(kHex[c & 15]);
    }
  }
  if (escaped.size() > kMaxEscapedKey) {
    // '+' never appears in an escaped key, so a cut name cannot equal a
    // whole one; two cut names differ by the hash of their whole keys.
    escaped = escaped.substr(0, kCutEscapedKey) + "+" + short_hash(key);
  }
  return lock_directory() + "/jellyfin-backup." + escaped + ".lock";
}

std::string lock_key(const std::string& path) {
  const std::string absolute = absolute_path(path);
  // Components as written; "" (a doubled slash) and "." change nothing.
  // ".." stays for realpath: after a symlink it is not a lexical step.
  std::vector<std::string> parts;
  for (std::size_t at = 0; at <= absolute.size();) {
    std::size_t slash = std::min(absolute.find('/', at), absolute.size());
    std::string part = absolute.substr(at, slash - at);
    if (!part.empty() && part != ".") parts.push_back(std::move(part));
    at = slash + 1;
  }
  // The deepest prefix that exists is resolved as the kernel sees it.
  std::size_t resolved = parts.size();
  std::string base = "/";
  for (;; --resolved) {
    std::string prefix;
    for (std::size_t i = 0; i < resolved; ++i) prefix += "/" + parts[i];
    if (prefix.empty()) break;
    if (char* real = ::realpath(prefix.c_str(), nullptr)) {
      base = real;
      ::free(real);
      break;
    }
  }
  // The rest does not exist: only a lexical reading is left.
  std::vector<std::string> out;
  for (std::size_t at = 1; at <= base.size();) {
    std::size_t slash = std::min(base.find('/', at), base.size());
    if (slash > at) out.push_back(base.substr(at, slash - at));
    at = slash + 1;
  }
  for (std::size_t i = resolved; i < parts.size(); ++i) {
    if (parts[i] == "..") {
      if (!out.empty()) out.pop_back();
    } else {
      out.push_back(parts[i]);
    }
  }
  std::string key;
  for (const std::string& part : out) key += "/" + part;
  return key.empty() ? "/" : key;
}

std::vector<LockFile> lock_trees(const std::vector<std::string>& trees, const std::string& command,
                                 Reporter& reporter, double wait_seconds) {
  // Keyed by the normalised absolute path, so "t/data" and "/abs/t/data"
  // (or a symlink to it) are one tree, existing yet or not.
  std::map<std::string, std::string> by_key;  // key -> the path as given, for messages
  for (const std::string& tree : trees) by_key.emplace(lock_key(tree), tree);
  // Every tree, nested or not: two runs may see the same server through
  // different pairs of trees. A fixed (sorted) order means the refusal
  // always names the same tree.
  std::vector<LockFile> locks;
  locks.reserve(by_key.size());
  for (const auto& [key, tree] : by_key)
    locks.push_back(LockFile::acquire(keyed_lock_path(key), "the Jellyfin tree " + tree, command, reporter, wait_seconds));
  return locks;
}

}  // namespace jb
