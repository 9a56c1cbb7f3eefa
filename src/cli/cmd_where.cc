#include <unistd.h>

#include <cstdio>

#include "cli/options.h"
#include "jellyfin_backup/io/paths.h"
#include "jellyfin_backup/jellyfin/running_server.h"

namespace jb::cli {
namespace {

// How a directory relates to the trees: "", "inside data: stored once", ...
std::string relation(const std::string& what, const LocatedDir& dir, const Install& in) {
  if (!dir.exists) return {};
  for (const auto* tree : {&in.data, &in.config}) {
    if (tree == &dir || relative_below(dir.path, tree->path).empty()) continue;
    const char* name = tree == &in.data ? "data" : "config";
    if (what == "data" || what == "config") return std::string("inside ") + name + ": stored once, as its own tree";
    return std::string("inside ") + name + ": left out of backups (--include-" +
           (what == "log" ? "logs" : "cache") + " keeps it)";
  }
  return {};
}

nlohmann::json dir_json(const std::string& what, const LocatedDir& dir, const Install& in) {
  std::string rel = relation(what, dir, in);
  return {{"path", dir.path}, {"source", dir.source}, {"exists", dir.exists},
          {"note", rel.empty() ? nlohmann::json() : nlohmann::json(rel)}};
}

nlohmann::json version_json(const std::optional<DetectedVersion>& v) {
  if (!v) return nullptr;
  return {{"version", v->version}, {"source", v->source}};
}

}  // namespace

int cmd_where(int argc, char** argv) {
  cxxopts::Options options("jellyfin-backup where",
                           "Show where the Jellyfin install keeps its trees, which version wrote "
                           "them, and whether a server is using them, with where each answer came from.");
  options.custom_help("[--install TYPE] [--root DIR] [options]");
  add_install_flags(options, "show");
  add_common_flags(options);
  auto parsed = parse_flags(options, "where", argc, argv);
  if (!parsed) return 0;
  const CommonFlags flags = common_flags(*parsed);

  const Install in = locate_from_flags(*parsed);
  const auto wrote = server_version_from(*parsed, in, VersionUse::kWroteTrees);
  const auto installed = server_version_from(*parsed, in, VersionUse::kInstalled);
  std::vector<std::string> dirs;
  for (const auto* d : {&in.data, &in.config})
    if (d->exists) dirs.push_back(d->path);
  const ProcessScan scan = scan_server_processes(dirs);

  std::vector<std::pair<std::string, const LocatedDir*>> rows = {
      {"data", &in.data}, {"config", &in.config}, {"log", &in.log}, {"cache", &in.cache}};
  if (in.transcodes) rows.emplace_back("transcodes", &*in.transcodes);

  if (flags.json) {
    nlohmann::json j = {{"command", "where"}, {"ok", true}, {"install", install_type_name(in.type)},
                        {"why", in.why}};
    for (const auto& [what, dir] : rows) j[what] = dir_json(what, *dir, in);
    if (!in.transcodes) j["transcodes"] = nullptr;
    j["version"] = version_json(wrote);
    j["installed_version"] = version_json(installed);
    nlohmann::json running = nlohmann::json::array();
    for (const auto& p : scan.processes)
      running.push_back({{"pid", p.pid}, {"command", p.command}, {"reason", p.reason}});
    j["running"] = running;
    j["unchecked_processes"] = scan.unreadable;
    j["stop_hint"] = stop_hint(in.type);
    print_json(j);
    return 0;
  }
  print(stdout, "Jellyfin install: %s (%s)\n", std::string(install_type_name(in.type)).c_str(), in.why.c_str());
  for (const auto& [what, dir] : rows) {
    std::string rel = relation(what, *dir, in);
    print(stdout, "  %-10s %s%s  [%s]%s%s\n", what.c_str(), dir->path.c_str(), dir->exists ? "" : " (missing)",
                dir->source.c_str(), rel.empty() ? "" : "  ", rel.c_str());
  }
  if (wrote) print(stdout, "  %-10s %s  [%s]\n", "version", wrote->version.c_str(), wrote->source.c_str());
  else print(stdout, "  %-10s unknown (no version line in the logs, no package)\n", "version");
  if (installed && (!wrote || installed->source != wrote->source))
    print(stdout, "  %-10s %s  [%s]\n", "installed", installed->version.c_str(), installed->source.c_str());
  if (scan.processes.empty()) {
    print(stdout, "  %-10s no%s\n", "running",
                scan.unreadable ? " (some processes of other users could not be checked: run as root)" : "");
  } else {
    print(stdout, "  %-10s yes: %s\n", "running", describe_processes(scan.processes).c_str());
    print(stdout, "             %s\n", stop_hint(in.type).c_str());
  }
  return 0;
}

}  // namespace jb::cli
