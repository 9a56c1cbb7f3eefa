#include "jellyfin_backup/jellyfin/installed_version.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <regex>
#include <sstream>
#include <vector>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/jellyfin/server_version.h"

namespace jb {
namespace {

// "10.11.0+deb12" -> "10.11.0": the package suffix is not Jellyfin's version.
std::string strip_package_suffix(const std::string& v) {
  std::size_t end = v.find_first_of("+-~");
  std::string out = v.substr(0, end);
  // dpkg epochs: "1:10.11.0"
  if (auto colon = out.find(':'); colon != std::string::npos) out = out.substr(colon + 1);
  return out;
}

bool is_log_name(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0 && name[0] != '.';
}

// The last version line of one file, reading it as a stream: logs can be big.
// The log directory belongs to the jellyfin user: a FIFO or a symlink named
// like a log must neither hang nor redirect the read (open_regular_file).
std::optional<std::string> last_version_in(const DirFd& dir, const std::string& name) {
  UniqueFd fd = open_regular_file(dir.fd(), name);
  if (!fd) return std::nullopt;
  std::unique_ptr<FILE, int (*)(FILE*)> in(::fdopen(fd.get(), "rb"), ::fclose);
  if (!in) return std::nullopt;
  fd.release();  // the FILE owns it now
  std::optional<std::string> found;
  char* buf = nullptr;
  std::size_t cap = 0;
  ssize_t n;
  while ((n = ::getline(&buf, &cap, in.get())) >= 0) {
    std::string_view line(buf, static_cast<std::size_t>(n));
    if (line.find("version:") == std::string_view::npos) continue;
    if (auto v = version_in_log_line(line)) found = v;
  }
  std::free(buf);
  return found;
}

std::optional<std::string> rpm_version(const std::string& root) {
  for (const char* dir : {"/usr/bin/rpm", "/bin/rpm"}) {
    if (::access(dir, X_OK) != 0) continue;
    std::string rpmdb = (root.empty() ? "" : root) + "/var/lib/rpm";
    struct stat st;
    if (::stat(rpmdb.c_str(), &st) != 0) return std::nullopt;
    for (const char* pkg : {"jellyfin-server", "jellyfin"}) {
      std::string cmd = std::string(dir) + (root.empty() ? "" : " --root '" + root + "'") +
                        " -q --qf '%{VERSION}' " + pkg + " 2>/dev/null";
      if (root.find('\'') != std::string::npos) return std::nullopt;
      std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), ::pclose);
      if (!p) return std::nullopt;
      char buf[128] = {};
      std::size_t n = std::fread(buf, 1, sizeof buf - 1, p.get());
      int status = ::pclose(p.release());
      std::string v(buf, n);
      if (status == 0 && parse_server_version(v)) return v;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> version_in_log_line(std::string_view line) {
  static const std::regex re(R"re(Jellyfin version: "?([0-9]+(\.[0-9]+)+[0-9A-Za-z.+~-]*)"?)re");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_search(line.begin(), line.end(), m, re)) return std::nullopt;
  return m[1].str();
}

std::optional<DetectedVersion> version_from_logs(const std::string& log_dir) {
  struct LogFile {
    std::string name;
    timespec mtime;
  };
  std::optional<DirFd> dir;
  std::vector<LogFile> logs;
  try {
    dir = DirFd::open_if_exists(log_dir);
    if (!dir) return std::nullopt;
    for (const auto& name : dir->list()) {
      if (!is_log_name(name)) continue;
      auto st = dir->stat_at(name);
      if (st && S_ISREG(st->st_mode)) logs.push_back({name, st->st_mtim});
    }
  } catch (const Error&) {
    return std::nullopt;  // no readable log directory: the version is found elsewhere
  }
  // Newest first; a log without a start line (a quiet day) defers to older ones.
  std::sort(logs.begin(), logs.end(), [](const LogFile& a, const LogFile& b) {
    if (a.mtime.tv_sec != b.mtime.tv_sec) return a.mtime.tv_sec > b.mtime.tv_sec;
    if (a.mtime.tv_nsec != b.mtime.tv_nsec) return a.mtime.tv_nsec > b.mtime.tv_nsec;
    return a.name > b.name;
  });
  for (const auto& log : logs)
    if (auto v = last_version_in(*dir, log.name)) return DetectedVersion{*v, "log " + dir->path_of(log.name)};
  return std::nullopt;
}

std::optional<std::string> dpkg_version_of(std::string_view status_text) {
  std::istringstream in{std::string(status_text)};
  std::string line, package, status, version;
  std::optional<std::string> server, legacy;
  auto end_stanza = [&] {
    bool installed = status.find(" installed") != std::string::npos &&
                     status.find("not-installed") == std::string::npos;
    if (installed && !version.empty()) {
      if (package == "jellyfin-server") server = version;
      else if (package == "jellyfin") legacy = version;
    }
    package.clear();
    status.clear();
    version.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      end_stanza();
      continue;
    }
    if (line.rfind("Package: ", 0) == 0) package = line.substr(9);
    else if (line.rfind("Status: ", 0) == 0) status = line.substr(8);
    else if (line.rfind("Version: ", 0) == 0) version = line.substr(9);
  }
  end_stanza();
  return server ? server : legacy;
}

std::optional<DetectedVersion> version_from_packages(const std::string& root) {
  std::string status_path = (root == "/" ? "" : root) + "/var/lib/dpkg/status";
  // dpkg's database, read as any file we did not write: never a FIFO.
  if (auto text = read_regular_file(status_path, std::size_t{256} << 20, /*follow_link=*/true)) {
    if (auto raw = dpkg_version_of(*text)) {
      std::string v = strip_package_suffix(*raw);
      if (parse_server_version(v)) return DetectedVersion{v, "dpkg " + status_path + ": " + *raw};
    }
  }
  if (auto v = rpm_version(root == "/" ? "" : root)) return DetectedVersion{*v, "rpm database"};
  return std::nullopt;
}

}  // namespace jb
