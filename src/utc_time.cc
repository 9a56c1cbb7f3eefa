#include "jellyfin_backup/utc_time.h"

#include <cstdio>

namespace jb {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil), and the inverse.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month, day, hour, minute, second;
};

Civil civil_from_seconds(std::int64_t t) {
  std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  const auto secs = static_cast<unsigned>(t - days * 86400);
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d, secs / 3600, secs / 60 % 60, secs % 60};
}

std::string format(std::int64_t t, const char* pattern) {
  const Civil c = civil_from_seconds(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, pattern, static_cast<long long>(c.year), c.month, c.day, c.hour, c.minute,
                c.second);
  return buf;
}

// `text` in the shape of `mask`: Y, M, D, h, m, s stand for a digit of
// that field, anything else for itself ("YYYY-MM-DDThh:mm:ssZ").
std::optional<std::int64_t> parse(std::string_view text, std::string_view mask) {
  if (text.size() != mask.size()) return std::nullopt;
  static constexpr std::string_view kFields = "YMDhms";
  int value[6] = {};
  for (std::size_t i = 0; i < mask.size(); ++i) {
    const auto field = kFields.find(mask[i]);
    if (field == std::string_view::npos) {
      if (text[i] != mask[i]) return std::nullopt;
    } else {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value[field] = value[field] * 10 + (text[i] - '0');
    }
  }
  return utc_seconds(value[0], value[1], value[2], value[3], value[4], value[5]);
}

}  // namespace

std::optional<std::int64_t> utc_seconds(int year, int month, int day, int hour, int minute, int second) {
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
      second < 0 || second > 59)
    return std::nullopt;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kDays[month - 1] || (month == 2 && day == 29 && !leap)) return std::nullopt;
  return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
         hour * 3600 + minute * 60 + second;
}

std::string utc_iso(std::int64_t t) { return format(t, "%04lld-%02u-%02uT%02u:%02u:%02uZ"); }
std::string utc_compact(std::int64_t t) { return format(t, "%04lld%02u%02uT%02u%02u%02uZ"); }

std::optional<std::int64_t> parse_utc_iso(std::string_view text) { return parse(text, "YYYY-MM-DDThh:mm:ssZ"); }
std::optional<std::int64_t> parse_utc_compact(std::string_view text) { return parse(text, "YYYYMMDDThhmmssZ"); }

}  // namespace jb
