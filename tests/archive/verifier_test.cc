#include "jellyfin_backup/archive/verifier.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/archive/checksum_list.h"
#include "jellyfin_backup/archive/frame_compressor.h"
#include "jellyfin_backup/archive/manifest.h"
#include "jellyfin_backup/archive/xxh128.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/verify/verify.h"
#include "test_util.h"

using jb::Manifest;
using jb::Problem;
using jb::VerifyResult;
using jb::test::RecordingReporter;
using jb::test::StringSink;
using jb::test::StringSource;

// ---------------------------------------------------------------------------
// Helpers: hand-made archives, written with libarchive directly so they can
// be wrong in every way the Verifier must notice.
namespace {

constexpr std::uint64_t kArchiveWide = UINT64_MAX;

struct Spec {
  std::string path;
  unsigned type = AE_IFREG;
  std::string data;   // regular files: the (logical) content
  std::string link;   // symlink or hardlink target
  bool hardlink = false;
  std::vector<std::pair<std::int64_t, std::int64_t>> sparse;  // data regions
};

Spec reg(std::string path, std::string data) {
  Spec s;
  s.path = std::move(path);
  s.data = std::move(data);
  return s;
}
Spec dir(std::string path) {
  Spec s;
  s.path = std::move(path);
  s.type = AE_IFDIR;
  return s;
}
Spec slink(std::string path, std::string target) {
  Spec s;
  s.path = std::move(path);
  s.type = AE_IFLNK;
  s.link = std::move(target);
  return s;
}
Spec hlink(std::string path, std::string target) {
  Spec s;
  s.path = std::move(path);
  s.link = std::move(target);
  s.hardlink = true;
  return s;
}

la_ssize_t append_to_string(archive*, void* out, const void* buf, size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), size);
  return static_cast<la_ssize_t>(size);
}

// A pax tar of `specs`, in order, with libarchive's default 10240-byte
// block padding (zero padding after the end marker must be fine).
std::string tar_of(const std::vector<Spec>& specs) {
  std::string out;
  jb::ArchiveWritePtr a(archive_write_new());
  REQUIRE(archive_write_set_format_pax(a.get()) == ARCHIVE_OK);
  REQUIRE(archive_write_open2(a.get(), &out, nullptr, append_to_string, nullptr, nullptr) ==
          ARCHIVE_OK);
  for (const auto& s : specs) {
    jb::ArchiveEntryPtr e(archive_entry_new());
    archive_entry_copy_pathname(e.get(), s.path.c_str());
    archive_entry_set_filetype(e.get(), s.type);
    archive_entry_set_perm(e.get(), s.type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_mtime(e.get(), 1700000000, 0);
    archive_entry_set_size(e.get(), 0);
    if (s.type == AE_IFLNK) archive_entry_copy_symlink(e.get(), s.link.c_str());
    if (s.hardlink) archive_entry_copy_hardlink(e.get(), s.link.c_str());
    bool has_data = s.type == AE_IFREG && !s.hardlink;
    if (has_data) archive_entry_set_size(e.get(), static_cast<la_int64_t>(s.data.size()));
    for (auto [offset, length] : s.sparse) archive_entry_sparse_add_entry(e.get(), offset, length);
    INFO("writing " << s.path);
    REQUIRE(archive_write_header(a.get(), e.get()) == ARCHIVE_OK);
    if (has_data && !s.data.empty())
      REQUIRE(archive_write_data(a.get(), s.data.data(), s.data.size()) ==
              static_cast<la_ssize_t>(s.data.size()));
    REQUIRE(archive_write_finish_entry(a.get()) == ARCHIVE_OK);
  }
  REQUIRE(archive_write_close(a.get()) == ARCHIVE_OK);
  return out;
}

std::string compress(const std::string& tar) {
  StringSink sink;
  jb::FrameCompressor c(sink, 3, 0);
  c.write(tar.data(), tar.size());
  c.end_frame();
  return sink.bytes;
}

VerifyResult verify_bytes(const std::string& zst) {
  StringSource source(zst, 4096);
  RecordingReporter reporter;
  VerifyResult result = jb::verify_archive(source, reporter);
  CHECK(reporter.warnings.empty());
  return result;
}

VerifyResult verify_specs(const std::vector<Spec>& specs) {
  return verify_bytes(compress(tar_of(specs)));
}

std::string tree_of(const std::string& path) { return path.substr(0, path.find('/')); }

const std::string& data_of(const std::vector<Spec>& specs, const std::string& path) {
  for (const auto& s : specs)
    if (s.path == path && !s.hardlink) return s.data;
  FAIL("no file " << path);
  throw std::logic_error("unreachable");
}

// A manifest with trees config/ and data/ whose counts match `tree`.
Manifest manifest_for(const std::vector<Spec>& tree) {
  Manifest m;
  m.format_version = jb::format::kFormatVersion;
  m.tool_version = "test";
  m.created = "2026-11-25T10:15:00Z";
  m.host = "test-host";
  m.trees = {{"config", "/etc/jellyfin", 0, 0, 0}, {"data", "/var/lib/jellyfin", 0, 0, 0}};
  m.compression_level = 3;
  m.frame_bytes = jb::format::kFrameTargetBytes;
  for (const auto& s : tree) {
    for (auto& t : m.trees) {
      if (t.name != tree_of(s.path)) continue;
      ++t.entries;
      if (s.type == AE_IFREG) ++t.files;
      if (s.type == AE_IFREG && !s.hardlink) t.bytes += s.data.size();
    }
  }
  return m;
}

// The CHECKSUMS.xxh128 that create would write: the manifest, then every
// regular file (hardlinks with their target's sum).
std::string checksums_for(const std::string& manifest_text, const std::vector<Spec>& tree) {
  std::string text = jb::format_checksum_line(jb::Xxh128::hex_of(manifest_text), "MANIFEST.json");
  for (const auto& s : tree) {
    if (s.type != AE_IFREG) continue;
    const std::string& data = s.hardlink ? data_of(tree, s.link) : s.data;
    text += jb::format_checksum_line(jb::Xxh128::hex_of(data), s.path);
  }
  return text;
}

std::vector<Spec> archive_of(const std::vector<Spec>& tree, const std::string& manifest_text,
                             const std::string& checksums) {
  std::vector<Spec> all = {reg("MANIFEST.json", manifest_text)};
  all.insert(all.end(), tree.begin(), tree.end());
  all.push_back(reg("CHECKSUMS.xxh128", checksums));
  return all;
}

// MANIFEST.json + `tree` + CHECKSUMS.xxh128, all consistent.
std::vector<Spec> archive_of(const std::vector<Spec>& tree) {
  const std::string manifest = manifest_for(tree).serialize();
  return archive_of(tree, manifest, checksums_for(manifest, tree));
}

// A small pair of trees like create makes them.
std::vector<Spec> sample_tree() {
  std::string db(70000, 'x');
  for (std::size_t i = 0; i < db.size(); i += 7) db[i] = static_cast<char>(i * 31);
  return {
      dir("config/"),
      reg("config/system.xml", "<ServerConfiguration></ServerConfiguration>\n"),
      dir("config/dlna/"),
      reg("config/dlna/profile.xml", "<Profile/>\n"),
      dir("data/"),
      dir("data/data/"),
      reg("data/data/device.txt", "abcdef0123456789\n"),
      reg("data/data/jellyfin.db", db),
      hlink("data/data/device-hardlink", "data/data/device.txt"),
      slink("data/device-link", "data/device.txt"),
      reg("data/empty.txt", ""),
  };
}

std::string describe(const VerifyResult& r) {
  std::ostringstream out;
  out << r.problems.size() << " problem(s):";
  for (const auto& p : r.problems) {
    out << "\n  [" << (p.entry_index == kArchiveWide ? std::string("archive")
                                                      : std::to_string(p.entry_index))
        << "] " << p.path << ": " << p.problem;
    if (!p.expected.empty() || !p.actual.empty())
      out << " (expected " << p.expected << ", actual " << p.actual << ")";
  }
  return out.str();
}

// The first problem of `path` whose text contains `text`, or nullptr.
const Problem* find_problem(const VerifyResult& r, const std::string& path,
                            const std::string& text) {
  for (const auto& p : r.problems)
    if (p.path == path && p.problem.find(text) != std::string::npos) return &p;
  return nullptr;
}

bool has_problem(const VerifyResult& r, const std::string& path, const std::string& text) {
  return find_problem(r, path, text) != nullptr;
}

}  // namespace

