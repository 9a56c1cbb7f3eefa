// The swap journal: where it lives, what it says, and why it is trusted.
//
// A journal tells `recover` (running as root) what to rename and remove, so
// it must come from us: it lives in the state directory (state_dir.h), is
// opened without following links and without blocking, and must be a
// regular file owned by the effective user that nobody else can write. Its
// contents are validated as strictly as an archive's: it names targets
// (absolute, normalised) and two tokens from which the staging and backup
// names are derived by rule, never paths to act on.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/atomic_file.h"
#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/io/names.h"
#include "jellyfin_backup/io/paths.h"
#include "jellyfin_backup/restore/staging_dir.h"
#include "jellyfin_backup/restore/state_dir.h"
#include "jellyfin_backup/restore/swap.h"

namespace jb {
namespace {

using nlohmann::json;

constexpr int kJournalVersion = 2;
constexpr std::size_t kMaxJournalBytes = 64 * 1024;  // two trees need < 2 KiB
constexpr std::size_t kMaxToken = 40;

// "restore-<hash>-<name>.journal": the hash keys it by the whole target
// path, the name (letters, digits, '.', '-', '_' only) is for humans.
std::string journal_name(const std::string& target) {
  std::string name = name_of(target).substr(0, 32);
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
  return "restore-" + short_hash(target) + "-" + name + ".journal";
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 10 && s.find_first_not_of("0123456789") == std::string::npos;
}

// "<[0-9A-Za-z]+>" or "<[0-9A-Za-z]+>.<digits>": what free_backup_name makes.
bool valid_backup_id(const std::string& s) {
  if (s.empty() || s.size() > kMaxToken) return false;
  const std::size_t dot = s.find('.');
  const std::string head = s.substr(0, dot);
  if (head.empty()) return false;
  for (char c : head)
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  return dot == std::string::npos || all_digits(s.substr(dot + 1));
}

// Absolute, normalised ("/a/b", no ".", "..", "//", trailing '/'), not "/".
bool valid_target(const std::string& t) {
  if (t.size() < 2 || t.size() >= 4096 || t[0] != '/' || t.back() == '/') return false;
  if (t.find('\0') != std::string::npos || t.find("//") != std::string::npos) return false;
  std::size_t from = 1;
  for (;;) {
    std::size_t slash = t.find('/', from);
    std::string part = t.substr(from, slash == std::string::npos ? std::string::npos : slash - from);
    if (part == "." || part == "..") return false;
    if (slash == std::string::npos) return true;
    from = slash + 1;
  }
}

Error invalid(const std::string& path, const std::string& why) {
  return damaged_error(path + ": not a valid restore journal: " + why,
                       "it is not executed; inspect it by hand, and remove it once both trees "
                       "are known good");
}

}  // namespace

std::string SwapTree::staging() const { return StagingDir::prefix_for(target, in_place) + staging_id; }

std::string SwapTree::backup() const {
  return in_place ? target + "/.jellyfin-backup-old.bak-" + backup_id : target + ".bak-" + backup_id;
}

std::string journal_path(const std::string& target) { return state_dir_path() + "/" + journal_name(target); }

std::string journal_text(const SwapPlan& plan) {
  json trees = json::array();
  for (const auto& t : plan.trees) {
    trees.push_back({{"name", t.name},
                     {"target", t.target},
                     {"staging_id", t.staging_id},
                     {"backup_id", t.backup_id},
                     {"target_existed", t.target_existed},
                     {"staged_dev", static_cast<std::uint64_t>(t.staged_dev)},
                     {"staged_ino", static_cast<std::uint64_t>(t.staged_ino)},
                     {"in_place", t.in_place}});
  }
  json j = {
      {"journal", "jellyfin-backup restore"},    {"version", kJournalVersion},      {"archive", plan.archive},
      {"archive_created", plan.archive_created}, {"discard_old", plan.discard_old}, {"trees", trees}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

SwapPlan parse_journal(const std::string& text, const std::string& path) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw invalid(path, "not JSON");
  SwapPlan plan;
  try {
    if (j.at("journal").get<std::string>() != "jellyfin-backup restore") throw invalid(path, "not a journal");
    if (j.at("version").get<int>() != kJournalVersion)
      throw invalid(path, "version " + j.at("version").dump() + " (this tool writes " +
                              std::to_string(kJournalVersion) + ")");
    plan.archive = j.at("archive").get<std::string>();
    plan.archive_created = j.at("archive_created").get<std::string>();
    plan.discard_old = j.at("discard_old").get<bool>();
    const json& trees = j.at("trees");
    if (!trees.is_array() || trees.empty() || trees.size() > 2)
      throw invalid(path, "one or two trees expected");
    std::set<std::string> names;
    for (const auto& t : trees) {
      SwapTree tree;
      tree.name = t.at("name").get<std::string>();
      if ((tree.name != "config" && tree.name != "data") || !names.insert(tree.name).second)
        throw invalid(path, "tree names must be config and data, once each");
      tree.target = t.at("target").get<std::string>();
      if (!valid_target(tree.target))
        throw invalid(path, "the " + tree.name + " target is not an absolute, normalised path");
      tree.staging_id = t.at("staging_id").get<std::string>();
      if (!all_digits(tree.staging_id)) throw invalid(path, "bad staging_id");
      tree.backup_id = t.at("backup_id").get<std::string>();
      if (!valid_backup_id(tree.backup_id)) throw invalid(path, "bad backup_id");
      tree.target_existed = t.at("target_existed").get<bool>();
      const json& dev = t.at("staged_dev");
      const json& ino = t.at("staged_ino");
      if (!dev.is_number_unsigned() || !ino.is_number_unsigned() || ino.get<std::uint64_t>() == 0)
        throw invalid(path, "bad staged_dev/staged_ino");
      tree.staged_dev = static_cast<dev_t>(dev.get<std::uint64_t>());
      tree.staged_ino = static_cast<ino_t>(ino.get<std::uint64_t>());
      tree.in_place = t.at("in_place").get<bool>();
      plan.trees.push_back(std::move(tree));
    }
    if (plan.trees.size() == 2 && plan.trees[0].target == plan.trees[1].target)
      throw invalid(path, "both trees have the same target");
  } catch (const json::exception& e) {
    throw invalid(path, e.what());
  }
  return plan;
}

void write_journal(const SwapPlan& plan) {
  const DirFd dir = open_or_create_state_dir();
  const std::string text = journal_text(plan);
  for (const auto& t : plan.trees) {
    const std::string name = journal_name(t.target);
    if (dir.stat_at(name))
      throw refused_error(dir.path_of(name) + ": a restore journal for " + t.target + " exists already",
                          "run `jellyfin-backup recover` first");
    // The directory was checked: ours, writable by us alone. A path is safe.
    AtomicFile file = AtomicFile::create(dir.path_of(name));
    file.write(text.data(), text.size());
    file.commit();  // fsync, rename, fsync of the directory
  }
}

std::optional<SwapPlan> read_journal(const std::string& target) {
  auto dir = open_state_dir();
  if (!dir) return std::nullopt;
  const std::string name = journal_name(target);
  const std::string path = dir->path_of(name);
  UniqueFd fd = dir->open_at(name, O_RDONLY | O_NONBLOCK);
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == ELOOP)
      throw refused_error(path + ": restore journal not trusted: it is a symlink; it was not executed",
                          "remove it if no restore of yours was interrupted");
    throw io_error(path, "cannot read restore journal", errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw io_error(path, "cannot read restore journal", errno);
  if (auto why = untrusted_because(st, /*dir=*/false))
    throw refused_error(path + ": restore journal not trusted: it " + *why + "; it was not executed",
                        "remove it if no restore of yours was interrupted");
  if (static_cast<std::size_t>(st.st_size) > kMaxJournalBytes) throw invalid(path, "too large");
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw io_error(path, "cannot read restore journal", errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  SwapPlan plan = parse_journal(text, path);
  bool names_target = false;
  for (const auto& t : plan.trees) names_target = names_target || t.target == target;
  if (!names_target) throw invalid(path, "it does not name " + target);
  return plan;
}

void check_no_pending_restore(const std::vector<std::string>& targets) {
  auto dir = open_state_dir();
  if (!dir) return;
  for (const auto& target : targets) {
    const std::string name = journal_name(target);
    if (dir->stat_at(name))
      throw refused_error(target + ": a restore into it was interrupted (" + dir->path_of(name) + ")",
                          "run `jellyfin-backup recover --data DIR --config DIR` first");
  }
}

void remove_journal_leftovers(const std::string& target) {
  auto dir = open_state_dir();
  if (!dir) return;
  // AtomicFile's temporaries: ".<journal name>.tmp-XXXXXXXX".
  for (const auto& name : dir->list("." + journal_name(target) + ".tmp-"))
    ::unlinkat(dir->fd(), name.c_str(), 0);
}

}  // namespace jb
