#include "jellyfin_backup/archive/verifier.h"

#include <algorithm>
#include <limits>
#include <set>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/archive/checksum_list.h"
#include "jellyfin_backup/error.h"

namespace jb {
namespace {

constexpr std::uint64_t kArchiveWide = std::numeric_limits<std::uint64_t>::max();

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

void Verifier::add(std::string path, std::string problem, std::string expected,
                   std::string actual) {
  std::uint64_t index = path.empty() ? kArchiveWide : index_ - 1;
  problems_.push_back(
      {index, std::move(path), std::move(problem), std::move(expected), std::move(actual)});
}

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
  std::string first;
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
    if (start == 0) first = part;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  for (std::size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    if (non_dirs_.count(path.substr(0, slash))) {
      add(path, "lies beneath \"" + path.substr(0, slash) +
                    "\", which is not a directory (a symlink there would lead outside)");
      return false;
    }
  }
  if (!manifest_ || !manifest_->find_tree(first)) {
    add(path, "outside the archive's trees (" + std::string(format::kConfigTree) + "/ and " +
                  std::string(format::kDataTree) + "/)");
    return false;
  }
  tree_ = first;
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
    add(path_, "entry after the " + std::string(format::kChecksumsName) + " trailer");
    return false;
  }
  if (path_ == format::kChecksumsName) {
    if (type != AE_IFREG || hardlink || size_ > format::kMaxChecksumsBytes) {
      add(path_, "not a plausible checksum list");
      return false;
    }
    kind_ = Kind::kChecksums;
    return true;
  }

  if (type == AE_IFDIR && path_.size() > 1 && path_.back() == '/') path_.pop_back();
  if (!check_path(path_)) return false;
  if (!seen_.insert(path_).second) {
    add(path_, "duplicate entry");
    return false;
  }
  if (type != AE_IFDIR) non_dirs_.insert(path_);
  if (path_ == tree_ && type != AE_IFDIR) {
    add(path_, "tree root is not a directory");
    return false;
  }
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
    sums_[path_] = {index_ - 1, target->second.hex};
    ++count.files;
    ++files_;
    in_tree_ = true;
    return true;
  }
  switch (type) {
    case AE_IFREG: {
      const ManifestTree* tree = manifest_->find_tree(tree_);
      if (count.bytes + size_ > tree->bytes) {
        add(path_, "more data than the manifest announced for " + tree_ + "/",
            count_text(tree->bytes, "bytes"), "at least " + count_text(count.bytes + size_, "bytes"));
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
      if (buffer_.size() != size_) throw damaged_error(path_ + ": truncated");
      manifest_ = Manifest::parse(buffer_);
      sums_[path_] = {index_ - 1, Xxh128::hex_of(buffer_)};
      break;
    case Kind::kChecksums:
      if (buffer_.size() != size_) add(path_, "truncated");
      checksums_text_ = std::move(buffer_);
      break;
    case Kind::kFile:
      if (hashing_) {
        hash_.update_zeros(size_ - position_);  // a trailing hole
        sums_[path_] = {index_ - 1, hash_.hex_digest()};
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
  problems_.push_back({index_ == 0 ? kArchiveWide : index_ - 1, path, text, {}, {}});
  stream_broken_ = true;
}

void Verifier::compare_checksums() {
  std::vector<ChecksumLine> lines;
  try {
    lines = parse_checksum_list(*checksums_text_);
  } catch (const Error& e) {
    add(std::string(format::kChecksumsName), e.what());
    return;
  }
  std::set<std::string> listed;
  for (const auto& line : lines) {
    if (!listed.insert(line.path).second) {
      add(std::string(format::kChecksumsName), "lists \"" + line.path + "\" twice");
      continue;
    }
    auto it = sums_.find(line.path);
    if (it == sums_.end()) {
      add(line.path, "listed in " + std::string(format::kChecksumsName) +
                         " but missing from the archive");
      continue;
    }
    if (it->second.hex != line.hex)
      problems_.push_back({it->second.entry_index, line.path, "checksum mismatch", line.hex,
                           it->second.hex});
  }
  for (const auto& [path, sum] : sums_) {
    if (!listed.count(path))
      problems_.push_back({sum.entry_index, path,
                           "not listed in " + std::string(format::kChecksumsName), {}, {}});
  }
}

void Verifier::compare_counts() {
  for (const auto& tree : manifest_->trees) {
    const TreeCount& count = counts_[tree.name];
    auto check = [&](std::uint64_t announced, std::uint64_t found, const char* unit) {
      if (announced != found)
        add("", "tree " + tree.name + "/: the manifest announces " + count_text(announced, unit) +
                    ", the archive holds " + count_text(found, unit),
            std::to_string(announced), std::to_string(found));
    };
    check(tree.files, count.files, "files");
    check(tree.bytes, count.bytes, "bytes");
    check(tree.entries, count.entries, "entries");
  }
}

void Verifier::finish() {
  if (!stream_broken_) {
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