// ---------------------------------------------------------------------------
// Good archives.

TEST_CASE("an archive made by create verifies", "[verifier]") {
  jb::test::TempDir tmp;
  jb::test::make_sample_trees(tmp.path());
  const std::string bytes = jb::test::archive_bytes_of(tmp.path());

  const VerifyResult r = verify_bytes(bytes);
  INFO(describe(r));
  CHECK(r.ok());
  CHECK(r.bad_entries == 0);
  REQUIRE(r.manifest.has_value());
  CHECK(r.manifest->format_version == 1);
  REQUIRE(r.manifest->find_tree("config") != nullptr);
  REQUIRE(r.manifest->find_tree("data") != nullptr);
  // 5 regular files and one hardlink.
  CHECK(r.files == 6);
  CHECK(r.files == r.manifest->total_files());
  CHECK(r.bytes == r.manifest->total_bytes());
  CHECK(r.bytes == 44 + 11 + 300000 + 17 + 5000);
  CHECK(r.frames >= 2);  // the manifest sits alone in frame 1
  CHECK(r.compressed_bytes == bytes.size());
}

TEST_CASE("a hand-made consistent archive verifies", "[verifier]") {
  const auto tree = sample_tree();
  const VerifyResult r = verify_specs(archive_of(tree));
  INFO(describe(r));
  CHECK(r.ok());
  REQUIRE(r.manifest.has_value());
  CHECK(r.manifest->host == "test-host");
  CHECK(r.files == 6);  // 5 regular files and the hardlink
  CHECK(r.bytes == 44 + 11 + 17 + 70000);
  CHECK(r.entries == tree.size() + 2);
  CHECK(r.frames == 1);
}

TEST_CASE("directories may be named with or without a trailing slash", "[verifier]") {
  const VerifyResult r = verify_specs(archive_of({dir("config"), dir("data"), dir("data/x")}));
  INFO(describe(r));
  CHECK(r.ok());
}

TEST_CASE("holes of sparse files hash as zeros", "[verifier]") {
  std::string content(64 * 1024, '\0');
  for (std::size_t i = 0; i < 4096; ++i) {
    content[i] = static_cast<char>('a' + i % 26);
    content[32768 + i] = static_cast<char>('A' + i % 26);
  }
  Spec sparse = reg("data/sparse.db", content);
  sparse.sparse = {{0, 4096}, {32768, 4096}};  // and a trailing hole
  const VerifyResult r = verify_specs(archive_of({dir("data/"), sparse}));
  INFO(describe(r));
  CHECK(r.ok());
  CHECK(r.bytes == content.size());
}

// ---------------------------------------------------------------------------
// The manifest.

TEST_CASE("an archive whose first entry is not MANIFEST.json is refused", "[verifier]") {
  const auto tree = sample_tree();
  std::vector<Spec> specs = archive_of(tree);

  SECTION("a tree entry first") {
    std::swap(specs[0], specs[1]);
  }
  SECTION("MANIFEST.json as a directory") {
    specs[0] = dir("MANIFEST.json");
  }
  SECTION("MANIFEST.json as a hardlink") {
    specs.insert(specs.begin(), hlink("MANIFEST.json", "config/system.xml"));
    specs.erase(specs.begin() + 1);
  }
  SECTION("MANIFEST.json under another name") {
    specs[0].path = "manifest.json";
  }
  const VerifyResult r = verify_specs(specs);
  INFO(describe(r));
  CHECK_FALSE(r.ok());
  CHECK_FALSE(r.manifest.has_value());
  REQUIRE(r.problems.size() == 1);  // nothing after it can be judged
  CHECK_THAT(r.problems[0].problem, Catch::Contains("first entry is") &&
                                        Catch::Contains("not MANIFEST.json"));
  CHECK(r.problems[0].entry_index == 0);
}

TEST_CASE("an empty tar is not an archive", "[verifier]") {
  const VerifyResult r = verify_specs({});
  INFO(describe(r));
  CHECK_FALSE(r.manifest.has_value());
  CHECK(has_problem(r, "", "no MANIFEST.json"));
}

