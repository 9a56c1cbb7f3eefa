#include "jellyfin_backup/archive/entry_paths.h"

#include <cstring>

namespace jb {
namespace {

// Calls `f(start, end)` for each component of `path`.
template <typename F>
void for_each_component(std::string_view path, F f) {
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = path.find('/', start);
    std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    f(start, end);
    if (slash == std::string_view::npos) return;
    start = slash + 1;
  }
}

}  // namespace

EntryPaths::EntryPaths() : nodes_(1) {}

std::string EntryPaths::key(std::uint32_t parent, std::string_view name) {
  std::string k(sizeof parent, '\0');
  std::memcpy(k.data(), &parent, sizeof parent);
  k.append(name);
  return k;
}

std::uint32_t EntryPaths::find(std::uint32_t parent, std::string_view name) const {
  auto it = children_.find(key(parent, name));
  return it == children_.end() ? kNone : it->second;
}

EntryPaths::Outcome EntryPaths::add(std::string_view path, bool is_dir, std::string* blocking) {
  // First look, changing nothing: a refused path leaves no trace.
  std::uint32_t node = 0;
  Outcome outcome = Outcome::kAdded;
  for_each_component(path, [&](std::size_t start, std::size_t end) {
    if (node == kNone || outcome != Outcome::kAdded) return;
    if (nodes_[node].non_dir && node != 0) {
      outcome = Outcome::kBeneathNonDir;
      if (blocking) *blocking = std::string(path.substr(0, start - 1));
      return;
    }
    node = find(node, path.substr(start, end - start));
  });
  if (outcome != Outcome::kAdded) return outcome;
  if (node != kNone) {
    if (nodes_[node].added) return Outcome::kDuplicate;
    if (!is_dir && nodes_[node].has_children) return Outcome::kNonDirOverEntries;
  }

  // Then add: the missing parents as plain nodes, the path as an entry.
  node = 0;
  for_each_component(path, [&](std::size_t start, std::size_t end) {
    const std::string k = key(node, path.substr(start, end - start));
    auto [it, fresh] = children_.try_emplace(k, static_cast<std::uint32_t>(nodes_.size()));
    if (fresh) {
      nodes_[node].has_children = true;
      nodes_.emplace_back();
    }
    node = it->second;
  });
  nodes_[node].added = true;
  nodes_[node].non_dir = !is_dir;
  ++added_;
  return Outcome::kAdded;
}

}  // namespace jb
