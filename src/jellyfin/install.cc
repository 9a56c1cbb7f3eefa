#include "jellyfin_backup/jellyfin/install.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <regex>
#include <sstream>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/io/paths.h"

namespace jb {
namespace {

constexpr std::array<InstallType, 8> kKnownTypes = {
    InstallType::kDebian, InstallType::kFedora, InstallType::kDocker, InstallType::kLinuxserver,
    InstallType::kHotio,  InstallType::kPortable, InstallType::kMacos, InstallType::kWindows};

// The variables Jellyfin itself reads, in LocatedDir order.
constexpr const char* kDataVar = "JELLYFIN_DATA_DIR";
constexpr const char* kConfigVar = "JELLYFIN_CONFIG_DIR";
constexpr const char* kLogVar = "JELLYFIN_LOG_DIR";
constexpr const char* kCacheVar = "JELLYFIN_CACHE_DIR";

bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

// The names in `dir`, sorted; none if it cannot be read: these are only
// places to look.
std::vector<std::string> names_in(const std::string& dir) {
  try {
    if (auto d = DirFd::open_if_exists(dir)) return d->list();
  } catch (const Error&) {
  }
  return {};
}

// A small text file: a unit, an env file or Jellyfin's encoding.xml. Never
// one that could block (a FIFO) or is not a regular file; only system files
// (units are links by design) are followed through a symlink, never a file
// in Jellyfin's own trees, which its user can write.
constexpr std::size_t kMaxTextBytes = 1 << 20;

std::string read_text(const std::string& path, bool follow_link = true) {
  return read_regular_file(path, kMaxTextBytes, follow_link).value_or(std::string());
}

std::string normalise(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  std::string out;
  for (char c : p)
    if (!(c == '/' && !out.empty() && out.back() == '/')) out.push_back(c);
  return out;
}

std::string trim(std::string_view s) {
  std::size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  std::size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// Everything the layout rules look at: the root and the environment.
class Context {
 public:
  explicit Context(const LocateRequest& r) : root_(r.root.empty() ? "" : normalise(r.root)), env_(r.env) {}

  bool has_root() const { return !root_.empty() && root_ != "/"; }
  const std::string& root() const { return root_; }

  // A path of the system under --root: "/var/lib/jellyfin" -> ROOT/var/lib/jellyfin.
  std::string under_root(const std::string& p) const {
    if (!has_root() || lies_within(p, root_)) return normalise(p);
    return normalise(root_ + "/" + p);
  }

  // A path someone configured (environment, env file): under --root if it
  // is there, else as given.
  std::string configured(const std::string& p) const {
    std::string r = under_root(p);
    if (has_root() && !exists(r) && exists(p)) return normalise(p);
    return r;
  }

  std::optional<std::string> env(const char* name) const {
    auto it = env_.find(name);
    if (it == env_.end() || it->second.empty()) return std::nullopt;
    return it->second;
  }

  // Home directories to look in: $HOME, and under --root every user's.
  std::vector<std::string> homes() const {
    std::vector<std::string> out;
    if (auto h = env("HOME")) out.push_back(configured(*h));
    if (has_root()) {
      out.push_back(under_root("/root"));
      for (const char* base : {"/home", "/Users"}) {
        std::string dir = under_root(base);
        for (const auto& n : names_in(dir))
          if (n[0] != '.') out.push_back(dir + "/" + n);
      }
    }
    std::vector<std::string> unique;
    for (auto& h : out)
      if (std::find(unique.begin(), unique.end(), h) == unique.end()) unique.push_back(h);
    return unique;
  }

  // $XDG_<NAME> for a home, or its default below it.
  std::string xdg(const std::string& home, const char* var, const char* fallback) const {
    if (auto v = env(var); v && home == first_home()) return configured(*v);
    return home + "/" + fallback;
  }

  // "C:\ProgramData" -> ROOT/ProgramData.
  std::string windows_path(const std::string& p) const {
    std::string s = p;
    if (s.size() >= 2 && s[1] == ':') s = s.substr(2);
    std::replace(s.begin(), s.end(), '\\', '/');
    return under_root(s.empty() || s[0] != '/' ? "/" + s : s);
  }

 private:
  std::string first_home() const {
    auto h = env("HOME");
    return h ? configured(*h) : std::string();
  }
  std::string root_;
  const std::map<std::string, std::string>& env_;
};

struct Candidate {
  Install install;
  std::string evidence;  // a file that shows an install is here; empty: none
  bool strong = false;   // both trees look like Jellyfin's
};

LocatedDir dir_at(const std::string& path, const std::string& source) {
  return {normalise(path), source, false};
}

bool looks_like_data(const std::string& dir, std::string* evidence) {
  for (const char* f : {".jellyfin-data", "data/jellyfin.db", "data/library.db"}) {
    std::string p = dir + "/" + f;
    if (exists(p)) {
      if (evidence && evidence->empty()) *evidence = p;
      return true;
    }
  }
  return false;
}

bool looks_like_config(const std::string& dir, std::string* evidence) {
  for (const char* f : {".jellyfin-config", "system.xml"}) {
    std::string p = dir + "/" + f;
    if (exists(p)) {
      if (evidence && evidence->empty()) *evidence = p;
      return true;
    }
  }
  return false;
}

// The package's own settings of the JELLYFIN_* variables: its env file and
// systemd drop-ins. Later sources override earlier ones.
std::map<std::string, std::pair<std::string, std::string>> package_settings(const Context& ctx,
                                                                            InstallType type) {
  std::map<std::string, std::pair<std::string, std::string>> out;  // var -> (value, source)
  // As systemd reads a unit: the first unit file found in the directories
  // by precedence, then every drop-in by file name, across directories, a
  // name in a directory of higher precedence masking the same name below.
  static const char* const kUnitDirs[] = {"/etc/systemd/system", "/run/systemd/system",
                                          "/usr/lib/systemd/system", "/lib/systemd/system"};
  std::vector<std::string> units;
  for (const char* dir : kUnitDirs) {
    std::string unit = std::string(dir) + "/jellyfin.service";
    if (exists(ctx.under_root(unit))) {
      units.push_back(unit);
      break;
    }
  }
  std::map<std::string, std::string> dropins;  // file name -> path
  for (auto it = std::rbegin(kUnitDirs); it != std::rend(kUnitDirs); ++it) {
    std::string dir = std::string(*it) + "/jellyfin.service.d";
    for (const auto& n : names_in(ctx.under_root(dir)))
      if (n.size() > 5 && n.compare(n.size() - 5, 5, ".conf") == 0) dropins[n] = dir + "/" + n;
  }
  for (const auto& [name, path] : dropins) units.push_back(path);
  for (const auto& unit : units) {
    for (auto& [k, v] : parse_unit_environment(read_text(ctx.under_root(unit))))
      out[k] = {v, unit};
  }
  // systemd: EnvironmentFile= settings override Environment= ones.
  const char* env_file = type == InstallType::kFedora ? "/etc/sysconfig/jellyfin" : "/etc/default/jellyfin";
  for (auto& [k, v] : parse_env_file(read_text(ctx.under_root(env_file)))) out[k] = {v, env_file};
  return out;
}

// Overrides a default with the environment and the package's settings,
// as the server would see them.
void apply_settings(const Context& ctx, InstallType type, Install& in) {
  std::map<std::string, std::pair<std::string, std::string>> settings;
  if (type == InstallType::kDebian || type == InstallType::kFedora)
    settings = package_settings(ctx, type);
  for (const char* var : {kDataVar, kConfigVar, kLogVar, kCacheVar})
    if (auto v = ctx.env(var)) settings[var] = {*v, var};
  auto set = [&](const char* var, LocatedDir& dir) {
    auto it = settings.find(var);
    if (it != settings.end()) dir = dir_at(ctx.configured(it->second.first), it->second.second);
  };
  set(kDataVar, in.data);
  set(kConfigVar, in.config);
  set(kLogVar, in.log);
  set(kCacheVar, in.cache);
}

// Jellyfin's default for a config dir next to a data dir: <data>/config if
// it exists, else `otherwise`.
LocatedDir config_beside(const std::string& data, const std::string& otherwise, const std::string& source,
                         const std::string& otherwise_source) {
  std::string inside = data + "/config";
  if (is_dir(inside) || otherwise.empty()) return dir_at(inside, source);
  return dir_at(otherwise, otherwise_source);
}

// Every install of `type` the defaults point at (several homes may hold one).
std::vector<Install> defaults_for(const Context& ctx, InstallType type, bool with_settings = true) {
  const std::string src = std::string(install_type_name(type)) + " default";
  std::vector<Install> out;
  auto make = [&](const std::string& data, const LocatedDir& config, const std::string& log,
                  const std::string& cache) {
    Install in;
    in.type = type;
    in.data = dir_at(data, src);
    in.config = config;
    in.log = dir_at(log, src);
    in.cache = dir_at(cache, src);
    out.push_back(std::move(in));
  };
  switch (type) {
    case InstallType::kDebian:
    case InstallType::kFedora:
      make(ctx.under_root("/var/lib/jellyfin"), dir_at(ctx.under_root("/etc/jellyfin"), src),
           ctx.under_root("/var/log/jellyfin"), ctx.under_root("/var/cache/jellyfin"));
      break;
    case InstallType::kDocker:
      make(ctx.under_root("/config"), dir_at(ctx.under_root("/config/config"), src),
           ctx.under_root("/config/log"), ctx.under_root("/cache"));
      break;
    case InstallType::kLinuxserver:
      make(ctx.under_root("/config/data"), dir_at(ctx.under_root("/config"), src),
           ctx.under_root("/config/log"), ctx.under_root("/config/cache"));
      break;
    case InstallType::kHotio:
      make(ctx.under_root("/config/app/data"), dir_at(ctx.under_root("/config/app"), src),
           ctx.under_root("/config/app/log"), ctx.under_root("/config/app/cache"));
      break;
    case InstallType::kPortable:
      for (const auto& home : ctx.homes()) {
        std::string data = ctx.xdg(home, "XDG_DATA_HOME", ".local/share") + "/jellyfin";
        std::string config = ctx.xdg(home, "XDG_CONFIG_HOME", ".config") + "/jellyfin";
        make(data, config_beside(data, config, src, src), data + "/log",
             ctx.xdg(home, "XDG_CACHE_HOME", ".cache") + "/jellyfin");
      }
      break;
    case InstallType::kMacos:
      for (const auto& home : ctx.homes()) {
        for (std::string data : {home + "/Library/Application Support/Jellyfin",
                                 home + "/.local/share/jellyfin"}) {
          make(data, config_beside(data, home + "/.config/jellyfin", src, src), data + "/log", data + "/cache");
        }
      }
      break;
    case InstallType::kWindows: {
      std::vector<std::string> datas = {
          ctx.windows_path(ctx.env("PROGRAMDATA").value_or("C:\\ProgramData")) + "/Jellyfin/Server"};
      if (auto local = ctx.env("LOCALAPPDATA")) datas.push_back(ctx.windows_path(*local) + "/Jellyfin");
      for (const auto& home : ctx.homes()) datas.push_back(home + "/AppData/Local/Jellyfin");
      for (const auto& data : datas)
        make(data, dir_at(data + "/config", src), data + "/log", data + "/cache");
      break;
    }
    case InstallType::kCustom:
      break;
  }
  if (with_settings)
    for (auto& in : out) apply_settings(ctx, type, in);
  return out;
}

// For explicit trees that match no known layout: Jellyfin's own fallbacks.
void custom_log_and_cache(const Context& ctx, Install& in) {
  auto pick = [&](const char* var, const char* name, LocatedDir& dir) {
    if (auto v = ctx.env(var)) {
      dir = dir_at(ctx.configured(*v), var);
      return;
    }
    for (const auto* tree : {&in.data, &in.config}) {
      std::string p = tree->path + "/" + name;
      if (is_dir(p)) {
        dir = dir_at(p, std::string("<") + (tree == &in.data ? "data" : "config") + ">/" + name);
        return;
      }
    }
    dir = dir_at(in.data.path + "/" + name, std::string("<data>/") + name);
  };
  pick(kLogVar, "log", in.log);
  pick(kCacheVar, "cache", in.cache);
}

// A path as the kernel resolves it when it exists, else as written. A link
// another user planted is not followed here either (resolve_path): the path
// stays as written, and create or restore refuses it by name.
std::string real_or_same(const std::string& p) {
  try {
    std::string resolved = resolve_path(p, "install");
    struct stat st;
    if (::lstat(resolved.c_str(), &st) == 0) return resolved;
  } catch (const Error&) {
  }
  return normalise(p);
}

// Resolves a found directory and records whether it is there.
void settle(LocatedDir& d) {
  d.path = real_or_same(d.path);
  d.exists = is_dir(d.path);
}

void finish(const Context& ctx, Install& in) {
  for (LocatedDir* d : {&in.data, &in.config, &in.log, &in.cache}) {
    if (!d->path.empty()) settle(*d);
  }
  if (in.config.exists) {
    if (auto t = transcode_path_of(read_text(in.config.path + "/encoding.xml", /*follow_link=*/false))) {
      bool windows = t->find('\\') != std::string::npos || (t->size() > 1 && (*t)[1] == ':');
      LocatedDir dir = dir_at(windows ? ctx.windows_path(*t) : ctx.configured(*t), "encoding.xml TranscodingTempPath");
      settle(dir);
      in.transcodes = dir;
    }
  }
}

// Debian and Fedora packages share paths; the env file says which it is.
bool package_type_matches(const Context& ctx, InstallType type) {
  bool fedora = exists(ctx.under_root("/etc/sysconfig/jellyfin")) ||
                (!exists(ctx.under_root("/etc/default/jellyfin")) &&
                 (exists(ctx.under_root("/etc/redhat-release")) || exists(ctx.under_root("/etc/fedora-release"))));
  return (type == InstallType::kFedora) == fedora;
}

// The install JELLYFIN_DATA_DIR (and JELLYFIN_CONFIG_DIR) describe, as the
// server started with this environment would see it. Its type is the layout
// whose defaults are these paths (the official image sets exactly those),
// else custom.
Install install_from_environment(const Context& ctx, const std::string& data_dir) {
  Install in;
  in.type = InstallType::kCustom;
  in.why = kDataVar;
  in.data = dir_at(ctx.configured(data_dir), kDataVar);
  if (auto c = ctx.env(kConfigVar)) in.config = dir_at(ctx.configured(*c), kConfigVar);
  else in.config = config_beside(in.data.path, ctx.under_root("/etc/jellyfin"), "<data>/config", "default");
  for (InstallType type : kKnownTypes) {
    for (const auto& d : defaults_for(ctx, type, /*with_settings=*/false)) {
      if (in.type != InstallType::kCustom || d.data.path != in.data.path || d.config.path != in.config.path)
        continue;
      in.type = type;
      in.log = d.log;
      in.cache = d.cache;
    }
  }
  // A package install whose server this environment overrides.
  for (InstallType type : {InstallType::kDebian, InstallType::kFedora}) {
    const char* env_file = type == InstallType::kFedora ? "/etc/sysconfig/jellyfin" : "/etc/default/jellyfin";
    if (in.type != InstallType::kCustom || !package_type_matches(ctx, type) || !exists(ctx.under_root(env_file)))
      continue;
    // Unless the package's own data dir still holds an install: then the
    // variable points at another one.
    std::string own_data = defaults_for(ctx, type, /*with_settings=*/false).front().data.path;
    auto settings = package_settings(ctx, type);
    if (auto it = settings.find(kDataVar); it != settings.end()) own_data = ctx.configured(it->second.first);
    if (own_data != in.data.path && looks_like_data(own_data, nullptr)) continue;
    const Install d = defaults_for(ctx, type).front();
    in.type = type;
    if (!ctx.env(kConfigVar)) in.config = d.config;
    in.log = d.log;
    in.cache = d.cache;
  }
  if (in.type == InstallType::kCustom) {
    custom_log_and_cache(ctx, in);
  } else {
    if (auto v = ctx.env(kLogVar)) in.log = dir_at(ctx.configured(*v), kLogVar);
    if (auto v = ctx.env(kCacheVar)) in.cache = dir_at(ctx.configured(*v), kCacheVar);
  }
  return in;
}


std::vector<Candidate> find_candidates(const Context& ctx) {
  std::vector<Candidate> out;
  for (InstallType type : kKnownTypes) {
    if ((type == InstallType::kDebian || type == InstallType::kFedora) && !package_type_matches(ctx, type))
      continue;
    for (auto& in : defaults_for(ctx, type)) {
      Candidate c;
      bool data = looks_like_data(in.data.path, &c.evidence);
      bool config = looks_like_config(in.config.path, &c.evidence);
      if (!data && !config) continue;
      c.strong = data && config;
      // macOS homes live under /Users; the same layout elsewhere is portable.
      bool mac_home = in.data.path.find("/Users/") != std::string::npos ||
                      in.data.path.find("/Library/Application Support/") != std::string::npos;
      if ((type == InstallType::kMacos) != mac_home && (type == InstallType::kMacos || type == InstallType::kPortable))
        continue;
      bool duplicate = false;
      for (const auto& o : out)
        duplicate |= o.install.data.path == in.data.path && o.install.config.path == in.config.path;
      if (duplicate) continue;
      c.install = std::move(in);
      out.push_back(std::move(c));
    }
  }
  // Only installs with both trees compete if there is one.
  if (std::any_of(out.begin(), out.end(), [](const Candidate& c) { return c.strong; }))
    out.erase(std::remove_if(out.begin(), out.end(), [](const Candidate& c) { return !c.strong; }), out.end());
  return out;
}

std::string describe(const Install& in) {
  return std::string(install_type_name(in.type)) + " (data " + in.data.path + ", config " + in.config.path + ")";
}

}  // namespace

std::string_view install_type_name(InstallType type) {
  switch (type) {
    case InstallType::kDebian: return "debian";
    case InstallType::kFedora: return "fedora";
    case InstallType::kDocker: return "docker";
    case InstallType::kLinuxserver: return "linuxserver";
    case InstallType::kHotio: return "hotio";
    case InstallType::kPortable: return "portable";
    case InstallType::kMacos: return "macos";
    case InstallType::kWindows: return "windows";
    case InstallType::kCustom: return "custom";
  }
  return "custom";
}

std::optional<InstallType> parse_install_type(std::string_view name) {
  for (InstallType t : kKnownTypes)
    if (install_type_name(t) == name) return t;
  return std::nullopt;
}

std::string stop_hint(InstallType type) {
  switch (type) {
    case InstallType::kDebian:
    case InstallType::kFedora:
      return "stop it with `sudo systemctl stop jellyfin` (or let jellyfin-backup do it: --service jellyfin)";
    case InstallType::kDocker:
    case InstallType::kLinuxserver:
    case InstallType::kHotio:
      return "stop the container with `docker stop NAME` (or let jellyfin-backup do it: --container NAME)";
    default:
      return "stop the server first (or let jellyfin-backup do it: --stop-cmd CMD --start-cmd CMD)";
  }
}

Install locate_install(const LocateRequest& request) {
  const Context ctx(request);
  if (ctx.has_root() && !is_dir(ctx.root()))
    throw usage_error(request.root + ": no such directory (--root)");
  std::optional<InstallType> forced;
  if (request.install != "auto") {
    forced = parse_install_type(request.install);
    if (!forced)
      throw bad_flag_error("install", "--install " + request.install + ": unknown install type",
                        "use auto, debian, fedora, docker, linuxserver, hotio, portable, macos or windows");
  }

  Install chosen;
  bool found = false;
  const bool both_explicit = request.data && request.config;
  if (forced) {
    auto installs = defaults_for(ctx, *forced);
    // Several homes: the one that holds an install.
    auto it = std::find_if(installs.begin(), installs.end(), [](const Install& in) {
      return looks_like_data(in.data.path, nullptr) || looks_like_config(in.config.path, nullptr);
    });
    chosen = it != installs.end() ? *it : installs.front();
    chosen.why = "--install " + request.install;
    found = true;
  } else if (auto env_data = ctx.env(kDataVar); env_data && !both_explicit) {
    chosen = install_from_environment(ctx, *env_data);
    found = true;
  } else {
    std::vector<Candidate> candidates = find_candidates(ctx);
    if (both_explicit) {
      const std::string data = real_or_same(*request.data), config = real_or_same(*request.config);
      for (auto& c : candidates) {
        if (c.install.data.path == data && c.install.config.path == config) {
          chosen = c.install;
          chosen.why = "--data and --config match a " + std::string(install_type_name(c.install.type)) +
                       " install";
          found = true;
        }
      }
    } else if (candidates.size() == 1) {
      chosen = candidates.front().install;
      chosen.why = "found " + candidates.front().evidence;
      found = true;
    } else if (candidates.size() > 1) {
      std::string list, flags;
      for (const auto& c : candidates) {
        list += (list.empty() ? "" : " and ") + describe(c.install);
        std::string flag = "--install " + std::string(install_type_name(c.install.type));
        if (flags.find(flag) == std::string::npos) flags += (flags.empty() ? "" : " or ") + flag;
      }
      throw usage_error("found more than one Jellyfin install: " + list,
                        "choose one with " + flags + ", or give --data and --config");
    } else if (!request.data && !request.config) {
      std::string where = ctx.has_root() ? " under " + ctx.root() : "";
      throw usage_error("no Jellyfin install found" + where,
                        "give --data and --config, or --install TYPE (with --root DIR for a mounted disk or "
                        "container volume)");
    }
  }
  if (!found) {
    chosen = Install{};
    chosen.type = InstallType::kCustom;
    chosen.why = both_explicit ? "--data and --config" : "environment";
    if (auto v = ctx.env(kDataVar)) chosen.data = dir_at(ctx.configured(*v), kDataVar);
    if (auto v = ctx.env(kConfigVar)) chosen.config = dir_at(ctx.configured(*v), kConfigVar);
  }
  if (request.data) chosen.data = dir_at(real_or_same(*request.data), "--data");
  if (request.config) chosen.config = dir_at(real_or_same(*request.config), "--config");
  if (chosen.data.path.empty() || chosen.config.path.empty()) {
    const char* missing = chosen.data.path.empty() ? "--data" : "--config";
    throw usage_error(std::string("no Jellyfin install found to take ") + missing + " from",
                      std::string("give ") + missing + " too, or --install TYPE");
  }
  if (chosen.type == InstallType::kCustom && chosen.log.path.empty()) custom_log_and_cache(ctx, chosen);
  finish(ctx, chosen);
  return chosen;
}

std::map<std::string, std::string> parse_env_file(std::string_view text) {
  std::map<std::string, std::string> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::string l = trim(line);
    if (l.empty() || l[0] == '#' || l[0] == ';') continue;
    if (l.rfind("export ", 0) == 0) l = trim(l.substr(7));
    auto eq = l.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string key = trim(l.substr(0, eq));
    std::string rest = trim(l.substr(eq + 1));
    std::string value;
    auto close = rest.empty() ? std::string::npos : rest.find(rest[0], 1);
    if ((rest[0] == '"' || rest[0] == '\'') && close != std::string::npos) {
      // A quoted value ends at its closing quote; a comment may follow.
      value = rest.substr(1, close - 1);
    } else {
      // An unquoted value ends at a comment.
      value = rest;
      auto hash = value.find(" #");
      if (hash != std::string::npos) value = trim(value.substr(0, hash));
    }
    out[key] = value;
  }
  return out;
}

std::map<std::string, std::string> parse_unit_environment(std::string_view text) {
  std::map<std::string, std::string> out;
  std::istringstream in{std::string(text)};
  std::string line, section;
  while (std::getline(in, line)) {
    std::string l = trim(line);
    if (l.empty() || l[0] == '#' || l[0] == ';') continue;
    if (l.front() == '[') {
      section = l;
      continue;
    }
    auto eq = l.find('=');
    // systemd ignores whitespace around the '=' of a setting.
    if (section != "[Service]" || eq == std::string::npos || trim(l.substr(0, eq)) != "Environment") continue;
    std::string rest = trim(l.substr(eq + 1));
    if (rest.empty()) {  // "Environment=" resets the list
      out.clear();
      continue;
    }
    // Space-separated assignments, each optionally quoted as a whole.
    std::size_t i = 0;
    while (i < rest.size()) {
      while (i < rest.size() && rest[i] == ' ') ++i;
      if (i >= rest.size()) break;
      std::string word;
      if (rest[i] == '"' || rest[i] == '\'') {
        char q = rest[i++];
        while (i < rest.size() && rest[i] != q) word.push_back(rest[i++]);
        ++i;
      } else {
        while (i < rest.size() && rest[i] != ' ') word.push_back(rest[i++]);
      }
      auto eq = word.find('=');
      if (eq != std::string::npos && eq > 0) out[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  return out;
}

std::optional<std::string> transcode_path_of(std::string_view encoding_xml) {
  static const std::regex re("<TranscodingTempPath>\\s*([^<]*?)\\s*</TranscodingTempPath>");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_search(encoding_xml.begin(), encoding_xml.end(), m, re)) return std::nullopt;
  std::string p = m[1].str();
  if (p.empty()) return std::nullopt;
  return p;
}

}  // namespace jb

namespace jb {

std::optional<std::string> misplaced_tree(const std::string& dir, std::string_view tree) {
  const std::string own = ".jellyfin-" + std::string(tree);
  const std::string other = tree == "data" ? ".jellyfin-config" : ".jellyfin-data";
  if (exists(dir + "/" + own) || !exists(dir + "/" + other)) return std::nullopt;
  return dir + " holds " + other + ", not " + own + ": it is Jellyfin's " +
         (tree == "data" ? "config" : "data") + " directory, and the server will not start with it as its " +
         std::string(tree) + " directory";
}

}  // namespace jb
