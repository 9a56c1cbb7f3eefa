#include "jellyfin_backup/create/create.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <regex>

#include "jellyfin_backup/archive/sidecar.h"
#include "jellyfin_backup/archive/xxh128.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/verify/verify.h"
#include "test_util.h"

using jb::test::make_dirs;
using jb::test::make_sample_trees;
using jb::test::read_file;
using jb::test::RecordingReporter;
using jb::test::StringSource;
using jb::test::TempDir;
using jb::test::write_file;
using jb::test::utc;

namespace {

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Options over the sample trees of `root` into `output`.
jb::CreateOptions sample_options(const std::string& root, const std::string& output) {
  jb::CreateOptions options;
  options.config_dir = root + "/config";
  options.data_dir = root + "/data";
  options.output = output;
  options.threads = 1;
  return options;
}

jb::ErrorKind kind_of_create(const jb::CreateOptions& options) {
  RecordingReporter reporter;
  try {
    jb::create_archive(options, reporter);
  } catch (const jb::Error& e) {
    return e.kind();
  }
  FAIL("create_archive did not throw");
  return jb::ErrorKind::kRefused;
}

jb::VerifyResult verify_file(const std::string& path) {
  StringSource source(read_file(path), 64 * 1024);
  RecordingReporter reporter;
  return jb::verify_archive(source, reporter);
}

// Counts of make_sample_trees, derived from what it writes.
constexpr std::uint64_t kSampleFiles = 6;    // 5 files + 1 hardlink
constexpr std::uint64_t kSampleEntries = 15;  // 4 in config, 11 in data
std::uint64_t sample_bytes(const std::string& root) {
  std::uint64_t n = 0;
  for (const char* f : {"/config/system.xml", "/config/dlna/profile.xml", "/data/data/jellyfin.db",
                        "/data/data/device.txt", "/data/metadata/library/ab/poster.jpg"})
    n += std::filesystem::file_size(root + f);
  return n;
}

// Throws from progress() once streaming has begun (the output is open then).
class ThrowingReporter : public jb::Reporter {
 public:
  void progress(const jb::Progress& p) override {
    if (p.files_done >= 1) throw std::runtime_error("reporter gave up");
  }
};

// Raises SIGINT from progress() once streaming has begun.
class InterruptingReporter : public jb::Reporter {
 public:
  void progress(const jb::Progress& p) override {
    if (p.files_done >= 1 && !raised) {
      raised = true;
      ::raise(SIGINT);
    }
  }
  bool raised = false;
};

std::string real_path(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  REQUIRE(real != nullptr);
  std::string s(real);
  ::free(real);
  return s;
}

// An archive's entry paths (directories without their trailing slash,
// MANIFEST.json and CHECKSUMS.xxh128 left out), sorted, with its verify result.
struct Listing {
  jb::VerifyResult verified;
  std::vector<std::string> paths;
};

Listing list_archive(const std::string& path) {
  struct Collector : jb::EntryConsumer {
    void begin_entry(archive_entry* entry) override {
      std::string p = archive_entry_pathname(entry);
      while (p.size() > 1 && p.back() == '/') p.pop_back();
      paths.push_back(p);
    }
    void data(const jb::DataBlock&) override {}
    void end_entry() override {}
    std::vector<std::string> paths;
  } collector;
  StringSource source(read_file(path), 64 * 1024);
  RecordingReporter reporter;
  Listing l{jb::verify_archive(source, reporter, &collector), {}};
  for (auto& p : collector.paths)
    if (p == "config" || p == "data" || p.rfind("config/", 0) == 0 || p.rfind("data/", 0) == 0)
      l.paths.push_back(p);
  std::sort(l.paths.begin(), l.paths.end());
  return l;
}

// What the archive should hold for the tree `name` read from `dir`: `name`
// and every path below `dir`, except those below `skip` (relative to `dir`).
std::vector<std::string> expected_paths(const std::string& dir, const std::string& name,
                                        const std::string& skip = {}) {
  std::vector<std::string> out{name};
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string rel = e.path().string().substr(dir.size() + 1);
    if (!skip.empty() && (rel == skip || rel.rfind(skip + "/", 0) == 0)) continue;
    out.push_back(name + "/" + rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The paths of `all` that belong to the tree `name`.
std::vector<std::string> paths_of_tree(const std::vector<std::string>& all, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& p : all)
    if (p == name || p.rfind(name + "/", 0) == 0) out.push_back(p);
  return out;
}

bool has_path_below(const std::vector<std::string>& paths, const std::string& dir) {
  return std::any_of(paths.begin(), paths.end(), [&](const std::string& p) {
    return p == dir || p.rfind(dir + "/", 0) == 0;
  });
}

}  // namespace

TEST_CASE("archive_file_name: UTC stamp and version", "[create]") {
  const std::int64_t t = utc(2026, 11, 25, 10, 15, 0);
  CHECK(t == 1795601700);
  CHECK(jb::archive_file_name(t, std::string("10.11.0")) ==
        "jellyfin.20261125T101500Z_10.11.0.tar.zst");
  CHECK(jb::archive_file_name(t, std::nullopt) == "jellyfin.20261125T101500Z_unknown.tar.zst");
  CHECK(jb::archive_file_name(t, std::string()) == "jellyfin.20261125T101500Z_unknown.tar.zst");
  CHECK(jb::archive_file_name(0, std::string("1")) == "jellyfin.19700101T000000Z_1.tar.zst");
  CHECK(jb::archive_file_name(utc(2025, 1, 2, 3, 4, 5), std::string("10.10.7")) ==
        "jellyfin.20250102T030405Z_10.10.7.tar.zst");
}

TEST_CASE("archive_file_name: unsafe version characters are replaced", "[create]") {
  const std::int64_t t = utc(2026, 11, 25, 10, 15, 0);
  const std::string prefix = "jellyfin.20261125T101500Z_";
  CHECK(jb::archive_file_name(t, std::string("10.11.0+git-a_B")) ==
        prefix + "10.11.0+git-a_B.tar.zst");
  CHECK(jb::archive_file_name(t, std::string("../../etc/passwd")) ==
        prefix + ".._.._etc_passwd.tar.zst");
  CHECK(jb::archive_file_name(t, std::string("10.11 beta")) == prefix + "10.11_beta.tar.zst");
  CHECK(jb::archive_file_name(t, std::string("a\\b:c*d?\"e\n")) ==
        prefix + "a_b_c_d__e_.tar.zst");
  // Non-ASCII bytes are replaced one by one.
  CHECK(jb::archive_file_name(t, std::string("\xc3\xa9")) == prefix + "__.tar.zst");
  // Never a '/' in the name, whatever the version.
  for (std::string v : {"/", "a/b", "//x//"})
    CHECK(jb::archive_file_name(t, v).find('/') == std::string::npos);
}

TEST_CASE("create into a directory: generated name, mode 0600, result counts", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_dirs(tmp / "out");
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "out");
  options.server_version = "10.11.0";
  RecordingReporter reporter;
  const std::time_t before = std::time(nullptr);
  jb::CreateResult result = jb::create_archive(options, reporter);
  const std::time_t after = std::time(nullptr);

