// restic's ApplyPolicy (internal/restic/snapshot_policy.go), rule for rule,
// so that a user who knows `restic forget --keep-*` can predict what prune
// keeps. Only the bucket functions and the two additions at the end are ours.
#include "jellyfin_backup/catalog/retention.h"

#include <time.h>

#include <algorithm>
#include <ctime>
#include <numeric>
#include <set>

namespace jb {
namespace {

// The calendar fields of `t` in the local time zone, as restic reads a
// snapshot's time.Time (which carries its local zone).
std::tm local_fields(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::localtime_r(&tt, &tm);
  return tm;
}

bool is_leap(long year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }
long days_in(long year) { return is_leap(year) ? 366 : 365; }

// ISO 8601 year*100 + week: the week (Monday to Sunday) belongs to the year
// its Thursday falls in, so 2026-12-31 (a Thursday) is in 2026-W53 and
// 2027-01-01 (its Friday) too.
long iso_year_week(const std::tm& tm) {
  long year = tm.tm_year + 1900L;
  long monday_based = (tm.tm_wday + 6) % 7;            // Monday 0 .. Sunday 6
  long thursday = tm.tm_yday - monday_based + 3;       // day of year of this week's Thursday
  if (thursday < 0) {
    --year;
    thursday += days_in(year);
  } else if (thursday >= days_in(year)) {
    thursday -= days_in(year);
    ++year;
  }
  return year * 100 + thursday / 7 + 1;
}

enum class BucketKind { kLast, kHour, kDay, kWeek, kMonth, kYear };

long bucket_of(BucketKind kind, std::int64_t time, long position) {
  if (kind == BucketKind::kLast) return position;  // every item its own bucket
  const std::tm tm = local_fields(time);
  const long y = tm.tm_year + 1900L, m = tm.tm_mon + 1L, d = tm.tm_mday, h = tm.tm_hour;
  switch (kind) {
    case BucketKind::kHour: return y * 1000000 + m * 10000 + d * 100 + h;
    case BucketKind::kDay: return y * 10000 + m * 100 + d;
    case BucketKind::kWeek: return iso_year_week(tm);
    case BucketKind::kMonth: return y * 100 + m;
    default: return y;
  }
}

struct Bucket {
  int count;
  BucketKind kind;
  const char* reason;
  long last = -1;
};

// restic only acts on counts > 0 or == -1, and checks elsewhere that no
// count is below -1. Reading any negative count as "unlimited" keeps that
// safe here too: a count the CLI failed to reject keeps more, never less.
int normalized(int count) { return count < 0 ? -1 : count; }

}  // namespace

bool RetentionPolicy::empty() const {
  return last == 0 && hourly == 0 && daily == 0 && weekly == 0 && monthly == 0 && yearly == 0 &&
         !version_change;
}

std::string RetentionPolicy::describe() const {
  std::vector<std::string> parts;
  auto add = [&](int count, const std::string& unit) {
    count = normalized(count);
    if (count > 0) parts.push_back(std::to_string(count) + " " + unit);
    if (count == -1) parts.push_back("all " + unit);
  };
  if (normalized(last) > 0) parts.push_back("the last " + std::to_string(last));
  if (normalized(last) == -1) parts.push_back("every archive");
  add(hourly, "hourly");
  add(daily, "daily");
  add(weekly, "weekly");
  add(monthly, "monthly");
  add(yearly, "yearly");
  if (version_change) parts.push_back("the newest archive of each Jellyfin version");
  if (parts.empty()) return "keep everything (no --keep-* rule given)";

  std::string out = "keep ";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += parts.size() > 2 ? ", " : " ";
    if (i > 0 && i + 1 == parts.size()) out += "and ";
    out += parts[i];
  }
  return out;
}

std::vector<RetentionDecision> apply_retention(const std::vector<RetentionItem>& items,
                                               const RetentionPolicy& policy) {
  std::vector<RetentionDecision> decisions(items.size());
  if (items.empty()) return decisions;

  // Newest first; a stable sort keeps equal times in the caller's order, so
  // the earlier item counts as newer (restic's sort.Stable does the same).
  std::vector<std::size_t> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return items[a].time > items[b].time; });

  Bucket buckets[] = {
      {normalized(policy.last), BucketKind::kLast, "last"},
      {normalized(policy.hourly), BucketKind::kHour, "hourly"},
      {normalized(policy.daily), BucketKind::kDay, "daily"},
      {normalized(policy.weekly), BucketKind::kWeek, "weekly"},
      {normalized(policy.monthly), BucketKind::kMonth, "monthly"},
      {normalized(policy.yearly), BucketKind::kYear, "yearly"},
  };
  std::set<std::string> versions_seen;

  for (std::size_t nr = 0; nr < order.size(); ++nr) {
    const RetentionItem& item = items[order[nr]];
    RetentionDecision& decision = decisions[order[nr]];
    const bool oldest = nr + 1 == order.size();

    for (Bucket& b : buckets) {
      if (b.count == 0) continue;
      const long val = bucket_of(b.kind, item.time, static_cast<long>(nr));
      // Keeping the oldest item while a rule has count left stretches the
      // history as far back as the rule allows (restic's "oldest" rule).
      if (val == b.last && !oldest) continue;
      decision.keep = true;
      decision.reasons.push_back(val == b.last ? std::string("oldest ") + b.reason : b.reason);
      b.last = val;
      if (b.count > 0) --b.count;
    }

    // Newest first, so the first item of a version is its newest.
    if (policy.version_change && item.version && versions_seen.insert(*item.version).second) {
      decision.keep = true;
      decision.reasons.push_back("version " + *item.version);
    }

    if (nr == 0 && !decision.keep) {
      decision.keep = true;
      decision.reasons.push_back("newest");
    }
  }
  return decisions;
}

}  // namespace jb
