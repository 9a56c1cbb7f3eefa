#include "jellyfin_backup/catalog/prune.h"

#include <ctime>
#include <map>
#include <set>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/archive/check_record.h"
#include "jellyfin_backup/archive/sidecar.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"

namespace jb {
namespace {

// Decides every readable archive, host by host (or all together); each
// group's newest is kept whatever the policy says (apply_retention keeps it
// already; this states the promise where the deleting happens).
void decide(PruneResult& result, const RetentionPolicy& policy, bool group_by_host) {
  std::map<std::string, std::vector<std::size_t>> groups;  // newest first within each
  std::set<std::string> hosts;
  for (std::size_t i = 0; i < result.archives.size(); ++i) {
    const std::string& host = result.archives[i].info.manifest->host;
    hosts.insert(host);
    groups[group_by_host ? host : std::string()].push_back(i);
  }
  result.hosts.assign(hosts.begin(), hosts.end());
  for (const auto& [group, indexes] : groups) {
    std::vector<RetentionItem> items;
    for (std::size_t i : indexes) items.push_back({result.archives[i].info.time, result.archives[i].info.version});
    const std::vector<RetentionDecision> decisions = apply_retention(items, policy);
    for (std::size_t k = 0; k < indexes.size(); ++k) {
      PrunedArchive& a = result.archives[indexes[k]];
      a.keep = decisions[k].keep;
      a.reasons = decisions[k].reasons;
    }
    PrunedArchive& newest = result.archives[indexes.front()];
    if (!newest.keep) {
      newest.keep = true;
      newest.reasons.push_back("newest");
    }
  }
}

// Sidecars of generated archive names whose archive is gone: only a
// well-formed sidecar naming that archive, with nothing under the archive's
// name, is surely ours to delete.
std::vector<std::string> orphan_sidecars(const Store& store, const std::vector<StoredFile>& files,
                                         Reporter& reporter) {
  std::set<std::string> names;
  for (const StoredFile& f : files) names.insert(f.name);
  const std::string suffix = sidecar_name("");
  std::vector<std::string> orphans;
  for (const StoredFile& f : files) {
    if (!f.name.ends_with(suffix)) continue;
    const std::string archive = f.name.substr(0, f.name.size() - suffix.size());
    if (names.count(archive) || !parse_archive_name(archive) || f.size > kMaxSidecarBytes) continue;
    // One that cannot be read is left for a later prune: the archives are
    // deleted already, and this run's report must not be lost over clutter.
    try {
      const auto text = store.read_small(f.name, kMaxSidecarBytes);
      if (!text || !parse_sidecar(*text, archive) || store.exists(archive)) continue;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kRuntime || interrupted_signal()) throw;
      reporter.warning(e.full_message() + "; the sidecar is left as it is");
      continue;
    }
    orphans.push_back(f.name);
  }
  return orphans;
}

// Deletes a sidecar whose archive is gone. One that cannot go is a
// warning, and clutter the next prune removes.
bool remove_sidecar(const Store& store, const std::string& sidecar, Reporter& reporter) {
  try {
    store.remove(sidecar);
    return true;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kRuntime) throw;
    reporter.warning(e.full_message() + "; its archive is gone, the next prune removes it");
    return false;
  }
}

}  // namespace

bool PruneResult::failed() const {
  for (const PrunedArchive& a : archives)
    if (!a.error.empty()) return true;
  return false;
}

void check_policy(const RetentionPolicy& policy) {
  // An empty policy is a mistake, never "delete all".
  if (policy.empty())
    throw usage_error("no --keep-* policy given: nothing was deleted",
                      "pass at least one of --keep-last, --keep-hourly, --keep-daily, "
                      "--keep-weekly, --keep-monthly, --keep-yearly, --keep-version-change");
}

PruneResult prune_store(const Store& store, const PruneOptions& options, Reporter& reporter) {
  check_policy(options.policy);  // before touching the store
  Catalog catalog = read_catalog(store, CatalogOptions{}, reporter);

  // Only readable archives are judged: an unreadable one's time and
  // version may be all we know of it, and it may be the one copy left of
  // something; a person decides about it. Nor one dated in the future: its
  // date is wrong or a lie, and judging it would let it take the place of
  // the real newest archives (see prune.h).
  const std::int64_t now = options.now.value_or(static_cast<std::int64_t>(std::time(nullptr)));
  PruneResult result;
  for (ArchiveInfo& info : catalog.archives) {
    if (info.error) {
      result.unreadable.push_back(std::move(info));
    } else if (info.damaged()) {
      result.damaged.push_back(std::move(info));
    } else if (auto date = future_date(info, now)) {
      result.future.push_back({std::move(info), *date});
    } else {
      result.archives.push_back({std::move(info), false, {}, false, {}});
    }
  }
  decide(result, options.policy, options.group_by_host);

  // Oldest first: an interrupted or failing run has then removed what was
  // least worth keeping.
  std::set<std::string> failed_sidecars;  // warned about once
  std::set<std::string> listed;           // the names the catalog's listing had
  for (const StoredFile& f : catalog.files) listed.insert(f.name);
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
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kRuntime) throw;
      a.error = e.what();
      continue;
    }
    a.removed = true;
    result.freed_bytes += a.info.size;
    // Its sidecar right away, whatever the archive's name; one that cannot
    // go is left to the next prune (below, for a generated name).
    if (!remove_sidecar(store, sidecar_name(a.info.name), reporter)) failed_sidecars.insert(sidecar_name(a.info.name));
    if (listed.count(check_record_name(a.info.name))) remove_sidecar(store, check_record_name(a.info.name), reporter);
  }

  // Then sidecars left by an earlier prune or by hand: clutter that list
  // and prune never show. The catalog's listing tells which archives were
  // gone before this run; those removed now took their sidecars along.
  for (const std::string& sidecar : orphan_sidecars(store, catalog.files, reporter)) {
    if (failed_sidecars.count(sidecar)) continue;
    if (!options.dry_run && !remove_sidecar(store, sidecar, reporter)) continue;
    result.orphan_sidecars.push_back(sidecar);
  }
  return result;
}

}  // namespace jb
