#include "jellyfin_backup/archive/check_record.h"

#include <catch2/catch.hpp>
#include <string>

using jb::CheckRecord;
using jb::StoredFile;

namespace {

const std::string kHex = "0123456789abcdef0123456789abcdef";

StoredFile file() { return {"jellyfin.20261206T031500Z_10.11.0.tar.zst", 4096, 1796527300, 123, 1796527301, 456}; }

}  // namespace

TEST_CASE("check record: one line of JSON that reads back", "[check_record]") {
  const CheckRecord r = jb::make_check_record(file(), false, kHex, "frame 2: content checksum mismatch", 3);
  const std::string text = jb::format_check_record(r);
  CHECK(text.back() == '\n');
  CHECK(text.find('\n') == text.size() - 1);
  CHECK(text.size() <= jb::kMaxCheckRecordBytes);
  const auto back = jb::parse_check_record(text, file().name);
  REQUIRE(back);
  CHECK_FALSE(back->ok);
  CHECK(back->size == 4096);
  CHECK(back->mtime_nsec == 123);
  CHECK(back->ctime == 1796527301);
  CHECK(back->problem == "frame 2: content checksum mismatch");
  CHECK(back->bad_entries == 3);
  CHECK(back->xxh128 == kHex);
  CHECK(jb::check_record_name("a.tar.zst") == "a.tar.zst.checked");
}

TEST_CASE("check record: anything but one well-formed record of this archive is none", "[check_record]") {
  const std::string good = jb::format_check_record(jb::make_check_record(file(), true, kHex));
  CHECK_FALSE(jb::parse_check_record(good, "other.tar.zst"));
  CHECK_FALSE(jb::parse_check_record(good.substr(0, good.size() - 1), file().name));  // no newline
  CHECK_FALSE(jb::parse_check_record(good + good, file().name));                      // two lines
  CHECK_FALSE(jb::parse_check_record("not json\n", file().name));
  CHECK_FALSE(jb::parse_check_record("[1]\n", file().name));
  CHECK_FALSE(jb::parse_check_record(std::string(jb::kMaxCheckRecordBytes + 1, ' '), file().name));
  std::string bad_hex = good;
  bad_hex.replace(bad_hex.find(kHex), 32, std::string(32, 'Z'));
  CHECK_FALSE(jb::parse_check_record(bad_hex, file().name));
  std::string bad_result = good;
  bad_result.replace(bad_result.find("\"ok\""), 4, "\"fine\"");
  CHECK_FALSE(jb::parse_check_record(bad_result, file().name));
}

TEST_CASE("check record: a huge problem is cut, the record stays bounded", "[check_record]") {
  const std::string text =
      jb::format_check_record(jb::make_check_record(file(), false, kHex, std::string(100000, 'x')));
  CHECK(text.size() <= jb::kMaxCheckRecordBytes);
  CHECK(jb::parse_check_record(text, file().name));
}

TEST_CASE("check record: binds only the very file it was written for", "[check_record]") {
  const CheckRecord r = jb::make_check_record(file(), true, kHex);
  CHECK(jb::binds(r, file(), kHex));
  CHECK(jb::binds(r, file(), std::nullopt));
  StoredFile f = file();
  f.size += 1;
  CHECK_FALSE(jb::binds(r, f, kHex));
  f = file();
  f.mtime_nsec += 1;
  CHECK_FALSE(jb::binds(r, f, kHex));
  f = file();
  f.ctime += 1;  // touched and put back: the ctime moved
  CHECK_FALSE(jb::binds(r, f, kHex));
  f = file();
  f.name = "other.tar.zst";
  CHECK_FALSE(jb::binds(r, f, kHex));
  // An "ok" record must agree with the sidecar's hash.
  CHECK_FALSE(jb::binds(r, file(), std::string(32, 'f')));
  // A remote knows no ctime nor nanoseconds: size and mtime decide.
  StoredFile remote{file().name, 4096, 1796527300, 0, 0, 0};
  CHECK(jb::binds(jb::make_check_record(remote, true, kHex), remote, kHex));
  // A time nobody knows ties nothing.
  StoredFile timeless{file().name, 4096, 0, 0, 0, 0};
  CHECK_FALSE(jb::binds(jb::make_check_record(timeless, true, kHex), timeless, kHex));
}
