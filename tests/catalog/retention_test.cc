#include "jellyfin_backup/catalog/retention.h"

#include <time.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"

using jb::apply_retention;
using jb::RetentionDecision;
using jb::RetentionItem;
using jb::RetentionPolicy;
using jb::test::utc;

namespace {

// Sets TZ for one test and restores the previous value: buckets are local time.
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTz() {
    if (old_) ::setenv("TZ", old_->c_str(), 1);
    else ::unsetenv("TZ");
    ::tzset();
  }

 private:
  std::optional<std::string> old_;
};

std::vector<RetentionItem> items_at(const std::vector<std::int64_t>& times) {
  std::vector<RetentionItem> items;
  for (auto t : times) items.push_back({t, std::nullopt});
  return items;
}

std::vector<bool> kept(const std::vector<RetentionDecision>& decisions) {
  std::vector<bool> out;
  for (const auto& d : decisions) out.push_back(d.keep);
  return out;
}

using Reasons = std::vector<std::string>;

}  // namespace

TEST_CASE("retention: restic's documented example, 12 Sundays and --keep-daily 4", "[retention]") {
  ScopedTz tz("UTC");
  // 2019-09-01 .. 2019-11-17, every Sunday at 11:00, oldest first as restic lists them.
  std::vector<std::int64_t> times;
  for (int week = 0; week < 12; ++week) times.push_back(utc(2019, 9, 1, 11) + week * 7 * 86400);
  RetentionPolicy policy;
  policy.daily = 4;
  auto decisions = apply_retention(items_at(times), policy);
  REQUIRE(decisions.size() == 12);
  for (int i = 0; i < 12; ++i) {
    INFO("snapshot " << i);
    CHECK(decisions[i].keep == (i >= 8));
    if (i >= 8) CHECK(decisions[i].reasons == Reasons{"daily"});
    else CHECK(decisions[i].reasons.empty());
  }
}

TEST_CASE("retention: restic's daily backups with --keep-daily 7 --keep-weekly 5", "[retention]") {
  ScopedTz tz("UTC");
  // A year of daily backups ending on Sunday 2026-11-29: the 7 dailies are
  // one whole week, so weekly adds the 4 Sundays before it.
  std::vector<std::int64_t> times;
  const std::int64_t newest = utc(2026, 11, 29, 3);
  for (int day = 0; day < 365; ++day) times.push_back(newest - day * 86400LL);
  RetentionPolicy policy;
  policy.daily = 7;
  policy.weekly = 5;
  auto decisions = apply_retention(items_at(times), policy);
  std::vector<int> kept_days;
  for (int day = 0; day < 365; ++day)
    if (decisions[day].keep) kept_days.push_back(day);
  CHECK(kept_days == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 14, 21, 28});
  CHECK(decisions[0].reasons == Reasons{"daily", "weekly"});
  CHECK(decisions[1].reasons == Reasons{"daily"});
  CHECK(decisions[7].reasons == Reasons{"weekly"});
}

TEST_CASE("retention: --keep-last keeps the newest n", "[retention]") {
  ScopedTz tz("UTC");
  auto items = items_at({utc(2026, 1, 1), utc(2026, 1, 2), utc(2026, 1, 3), utc(2026, 1, 4),
                         utc(2026, 1, 5)});
  RetentionPolicy policy;
  policy.last = 3;
  auto decisions = apply_retention(items, policy);
  CHECK(kept(decisions) == std::vector<bool>{false, false, true, true, true});
  CHECK(decisions[4].reasons == Reasons{"last"});
  CHECK(decisions[2].reasons == Reasons{"last"});
}

TEST_CASE("retention: equal times count the earlier item as newer", "[retention]") {
  ScopedTz tz("UTC");
  const auto t = utc(2026, 5, 5);
  auto items = items_at({utc(2026, 5, 1), t, t, t});
  RetentionPolicy policy;
  policy.last = 1;
  CHECK(kept(apply_retention(items, policy)) == std::vector<bool>{false, true, false, false});
  policy = {};
  policy.daily = 1;
  CHECK(kept(apply_retention(items, policy)) == std::vector<bool>{false, true, false, false});
}

