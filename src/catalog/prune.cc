#include "jellyfin_backup/catalog/prune.h"

#include "jellyfin_backup/archive/sidecar.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"

namespace jb {

bool PruneResult::failed() const {
  for (const PrunedArchive& a : archives)
    if (!a.error.empty()) return true;
  return false;
}

PruneResult prune_store(const Store& store, const PruneOptions& options, Reporter& reporter) {
  // Before touching the store: an empty policy is a mistake, never "delete all".
  if (options.policy.empty())
    throw usage_error("no --keep-* policy given: nothing was deleted",
                      "pass at least one of --keep-last, --keep-hourly, --keep-daily, "
                      "--keep-weekly, --keep-monthly, --keep-yearly, --keep-version-change");

  Catalog catalog = read_catalog(store, CatalogOptions{}, reporter);

  // Only readable archives are judged: an unreadable one's time and
  // version may be all we know of it, and it may be the one copy left of
  // something; a person decides about it.
  PruneResult result;
  std::vector<RetentionItem> items;
  for (ArchiveInfo& info : catalog.archives) {
    if (info.error) {
      result.unreadable.push_back(std::move(info));
      continue;
    }
    items.push_back({info.time, info.version});
    result.archives.push_back({std::move(info), false, {}, false, {}});
  }
  const std::vector<RetentionDecision> decisions = apply_retention(items, options.policy);
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    result.archives[i].keep = decisions[i].keep;
    result.archives[i].reasons = decisions[i].reasons;
  }
  // apply_retention keeps the newest already; this states the promise where
  // the deleting happens.
  if (!result.archives.empty() && !result.archives.front().keep) {
    result.archives.front().keep = true;
    result.archives.front().reasons.push_back("newest");
  }

  // Oldest first: an interrupted or failing run has then removed what was
  // least worth keeping.
  for (auto it = result.archives.rbegin(); it != result.archives.rend(); ++it) {
    PrunedArchive& a = *it;
    if (a.keep) continue;
    if (options.dry_run) {
      result.freed_bytes += a.info.size;
      continue;
    }
    throw_if_interrupted("some archives may already be removed; run prune again");
    try {
      store.remove(a.info.name);
      a.removed = true;
      result.freed_bytes += a.info.size;
      // After the archive: a sidecar without its archive is clutter, an
      // archive without its sidecar would read as "never verified".
      store.remove(sidecar_name(a.info.name));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kRuntime) throw;
      a.error = e.what();
    }
  }
  return result;
}

}  // namespace jb
