// What list and prune share: the backup directory they look at, and how
// an archive of it shows in --json.
#include "cli/options.h"
#include "jellyfin_backup/catalog/catalog.h"
#include "jellyfin_backup/io/store.h"
#include "jellyfin_backup/utc_time.h"

namespace jb::cli {

nlohmann::json archive_json(const Store& store, const ArchiveInfo& a) {
  return {{"name", a.name},
          {"path", store.display(a.name)},
          {"created", a.created},
          {"time", a.time},
          {"version", a.version ? nlohmann::json(*a.version) : nlohmann::json()},
          {"size", a.size},
          {"files", a.manifest ? nlohmann::json(a.manifest->total_files()) : nlohmann::json()},
          {"bytes", a.manifest ? nlohmann::json(a.manifest->total_bytes()) : nlohmann::json()},
          {"verified", a.verified()},
          {"check", check_state_name(a.check)},
          {"checked", a.checked_at ? nlohmann::json(utc_iso(a.checked_at)) : nlohmann::json()},
          {"damaged", a.damaged()},
          {"damage", a.damage ? nlohmann::json(*a.damage) : nlohmann::json()},
          {"sidecar", sidecar_state_name(a.sidecar)},
          {"error", a.error ? nlohmann::json(*a.error) : nlohmann::json()},
          {"manifest", a.manifest ? a.manifest->to_json() : nlohmann::json()}};
}

Location backup_dir_from(const cxxopts::ParseResult& parsed, const std::string& command) {
  if (!parsed.count("dir"))
    throw flag_error(command, "name the backup directory (a path or rclone:REMOTE:path), or set `output` "
                              "in the config file");
  Location where = parse_location(parsed["dir"].as<std::string>());
  if (where.is_stdio()) throw flag_error(command, "- is not a directory");
  return where;
}

}  // namespace jb::cli
