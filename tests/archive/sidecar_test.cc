#include "jellyfin_backup/archive/sidecar.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "jellyfin_backup/archive/xxh128.h"
#include "jellyfin_backup/io/store.h"
#include "test_util.h"

using jb::format_sidecar;
using jb::parse_sidecar;
using jb::sidecar_name;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

const std::string kName = "jellyfin.20261125T031500Z_10.11.0.tar.zst";
const std::string kHex = "0123456789abcdef0123456789abcdef";

// Only write_small matters to write_sidecar; the rest fails loudly.
class SmallFileStore : public jb::Store {
 public:
  const jb::Location& location() const override { return location_; }
  std::vector<jb::StoredFile> list() const override { throw std::logic_error("unused"); }
  std::optional<jb::StoredFile> stat(const std::string&) const override {
    throw std::logic_error("unused");
  }
  std::unique_ptr<jb::Source> open(const std::string&, std::optional<std::uint64_t>) const override {
    throw std::logic_error("unused");
  }
  std::unique_ptr<jb::Sink> create(const std::string&, std::optional<std::uint64_t>) const override {
    throw std::logic_error("unused");
  }
  std::optional<std::string> read_small(const std::string& name, std::size_t) const override {
    auto it = files.find(name);
    if (it == files.end()) return std::nullopt;
    return it->second;
  }
  void write_small(const std::string& name, const std::string& content) const override {
    files[name] = content;
  }
  void remove(const std::string& name) const override { files.erase(name); }
  std::string lock_path() const override { return "unused"; }

  mutable std::map<std::string, std::string> files;

 private:
  jb::Location location_{jb::Location::Kind::kLocal, "/nowhere"};
};

bool have_xxh128sum() { return std::system("command -v xxh128sum >/dev/null 2>&1") == 0; }

std::string output_of(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  char buf[256];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  ::pclose(pipe);
  return out;
}

}  // namespace

TEST_CASE("sidecar: name and line format", "[sidecar]") {
  CHECK(sidecar_name(kName) == kName + ".xxh128");
  CHECK(format_sidecar(kHex, kName) == kHex + "  " + kName + "\n");
}

TEST_CASE("sidecar: parse accepts exactly one line naming the archive", "[sidecar]") {
  CHECK(parse_sidecar(format_sidecar(kHex, kName), kName) == kHex);
  // A path with directories, as `xxh128sum /srv/backups/NAME` writes it.
  CHECK(parse_sidecar(kHex + "  /srv/backups/" + kName + "\n", kName) == kHex);
  CHECK(parse_sidecar(kHex + "  ./" + kName + "\n", kName) == kHex);

  CHECK_FALSE(parse_sidecar("", kName));
  CHECK_FALSE(parse_sidecar(kHex + "  " + kName, kName));  // no final newline
  CHECK_FALSE(parse_sidecar(kHex + "  other.tar.zst\n", kName));
  CHECK_FALSE(parse_sidecar(kHex + "  x" + kName + "\n", kName));
  CHECK_FALSE(parse_sidecar(kHex + "  " + kName + "/\n", kName));
  CHECK_FALSE(parse_sidecar(format_sidecar(kHex, kName) + format_sidecar(kHex, kName), kName));
  CHECK_FALSE(parse_sidecar(kHex + " " + kName + "\n", kName));   // one space
  CHECK_FALSE(parse_sidecar(kHex + " *" + kName + "\n", kName));  // binary-mode marker
  CHECK_FALSE(parse_sidecar("0123456789ABCDEF0123456789ABCDEF  " + kName + "\n", kName));
  CHECK_FALSE(parse_sidecar(kHex.substr(1) + "  " + kName + "\n", kName));
  CHECK_FALSE(parse_sidecar(std::string("\0", 1) + kHex + "  " + kName + "\n", kName));
}

TEST_CASE("sidecar: an odd name round-trips in the escaped form", "[sidecar]") {
  const std::string odd = "a\nb\\c.tar.zst";
  const std::string line = format_sidecar(kHex, odd);
  CHECK(line.front() == '\\');
  CHECK(parse_sidecar(line, odd) == kHex);
}

TEST_CASE("sidecar: write_sidecar replaces the sidecar in the store", "[sidecar]") {
  SmallFileStore store;
  store.files[sidecar_name(kName)] = "old";
  jb::write_sidecar(store, kName, kHex);
  CHECK(store.files.size() == 1);
  CHECK(store.files[sidecar_name(kName)] == format_sidecar(kHex, kName));
  CHECK(parse_sidecar(*store.read_small(sidecar_name(kName), jb::kMaxSidecarBytes), kName) == kHex);
}

TEST_CASE("sidecar: HashingSource and HashingSink hash what passes", "[sidecar]") {
  std::string data(300000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 251);
  const std::string expected = jb::Xxh128::hex_of(data);

  jb::test::StringSource inner(data, 1000);
  jb::HashingSource source(inner);
  CHECK(source.size() == data.size());
  CHECK(source.name() == inner.name());
  std::string read;
  char buf[4096];
  while (std::size_t n = source.read(buf, sizeof buf)) read.append(buf, n);
  CHECK(read == data);
  CHECK(source.bytes() == data.size());
  CHECK(source.hex_digest() == expected);

  jb::test::StringSink out;
  jb::HashingSink sink(out);
  sink.write(data.data(), 1000);
  sink.write(data.data() + 1000, data.size() - 1000);
  sink.commit();
  CHECK(out.committed);
  CHECK(out.bytes == data);
  CHECK(sink.bytes() == data.size());
  CHECK(sink.hex_digest() == expected);
}

TEST_CASE("sidecar: is exactly what xxh128sum prints, and xxh128sum -c accepts it", "[sidecar]") {
  if (!have_xxh128sum()) {
    WARN("xxh128sum is not installed; skipping");
    return;
  }
  TempDir tmp;
  const std::string content = "not really an archive, but bytes all the same\n";
  write_file(tmp / kName, content);
  const std::string sidecar = format_sidecar(jb::Xxh128::hex_of(content), kName);
  write_file(tmp / sidecar_name(kName), sidecar);

  const std::string cd = "cd '" + tmp.path() + "' && ";
  CHECK(output_of(cd + "xxh128sum " + kName) == sidecar);
  CHECK(std::system((cd + "xxh128sum -c " + sidecar_name(kName) + " >/dev/null 2>&1").c_str()) == 0);

  // And what xxh128sum writes, we read.
  CHECK(parse_sidecar(output_of(cd + "xxh128sum " + kName), kName) ==
        jb::Xxh128::hex_of(content));

  write_file(tmp / kName, content + "changed");
  CHECK(std::system((cd + "xxh128sum -c " + sidecar_name(kName) + " >/dev/null 2>&1").c_str()) != 0);
}