TEST_CASE("an invalid manifest is refused", "[verifier]") {
  const auto tree = sample_tree();
  const Manifest m = manifest_for(tree);

  SECTION("not JSON") {
    const VerifyResult r = verify_specs(archive_of(tree, "{ not json", ""));
    INFO(describe(r));
    REQUIRE(r.problems.size() == 1);
    CHECK_THAT(r.problems[0].problem, Catch::Contains("MANIFEST.json") &&
                                          Catch::Contains("not valid JSON"));
    CHECK_FALSE(r.manifest.has_value());
  }
  SECTION("a newer format version") {
    Manifest newer = m;
    newer.format_version = 2;
    const std::string text = newer.serialize();
    const VerifyResult r = verify_specs(archive_of(tree, text, checksums_for(text, tree)));
    INFO(describe(r));
    REQUIRE(r.problems.size() == 1);
    CHECK_THAT(r.problems[0].problem, Catch::Contains("newer"));
    CHECK_FALSE(r.manifest.has_value());
  }
}

// ---------------------------------------------------------------------------
// Unsafe or misplaced entries.

TEST_CASE("unsafe paths are refused", "[verifier]") {
  struct Case {
    Spec entry;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {reg("/etc/passwd", "root:x:0:0"), "absolute path"},
      {reg("/data/x", "abc"), "absolute path"},
      {reg("data/../../etc/passwd", "x"), "'..' path component"},
      {reg("data/..", "x"), "'..' path component"},
      {reg("../data/x", "x"), "'..' path component"},
      {reg("data/./x", "x"), "'.' path component"},
      {reg("./data/x", "x"), "'.' path component"},
      {reg("data//x", "x"), "empty path component"},
      {reg("cache/x", "x"), "outside the archive's trees"},
      {reg("config2/x", "x"), "outside the archive's trees"},
      {reg("Data/x", "x"), "outside the archive's trees"},
      {reg("x", "x"), "outside the archive's trees"},
      {reg("MANIFEST.json", "{}"), "outside the archive's trees"},
      {dir("etc/"), "outside the archive's trees"},
      {slink("evil", "/etc/passwd"), "outside the archive's trees"},
  };
  for (const auto& c : cases) {
    INFO("entry " << c.entry.path);
    // The bad entry sits between good ones; it is not counted in the
    // manifest, so the counts must not complain about it.
    std::vector<Spec> tree = {dir("data/"), reg("data/a", "a")};
    const std::string manifest = manifest_for(tree).serialize();
    const std::string checksums = checksums_for(manifest, tree);
    tree.insert(tree.begin() + 1, c.entry);
    const VerifyResult r = verify_specs(archive_of(tree, manifest, checksums));
    INFO(describe(r));
    std::string reported = c.entry.path;
    if (c.entry.type == AE_IFDIR && reported.back() == '/') reported.pop_back();
    const Problem* p = find_problem(r, reported, c.problem);
    REQUIRE(p != nullptr);
    CHECK(p->entry_index == 2);  // MANIFEST.json, data/, then it
    // Rejected entries are neither hashed nor counted: this is the only problem
    // (a regular file's missing checksum line included).
    CHECK(r.problems.size() == 1);
    CHECK(r.bad_entries == 1);
  }
}

TEST_CASE("a tree the manifest does not list is outside the archive", "[verifier]") {
  std::vector<Spec> tree = {dir("config/"), reg("config/a", "a")};
  Manifest m = manifest_for(tree);
  m.trees.pop_back();  // config only
  const std::string text = m.serialize();
  const std::string sums = checksums_for(text, tree);
  tree.push_back(reg("data/b", "b"));
  const VerifyResult r = verify_specs(archive_of(tree, text, sums));
  INFO(describe(r));
  CHECK(has_problem(r, "data/b", "outside the archive's trees"));
  CHECK(r.problems.size() == 1);
}

TEST_CASE("duplicate entries are refused", "[verifier]") {
  SECTION("the same file twice") {
    std::vector<Spec> tree = {dir("data/"), reg("data/a", "first")};
    const std::string text = manifest_for(tree).serialize();
    const std::string sums = checksums_for(text, tree);
    tree.push_back(reg("data/a", "second"));
    const VerifyResult r = verify_specs(archive_of(tree, text, sums));
    INFO(describe(r));
    const Problem* p = find_problem(r, "data/a", "duplicate entry");
    REQUIRE(p != nullptr);
    CHECK(p->entry_index == 3);
    CHECK(r.problems.size() == 1);  // the first one stands, checksum and all
  }
  SECTION("a directory with and without its slash") {
    std::vector<Spec> tree = {dir("data/"), dir("data/sub/")};
    const std::string text = manifest_for(tree).serialize();
    const std::string sums = checksums_for(text, tree);
    tree.push_back(dir("data/sub"));
    const VerifyResult r = verify_specs(archive_of(tree, text, sums));
    INFO(describe(r));
    CHECK(has_problem(r, "data/sub", "duplicate entry"));
  }
}

TEST_CASE("hardlinks must point to an earlier regular file", "[verifier]") {
  std::vector<Spec> tree = {dir("data/"), reg("data/a", "content of a")};
  const std::string text = manifest_for(tree).serialize();
  const std::string sums = checksums_for(text, tree);

  SECTION("a missing target") {
    tree.push_back(hlink("data/b", "data/nowhere"));
  }
  SECTION("a later target") {
    tree.insert(tree.begin() + 1, hlink("data/b", "data/a"));
  }
  SECTION("a directory") {
    tree.push_back(hlink("data/b", "data"));
  }
  SECTION("itself") {
    tree.push_back(hlink("data/b", "data/b"));
  }
  // Counted by the manifest, so that the link itself is what is judged.
  const VerifyResult r = verify_specs(archive_of(tree, manifest_for(tree).serialize(), sums));
  INFO(describe(r));
  CHECK(has_problem(r, "data/b", "hardlink to"));
  CHECK_FALSE(r.ok());
}