  // The name is the archive_file_name of a moment during the run.
  bool name_matches = false;
  for (std::time_t t = before; t <= after; ++t)
    if (result.path == tmp / "out" + "/" + jb::archive_file_name(t, std::string("10.11.0")))
      name_matches = true;
  CHECK(name_matches);
  const std::string name = std::filesystem::path(result.path).filename().string();
  CHECK(std::regex_match(name, std::regex(R"(jellyfin\.\d{8}T\d{6}Z_10\.11\.0\.tar\.zst)")));
  CHECK(list_dir(tmp / "out") == std::vector<std::string>{name, name + ".xxh128"});

  struct stat st;
  REQUIRE(::stat(result.path.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);

  CHECK(result.files == kSampleFiles);
  CHECK(result.entries == kSampleEntries);
  CHECK(result.bytes_in == sample_bytes(tmp.path()));
  CHECK(result.bytes_out == static_cast<std::uint64_t>(st.st_size));
  CHECK(result.tar_bytes > result.bytes_in);
  CHECK(result.tar_bytes % 512 == 0);
  // MANIFEST.json alone in frame 1, then everything else: far below the
  // 16 MiB frame target.
  CHECK(result.frames == 2);
  CHECK(result.version == std::optional<std::string>("10.11.0"));
  CHECK(result.seconds >= 0);
  CHECK(result.warnings.empty());
  CHECK(reporter.warnings.empty());
}

TEST_CASE("create: output directory given with a trailing slash", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_dirs(tmp / "out");
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(sample_options(tmp.path(), tmp / "out/"), reporter);
  CHECK(result.path.find("//") == std::string::npos);
  CHECK(std::filesystem::path(result.path).parent_path() == std::filesystem::path(tmp / "out"));
  CHECK(std::filesystem::path(result.path).filename().string().find("_unknown.tar.zst") !=
        std::string::npos);
  CHECK(list_dir(tmp / "out").size() == 2);  // the archive and its sidecar
}

TEST_CASE("create: an unsafe server version never leaves the output directory", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_dirs(tmp / "out");
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "out");
  options.server_version = "../../10.11 beta";
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(options, reporter);
  const std::string name = std::filesystem::path(result.path).filename().string();
  CHECK(std::filesystem::path(result.path).parent_path() == std::filesystem::path(tmp / "out"));
  CHECK(name.size() > std::string("_.._.._10.11_beta.tar.zst").size());
  CHECK(name.substr(name.size() - std::string("_.._.._10.11_beta.tar.zst").size()) ==
        "_.._.._10.11_beta.tar.zst");
  CHECK(list_dir(tmp / "out") == std::vector<std::string>{name, name + ".xxh128"});
  // The manifest keeps the version as given.
  jb::VerifyResult verified = verify_file(result.path);
  CHECK(verified.ok());
  REQUIRE(verified.manifest);
  CHECK(verified.manifest->app_version == std::optional<std::string>("../../10.11 beta"));
}