TEST_CASE("retention: -1 is unlimited and keeps the newest of every bucket", "[retention]") {
  ScopedTz tz("UTC");
  // Three days, several archives a day; given in order, newest last.
  auto items = items_at({utc(2026, 2, 1, 8), utc(2026, 2, 1, 20), utc(2026, 2, 2, 1),
                         utc(2026, 2, 2, 23), utc(2026, 2, 3, 4), utc(2026, 2, 3, 5)});
  RetentionPolicy policy;
  policy.daily = -1;
  auto decisions = apply_retention(items, policy);
  // The oldest archive is kept too: the rule has count left when it gets there.
  CHECK(kept(decisions) == std::vector<bool>{true, true, false, true, false, true});
  CHECK(decisions[0].reasons == Reasons{"oldest daily"});
  CHECK(decisions[1].reasons == Reasons{"daily"});

  policy = {};
  policy.last = -1;
  CHECK(kept(apply_retention(items, policy)) == std::vector<bool>(6, true));
}

TEST_CASE("retention: rules are ORed and every matching rule is a reason", "[retention]") {
  ScopedTz tz("UTC");
  // Newest first: Mar 3 12:00, Mar 3 06:00, Mar 2, Feb 10, Jan 20.
  auto items = items_at({utc(2026, 3, 3, 12), utc(2026, 3, 3, 6), utc(2026, 3, 2),
                         utc(2026, 2, 10), utc(2026, 1, 20)});
  RetentionPolicy policy;
  policy.last = 2;
  policy.daily = 2;
  policy.monthly = 2;
  auto decisions = apply_retention(items, policy);
  CHECK(kept(decisions) == std::vector<bool>{true, true, true, true, false});
  CHECK(decisions[0].reasons == Reasons{"last", "daily", "monthly"});
  CHECK(decisions[1].reasons == Reasons{"last"});
  CHECK(decisions[2].reasons == Reasons{"daily"});
  CHECK(decisions[3].reasons == Reasons{"monthly"});
}

TEST_CASE("retention: the oldest item is kept while a rule has count left", "[retention]") {
  ScopedTz tz("UTC");
  // Two days; the last two items share a day.
  auto items = items_at({utc(2026, 4, 2, 12), utc(2026, 4, 1, 12), utc(2026, 4, 1, 8)});
  RetentionPolicy policy;
  policy.daily = 5;
  auto decisions = apply_retention(items, policy);
  CHECK(kept(decisions) == std::vector<bool>{true, true, true});
  CHECK(decisions[2].reasons == Reasons{"oldest daily"});

  // With the count used up, the oldest goes like any other.
  policy.daily = 2;
  decisions = apply_retention(items, policy);
  CHECK(kept(decisions) == std::vector<bool>{true, true, false});

  // An oldest item in a bucket of its own is an ordinary keep.
  policy.daily = 5;
  items = items_at({utc(2026, 4, 3), utc(2026, 4, 2), utc(2026, 4, 1)});
  decisions = apply_retention(items, policy);
  CHECK(decisions[2].reasons == Reasons{"daily"});
}

TEST_CASE("retention: --keep-version-change keeps the newest archive of each version",
          "[retention]") {
  ScopedTz tz("UTC");
  std::vector<RetentionItem> items = {
      {utc(2026, 1, 1), std::string("10.10.7")},
      {utc(2026, 1, 2), std::string("10.10.7")},
      {utc(2026, 1, 3), std::nullopt},
      {utc(2026, 1, 4), std::string("10.11.0")},
      {utc(2026, 1, 5), std::string("10.11.0")},
  };
  RetentionPolicy policy;
  policy.version_change = true;
  auto decisions = apply_retention(items, policy);
  CHECK(kept(decisions) == std::vector<bool>{false, true, false, false, true});
  CHECK(decisions[1].reasons == Reasons{"version 10.10.7"});
  // The newest is kept by the version rule, so "newest" is not added.
  CHECK(decisions[4].reasons == Reasons{"version 10.11.0"});

  policy.last = 1;
  decisions = apply_retention(items, policy);
  CHECK(decisions[4].reasons == Reasons{"last", "version 10.11.0"});
}

TEST_CASE("retention: the newest archive is always kept", "[retention]") {
  ScopedTz tz("UTC");
  std::vector<RetentionItem> items = {
      {utc(2026, 1, 1), std::string("10.10.7")},
      {utc(2026, 1, 2), std::nullopt},
  };
  RetentionPolicy policy;
  policy.version_change = true;
  auto decisions = apply_retention(items, policy);
  CHECK(kept(decisions) == std::vector<bool>{true, true});
  CHECK(decisions[1].reasons == Reasons{"newest"});
  CHECK(decisions[0].reasons == Reasons{"version 10.10.7"});

  CHECK(apply_retention({}, policy).empty());
}

