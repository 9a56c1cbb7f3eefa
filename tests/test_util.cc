#include "test_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "jellyfin_backup/create/create.h"

namespace jb::test {

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

}  // namespace jb::test
