#include "jellyfin_backup/archive/manifest.h"

#include <nlohmann/json.hpp>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/error.h"

namespace jb {

using nlohmann::json;

const ManifestTree* Manifest::find_tree(std::string_view name) const {
  for (const auto& tree : trees)
    if (tree.name == name) return &tree;
  return nullptr;
}

std::uint64_t Manifest::total_files() const {
  std::uint64_t n = 0;
  for (const auto& tree : trees) n += tree.files;
  return n;
}

std::uint64_t Manifest::total_bytes() const {
  std::uint64_t n = 0;
  for (const auto& tree : trees) n += tree.bytes;
  return n;
}

json Manifest::to_json() const {
  json trees_json = json::array();
  for (const auto& tree : trees) {
    json t = {{"name", tree.name},
              {"source", tree.source},
              {"files", tree.files},
              {"bytes", tree.bytes},
              {"entries", tree.entries}};
    if (tree.inside) t["inside"] = {{"tree", *tree.inside}, {"path", tree.inside_path}};
    trees_json.push_back(std::move(t));
  }
  json left_out_json = json::array();
  for (const auto& l : left_out)
    left_out_json.push_back({{"kind", l.kind}, {"path", l.path}, {"source", l.source}});
  auto optional_string = [](const std::optional<std::string>& s) {
    return s ? json(*s) : json(nullptr);
  };
  return {
      {"format", format::kFormatId},
      {"format_version", format_version},
      {"tool", {{"name", "jellyfin-backup"}, {"version", tool_version}}},
      {"created", created},
      {"host", host},
      {"app",
       {{"name", "jellyfin"},
        {"version", optional_string(app_version)},
        {"version_source", optional_string(app_version_source)}}},
      {"trees", trees_json},
      {"excludes", excludes},
      {"left_out", left_out_json},
      {"forced", optional_string(forced)},
      {"compression",
       {{"algorithm", "zstd"}, {"level", compression_level}, {"frame_bytes", frame_bytes}}},
      {"checksum", {{"algorithm", format::kChecksumAlgorithm}, {"file", format::kChecksumsName}}},
  };
}

std::string Manifest::serialize() const {
  // Source paths may hold any bytes; replace keeps the JSON valid UTF-8.
  return to_json().dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

namespace {

Error bad_manifest(const std::string& why) {
  return damaged_error(std::string(format::kManifestName) + ": " + why);
}

const json& field(const json& object, const char* key, json::value_t type) {
  auto it = object.find(key);
  if (it == object.end()) throw bad_manifest(std::string("missing \"") + key + "\"");
  // Parsed non-negative integers are always number_unsigned.
  bool ok = type == json::value_t::number_unsigned ? it->is_number_unsigned() : it->type() == type;
  if (!ok) throw bad_manifest(std::string("\"") + key + "\" has the wrong type");
  return *it;
}

std::optional<std::string> optional_string_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw bad_manifest(std::string("\"") + key + "\" has the wrong type");
  return it->get<std::string>();
}

}  // namespace

Manifest Manifest::parse(std::string_view text) {
  // nlohmann's lexer takes a NUL for the end of input: what follows one
  // would be stored in the archive, checksummed, and never looked at.
  if (auto nul = text.find('\0'); nul != std::string_view::npos)
    throw bad_manifest("NUL byte at offset " + std::to_string(nul) + " (" +
                       std::to_string(text.size() - nul - 1) + " bytes hidden after it)");
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) throw bad_manifest("not valid JSON");

  constexpr auto kString = json::value_t::string;
  constexpr auto kNumber = json::value_t::number_unsigned;
  constexpr auto kObject = json::value_t::object;
  constexpr auto kArray = json::value_t::array;

