#include "jellyfin_backup/archive/check_record.h"

#include <ctime>

#include <nlohmann/json.hpp>

#include "jellyfin_backup/utc_time.h"
#include "jellyfin_backup/version.h"

namespace jb {
namespace {

constexpr std::size_t kMaxProblemBytes = 1000;

// Cut at a character boundary, so the JSON stays valid UTF-8.
std::string cut(const std::string& text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "...";
}

// Equal when both sides know the value; an unknown (0) proves nothing and
// refutes nothing.
bool same_if_known(std::int64_t a, std::int64_t b) { return a == 0 || b == 0 || a == b; }

bool is_hex32(const std::string& s) {
  if (s.size() != 32) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::string check_record_name(const std::string& archive_name) { return archive_name + ".checked"; }

std::string format_check_record(const CheckRecord& r) {
  nlohmann::json j = {{"archive", r.archive},
                      {"result", r.ok ? "ok" : "damaged"},
                      {"checked", utc_iso(r.checked)},
                      {"size", r.size},
                      {"mtime", r.mtime},
                      {"mtime_nsec", r.mtime_nsec},
                      {"ctime", r.ctime},
                      {"ctime_nsec", r.ctime_nsec},
                      {"xxh128", r.xxh128},
                      {"tool", r.tool}};
  if (!r.ok) {
    j["problem"] = cut(r.problem, kMaxProblemBytes);
    j["bad_entries"] = r.bad_entries;
  }
  // Names of odd bytes are replaced, not refused: the record is a note.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::optional<CheckRecord> parse_check_record(const std::string& text, const std::string& archive_name) {
  if (text.size() > kMaxCheckRecordBytes || text.empty() || text.back() != '\n') return std::nullopt;
  if (text.find('\n') != text.size() - 1) return std::nullopt;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object()) return std::nullopt;
    CheckRecord r;
    r.archive = j.at("archive").get<std::string>();
    if (r.archive != archive_name) return std::nullopt;
    const std::string result = j.at("result").get<std::string>();
    if (result != "ok" && result != "damaged") return std::nullopt;
    r.ok = result == "ok";
    const auto checked = parse_utc_iso(j.at("checked").get<std::string>());
    if (!checked) return std::nullopt;
    r.checked = *checked;
    r.size = j.at("size").get<std::uint64_t>();
    r.mtime = j.at("mtime").get<std::int64_t>();
    r.mtime_nsec = j.at("mtime_nsec").get<std::int64_t>();
    r.ctime = j.at("ctime").get<std::int64_t>();
    r.ctime_nsec = j.at("ctime_nsec").get<std::int64_t>();
    r.xxh128 = j.at("xxh128").get<std::string>();
    if (!is_hex32(r.xxh128)) return std::nullopt;
    r.tool = j.value("tool", std::string());
    if (!r.ok) {
      r.problem = j.value("problem", std::string());
      r.bad_entries = j.value("bad_entries", std::uint64_t{0});
    }
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

bool binds(const CheckRecord& r, const StoredFile& archive, const std::optional<std::string>& sidecar_hex) {
  if (r.archive != archive.name || r.size != archive.size) return false;
  // A time the store does not know (0) cannot tie the record to the file.
  if (r.mtime == 0 || archive.mtime == 0 || r.mtime != archive.mtime) return false;
  if (!same_if_known(r.mtime_nsec, archive.mtime_nsec)) return false;
  if (!same_if_known(r.ctime, archive.ctime)) return false;
  if (r.ctime != 0 && archive.ctime != 0 && !same_if_known(r.ctime_nsec, archive.ctime_nsec)) return false;
  // "ok" must agree with everything known of the file; "damaged" is about
  // these bytes, whose hash no sidecar of a good archive has.
  if (r.ok && sidecar_hex && *sidecar_hex != r.xxh128) return false;
  return true;
}

CheckRecord make_check_record(const StoredFile& archive, bool ok, std::string xxh128, std::string problem,
                              std::uint64_t bad_entries) {
  CheckRecord r;
  r.archive = archive.name;
  r.ok = ok;
  r.checked = static_cast<std::int64_t>(std::time(nullptr));
  r.size = archive.size;
  r.mtime = archive.mtime;
  r.mtime_nsec = archive.mtime_nsec;
  r.ctime = archive.ctime;
  r.ctime_nsec = archive.ctime_nsec;
  r.xxh128 = std::move(xxh128);
  r.problem = std::move(problem);
  r.bad_entries = bad_entries;
  r.tool = std::string("jellyfin-backup ") + kToolVersion;
  return r;
}

void write_check_record(const Store& store, const CheckRecord& record) {
  store.write_small(check_record_name(record.archive), format_check_record(record));
}

}  // namespace jb