TEST_CASE("create to a file path: the archive verifies and carries the manifest", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "backup.tar.zst");
  options.server_version = "10.11.0";
  options.level = 5;
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(options, reporter);
  CHECK(result.path == tmp / "backup.tar.zst");

  jb::VerifyResult verified = verify_file(result.path);
  CHECK(verified.problems.empty());
  CHECK(verified.ok());
  CHECK(verified.files == kSampleFiles);
  CHECK(verified.bytes == sample_bytes(tmp.path()));
  CHECK(verified.entries == kSampleEntries + 2);  // plus MANIFEST.json and CHECKSUMS.xxh128
  CHECK(verified.frames == result.frames);
  CHECK(verified.compressed_bytes == result.bytes_out);

  REQUIRE(verified.manifest);
  const jb::Manifest& m = *verified.manifest;
  CHECK(m.format_version == 1);
  CHECK(m.app_version == std::optional<std::string>("10.11.0"));
  CHECK(m.app_version_source.has_value());
  CHECK(m.compression_level == 5);
  CHECK(m.excludes.empty());
  REQUIRE(m.trees.size() == 2);
  CHECK(m.trees[0].name == "config");
  CHECK(m.trees[1].name == "data");
  // Sources are absolute, resolved paths.
  char* real = ::realpath(tmp.path().c_str(), nullptr);
  REQUIRE(real != nullptr);
  const std::string real_root = real;
  ::free(real);
  CHECK(m.trees[0].source == real_root + "/config");
  CHECK(m.trees[1].source == real_root + "/data");
  CHECK(m.trees[0].files == 2);
  CHECK(m.trees[0].entries == 4);
  CHECK(m.trees[1].files == 4);
  CHECK(m.trees[1].entries == 11);
  CHECK(m.total_bytes() == sample_bytes(tmp.path()));
  // created is the UTC time of the run, in ISO 8601.
  CHECK(std::regex_match(m.created, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
}

TEST_CASE("create without a server version records none", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  RecordingReporter reporter;
  jb::create_archive(sample_options(tmp.path(), tmp / "a.tar.zst"), reporter);
  jb::VerifyResult verified = verify_file(tmp / "a.tar.zst");
  CHECK(verified.ok());
  REQUIRE(verified.manifest);
  CHECK_FALSE(verified.manifest->app_version.has_value());
  CHECK(verified.manifest->compression_level == 3);
}

TEST_CASE("create with excludes: entries left out, patterns in the manifest", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  write_file(tmp / "data/data/server.log", std::string(777, 'L'));
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "a.tar.zst");
  options.excludes = {"*.log", "data/metadata/", "config/dlna/*"};
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(options, reporter);

  // Left: config, config/dlna, config/system.xml, data, data/data,
  // data/data/device.txt, data/data/jellyfin.db, data/empty.
  CHECK(result.entries == 8);
  CHECK(result.files == 3);
  CHECK(result.bytes_in == std::filesystem::file_size(tmp / "config/system.xml") +
                               std::filesystem::file_size(tmp / "data/data/device.txt") +
                               std::filesystem::file_size(tmp / "data/data/jellyfin.db"));

  struct Collector : jb::EntryConsumer {
    void begin_entry(archive_entry* entry) override { paths.push_back(archive_entry_pathname(entry)); }
    void data(const jb::DataBlock&) override {}
    void end_entry() override {}
    std::vector<std::string> paths;
  } collector;
  StringSource source(read_file(tmp / "a.tar.zst"));
  jb::VerifyResult verified = jb::verify_archive(source, reporter, &collector);
  CHECK(verified.ok());
  CHECK(verified.files == 3);
  for (const auto& p : collector.paths) {
    INFO(p);
    CHECK(p.find(".log") == std::string::npos);
    CHECK(p.rfind("data/metadata", 0) == std::string::npos);
    CHECK((p == "config/dlna/" || p.rfind("config/dlna/", 0) == std::string::npos));
  }
  const bool has_empty_dir =
      std::find(collector.paths.begin(), collector.paths.end(), "data/empty/") !=
          collector.paths.end() ||
      std::find(collector.paths.begin(), collector.paths.end(), "data/empty") !=
          collector.paths.end();
  CHECK(has_empty_dir);
  REQUIRE(verified.manifest);
  CHECK(verified.manifest->excludes == options.excludes);
}

TEST_CASE("create: an invalid exclude pattern is a usage error", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "a.tar.zst");
  options.excludes = {"/data/metadata"};
  CHECK(kind_of_create(options) == jb::ErrorKind::kUsage);
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"config", "data"});
}

TEST_CASE("create to stdout", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  const std::string captured = tmp / "stdout.bin";
  std::fflush(stdout);
  int saved = ::dup(STDOUT_FILENO);
  REQUIRE(saved >= 0);
  int fd = ::open(captured.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::dup2(fd, STDOUT_FILENO) == STDOUT_FILENO);
  ::close(fd);
  jb::CreateResult result;
  try {
    RecordingReporter reporter;
    result = jb::create_archive(sample_options(tmp.path(), "-"), reporter);
  } catch (...) {
    ::dup2(saved, STDOUT_FILENO);
    ::close(saved);
    throw;
  }
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  CHECK(result.path == "-");
  CHECK(result.bytes_out == std::filesystem::file_size(captured));
  jb::VerifyResult verified = verify_file(captured);
  CHECK(verified.ok());
  CHECK(verified.files == kSampleFiles);
}