TEST_CASE("a hardlink to an earlier file carries that file's checksum", "[verifier]") {
  const std::vector<Spec> tree = {dir("data/"), reg("data/a", "content of a"),
                                  hlink("data/b", "data/a")};
  std::string text = manifest_for(tree).serialize();
  std::string sums = checksums_for(text, tree);
  CHECK(verify_specs(archive_of(tree, text, sums)).ok());

  // If the list gives the link another sum, the link is what mismatches.
  const std::string wrong = jb::Xxh128::hex_of("something else");
  sums = checksums_for(text, {tree[0], tree[1]}) + jb::format_checksum_line(wrong, "data/b");
  const VerifyResult r = verify_specs(archive_of(tree, text, sums));
  INFO(describe(r));
  const Problem* p = find_problem(r, "data/b", "checksum mismatch");
  REQUIRE(p != nullptr);
  CHECK(p->expected == wrong);
  CHECK(p->actual == jb::Xxh128::hex_of("content of a"));
  CHECK(r.problems.size() == 1);
}

// ---------------------------------------------------------------------------
// CHECKSUMS.xxh128 against the data.

TEST_CASE("a file whose data does not match its checksum", "[verifier]") {
  auto tree = sample_tree();
  const std::string text = manifest_for(tree).serialize();
  const std::string sums = checksums_for(text, tree);
  // Same size, one byte different: the counts still match.
  for (auto& s : tree)
    if (s.path == "data/data/jellyfin.db") s.data[40000] ^= 1;
  const VerifyResult r = verify_specs(archive_of(tree, text, sums));
  INFO(describe(r));
  REQUIRE(r.problems.size() == 1);
  const Problem& p = r.problems[0];
  CHECK(p.path == "data/data/jellyfin.db");
  CHECK(p.problem == "checksum mismatch");
  std::string original;
  for (const auto& s : sample_tree())
    if (s.path == "data/data/jellyfin.db") original = s.data;
  CHECK(p.expected == jb::Xxh128::hex_of(original));
  CHECK(p.actual == jb::Xxh128::hex_of(data_of(tree, "data/data/jellyfin.db")));
  CHECK(p.expected != p.actual);
  CHECK(p.entry_index == 8);  // its place in the archive
  CHECK(r.bad_entries == 1);
}

TEST_CASE("a file listed but missing from the archive", "[verifier]") {
  auto tree = sample_tree();
  const std::string text = manifest_for(tree).serialize();
  std::string sums = checksums_for(text, tree);
  sums += jb::format_checksum_line(jb::Xxh128::hex_of("gone"), "data/gone.txt");
  const VerifyResult r = verify_specs(archive_of(tree, text, sums));
  INFO(describe(r));
  CHECK(has_problem(r, "data/gone.txt", "listed in CHECKSUMS.xxh128 but missing"));
  CHECK(has_problem(r, "CHECKSUMS.xxh128", "lists more files than the manifest announced (6, "));
  CHECK(r.problems.size() == 2);
}

TEST_CASE("a file not listed in CHECKSUMS.xxh128", "[verifier]") {
  auto tree = sample_tree();
  const std::string text = manifest_for(tree).serialize();
  std::vector<Spec> listed;
  for (const auto& s : tree)
    if (s.path != "config/dlna/profile.xml") listed.push_back(s);
  const std::string sums = checksums_for(text, listed);
  const VerifyResult r = verify_specs(archive_of(tree, text, sums));
  INFO(describe(r));
  const Problem* p = find_problem(r, "config/dlna/profile.xml", "not listed in CHECKSUMS.xxh128");
  REQUIRE(p != nullptr);
  CHECK(p->entry_index == 4);
  CHECK(r.problems.size() == 1);
}

TEST_CASE("the manifest itself must be listed", "[verifier]") {
  const auto tree = sample_tree();
  const std::string text = manifest_for(tree).serialize();
  std::string sums = checksums_for(text, tree);
  sums.erase(0, sums.find('\n') + 1);  // drop the MANIFEST.json line
  const VerifyResult r = verify_specs(archive_of(tree, text, sums));
  INFO(describe(r));
  const Problem* p = find_problem(r, "MANIFEST.json", "not listed");
  REQUIRE(p != nullptr);
  CHECK(p->entry_index == 0);
}

TEST_CASE("a malformed checksum list is a problem of the list", "[verifier]") {
  const auto tree = sample_tree();
  const std::string text = manifest_for(tree).serialize();
  std::string sums = checksums_for(text, tree);

  SECTION("a bad line") {
    sums += "this is not an xxh128sum line\n";
    const VerifyResult r = verify_specs(archive_of(tree, text, sums));
    INFO(describe(r));
    CHECK(has_problem(r, "CHECKSUMS.xxh128", "line 8"));
    CHECK_FALSE(r.ok());
  }
  SECTION("no final newline") {
    sums.pop_back();
    const VerifyResult r = verify_specs(archive_of(tree, text, sums));
    INFO(describe(r));
    CHECK(has_problem(r, "CHECKSUMS.xxh128", "missing final newline"));
  }
  SECTION("a path listed twice") {
    sums += jb::format_checksum_line(jb::Xxh128::hex_of("<Profile/>\n"), "config/dlna/profile.xml");
    const VerifyResult r = verify_specs(archive_of(tree, text, sums));
    INFO(describe(r));
    CHECK(has_problem(r, "CHECKSUMS.xxh128", "lists \"config/dlna/profile.xml\" twice"));
    CHECK(has_problem(r, "CHECKSUMS.xxh128", "lists more files than the manifest announced"));
    CHECK(r.problems.size() == 2);
  }
}

TEST_CASE("CHECKSUMS.xxh128 must be a regular file", "[verifier]") {
  auto tree = sample_tree();
  auto specs = archive_of(tree);
  specs.back() = slink("CHECKSUMS.xxh128", "config/system.xml");
  const VerifyResult r = verify_specs(specs);
  INFO(describe(r));
  CHECK(has_problem(r, "CHECKSUMS.xxh128", "not a plausible checksum list"));
  CHECK(has_problem(r, "", "no CHECKSUMS.xxh128 trailer"));
}

// ---------------------------------------------------------------------------
// Order and completeness.

TEST_CASE("nothing may follow the CHECKSUMS.xxh128 trailer", "[verifier]") {
  auto specs = archive_of(sample_tree());
  specs.push_back(reg("data/late.txt", "too late"));
  specs.push_back(reg("CHECKSUMS.xxh128", "again"));
  const VerifyResult r = verify_specs(specs);
  INFO(describe(r));
  const Problem* p = find_problem(r, "data/late.txt", "entry after the CHECKSUMS.xxh128 trailer");
  REQUIRE(p != nullptr);
  CHECK(p->entry_index == specs.size() - 2);
  // Reading stops there: nothing after the trailer is judged or kept.
  CHECK(r.problems.size() == 1);
  CHECK(r.bad_entries == 1);
}

