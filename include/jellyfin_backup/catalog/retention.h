// Which archives a retention policy keeps: restic's `forget` semantics.
//
// Archives are taken newest first. Each --keep-* rule has a count and a
// bucket function (hour, day, ISO week, month, year of the archive's time,
// in the local time zone; "last" puts every archive in its own bucket).
// Walking newest to oldest, an archive is kept by a rule when its bucket
// differs from the bucket of the last archive that rule kept and the rule
// still has count left; keeping uses one count. So --keep-daily 7 keeps the
// newest archive of each of the 7 most recent days that have archives.
// As in restic, when a rule still has count left at the oldest archive, that
// archive is kept too ("oldest daily archive"). A count of -1 is unlimited.
// An archive is kept when any rule keeps it; the reasons say which.
//
// Our additions: --keep-version-change keeps the newest archive of each
// Jellyfin version (what an upgrade's roll-back needs), and the newest
// archive of all is always kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace jb {

struct RetentionPolicy {
  // 0: not given; -1: unlimited.
  int last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;
  bool version_change = false;

  // No rule given: prune must delete nothing.
  bool empty() const;
  // "keep 7 daily, 4 weekly, the newest of each Jellyfin version"
  std::string describe() const;
};

struct RetentionItem {
  std::int64_t time = 0;                // unix seconds
  std::optional<std::string> version;   // Jellyfin version, if known
};

struct RetentionDecision {
  bool keep = false;
  // "last", "hourly", "daily", "weekly", "monthly", "yearly",
  // "oldest daily", ..., "version 10.11.0", "newest"
  std::vector<std::string> reasons;
};

// One decision per item, in the order of `items` (which need not be
// sorted; ties in time are broken by position: the earlier item counts as
// newer).
std::vector<RetentionDecision> apply_retention(const std::vector<RetentionItem>& items,
                                               const RetentionPolicy& policy);

}  // namespace jb