TEST_CASE("create: an existing output file is an error and stays untouched", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_dirs(tmp / "out");
  write_file(tmp / "out/a.tar.zst", "precious", 0640);
  CHECK(kind_of_create(sample_options(tmp.path(), tmp / "out/a.tar.zst")) ==
        jb::ErrorKind::kRuntime);
  CHECK(read_file(tmp / "out/a.tar.zst") == "precious");
  struct stat st;
  REQUIRE(::stat((tmp / "out/a.tar.zst").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(list_dir(tmp / "out") == std::vector<std::string>{"a.tar.zst"});

  // A dangling symlink under the final name is refused too, and not followed.
  REQUIRE(::symlink((tmp / "elsewhere").c_str(), (tmp / "out/b.tar.zst").c_str()) == 0);
  CHECK(kind_of_create(sample_options(tmp.path(), tmp / "out/b.tar.zst")) ==
        jb::ErrorKind::kRuntime);
  CHECK_FALSE(std::filesystem::exists(tmp / "elsewhere"));
  CHECK(list_dir(tmp / "out") == std::vector<std::string>{"a.tar.zst", "b.tar.zst"});
}

TEST_CASE("create: a missing output directory is an error", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  CHECK(kind_of_create(sample_options(tmp.path(), tmp / "missing/a.tar.zst")) ==
        jb::ErrorKind::kRuntime);
  CHECK(kind_of_create(sample_options(tmp.path(), tmp / "missing/")) == jb::ErrorKind::kRuntime);
  CHECK_FALSE(std::filesystem::exists(tmp / "missing"));
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"config", "data"});
}

// Nested trees are allowed (see the cases below); one directory for both is not.
TEST_CASE("create: identical trees are usage errors", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "a.tar.zst");

  SECTION("the same directory") {
    options.data_dir = tmp / "config";
    CHECK(kind_of_create(options) == jb::ErrorKind::kUsage);
  }
  SECTION("the same directory, spelled differently") {
    options.data_dir = tmp / "data/../config/";
    CHECK(kind_of_create(options) == jb::ErrorKind::kUsage);
  }
  SECTION("the same directory through a symlink") {
    REQUIRE(::symlink((tmp / "config").c_str(), (tmp / "config-link").c_str()) == 0);
    options.data_dir = tmp / "config-link";
    CHECK(kind_of_create(options) == jb::ErrorKind::kUsage);
  }
  CHECK_FALSE(std::filesystem::exists(tmp / "a.tar.zst"));
}

TEST_CASE("create: config inside data is stored once, under its own name", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  std::string rel;
  SECTION("directly below (the official Docker image)") { rel = "config"; }
  SECTION("deeper below") { rel = "srv/jellyfin/config"; }
  make_dirs(std::filesystem::path(tmp / ("data/" + rel)).parent_path().string());
  std::filesystem::rename(tmp / "config", tmp / ("data/" + rel));
  const std::string root = real_path(tmp.path());
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "a.tar.zst");
  options.config_dir = tmp / ("data/" + rel);
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(options, reporter);
  CHECK(result.warnings.empty());
  CHECK(result.files == kSampleFiles);

  Listing l = list_archive(result.path);
  CHECK(l.verified.ok());
  CHECK(l.verified.files == kSampleFiles);
  REQUIRE(l.verified.manifest);
  const jb::Manifest& m = *l.verified.manifest;
  REQUIRE(m.trees.size() == 2);
  const jb::ManifestTree* config = m.find_tree("config");
  const jb::ManifestTree* data = m.find_tree("data");
  REQUIRE(config);
  REQUIRE(data);
  CHECK(config->inside == std::optional<std::string>("data"));
  CHECK(config->inside_path == rel);
  CHECK(config->source == root + "/data/" + rel);
  CHECK(config->files == 2);
  CHECK(config->entries == 4);
  CHECK_FALSE(data->inside);
  CHECK(data->inside_path.empty());
  CHECK(data->source == root + "/data");
  CHECK(data->files == 4);

  // The config tree is complete; the data tree holds nothing of it.
  CHECK(paths_of_tree(l.paths, "config") == expected_paths(tmp / ("data/" + rel), "config"));
  CHECK(paths_of_tree(l.paths, "data") == expected_paths(tmp / "data", "data", rel));
  CHECK_FALSE(has_path_below(l.paths, "data/" + rel));
  CHECK(data->entries == paths_of_tree(l.paths, "data").size());
  CHECK(result.entries == l.paths.size());
}

TEST_CASE("create: data inside config is stored once, under its own name", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  std::filesystem::rename(tmp / "data", tmp / "config/data");
  const std::string root = real_path(tmp.path());
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "a.tar.zst");
  options.data_dir = tmp / "config/data";
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(options, reporter);
  CHECK(result.files == kSampleFiles);
  CHECK(result.entries == kSampleEntries);

  Listing l = list_archive(result.path);
  CHECK(l.verified.ok());
  REQUIRE(l.verified.manifest);
  const jb::ManifestTree* config = l.verified.manifest->find_tree("config");
  const jb::ManifestTree* data = l.verified.manifest->find_tree("data");
  REQUIRE(config);
  REQUIRE(data);
  CHECK(data->inside == std::optional<std::string>("config"));
  CHECK(data->inside_path == "data");
  CHECK(data->source == root + "/config/data");
  CHECK(data->files == 4);
  CHECK(data->entries == 11);
  CHECK_FALSE(config->inside);
  CHECK(config->files == 2);
  CHECK(config->entries == 4);
  CHECK(paths_of_tree(l.paths, "data") == expected_paths(tmp / "config/data", "data"));
  CHECK(paths_of_tree(l.paths, "config") == expected_paths(tmp / "config", "config", "data"));
  CHECK_FALSE(has_path_below(l.paths, "config/data"));
}