TEST_CASE("problems are capped: refused entries cannot pile up without end", "[verifier]") {
  // Duplicates are refused without being counted per tree; each leaves a
  // problem, and no more than a thousand are kept before reading stops.
  auto tree = sample_tree();
  const std::string text = manifest_for(tree).serialize();
  auto specs = archive_of(tree, text, checksums_for(text, tree));
  specs.pop_back();  // the trailer
  for (int i = 0; i < 1500; ++i) specs.push_back(reg("data/empty.txt", ""));
  const VerifyResult r = verify_specs(specs);
  REQUIRE(r.problems.size() == 1001);
  CHECK(r.problems[0].problem == "duplicate entry");
  CHECK_THAT(r.problems.back().problem,
             Catch::Contains("more than 1000 problems: the rest of the archive was not read"));
}

TEST_CASE("an archive without the trailer is incomplete", "[verifier]") {
  auto specs = archive_of(sample_tree());
  specs.pop_back();
  const VerifyResult r = verify_specs(specs);
  INFO(describe(r));
  const Problem* p = find_problem(r, "", "no CHECKSUMS.xxh128 trailer");
  REQUIRE(p != nullptr);
  CHECK(p->entry_index == kArchiveWide);
  CHECK(r.problems.size() == 1);
}

TEST_CASE("an archive that stops between entries is incomplete", "[verifier]") {
  // The tar layer accepts a tar without end-of-archive blocks; the missing
  // trailer and counts are what give it away.
  auto tree = sample_tree();
  const std::string text = manifest_for(tree).serialize();
  const std::string sums = checksums_for(text, tree);
  std::vector<Spec> first_half = {reg("MANIFEST.json", text)};
  first_half.insert(first_half.end(), tree.begin(), tree.begin() + 4);
  std::string tar = tar_of(first_half);
  // Drop the end-of-archive marker and padding: keep up to the last data block.
  while (tar.size() >= 512 && tar.find_first_not_of('\0', tar.size() - 512) == std::string::npos)
    tar.resize(tar.size() - 512);
  const VerifyResult r = verify_bytes(compress(tar));
  INFO(describe(r));
  CHECK(has_problem(r, "", "no CHECKSUMS.xxh128 trailer"));
  CHECK(has_problem(r, "", "tree data/: the manifest announces"));
}

TEST_CASE("counts must equal the manifest's", "[verifier]") {
  const auto tree = sample_tree();
  const Manifest good = manifest_for(tree);

  auto verify_with = [&tree](const Manifest& m) {
    const std::string text = m.serialize();
    return verify_specs(archive_of(tree, text, checksums_for(text, tree)));
  };

  SECTION("files") {
    Manifest m = good;
    m.trees[1].files += 1;
    const VerifyResult r = verify_with(m);
    INFO(describe(r));
    REQUIRE(r.problems.size() == 1);
    const Problem& p = r.problems[0];
    CHECK(p.path.empty());
    CHECK(p.entry_index == kArchiveWide);
    CHECK_THAT(p.problem, Catch::Contains("tree data/") && Catch::Contains("files"));
    CHECK(p.expected == std::to_string(good.trees[1].files + 1));
    CHECK(p.actual == std::to_string(good.trees[1].files));
  }
  SECTION("fewer entries than announced") {
    Manifest m = good;
    m.trees[0].entries += 1;
    const VerifyResult r = verify_with(m);
    INFO(describe(r));
    REQUIRE(r.problems.size() == 1);
    CHECK_THAT(r.problems[0].problem, Catch::Contains("tree config/") &&
                                          Catch::Contains("entries"));
    CHECK(r.problems[0].expected == std::to_string(good.trees[0].entries + 1));
    CHECK(r.problems[0].actual == std::to_string(good.trees[0].entries));
  }
  SECTION("more entries than announced: refused at the first one too many") {
    Manifest m = good;
    m.trees[0].entries -= 1;
    const VerifyResult r = verify_with(m);
    INFO(describe(r));
    REQUIRE(r.problems.size() == 1);  // reading stopped: no count or checksum noise
    CHECK(r.problems[0].path == "config/dlna/profile.xml");
    CHECK_THAT(r.problems[0].problem,
               Catch::Contains("more entries than the manifest announced for config/"));
    CHECK(r.problems[0].expected == std::to_string(good.trees[0].entries - 1) + " entries");
  }
  SECTION("more files than announced: refused at the first one too many") {
    Manifest m = good;
    m.trees[0].files -= 1;
    const VerifyResult r = verify_with(m);
    INFO(describe(r));
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].path == "config/dlna/profile.xml");
    CHECK_THAT(r.problems[0].problem,
               Catch::Contains("more files than the manifest announced for config/"));
  }
  SECTION("fewer bytes than announced") {
    Manifest m = good;
    m.trees[0].bytes += 10;
    const VerifyResult r = verify_with(m);
    INFO(describe(r));
    REQUIRE(r.problems.size() == 1);
    CHECK_THAT(r.problems[0].problem, Catch::Contains("tree config/") &&
                                          Catch::Contains("bytes"));
    CHECK(r.problems[0].expected == std::to_string(good.trees[0].bytes + 10));
    CHECK(r.problems[0].actual == std::to_string(good.trees[0].bytes));
  }
  SECTION("an announced tree that is empty") {
    std::vector<Spec> config_only = {dir("config/"), reg("config/a", "a")};
    Manifest m = manifest_for(config_only);
    m.trees[1].entries = 1;  // data/ announced with its root directory
    const std::string text = m.serialize();
    const VerifyResult r =
        verify_specs(archive_of(config_only, text, checksums_for(text, config_only)));
    INFO(describe(r));
    CHECK(has_problem(r, "", "tree data/: the manifest announces 1 entries"));
  }
}

