#include <ctime>
#include <cstdio>

#include "cli/options.h"
#include "jellyfin_backup/utc_time.h"
#include "jellyfin_backup/verify/inspect.h"

namespace jb::cli {
namespace {

std::optional<double> ratio(const InspectResult& r) {
  if (!r.archive_bytes || *r.archive_bytes == 0) return std::nullopt;
  return static_cast<double>(r.manifest.total_bytes()) / static_cast<double>(*r.archive_bytes);
}

void print_human(const std::string& archive, const InspectResult& r) {
  const Manifest& m = r.manifest;
  print(stdout, "Archive:     %s", archive.c_str());
  if (r.archive_bytes) print(stdout, " (%s)", human_bytes(*r.archive_bytes).c_str());
  print(stdout, "\nFormat:      jellyfin-backup v%d, written by jellyfin-backup %s\n", m.format_version,
              m.tool_version.c_str());
  print(stdout, "Created:     %s on %s\n", m.created.c_str(), m.host.c_str());
  if (m.app_version)
    print(stdout, "Jellyfin:    %s (from %s)\n", m.app_version->c_str(),
                m.app_version_source.value_or("unknown source").c_str());
  else
    print(stdout, "Jellyfin:    version unknown\n");
  print(stdout, "Trees:\n");
  for (const auto& t : m.trees) {
    print(stdout, "  %-7s %-40s %8llu files %11s\n", t.name.c_str(), t.source.c_str(),
                static_cast<unsigned long long>(t.files), human_bytes(t.bytes).c_str());
    if (t.inside)
      print(stdout, "          (lay inside %s at %s; stored once)\n", t.inside->c_str(), t.inside_path.c_str());
  }
  print(stdout, "Excluded:    ");
  if (m.excludes.empty()) print(stdout, "(nothing)");
  for (std::size_t i = 0; i < m.excludes.size(); ++i)
    print(stdout, "%s%s", i ? ", " : "", m.excludes[i].c_str());
  for (const auto& l : m.left_out)
    print(stdout, "\nLeft out:    %s (Jellyfin's %s directory, %s)", l.path.c_str(), l.kind.c_str(), l.source.c_str());
  if (m.forced) print(stdout, "\nForced:      %s", m.forced->c_str());
  print(stdout, "\nCompression: zstd level %d", m.compression_level);
  if (auto x = ratio(r))
    print(stdout, ", ratio %.2f (%s -> %s)", *x, human_bytes(m.total_bytes()).c_str(),
                human_bytes(*r.archive_bytes).c_str());
  print(stdout, "\nChecksums:   xxh3-128 per file (CHECKSUMS.xxh128)\n");
  if (!r.entries.empty()) print(stdout, "\n");
  for (const auto& e : r.entries) {
    std::string target;
    if (e.type == 'l') target = " -> " + e.link;
    if (e.type == 'h') target = " link to " + e.link;
    // Numeric, as restore will apply them (names are in --json).
    std::string owner = std::to_string(e.uid) + "/" + std::to_string(e.gid);
    print(stdout, "%c%04o %-17s %12llu %s %s%s\n", e.type, e.mode, owner.c_str(),
                static_cast<unsigned long long>(e.size), table_time(utc_iso(e.mtime)).c_str(),
                e.path.c_str(), target.c_str());
  }
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  cxxopts::Options options("jellyfin-backup inspect",
                           "Show what an archive holds (its manifest), reading only its start.");
  options.custom_help("ARCHIVE|- [options]");
  options.add_options()
      ("archive", "Archive to inspect: a path, - for stdin, or rclone:REMOTE:path", cxxopts::value<std::string>())
      ("list", "Also list every entry (reads the whole archive)");
  options.parse_positional({"archive"});
  options.positional_help("");  // custom_help already names it
  add_common_flags(options);
  auto parsed = parse_flags(options, "inspect", argc, argv);
  if (!parsed) return 0;
  const CommonFlags flags = common_flags(*parsed);
  if (!parsed->count("archive")) throw flag_error("inspect", "name the archive to inspect");
  const std::string archive = (*parsed)["archive"].as<std::string>();
  const bool list = parsed->count("list") > 0;

  auto source = open_source(archive);
  InspectResult result = inspect_archive(*source, list);

  if (flags.json) {
    nlohmann::json out = {{"command", "inspect"},
                          {"ok", true},
                          {"archive", archive},
                          {"archive_bytes", result.archive_bytes ? nlohmann::json(*result.archive_bytes)
                                                                 : nlohmann::json()},
                          {"ratio", ratio(result) ? nlohmann::json(*ratio(result)) : nlohmann::json()},
                          {"manifest", result.manifest.to_json()}};
    if (list) {
      nlohmann::json entries = nlohmann::json::array();
      for (const auto& e : result.entries) {
        static const std::map<char, const char*> kTypes = {
            {'-', "file"}, {'d', "dir"}, {'l', "symlink"}, {'h', "hardlink"},
            {'c', "char"}, {'b', "block"}, {'p', "fifo"}};
        nlohmann::json j = {{"path", e.path}, {"type", kTypes.at(e.type)}, {"size", e.size},
                            {"mode", e.mode}, {"uid", e.uid}, {"gid", e.gid},
                            {"uname", e.uname}, {"gname", e.gname},
                            {"mtime", e.mtime}, {"mtime_nsec", e.mtime_nsec}};
        if (!e.link.empty()) j["link"] = e.link;
        entries.push_back(std::move(j));
      }
      out["entries"] = std::move(entries);
    }
    print_json(out);
  } else if (!flags.quiet) {
    print_human(archive, result);
  }
  return 0;
}

}  // namespace jb::cli