TEST_CASE("create: a left-out log directory is absent and named in the manifest", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_dirs(tmp / "data/log");
  write_file(tmp / "data/log/log_20261120.log", std::string(1000, 'L'));
  const std::string root = real_path(tmp.path());
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "a.tar.zst");
  options.leave_out = {{"log", root + "/data/log"}};
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(options, reporter);
  CHECK(result.files == kSampleFiles);
  CHECK(result.entries == kSampleEntries);
  CHECK(result.bytes_in == sample_bytes(tmp.path()));
  REQUIRE(result.left_out.size() == 1);
  CHECK(result.left_out[0].kind == "log");
  CHECK(result.left_out[0].path == "data/log");
  CHECK(result.left_out[0].source == root + "/data/log");

  Listing l = list_archive(result.path);
  CHECK(l.verified.ok());
  CHECK_FALSE(has_path_below(l.paths, "data/log"));
  CHECK(paths_of_tree(l.paths, "data") == expected_paths(tmp / "data", "data", "log"));
  REQUIRE(l.verified.manifest);
  const jb::Manifest& m = *l.verified.manifest;
  REQUIRE(m.left_out.size() == 1);
  CHECK(m.left_out[0].kind == "log");
  CHECK(m.left_out[0].path == "data/log");
  CHECK(m.left_out[0].source == root + "/data/log");
  CHECK(m.find_tree("data")->entries == 11);
}

TEST_CASE("create: a left-out directory in a nested tree is named by that tree", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  std::filesystem::rename(tmp / "config", tmp / "data/config");
  make_dirs(tmp / "data/config/log");
  write_file(tmp / "data/config/log/a.log", "log");
  const std::string root = real_path(tmp.path());
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "a.tar.zst");
  options.config_dir = tmp / "data/config";
  options.leave_out = {{"log", root + "/data/config/log"}};
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(options, reporter);
  REQUIRE(result.left_out.size() == 1);
  CHECK(result.left_out[0].path == "config/log");
  Listing l = list_archive(result.path);
  CHECK(l.verified.ok());
  CHECK_FALSE(has_path_below(l.paths, "config/log"));
  CHECK_FALSE(has_path_below(l.paths, "data/config"));
  CHECK(paths_of_tree(l.paths, "config") == expected_paths(tmp / "data/config", "config", "log"));
}

TEST_CASE("create: leave_out directories that are not inside a tree are ignored", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_dirs(tmp / "cache/images");
  write_file(tmp / "cache/images/a.jpg", "jpg");
  const std::string root = real_path(tmp.path());
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "a.tar.zst");
  SECTION("outside both trees") {
    options.leave_out = {{"cache", root + "/cache"}, {"log", root + "/missing-log"}};
  }
  SECTION("a whole tree, or what holds it") {
    options.leave_out = {{"log", root + "/data"}, {"cache", root + "/config"}, {"transcodes", root}};
  }
  SECTION("a name that only shares a tree's prefix") {
    make_dirs(tmp / "data-log");
    options.leave_out = {{"log", root + "/data-log"}};
  }
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(options, reporter);
  CHECK(result.left_out.empty());
  CHECK(result.files == kSampleFiles);
  CHECK(result.entries == kSampleEntries);
  Listing l = list_archive(result.path);
  CHECK(l.verified.ok());
  REQUIRE(l.verified.manifest);
  CHECK(l.verified.manifest->left_out.empty());
  CHECK(paths_of_tree(l.paths, "data") == expected_paths(tmp / "data", "data"));
  CHECK(paths_of_tree(l.paths, "config") == expected_paths(tmp / "config", "config"));
}

TEST_CASE("create: the nested tree itself is never left out of the outer one", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  std::filesystem::rename(tmp / "config", tmp / "data/config");
  const std::string root = real_path(tmp.path());
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "a.tar.zst");
  options.config_dir = tmp / "data/config";
  options.leave_out = {{"log", root + "/data/config"}};
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(options, reporter);
  CHECK(result.left_out.empty());
  CHECK(result.files == kSampleFiles);
  Listing l = list_archive(result.path);
  CHECK(paths_of_tree(l.paths, "config") == expected_paths(tmp / "data/config", "config"));
}

TEST_CASE("create: a tree holding the other tree's marker is a usage error", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "a.tar.zst");
  SECTION("config holds .jellyfin-data") { write_file(tmp / "config/.jellyfin-data", ""); }
  SECTION("data holds .jellyfin-config") { write_file(tmp / "data/.jellyfin-config", ""); }
  SECTION("swapped trees, both marked") {
    write_file(tmp / "config/.jellyfin-config", "");
    write_file(tmp / "data/.jellyfin-data", "");
    options.config_dir = tmp / "data";
    options.data_dir = tmp / "config";
  }
  RecordingReporter reporter;
  try {
    jb::create_archive(options, reporter);
    FAIL("a misplaced tree was archived");
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kUsage);
    CHECK_THAT(e.full_message(), Catch::Contains(".jellyfin-"));
  }
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"config", "data"});
}