TEST_CASE("more bytes than the manifest announced", "[verifier]") {
  const auto tree = sample_tree();
  Manifest m = manifest_for(tree);
  m.trees[1].bytes -= 1;  // data/ holds one byte more than announced
  const std::string text = m.serialize();
  const VerifyResult r = verify_specs(archive_of(tree, text, checksums_for(text, tree)));
  INFO(describe(r));
  // data/data/device.txt (17 bytes) fits; data/data/jellyfin.db does not.
  const Problem* p = find_problem(r, "data/data/jellyfin.db", "more data than the manifest announced");
  REQUIRE(p != nullptr);
  CHECK(p->entry_index == 8);
  CHECK(p->expected == std::to_string(m.trees[1].bytes) + " bytes");
  CHECK(p->actual == "at least " + std::to_string(17 + 70000) + " bytes");
  CHECK_FALSE(r.ok());
}

TEST_CASE("problems come in archive order, archive-wide ones last", "[verifier]") {
  auto tree = sample_tree();
  Manifest m = manifest_for(tree);
  m.trees[0].files += 5;  // an archive-wide count problem
  const std::string text = m.serialize();
  std::string sums = checksums_for(text, tree);
  for (auto& s : tree)
    if (s.path == "data/data/device.txt") s.data[0] ^= 1;  // found late, belongs early
  tree.insert(tree.begin() + 1, reg("/abs", "x"));        // found early
  tree.push_back(reg("zzz", "x"));                        // found late
  const VerifyResult r = verify_specs(archive_of(tree, text, sums));
  INFO(describe(r));
  REQUIRE(r.problems.size() >= 4);
  for (std::size_t i = 1; i < r.problems.size(); ++i)
    CHECK(r.problems[i - 1].entry_index <= r.problems[i].entry_index);
  CHECK(r.problems.front().path == "/abs");
  CHECK(r.problems.back().entry_index == kArchiveWide);
  CHECK(has_problem(r, "data/data/device.txt", "checksum mismatch"));
  CHECK(has_problem(r, "data/data/device-hardlink", "checksum mismatch"));
  CHECK(has_problem(r, "zzz", "outside"));
  // /abs, device.txt, its hardlink, zzz and the archive-wide one.
  CHECK(r.bad_entries == 5);
}

TEST_CASE("an entry beneath a symlink is unsafe to extract", "[verifier]") {
  // Regression: the Verifier once checked each path's components but not
  // whether a parent is a symlink from an earlier entry. "data/link" -> "/etc" then
  // "data/link/cron.d/x" is accepted, yet an extractor writing it would
  // write /etc/cron.d/x: the classic tar symlink escape.
  std::vector<Spec> tree = {dir("data/"), slink("data/link", "/etc"),
                            reg("data/link/cron.d/x", "* * * * * root sh -c evil\n")};
  const VerifyResult r = verify_specs(archive_of(tree));
  INFO(describe(r));
  CHECK(has_problem(r, "data/link/cron.d/x", ""));
}

// ---------------------------------------------------------------------------
// The Verifier driven directly: what libarchive's writer cannot produce but
// a hostile tar can.

namespace {

jb::ArchiveEntryPtr entry(const std::string& path, unsigned type, std::int64_t size,
                          const char* hardlink_target = nullptr) {
  jb::ArchiveEntryPtr e(archive_entry_new());
  archive_entry_copy_pathname(e.get(), path.c_str());
  archive_entry_set_filetype(e.get(), type);
  archive_entry_set_size(e.get(), size);
  if (hardlink_target) archive_entry_copy_hardlink(e.get(), hardlink_target);
  return e;
}

void feed(jb::Verifier& v, const std::string& path, const std::string& data,
          unsigned type = AE_IFREG) {
  auto e = entry(path, type, static_cast<std::int64_t>(data.size()));
  bool accepted = v.begin_entry(e.get());
  if (accepted && !data.empty()) v.data({0, data});
  v.end_entry();
}

// A Verifier that has read a manifest with a data/ tree of `files`/`bytes`.
void start(jb::Verifier& v, std::uint64_t files = 1, std::uint64_t bytes = 100) {
  Manifest m = manifest_for({});
  m.trees[1].files = files;
  m.trees[1].bytes = bytes;
  m.trees[1].entries = files;
  feed(v, "MANIFEST.json", m.serialize());
  REQUIRE(v.manifest().has_value());
}

}  // namespace

TEST_CASE("Verifier: overlapping data blocks", "[verifier]") {
  jb::Verifier v;
  start(v);
  auto e = entry("data/f", AE_IFREG, 10);
  REQUIRE(v.begin_entry(e.get()));
  v.data({0, "abcdef"});
  v.data({3, "defghij"});
  v.end_entry();
  CHECK(v.problems().size() == 1);
  CHECK(v.problems()[0].path == "data/f");
  CHECK(v.problems()[0].problem == "overlapping data blocks");
}

TEST_CASE("Verifier: more data than the header states", "[verifier]") {
  jb::Verifier v;
  start(v);
  auto e = entry("data/f", AE_IFREG, 4);
  REQUIRE(v.begin_entry(e.get()));
  v.data({0, "abcdef"});
  v.end_entry();
  REQUIRE(v.problems().size() == 1);
  CHECK(v.problems()[0].problem == "more data than its header states");
}

TEST_CASE("Verifier: blocks with gaps hash the gaps as zeros", "[verifier]") {
  jb::Verifier v;
  start(v);
  auto e = entry("data/f", AE_IFREG, 20);
  REQUIRE(v.begin_entry(e.get()));
  v.data({2, "ab"});
  v.data({10, "cd"});
  v.end_entry();
  const std::string expected = std::string(2, '\0') + "ab" + std::string(6, '\0') + "cd" +
                               std::string(8, '\0');
  std::string sums = jb::format_checksum_line(jb::Xxh128::hex_of(expected), "data/f");
  // Complete the archive; only the manifest's own line is missing.
  auto c = entry("CHECKSUMS.xxh128", AE_IFREG, static_cast<std::int64_t>(sums.size()));
  REQUIRE(v.begin_entry(c.get()));
  v.data({0, sums});
  v.end_entry();
  v.finish();
  CHECK(v.files_verified() == 1);
  CHECK(v.bytes_verified() == 20);
  REQUIRE(v.problems().size() == 2);  // MANIFEST.json not listed; 20 of 100 bytes
  CHECK(v.problems()[0].path == "MANIFEST.json");
  CHECK(v.problems()[1].expected == "100");
  CHECK(v.problems()[1].actual == "20");
}