TEST_CASE("retention: weeks are ISO 8601 weeks across year boundaries", "[retention]") {
  ScopedTz tz("UTC");
  RetentionPolicy policy;
  policy.weekly = -1;
  // 2026-12-31 (Thu), 2027-01-01 (Fri) and 2027-01-03 (Sun) are 2026-W53;
  // 2027-01-04 (Mon) starts 2027-W01.
  auto items = items_at({utc(2027, 1, 4), utc(2027, 1, 3), utc(2027, 1, 1), utc(2026, 12, 31),
                         utc(2026, 12, 1)});
  CHECK(kept(apply_retention(items, policy)) == std::vector<bool>{true, true, false, false, true});

  // Every day of 40 years against strftime's %G%V: day d is kept (as the
  // newest of its week) exactly when the next day is in another week.
  char a[16], b[16];
  const std::int64_t start = utc(2000, 1, 1);
  for (int day = 0; day < 40 * 366; ++day) {
    const std::int64_t t = start + day * 86400LL, next = t + 86400;
    auto decisions = apply_retention(items_at({next, t, t - 30 * 86400LL}), policy);
    std::time_t tt = t, tn = next;
    std::tm tm_t{}, tm_n{};
    ::gmtime_r(&tt, &tm_t);
    ::gmtime_r(&tn, &tm_n);
    std::strftime(a, sizeof a, "%G%V", &tm_t);
    std::strftime(b, sizeof b, "%G%V", &tm_n);
    if (decisions[1].keep != (std::string(a) != b)) {
      FAIL("ISO week wrong near " << a << " / " << b << " (day " << day << ")");
    }
  }
}

TEST_CASE("retention: buckets follow the local time zone", "[retention]") {
  // 2026-03-01 10:00Z and 20:00Z: one day in UTC, two in UTC+9.
  auto items = [] {
    return items_at({utc(2026, 3, 1, 20), utc(2026, 3, 1, 10), utc(2026, 1, 1)});
  };
  RetentionPolicy policy;
  policy.daily = -1;
  {
    ScopedTz tz("UTC");
    CHECK(kept(apply_retention(items(), policy)) == std::vector<bool>{true, false, true});
  }
  {
    ScopedTz tz("JST-9");
    CHECK(kept(apply_retention(items(), policy)) == std::vector<bool>{true, true, true});
  }
  {
    // Hours too: 20:10Z and 20:50Z share an hour in UTC; in UTC+5:30 they
    // are 01:40 and 02:20.
    ScopedTz tz("IST-5:30");
    policy = {};
    policy.hourly = -1;
    auto hour_items = items_at({utc(2026, 3, 1, 20, 50), utc(2026, 3, 1, 20, 10), utc(2026, 1, 1)});
    CHECK(kept(apply_retention(hour_items, policy)) == std::vector<bool>{true, true, true});
    ScopedTz utc_tz("UTC");
    CHECK(kept(apply_retention(hour_items, policy)) == std::vector<bool>{true, false, true});
  }
}

TEST_CASE("retention: decisions follow the order of unsorted items", "[retention]") {
  ScopedTz tz("UTC");
  std::vector<RetentionItem> sorted;
  for (int i = 0; i < 40; ++i) sorted.push_back({utc(2026, 1, 1) + i * 7 * 3600LL, std::nullopt});
  RetentionPolicy policy;
  policy.daily = 3;
  policy.weekly = 2;
  policy.last = 2;
  auto expected = apply_retention(sorted, policy);

  std::vector<std::size_t> perm(sorted.size());
  for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = i;
  std::mt19937 rng(42);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<RetentionItem> shuffled;
  for (auto i : perm) shuffled.push_back(sorted[i]);
  auto decisions = apply_retention(shuffled, policy);
  for (std::size_t k = 0; k < perm.size(); ++k) {
    CHECK(decisions[k].keep == expected[perm[k]].keep);
    CHECK(decisions[k].reasons == expected[perm[k]].reasons);
  }
}

TEST_CASE("retention: empty() and describe()", "[retention]") {
  RetentionPolicy policy;
  CHECK(policy.empty());
  policy.version_change = true;
  CHECK_FALSE(policy.empty());
  CHECK(policy.describe() == "keep the newest archive of each Jellyfin version");
  policy = {};
  policy.yearly = -1;
  CHECK_FALSE(policy.empty());
  CHECK(policy.describe() == "keep all yearly");

  policy = {};
  policy.daily = 7;
  policy.weekly = 4;
  CHECK(policy.describe() == "keep 7 daily and 4 weekly");

  policy.last = 3;
  policy.monthly = -1;
  policy.version_change = true;
  CHECK(policy.describe() ==
        "keep the last 3, 7 daily, 4 weekly, all monthly, and the newest archive of each "
        "Jellyfin version");
}