TEST_CASE("create: each tree holding its own marker is fine", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  write_file(tmp / "config/.jellyfin-config", "");
  write_file(tmp / "data/.jellyfin-data", "");
  // A folder with both markers is its own too.
  write_file(tmp / "config/.jellyfin-data", "");
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(sample_options(tmp.path(), tmp / "a.tar.zst"), reporter);
  CHECK(result.files == kSampleFiles + 3);
}

TEST_CASE("create: sibling trees sharing a name prefix are not nested", "[create]") {
  TempDir tmp;
  make_dirs(tmp / "jf");
  make_dirs(tmp / "jf-data");
  write_file(tmp / "jf/system.xml", "<x/>");
  write_file(tmp / "jf-data/db", "db");
  jb::CreateOptions options;
  options.config_dir = tmp / "jf";
  options.data_dir = tmp / "jf-data";
  options.output = tmp / "a.tar.zst";
  options.threads = 1;
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(options, reporter);
  CHECK(result.files == 2);
  CHECK(verify_file(result.path).ok());
}

TEST_CASE("create: missing or non-directory trees are usage errors", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "a.tar.zst");
  SECTION("missing config") {
    options.config_dir = tmp / "nope";
    CHECK(kind_of_create(options) == jb::ErrorKind::kUsage);
  }
  SECTION("missing data") {
    options.data_dir = tmp / "nope";
    CHECK(kind_of_create(options) == jb::ErrorKind::kUsage);
  }
  SECTION("data is a file") {
    options.data_dir = tmp / "config/system.xml";
    CHECK(kind_of_create(options) == jb::ErrorKind::kUsage);
  }
  CHECK_FALSE(std::filesystem::exists(tmp / "a.tar.zst"));
}

TEST_CASE("create: compression level out of range is a usage error", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "a.tar.zst");
  for (int level : {0, -1, 20, 22, 100}) {
    INFO("level " << level);
    options.level = level;
    CHECK(kind_of_create(options) == jb::ErrorKind::kUsage);
  }
  CHECK_FALSE(std::filesystem::exists(tmp / "a.tar.zst"));
  for (int level : {1, 19}) {
    INFO("level " << level);
    options.level = level;
    options.output = tmp / ("level" + std::to_string(level) + ".tar.zst");
    RecordingReporter reporter;
    jb::create_archive(options, reporter);
    jb::VerifyResult verified = verify_file(options.output);
    CHECK(verified.ok());
    REQUIRE(verified.manifest);
    CHECK(verified.manifest->compression_level == level);
  }
}

TEST_CASE("create with several zstd workers gives a valid archive", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "a.tar.zst");
  options.threads = 4;
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(options, reporter);
  jb::VerifyResult verified = verify_file(result.path);
  CHECK(verified.ok());
  CHECK(verified.files == kSampleFiles);
}

TEST_CASE("create: no temporary file is left after success", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_dirs(tmp / "out");
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(sample_options(tmp.path(), tmp / "out"), reporter);
  const std::string name = std::filesystem::path(result.path).filename().string();
  CHECK(list_dir(tmp / "out") == std::vector<std::string>{name, name + ".xxh128"});
}

TEST_CASE("create: the sidecar is xxh128sum's line over the whole archive", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_dirs(tmp / "out");
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(sample_options(tmp.path(), tmp / "out/a.tar.zst"), reporter);
  CHECK(result.sidecar == tmp / "out/a.tar.zst.xxh128");
  CHECK(read_file(result.sidecar) == jb::format_sidecar(jb::Xxh128::hex_of(read_file(result.path)), "a.tar.zst"));
  CHECK(reporter.warnings.empty());
}

TEST_CASE("create: an unwritable sidecar is a warning; the archive stands", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_dirs(tmp / "out");
  // A directory where the sidecar's temporary file would go cannot be replaced by it.
  make_dirs(tmp / "out/a.tar.zst.xxh128");
  write_file(tmp / "out/a.tar.zst.xxh128/keep", "x");
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(sample_options(tmp.path(), tmp / "out/a.tar.zst"), reporter);
  CHECK(result.sidecar.empty());
  REQUIRE(reporter.warnings.size() == 1);
  CHECK_THAT(reporter.warnings[0], Catch::Contains("sidecar was not written"));
  CHECK(std::filesystem::is_regular_file(result.path));
}

TEST_CASE("create: a failure while streaming leaves nothing in the output directory",
          "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_dirs(tmp / "out");
  ThrowingReporter reporter;
  CHECK_THROWS_WITH(jb::create_archive(sample_options(tmp.path(), tmp / "out/a.tar.zst"), reporter),
                    "reporter gave up");
  CHECK(list_dir(tmp / "out").empty());
}