TEST_CASE("Verifier: a hardlink entry with data", "[verifier]") {
  jb::Verifier v;
  start(v, 2, 100);
  feed(v, "data/a", "aaa");
  auto e = entry("data/b", AE_IFREG, 3, "data/a");
  CHECK_FALSE(v.begin_entry(e.get()));
  v.end_entry();
  REQUIRE(v.problems().size() == 1);
  CHECK(v.problems()[0].problem == "hardlink entry carries data");
}

TEST_CASE("Verifier: begin_entry tells an extractor what not to write", "[verifier]") {
  jb::Verifier v;
  start(v, 10, 1000);
  auto ok_dir = entry("data/", AE_IFDIR, 0);
  CHECK(v.begin_entry(ok_dir.get()));
  v.end_entry();
  auto ok_link = entry("data/l", AE_IFLNK, 0);
  CHECK(v.begin_entry(ok_link.get()));
  v.end_entry();
  auto fifo = entry("data/fifo", AE_IFIFO, 0);
  CHECK(v.begin_entry(fifo.get()));
  v.end_entry();
  auto bad = entry("data/../x", AE_IFREG, 0);
  CHECK_FALSE(v.begin_entry(bad.get()));
  v.end_entry();
  auto empty = entry("", AE_IFREG, 0);
  CHECK_FALSE(v.begin_entry(empty.get()));
  v.end_entry();
  auto socket = entry("data/sock", AE_IFSOCK, 0);
  CHECK_FALSE(v.begin_entry(socket.get()));
  v.end_entry();
  CHECK(v.entries() == 7);
  REQUIRE(v.problems().size() == 3);
  CHECK(v.problems()[1].path == "(empty name)");
  CHECK(v.problems()[2].problem == "unsupported entry type");
}

TEST_CASE("Verifier: a malformed or huge manifest throws", "[verifier]") {
  jb::Verifier v;
  SECTION("implausibly large") {
    auto e = entry("MANIFEST.json", AE_IFREG,
                   static_cast<std::int64_t>(jb::format::kMaxManifestBytes + 1));
    try {
      v.begin_entry(e.get());
      FAIL("accepted");
    } catch (const jb::Error& err) {
      CHECK(err.kind() == jb::ErrorKind::kDamaged);
      CHECK_THAT(std::string(err.what()), Catch::Contains("implausibly large"));
    }
  }
  SECTION("data at the wrong offset") {
    auto e = entry("MANIFEST.json", AE_IFREG, 10);
    REQUIRE(v.begin_entry(e.get()));
    CHECK_THROWS_AS(v.data({4, "abc"}), jb::Error);
  }
  SECTION("more data than its size") {
    auto e = entry("MANIFEST.json", AE_IFREG, 2);
    REQUIRE(v.begin_entry(e.get()));
    CHECK_THROWS_AS(v.data({0, "abc"}), jb::Error);
  }
  SECTION("shorter than its size") {
    auto e = entry("MANIFEST.json", AE_IFREG, 10);
    REQUIRE(v.begin_entry(e.get()));
    v.data({0, "{}"});
    CHECK_THROWS_AS(v.end_entry(), jb::Error);
  }
}

TEST_CASE("Verifier: a stream failure skips the completeness checks", "[verifier]") {
  jb::Verifier v;
  start(v, 5, 100);
  auto e = entry("data/f", AE_IFREG, 50);
  REQUIRE(v.begin_entry(e.get()));
  v.data({0, "partial"});
  v.stream_failed("zstd frame 2 (at byte 1234): archive is truncated");
  v.finish();
  REQUIRE(v.problems().size() == 1);  // no trailer or count complaints
  CHECK(v.problems()[0].path == "data/f");
  CHECK(v.problems()[0].entry_index == 1);
  CHECK_THAT(v.problems()[0].problem, Catch::Contains("truncated"));
  CHECK_FALSE(v.ok());
}

// ---------------------------------------------------------------------------
// Hostile archives: special files, bounds, depth (issue 11, points 4, 5, 9).

namespace {

jb::ArchiveEntryPtr special_entry(const std::string& path, unsigned type, mode_t perm,
                                  std::int64_t size = 0) {
  auto e = entry(path, type, size);
  archive_entry_set_perm(e.get(), perm);
  if (type == AE_IFCHR || type == AE_IFBLK) {
    archive_entry_set_rdevmajor(e.get(), 1);
    archive_entry_set_rdevminor(e.get(), 3);
  }
  return e;
}

}  // namespace

TEST_CASE("Verifier: device nodes and setuid/setgid files by policy", "[verifier]") {
  using Special = jb::VerifierPolicy::Special;
  struct Case {
    const char* path;
    unsigned type;
    mode_t perm;
    const char* what;
  };
  const Case cases[] = {
      {"data/null", AE_IFCHR, 0666, "character device 1:3"},
      {"data/loop", AE_IFBLK, 0660, "block device 1:3"},
      {"data/suid", AE_IFREG, 04755, "setuid file (mode 4755)"},
      {"data/sgid", AE_IFREG, 02755, "setgid file (mode 2755)"},
      {"data/both", AE_IFREG, 06755, "setuid and setgid file (mode 6755)"},
  };
  for (const Case& c : cases) {
    INFO(c.path);
    SECTION(std::string("refused for a restore: ") + c.path) {
      jb::Verifier v(jb::VerifierPolicy{Special::kRefuse});
      start(v, 1, 100);
      auto e = special_entry(c.path, c.type, c.perm);
      CHECK_FALSE(v.begin_entry(e.get()));
      CHECK(v.stopped());
      v.finish();
      REQUIRE(v.problems().size() == 1);  // no completeness noise after the stop
      CHECK(v.problems()[0].path == c.path);
      CHECK_THAT(v.problems()[0].problem,
                 Catch::StartsWith(c.what) && Catch::Contains("--allow-special"));
      CHECK(v.notes().empty());
    }
    for (Special policy : {Special::kNote, Special::kAllow}) {
      SECTION(std::string("noted: ") + c.path + (policy == Special::kNote ? " verify" : " allow")) {
        jb::Verifier v(jb::VerifierPolicy{policy});
        start(v, 1, 100);
        auto e = special_entry(c.path, c.type, c.perm);
        CHECK(v.begin_entry(e.get()));
        v.end_entry();
        CHECK_FALSE(v.stopped());
        CHECK(v.problems().empty());
        REQUIRE(v.notes().size() == 1);
        CHECK(v.notes()[0].path == c.path);
        CHECK(v.notes()[0].problem == c.what);
      }
    }
  }
  SECTION("what the jellyfin user could make itself is no special file") {
    jb::Verifier v(jb::VerifierPolicy{Special::kRefuse});
    start(v, 3, 100);
    for (auto& e : {special_entry("data/fifo", AE_IFIFO, 0644),
                    special_entry("data/sgid-dir", AE_IFDIR, 02775),
                    special_entry("data/sticky", AE_IFREG, 01644)}) {
      CHECK(v.begin_entry(e.get()));
      v.end_entry();
    }
    CHECK(v.problems().empty());
    CHECK(v.notes().empty());
  }
}

