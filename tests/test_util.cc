#include "test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "jellyfin_backup/create/create.h"
#include "jellyfin_backup/io/rclone.h"
#include "jellyfin_backup/io/unique_fd.h"
#include "jellyfin_backup/utc_time.h"

namespace jb::test {

std::string unprivileged_work_dir(const TempDir& tmp) {
  REQUIRE(::chmod(tmp.path().c_str(), 0755) == 0);
  const std::string work = tmp / "work";
  make_dirs(work);
  if (::geteuid() == 0) REQUIRE(::chown(work.c_str(), kUnprivilegedId, kUnprivilegedId) == 0);
  return work;
}

std::string real_path(const std::string& path) {
  char* r = ::realpath(path.c_str(), nullptr);
  REQUIRE(r);
  std::string out(r);
  ::free(r);
  return out;
}

std::int64_t utc(int year, int month, int day, int hour, int minute, int second) {
  const auto t = jb::utc_seconds(year, month, day, hour, minute, second);
  REQUIRE(t);
  return *t;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base ? base : "/tmp") + "/jb-test-XXXXXX";
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  // Tests may leave read-only dirs behind; make them removable first.
  for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
  }
  std::filesystem::remove_all(path_, ec);
}

std::size_t StringSource::read(void* buffer, std::size_t size) {
  std::size_t n = std::min({size, piece_, bytes_.size() - pos_});
  std::memcpy(buffer, bytes_.data() + pos_, n);
  pos_ += n;
  return n;
}

void write_file(const std::string& path, std::string_view content, mode_t mode) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
  ::chmod(path.c_str(), mode);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void make_dirs(const std::string& path) { std::filesystem::create_directories(path); }

void make_sample_trees(const std::string& root) {
  make_dirs(root + "/config/dlna");
  make_dirs(root + "/data/data");
  make_dirs(root + "/data/metadata/library/ab");
  make_dirs(root + "/data/empty");
  write_file(root + "/config/system.xml", "<ServerConfiguration></ServerConfiguration>\n");
  write_file(root + "/config/dlna/profile.xml", "<Profile/>\n", 0600);
  std::string db(300000, 'x');
  for (std::size_t i = 0; i < db.size(); i += 7) db[i] = static_cast<char>(i * 31);
  write_file(root + "/data/data/jellyfin.db", db);
  write_file(root + "/data/data/device.txt", "abcdef0123456789\n");
  write_file(root + "/data/metadata/library/ab/poster.jpg", std::string(5000, '\x7f'));
  ::symlink("../data/device.txt", (root + "/data/metadata/device-link").c_str());
  ::link((root + "/data/data/device.txt").c_str(), (root + "/data/metadata/device-hardlink").c_str());
}

UnprivilegedResult run_unprivileged(const std::function<std::string()>& body) {
  auto run = [&]() -> UnprivilegedResult {
    try {
      return {true, body()};
    } catch (const std::exception& e) {
      return {false, e.what()};
    }
  };
  if (::geteuid() != 0) return run();

  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    UnprivilegedResult r;
    if (::setgroups(0, nullptr) != 0 || ::setgid(kUnprivilegedId) != 0 ||
        ::setuid(kUnprivilegedId) != 0) {
      r = {false, "cannot drop privileges"};
    } else {
      r = run();
    }
    const std::string out = (r.ok ? "1" : "0") + r.text;
    std::size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (out.empty() || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return {false, "the unprivileged child died"};
  return {out[0] == '1', out.substr(1)};
}

std::string archive_bytes_of(const std::string& root) {
  TempDir out;
  CreateOptions options;
  options.config_dir = root + "/config";
  options.data_dir = root + "/data";
  options.output = out / "a.tar.zst";
  options.threads = 1;
  Reporter silent;
  create_archive(options, silent);
  return read_file(options.output);
}

std::string create_sample_archive(const std::string& out_dir, const std::optional<std::string>& version,
                                  std::size_t noise_bytes) {
  TempDir trees;
  make_sample_trees(trees.path());
  if (noise_bytes) {
    std::string noise(noise_bytes, '\0');
    std::mt19937 rng(7);
    for (char& c : noise) c = static_cast<char>(rng());
    write_file(trees / "data/data/noise.bin", noise);
  }
  CreateOptions options;
  options.config_dir = trees / "config";
  options.data_dir = trees / "data";
  options.output = out_dir;
  options.server_version = version;
  options.threads = 1;
  Reporter silent;
  return create_archive(options, silent).path;
}

bool rclone_installed() {
  try {
    jb::rclone_binary();
    return true;
  } catch (const jb::Error&) {
    return false;
  }
}

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// A port the kernel just handed out, so very likely still free.
int free_port() {
  jb::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof addr;
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("cannot find a free port");
  return ntohs(addr.sin_port);
}

bool accepts_connections(int port) {
  jb::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = loopback(port);
  return fd && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace

RcloneServer::RcloneServer(const std::string& dir) {
  ::signal(SIGPIPE, SIG_IGN);
  port_ = free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port_);
  // --dir-cache-time 0s: what a test puts into `dir` by hand is listed at once.
  child_.emplace(jb::ChildProcess::spawn(
      {jb::rclone_binary(), "serve", "webdav", "--addr", "127.0.0.1:" + std::to_string(port_),
       "--dir-cache-time", "0s", dir},
      {.out = jb::ChildProcess::Stdout::kNull, .err = jb::ChildProcess::Stderr::kCapture}));
  for (int i = 0; !accepts_connections(port_); ++i) {
    if (i == 1000)
      throw std::runtime_error("rclone serve webdav did not come up on " + url + ": " +
                               child_->stderr_tail(3));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (const char* old = std::getenv("RCLONE_CONFIG")) old_config_ = old;
  ::setenv("RCLONE_CONFIG", "/dev/null", 1);
  ::setenv("RCLONE_CONFIG_JBTEST_TYPE", "webdav", 1);
  ::setenv("RCLONE_CONFIG_JBTEST_URL", url.c_str(), 1);
}

RcloneServer::~RcloneServer() {
  ::unsetenv("RCLONE_CONFIG_JBTEST_TYPE");
  ::unsetenv("RCLONE_CONFIG_JBTEST_URL");
  if (old_config_)
    ::setenv("RCLONE_CONFIG", old_config_->c_str(), 1);
  else
    ::unsetenv("RCLONE_CONFIG");
}  // child_ stops the server

}  // namespace jb::test