TEST_CASE("create: an unreadable file fails the run and leaves nothing behind", "[create]") {
  if (::geteuid() == 0) {
    WARN("running as root, which reads every file: skipped");
    return;
  }
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_dirs(tmp / "out");
  REQUIRE(::chmod((tmp / "data/data/jellyfin.db").c_str(), 0) == 0);
  RecordingReporter reporter;
  try {
    jb::create_archive(sample_options(tmp.path(), tmp / "out"), reporter);
    FAIL("an unreadable file was archived");
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kRuntime);
    CHECK(std::string(e.what()).find("jellyfin.db") != std::string::npos);
  }
  CHECK(list_dir(tmp / "out").empty());
}

TEST_CASE("create: an interrupt while streaming removes the partial archive", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_dirs(tmp / "out");
  jb::install_interrupt_handlers();
  InterruptingReporter reporter;
  try {
    jb::create_archive(sample_options(tmp.path(), tmp / "out/a.tar.zst"), reporter);
    FAIL("create_archive ignored SIGINT");
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kInterrupted);
    CHECK(std::string(e.what()).find("SIGINT") != std::string::npos);
  }
  CHECK(reporter.raised);
  CHECK(jb::interrupted_signal() == SIGINT);
  jb::reset_interrupted_for_testing();
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  CHECK(list_dir(tmp / "out").empty());
}

namespace {

// Runs create over the sample trees with `change` applied between plan and
// stream, and returns the error it must end with; the output stays empty.
jb::Error create_with_change(const TempDir& tmp, const std::function<void()>& change) {
  make_dirs(tmp / "out");
  jb::CreateOptions options = sample_options(tmp.path(), tmp / "out");
  options.planned = change;
  RecordingReporter reporter;
  try {
    jb::create_archive(options, reporter);
  } catch (const jb::Error& e) {
    CHECK(list_dir(tmp / "out").empty());
    return e;
  }
  FAIL("create_archive read a tree that changed under it");
  return jb::Error(jb::ErrorKind::kRefused, "unreachable");
}

void require_changed_error(const jb::Error& e, const std::string& path) {
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK(std::string(e.what()) == path + ": changed while the backup ran (the tree changed under us: "
                                        "is the server running?)");
  CHECK(e.hint() == "no archive was written");
}

// A root-only directory shaped like data/metadata, holding a secret.
void make_secret_dir(const std::string& dir) {
  make_dirs(dir + "/library/ab");
  write_file(dir + "/library/ab/poster.jpg", "SECRET " + std::string(4993, 's'));
  write_file(dir + "/shadow", "SECRET shadow\n");
}

}  // namespace

TEST_CASE("create: a directory swapped for a symlink after planning is an error, never followed",
          "[create][root_safe]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_secret_dir(tmp / "etc");
  jb::Error e = create_with_change(tmp, [&] {
    REQUIRE(::rename((tmp / "data/metadata").c_str(), (tmp / "metadata.old").c_str()) == 0);
    REQUIRE(::symlink((tmp / "etc").c_str(), (tmp / "data/metadata").c_str()) == 0);
  });
  require_changed_error(e, tmp / "data/metadata");
}

TEST_CASE("create: a directory higher up swapped for a symlink is caught at that directory",
          "[create][root_safe]") {
  // data/metadata/library is reached through the fd of data/metadata, and
  // its own open does not follow the link put in its place.
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_secret_dir(tmp / "etc");
  jb::Error e = create_with_change(tmp, [&] {
    REQUIRE(::rename((tmp / "data/metadata/library").c_str(), (tmp / "library.old").c_str()) == 0);
    REQUIRE(::symlink((tmp / "etc/library").c_str(), (tmp / "data/metadata/library").c_str()) == 0);
  });
  require_changed_error(e, tmp / "data/metadata/library");
}

TEST_CASE("create: a directory replaced by another real directory is an error",
          "[create][root_safe]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  jb::Error e = create_with_change(tmp, [&] {
    // Same names, same contents, another inode: not what was planned.
    REQUIRE(::rename((tmp / "data/metadata/library").c_str(), (tmp / "library.old").c_str()) == 0);
    make_dirs(tmp / "data/metadata/library/ab");
    write_file(tmp / "data/metadata/library/ab/poster.jpg", std::string(5000, '\x7f'));
  });
  require_changed_error(e, tmp / "data/metadata/library");
}

TEST_CASE("create: a file replaced by another file or a symlink is an error", "[create][root_safe]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  make_secret_dir(tmp / "etc");
  const std::string db = tmp / "data/data/jellyfin.db";
  // Each change keeps the old file, so the new one cannot get its inode number.
  SECTION("another file") {
    jb::Error e = create_with_change(tmp, [&] {
      REQUIRE(::rename(db.c_str(), (tmp / "old.db").c_str()) == 0);
      write_file(db, "x");
    });
    require_changed_error(e, db);
  }
  SECTION("a symlink to a secret") {
    jb::Error e = create_with_change(tmp, [&] {
      REQUIRE(::rename(db.c_str(), (tmp / "old.db").c_str()) == 0);
      REQUIRE(::symlink((tmp / "etc/shadow").c_str(), db.c_str()) == 0);
    });
    require_changed_error(e, db);
  }
  SECTION("a hardlink to a secret") {
    jb::Error e = create_with_change(tmp, [&] {
      REQUIRE(::rename(db.c_str(), (tmp / "old.db").c_str()) == 0);
      REQUIRE(::link((tmp / "etc/shadow").c_str(), db.c_str()) == 0);
    });
    require_changed_error(e, db);
  }
}