TEST_CASE("Verifier: depth is bounded, and refused before anything is kept", "[verifier]") {
  std::string deepest = "data";
  for (std::size_t i = 1; i < jb::format::kMaxDepth; ++i) deepest += "/d";
  SECTION("kMaxDepth levels below the tree root are fine") {
    jb::Verifier v;
    start(v, 1, 100);
    feed(v, deepest + "/f", "x");
    CHECK(v.problems().empty());
  }
  SECTION("one more is refused, naming the entry, and reading stops") {
    jb::Verifier v;
    start(v, 1, 100);
    auto e = entry(deepest + "/d/f", AE_IFREG, 1);
    CHECK_FALSE(v.begin_entry(e.get()));
    CHECK(v.stopped());
    REQUIRE(v.problems().size() == 1);
    CHECK(v.problems()[0].path == deepest + "/d/f");
    CHECK_THAT(v.problems()[0].problem,
               Catch::Contains("lies " + std::to_string(jb::format::kMaxDepth + 1) + " levels deep"));
  }
  SECTION("20,000 levels (the 869-byte archive of the issue): refused at once") {
    std::string path = "data";
    for (int i = 0; i < 20000; ++i) path += "/d";
    jb::Verifier v;
    start(v, 1, 100);
    auto e = entry(path, AE_IFDIR, 0);
    CHECK_FALSE(v.begin_entry(e.get()));
    CHECK(v.stopped());
  }
  SECTION("a component longer than NAME_MAX") {
    jb::Verifier v;
    start(v, 1, 100);
    auto e = entry("data/" + std::string(256, 'n'), AE_IFREG, 1);
    CHECK_FALSE(v.begin_entry(e.get()));
    REQUIRE(v.problems().size() == 1);
    CHECK_THAT(v.problems()[0].problem, Catch::Contains("longer than 255 bytes"));
  }
}

TEST_CASE("Verifier: CHECKSUMS.xxh128 is bounded by the files of the archive", "[verifier]") {
  SECTION("a list longer than the files seen can need: refused from its header") {
    // The 1.7 MB archive listing 4 million absent files: its size
    // alone gives it away, and not a byte of it is buffered.
    jb::Verifier v;
    start(v, 1, 100);
    feed(v, "data/f", "x");
    auto c = entry("CHECKSUMS.xxh128", AE_IFREG, 4'000'000LL * 48);
    CHECK_FALSE(v.begin_entry(c.get()));
    CHECK(v.stopped());
    v.finish();
    REQUIRE(v.problems().size() == 1);
    CHECK(v.problems()[0].path == "CHECKSUMS.xxh128");
    CHECK_THAT(v.problems()[0].problem, Catch::Contains("larger than the list of this archive's 2 files"));
  }
  SECTION("within that size, no more lines than the manifest announced files") {
    // Long names seen, short names listed: the size fits, the line count
    // does not. Nothing is kept per line, so the rest is still compared.
    jb::Verifier v;
    start(v, 1, 100);
    const std::string name = "data/" + std::string(200, 'n');
    feed(v, name, "x");
    std::string sums;
    for (int i = 0; i < 6; ++i)
      sums += jb::format_checksum_line(jb::Xxh128::hex_of("x"), "data/" + std::to_string(i));
    auto c = entry("CHECKSUMS.xxh128", AE_IFREG, static_cast<std::int64_t>(sums.size()));
    REQUIRE(v.begin_entry(c.get()));
    v.data({0, sums});
    v.end_entry();
    v.finish();
    INFO(v.problems().size());
    CHECK(std::any_of(v.problems().begin(), v.problems().end(), [](const Problem& p) {
      return p.path == "CHECKSUMS.xxh128" &&
             p.problem == "lists more files than the manifest announced (1, and MANIFEST.json)";
    }));
    CHECK(std::any_of(v.problems().begin(), v.problems().end(), [](const Problem& p) {
      return p.path == "data/5" && p.problem.find("but missing") != std::string::npos;
    }));
  }
}

TEST_CASE("bytes hidden in an archive are refused", "[verifier]") {
  const auto tree = sample_tree();
  SECTION("after a NUL in MANIFEST.json") {
    const std::string text = manifest_for(tree).serialize() + std::string(1, '\0') + "payload";
    const VerifyResult r = verify_specs(archive_of(tree, text, checksums_for(text, tree)));
    INFO(describe(r));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.problems[0].problem, Catch::Contains("MANIFEST.json: NUL byte at offset"));
  }
  SECTION("an endless run of zeros after the tar end") {
    const std::string tar = tar_of(archive_of(tree)) + std::string(64 * 1024, '\0');
    const VerifyResult r = verify_bytes(compress(tar));
    INFO(describe(r));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.problems[0].problem, Catch::Contains("bytes of padding after the end of the tar"));
  }
  SECTION("a skippable frame before or after the archive") {
    std::string skip(8, '\0');
    const std::uint32_t magic = 0x184D2A5A, size = 0xFFFFFFF0;  // 4 GiB announced, none there
    for (int i = 0; i < 4; ++i) {
      skip[i] = static_cast<char>(magic >> (8 * i));
      skip[4 + i] = static_cast<char>(size >> (8 * i));
    }
    const std::string zst = compress(tar_of(archive_of(tree)));
    for (const std::string& bytes : {skip + zst, zst + skip}) {
      const VerifyResult r = verify_bytes(bytes);
      INFO(describe(r));
      REQUIRE_FALSE(r.ok());
      CHECK_THAT(describe(r), Catch::Contains("skippable frame (magic 0x184D2A5A, 4294967280 bytes)"));
    }
  }
}