  if (field(doc, "format", kString) != format::kFormatId)
    throw bad_manifest("not a jellyfin-backup manifest");
  Manifest m;
  std::uint64_t version = field(doc, "format_version", kNumber).get<std::uint64_t>();
  if (version > static_cast<std::uint64_t>(format::kFormatVersion)) {
    throw damaged_error("archive format version " + std::to_string(version) +
                            " is newer than this tool reads (" +
                            std::to_string(format::kFormatVersion) + ")",
                        "use a newer jellyfin-backup");
  }
  if (version < 1) throw bad_manifest("invalid format_version");
  m.format_version = static_cast<int>(version);

  m.tool_version = field(field(doc, "tool", kObject), "version", kString).get<std::string>();
  m.created = field(doc, "created", kString).get<std::string>();
  m.host = field(doc, "host", kString).get<std::string>();
  const json& app = field(doc, "app", kObject);
  m.app_version = optional_string_field(app, "version");
  m.app_version_source = optional_string_field(app, "version_source");

  for (const json& t : field(doc, "trees", kArray)) {
    if (!t.is_object()) throw bad_manifest("a tree is not an object");
    ManifestTree tree;
    tree.name = field(t, "name", kString).get<std::string>();
    if (tree.name != format::kConfigTree && tree.name != format::kDataTree)
      throw bad_manifest("unknown tree \"" + tree.name + "\"");
    if (m.find_tree(tree.name)) throw bad_manifest("tree \"" + tree.name + "\" listed twice");
    tree.source = field(t, "source", kString).get<std::string>();
    tree.files = field(t, "files", kNumber).get<std::uint64_t>();
    tree.bytes = field(t, "bytes", kNumber).get<std::uint64_t>();
    tree.entries = field(t, "entries", kNumber).get<std::uint64_t>();
    if (auto in = t.find("inside"); in != t.end() && !in->is_null()) {
      if (!in->is_object()) throw bad_manifest("\"inside\" has the wrong type");
      tree.inside = field(*in, "tree", kString).get<std::string>();
      tree.inside_path = field(*in, "path", kString).get<std::string>();
      if (*tree.inside == tree.name || tree.inside_path.empty())
        throw bad_manifest("tree \"" + tree.name + "\" lies inside itself");
    }
    m.trees.push_back(std::move(tree));
  }
  if (m.trees.empty()) throw bad_manifest("no trees");

  // Restore matches the excludes against the current trees: bounded as
  // create bounds them.
  const json& excludes = field(doc, "excludes", kArray);
  if (excludes.size() > format::kMaxExcludes) throw bad_manifest("more excludes than create accepts");
  for (const json& e : excludes) {
    if (!e.is_string()) throw bad_manifest("an exclude is not a string");
    m.excludes.push_back(e.get<std::string>());
    if (m.excludes.back().size() > format::kMaxExcludeBytes) throw bad_manifest("an exclude is too long");
  }
  // Keys added after format version 1 was first written are optional.
  if (auto lo = doc.find("left_out"); lo != doc.end()) {
    if (!lo->is_array()) throw bad_manifest("\"left_out\" has the wrong type");
    for (const json& l : *lo) {
      if (!l.is_object()) throw bad_manifest("a left_out entry is not an object");
      m.left_out.push_back({field(l, "kind", kString).get<std::string>(),
                            field(l, "path", kString).get<std::string>(),
                            field(l, "source", kString).get<std::string>()});
    }
  }
  m.forced = optional_string_field(doc, "forced");
  const json& compression = field(doc, "compression", kObject);
  if (field(compression, "algorithm", kString) != "zstd")
    throw bad_manifest("unsupported compression");
  std::uint64_t level = field(compression, "level", kNumber).get<std::uint64_t>();
  if (level > 22) throw bad_manifest("invalid compression level");
  m.compression_level = static_cast<int>(level);
  m.frame_bytes = field(compression, "frame_bytes", kNumber).get<std::uint64_t>();
  const json& checksum = field(doc, "checksum", kObject);
  if (field(checksum, "algorithm", kString) != format::kChecksumAlgorithm)
    throw bad_manifest("unsupported checksum algorithm");
  return m;
}

}  // namespace jb