TEST_CASE("create: a file replaced by a FIFO is an error, not a hang", "[create][root_safe]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  const std::string db = tmp / "data/data/jellyfin.db";
  jb::Error e = create_with_change(tmp, [&] {
    REQUIRE(::unlink(db.c_str()) == 0);
    REQUIRE(::mkfifo(db.c_str(), 0644) == 0);
  });
  require_changed_error(e, db);
}

TEST_CASE("create: a symlink replaced by another symlink is an error", "[create][root_safe]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  const std::string link = tmp / "data/metadata/device-link";
  jb::Error e = create_with_change(tmp, [&] {
    // The old link is kept, so the new one cannot get its inode number.
    REQUIRE(::rename(link.c_str(), (tmp / "old-link").c_str()) == 0);
    REQUIRE(::symlink("/etc/shadow", link.c_str()) == 0);
  });
  require_changed_error(e, link);
}

TEST_CASE("create: a vanished file is an error naming it", "[create][root_safe]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  const std::string file = tmp / "config/dlna/profile.xml";
  jb::Error e = create_with_change(tmp, [&] { REQUIRE(::unlink(file.c_str()) == 0); });
  require_changed_error(e, file);
}

TEST_CASE("create: symlinks are stored with their target, read without a path", "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  const std::string long_target(3000, 'l');  // longer than any first guess of a buffer
  REQUIRE(::symlink(long_target.c_str(), (tmp / "data/long-link").c_str()) == 0);
  make_dirs(tmp / "out");
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(sample_options(tmp.path(), tmp / "out/a.tar.zst"), reporter);

  struct Targets : jb::EntryConsumer {
    void begin_entry(archive_entry* entry) override {
      if (archive_entry_filetype(entry) == AE_IFLNK)
        links[archive_entry_pathname(entry)] = archive_entry_symlink(entry);
    }
    void data(const jb::DataBlock&) override {}
    void end_entry() override {}
    std::map<std::string, std::string> links;
  } targets;
  StringSource source(read_file(result.path), 64 * 1024);
  RecordingReporter verify_reporter;
  CHECK(jb::verify_archive(source, verify_reporter, &targets).ok());
  CHECK(targets.links == std::map<std::string, std::string>{
                             {"data/long-link", long_target},
                             {"data/metadata/device-link", "../data/device.txt"}});
}

TEST_CASE("create: setuid/setgid files and device nodes are stored with a warning", "[create][root_safe]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  write_file(tmp / "data/suid", "#!/bin/sh\n", 0755);
  REQUIRE(::chmod((tmp / "data/suid").c_str(), 04755) == 0);
  write_file(tmp / "data/sgid", "#!/bin/sh\n", 0755);
  REQUIRE(::chmod((tmp / "data/sgid").c_str(), 02755) == 0);
  make_dirs(tmp / "data/shared");  // a setgid directory is ordinary: no warning
  REQUIRE(::chmod((tmp / "data/shared").c_str(), 02775) == 0);
  const bool root = ::geteuid() == 0;
  if (root) REQUIRE(::mknod((tmp / "data/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
  make_dirs(tmp / "out");
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(sample_options(tmp.path(), tmp / "out/a.tar.zst"), reporter);

  std::vector<std::string> expected = {
      tmp / "data/sgid" + ": setuid/setgid file stored; restore refuses it unless --allow-special",
      tmp / "data/suid" + ": setuid/setgid file stored; restore refuses it unless --allow-special",
  };
  if (root)
    expected.insert(expected.begin(),
                    tmp / "data/null" + ": device node stored; restore refuses it unless --allow-special");
  else
    WARN("not root, cannot make a device node: only setuid/setgid checked");
  CHECK(reporter.warnings == expected);
  CHECK(result.warnings == expected);
  CHECK(verify_file(result.path).ok());
}

TEST_CASE("create: old trees a restore kept inside a tree are left out, found by name prefix",
          "[create]") {
  TempDir tmp;
  make_sample_trees(tmp.path());
  const std::string old_name = ".jellyfin-backup-old.bak-20260101T000000Z";
  make_dirs(tmp / ("data/" + old_name + "/data"));
  write_file(tmp / ("data/" + old_name + "/data/jellyfin.db"), "old");
  make_dirs(tmp / "data/.jellyfin-backup-other");  // another prefix: kept
  const std::string root = real_path(tmp.path());
  jb::CreateOptions options = sample_options(root, tmp / "a.tar.zst");
  RecordingReporter reporter;
  jb::CreateResult result = jb::create_archive(options, reporter);
  REQUIRE(result.left_out.size() == 1);
  CHECK(result.left_out[0].kind == "previous tree");
  CHECK(result.left_out[0].path == "data/" + old_name);
  CHECK(result.left_out[0].source == root + "/data/" + old_name);
  Listing l = list_archive(result.path);
  CHECK(l.verified.ok());
  CHECK_FALSE(has_path_below(l.paths, "data/" + old_name));
  CHECK(has_path_below(l.paths, "data/.jellyfin-backup-other"));
}
