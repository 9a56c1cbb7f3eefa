#include "jellyfin_backup/archive/verifier.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <set>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/archive/checksum_list.h"
#include "jellyfin_backup/error.h"

namespace jb {
namespace {

constexpr std::uint64_t kArchiveWide = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t kMaxProblems = 1000;

std::string count_text(std::uint64_t n, const char* unit) {
  return std::to_string(n) + " " + unit;
}

}  // namespace

std::string describe_problem(const Problem& p) {
  std::string text = p.path.empty() ? p.problem : p.path + ": " + p.problem;
  if (!p.expected.empty() || !p.actual.empty())
    text += " (expected " + p.expected + ", actual " + p.actual + ")";
  return text;
}

void Verifier::add_sum(const std::string& path, std::uint64_t entry_index, std::string hex) {
  auto [it, fresh] = sums_.insert_or_assign(path, FileSum{entry_index, std::move(hex)});
  (void)it;
  // A line is at most '\\', 32 hex digits, two spaces, the path with every
  // byte escaped, '\n' (format_checksum_line).
  if (fresh) checksums_budget_ += 36 + 2 * path.size();
}

void Verifier::add(std::string path, std::string problem, std::string expected,
                   std::string actual, ProblemKind kind) {
  std::uint64_t index = path.empty() ? kArchiveWide : index_ - 1;
  add_at(index, std::move(path), std::move(problem), std::move(expected), std::move(actual), kind);
}

// Problems are what every refused entry leaves behind: capped, so that an
// archive of a million bad entries costs no more than a thousand.
void Verifier::add_at(std::uint64_t index, std::string path, std::string problem,
                      std::string expected, std::string actual, ProblemKind kind) {
  if (problems_.size() > kMaxProblems) return;
  if (problems_.size() == kMaxProblems) {
    problems_.push_back({index, {}, "more than " + std::to_string(kMaxProblems) +
                                        " problems: the rest of the archive was not read", {}, {}});
    stopped_ = true;
    return;
  }
  problems_.push_back(
      {index, std::move(path), std::move(problem), std::move(expected), std::move(actual), kind});
}

void Verifier::refuse(std::string problem, std::string expected, std::string actual) {
  add(path_, std::move(problem), std::move(expected), std::move(actual));
  stopped_ = true;
}

// Syntax, depth and tree; where the path lies among the others is
// paths_'s business.
bool Verifier::check_path(const std::string& path) {
  if (path.empty()) {
    add("(empty name)", "entry has an empty name");
    return false;
  }
  if (path.front() == '/') {
    add(path, "absolute path");
    return false;
  }
  std::size_t start = 0;
  std::size_t depth = 0;  // components below the tree root
  std::string_view first;
  for (;;) {
    std::size_t slash = path.find('/', start);
    std::string_view part(path.data() + start,
                          (slash == std::string::npos ? path.size() : slash) - start);
    if (part.empty()) {
      add(path, "empty path component");
      return false;
    }
    if (part == "." || part == "..") {
      add(path, "'" + std::string(part) + "' path component");
      return false;
    }
    if (part.size() > format::kMaxNameBytes) {
      add(path, "a path component is longer than " + std::to_string(format::kMaxNameBytes) +
                    " bytes, which no filesystem takes");
      return false;
    }
    if (start == 0) first = part;
    else ++depth;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (!manifest_ || !manifest_->find_tree(first)) {
    add(path, "outside the archive's trees (" + std::string(format::kConfigTree) + "/ and " +
                  std::string(format::kDataTree) + "/)");
    return false;
  }
  if (depth > format::kMaxDepth) {
    // Counted while scanning: refused before anything is kept for it.
    refuse("lies " + std::to_string(depth) + " levels deep in its tree; archives of this format "
           "hold trees at most " + std::to_string(format::kMaxDepth) + " levels deep (Jellyfin's are "
           "under 20)");
    return false;
  }
  tree_ = first;
  return true;
}

// A tree may not hold more entries or files than the manifest announced:
// everything kept per entry is bounded by those counts.
bool Verifier::check_counts(const ManifestTree& tree, bool file) {
  TreeCount& count = counts_[tree_];
  if (count.entries >= tree.entries) {
    refuse("more entries than the manifest announced for " + tree_ + "/",
           count_text(tree.entries, "entries"), "at least " + count_text(count.entries + 1, "entries"));
    return false;
  }
  if (file && count.files >= tree.files) {
    refuse("more files than the manifest announced for " + tree_ + "/",
           count_text(tree.files, "files"), "at least " + count_text(count.files + 1, "files"));
    return false;
  }
  return true;
}

// Device nodes and setuid/setgid files are what the jellyfin user could not
// make itself: only an explicit --allow-special restores them.
bool Verifier::check_special(archive_entry* entry) {
  const auto type = archive_entry_filetype(entry);
  const mode_t perm = archive_entry_perm(entry);
  std::string what;
  if (type == AE_IFCHR || type == AE_IFBLK) {
    what = std::string(type == AE_IFCHR ? "character" : "block") + " device " +
           std::to_string(archive_entry_rdevmajor(entry)) + ":" +
           std::to_string(archive_entry_rdevminor(entry));
  } else if (type == AE_IFREG && !archive_entry_hardlink(entry) && (perm & 06000)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(perm & 07777));
    what = std::string((perm & 04000) ? ((perm & 02000) ? "setuid and setgid" : "setuid") : "setgid") +
           " file (mode " + mode + ")";
  } else {
    return true;
  }
  if (policy_.special == VerifierPolicy::Special::kRefuse) {
    refuse(what + ": restore creates device nodes and setuid/setgid files only with --allow-special "
           "(unsafe archive)");
    return false;
  }
  notes_.push_back({index_ - 1, path_, what, {}, {}});
  return true;
}

bool Verifier::begin_entry(archive_entry* entry) {
  ++index_;
  kind_ = Kind::kOther;
  hashing_ = false;
  in_tree_ = false;
  position_ = 0;
  buffer_.clear();
  const char* raw = archive_entry_pathname(entry);
  path_ = raw ? raw : "";
  size_ = archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0
              ? static_cast<std::uint64_t>(archive_entry_size(entry))
              : 0;
  const auto type = archive_entry_filetype(entry);
  const char* hardlink = archive_entry_hardlink(entry);

  if (index_ == 1) {
    if (path_ != format::kManifestName || type != AE_IFREG || hardlink)
      throw damaged_error("first entry is \"" + path_ + "\", not " +
                          std::string(format::kManifestName),
                          "this is not a jellyfin-backup archive, or it was damaged");
    if (size_ > format::kMaxManifestBytes)
      throw damaged_error(std::string(format::kManifestName) + " is implausibly large");
    kind_ = Kind::kManifest;
    return true;
  }
  if (checksums_text_) {
    refuse("entry after the " + std::string(format::kChecksumsName) + " trailer");
    return false;
  }
  if (path_ == format::kChecksumsName) {
    if (type != AE_IFREG || hardlink || size_ > format::kMaxChecksumsBytes) {
      add(path_, "not a plausible checksum list");
      return false;
    }
    // Checked before a byte of it is buffered: a list of millions of absent
    // files is refused from its header.
    if (size_ > checksums_budget_) {
      refuse("larger than the list of this archive's " + std::to_string(sums_.size()) +
                 " files can be",
             "at most " + count_text(checksums_budget_, "bytes"), count_text(size_, "bytes"));
      return false;
    }
    kind_ = Kind::kChecksums;
    return true;
  }

  if (type == AE_IFDIR && path_.size() > 1 && path_.back() == '/') path_.pop_back();
  if (!check_path(path_)) return false;
  std::string blocking;
  switch (paths_.add(path_, type == AE_IFDIR, &blocking)) {
    case EntryPaths::Outcome::kAdded:
      break;
    case EntryPaths::Outcome::kDuplicate:
      add(path_, "duplicate entry");
      return false;
    case EntryPaths::Outcome::kBeneathNonDir:
      add(path_, "lies beneath \"" + blocking +
                     "\", which is not a directory (a symlink there would lead outside)");
      return false;
    case EntryPaths::Outcome::kNonDirOverEntries:
      add(path_, "is not a directory, but entries beneath it came before");
      return false;
  }
  if (path_ == tree_ && type != AE_IFDIR) {
    add(path_, "tree root is not a directory");
    return false;
  }
  const ManifestTree& tree = *manifest_->find_tree(tree_);
  if (!check_counts(tree, type == AE_IFREG || hardlink)) return false;
  if (!check_special(entry)) return false;
  TreeCount& count = counts_[tree_];
  ++count.entries;

  if (hardlink) {
    auto target = sums_.find(hardlink);
    std::string_view target_path(hardlink);
    bool same_tree = target_path.size() > tree_.size() && target_path.compare(0, tree_.size(), tree_) == 0 &&
                     target_path[tree_.size()] == '/';
    if (target == sums_.end() || !same_tree) {
      add(path_, "hardlink to \"" + std::string(hardlink) +
                     "\", which is not a regular file earlier in the same tree");
      return false;
    }
    if (size_ != 0) {
      add(path_, "hardlink entry carries data");
      return false;
    }
    std::string hex = target->second.hex;  // before the map may rehash
    add_sum(path_, index_ - 1, std::move(hex));
    ++count.files;
    ++files_;
    in_tree_ = true;
    return true;
  }
  switch (type) {
    case AE_IFREG: {
      if (count.bytes + size_ > tree.bytes) {
        add(path_, "more data than the manifest announced for " + tree_ + "/",
            count_text(tree.bytes, "bytes"), "at least " + count_text(count.bytes + size_, "bytes"));
        return false;
      }
      ++count.files;
      count.bytes += size_;
      kind_ = Kind::kFile;
      hashing_ = true;
      in_tree_ = true;
      hash_.reset();
      return true;
    }
    case AE_IFDIR:
    case AE_IFLNK:
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      in_tree_ = true;
      return true;
    default:
      add(path_, "unsupported entry type");
      return false;
  }
}

void Verifier::data(const DataBlock& block) {
  if (kind_ == Kind::kManifest || kind_ == Kind::kChecksums) {
    if (block.offset != buffer_.size() || buffer_.size() + block.bytes.size() > size_)
      throw damaged_error(path_ + ": malformed data");
    buffer_.append(block.bytes);
    return;
  }
  if (!hashing_) return;
  if (block.offset < position_) {
    add(path_, "overlapping data blocks");
    hashing_ = false;
    return;
  }
  hash_.update_zeros(block.offset - position_);
  hash_.update(block.bytes.data(), block.bytes.size());
  position_ = block.offset + block.bytes.size();
  if (position_ > size_) {
    add(path_, "more data than its header states");
    hashing_ = false;
  }
}

void Verifier::end_entry() {
  switch (kind_) {
    case Kind::kManifest:
      if (buffer_.size() != size_) throw damaged_error(ErrorCode::kTruncated, path_ + ": truncated");
      manifest_ = Manifest::parse(buffer_);
      add_sum(path_, index_ - 1, Xxh128::hex_of(buffer_));
      break;
    case Kind::kChecksums:
      if (buffer_.size() != size_) add(path_, "truncated");
      checksums_text_ = std::move(buffer_);
      break;
    case Kind::kFile:
      if (hashing_) {
        hash_.update_zeros(size_ - position_);  // a trailing hole
        add_sum(path_, index_ - 1, hash_.hex_digest());
        ++files_;
        bytes_ += size_;
      }
      break;
    case Kind::kOther:
      break;
  }
  kind_ = Kind::kOther;
  hashing_ = false;
  buffer_.clear();
  path_.clear();  // between entries, a stream failure belongs to no entry
}

void Verifier::stream_failed(const std::string& message, bool in_entry) {
  // index_ points at the entry being read, if any; path_ names it.
  std::string path = in_entry ? path_ : std::string();
  std::string text = message;
  if (!in_entry && !path_.empty()) text += " (in the entries after " + path_ + ")";
  add_at(index_ == 0 ? kArchiveWide : index_ - 1, path, text);
  stream_broken_ = true;
}

// Streams the list: nothing is kept per line, so its cost is bounded by the
// size begin_entry allowed it and by the problems cap.
void Verifier::compare_checksums() {
  const std::string list_name(format::kChecksumsName);
  // One line per file the manifest announced, and one for itself.
  const std::uint64_t max_lines = manifest_->total_files() + 1;
  std::uint64_t lines = 0;
  try {
    for_each_checksum_line(*checksums_text_, [&](ChecksumLine&& line) {
      ++lines;
      auto it = sums_.find(line.path);
      if (it == sums_.end()) {
        add(line.path, "listed in " + list_name + " but missing from the archive", {}, {},
            ProblemKind::kContent);
        return;
      }
      FileSum& sum = it->second;
      if (sum.listed) {
        add(list_name, "lists \"" + line.path + "\" twice");
        return;
      }
      sum.listed = true;
      if (sum.hex != line.hex)
        add_at(sum.entry_index, line.path, "checksum mismatch", line.hex, sum.hex, ProblemKind::kContent);
    });
  } catch (const Error& e) {
    add(list_name, e.what());
    return;
  }
  // After the lines it explains: what is missing is what users act on.
  if (lines > max_lines)
    add(list_name, "lists more files than the manifest announced (" + std::to_string(max_lines - 1) +
                       ", and " + std::string(format::kManifestName) + ")");
  for (const auto& [path, sum] : sums_) {
    if (!sum.listed) add_at(sum.entry_index, path, "not listed in " + list_name, {}, {}, ProblemKind::kContent);
  }
}

void Verifier::compare_counts() {
  for (const auto& tree : manifest_->trees) {
    const TreeCount& count = counts_[tree.name];
    auto check = [&](std::uint64_t announced, std::uint64_t found, const char* unit) {
      if (announced != found)
        add("", "tree " + tree.name + "/: the manifest announces " + count_text(announced, unit) +
                    ", the archive holds " + count_text(found, unit),
            std::to_string(announced), std::to_string(found), ProblemKind::kCount);
    };
    check(tree.files, count.files, "files");
    check(tree.bytes, count.bytes, "bytes");
    check(tree.entries, count.entries, "entries");
  }
}

void Verifier::finish() {
  if (!stream_broken_ && !stopped_) {
    if (!manifest_) {
      add("", "no " + std::string(format::kManifestName) + ": not a jellyfin-backup archive");
    } else {
      if (!checksums_text_)
        add("", "no " + std::string(format::kChecksumsName) +
                    " trailer: the archive is incomplete");
      else
        compare_checksums();
      compare_counts();
    }
  }
  std::stable_sort(problems_.begin(), problems_.end(),
                   [](const Problem& a, const Problem& b) { return a.entry_index < b.entry_index; });
}

std::uint64_t Verifier::bad_entries() const {
  std::set<std::pair<std::uint64_t, std::string>> entries;
  for (const auto& p : problems_) entries.insert({p.entry_index, p.path});
  return entries.size();
}

}  // namespace jb
