#include "cli/options.h"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <map>
#include <optional>
#include <typeinfo>
#include <set>

#include "cli/config_file.h"

namespace jb::cli {
namespace {

// Flags that exclude each other: one given on the command line drops the
// config file's whole group.
const std::vector<std::set<std::string>>& exclusive_groups() {
  static const std::vector<std::set<std::string>> kGroups = {
      {"service", "container", "stop-cmd", "start-cmd"},
      {"keep-old", "discard-old"},
      // Which install: --root or --install on the command line must not be
      // overridden by the file's trees (restore would go to the wrong ones).
      {"data", "config", "install", "root"},
      // A policy is one thing: the command line's replaces the file's.
      {"keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly",
       "keep-version-change"},
  };
  return kGroups;
}

// The argument a cxxopts exception is about, found by structure, not by
// reading cxxopts's message: the shortest prefix of the command line that
// fails the same way ends with it (or, for a bad value given apart,
// "--level abc", with its value).
struct Culprit {
  std::string flag;   // as written: "--level", "-q"
  std::string name;   // without dashes: "level"
  std::string value;  // the value concerned, if any
};

std::optional<Culprit> find_culprit(cxxopts::Options& options, const cxxopts::exceptions::exception& e,
                                    const std::vector<std::string>& args) {
  const std::type_info& kind = typeid(e);
  auto fails_so = [&](std::size_t k) {
    std::vector<char*> argv;
    for (std::size_t i = 0; i < k; ++i) argv.push_back(const_cast<char*>(args[i].c_str()));
    argv.push_back(nullptr);
    try {
      options.parse(static_cast<int>(k), argv.data());
      return false;
    } catch (const cxxopts::exceptions::exception& again) {
      return typeid(again) == kind;
    }
  };
  // A prefix that ends in "--keep-daily" lacks its value only because it
  // was cut there: the culprit's failure stays when the next argument comes.
  for (std::size_t k = 2; k <= args.size(); ++k) {
    if (!fails_so(k) || (k < args.size() && !fails_so(k + 1))) continue;
    Culprit c;
    std::string arg = args[k - 1];
    if (!arg.starts_with("-") && k >= 3) {  // a value, given apart from its flag
      c.value = arg;
      arg = args[k - 2];
    }
    const auto eq = arg.find('=');
    c.flag = arg.substr(0, eq);
    if (eq != std::string::npos && c.value.empty()) c.value = arg.substr(eq + 1);
    c.name = c.flag.substr(std::min(c.flag.find_first_not_of('-'), c.flag.size()));
    return c;
  }
  return std::nullopt;
}

// cxxopts's errors in our words ("--bogus: no such option"), in the shape
// of every other error, decided by the exception's type; `flag_name` is set
// to the option concerned (without "--") when one is found.
std::string flag_message(cxxopts::Options& options, const cxxopts::exceptions::exception& e,
                         const std::vector<std::string>& args, std::string& flag_name) {
  const std::optional<Culprit> c = find_culprit(options, e, args);
  flag_name = c ? c->name : std::string();
  const std::string flag = c ? c->flag : std::string("an option");
  if (dynamic_cast<const cxxopts::exceptions::no_such_option*>(&e)) return flag + ": no such option";
  if (dynamic_cast<const cxxopts::exceptions::missing_argument*>(&e) ||
      dynamic_cast<const cxxopts::exceptions::option_requires_argument*>(&e))
    return flag + " needs a value";
  if (dynamic_cast<const cxxopts::exceptions::gratuitous_argument_for_option*>(&e))
    return flag + " takes no value";
  if (dynamic_cast<const cxxopts::exceptions::incorrect_argument_type*>(&e))
    return c ? flag + ": '" + c->value + "' is not a valid value" : std::string("a value is not valid for its flag");
  if (c) return flag + ": not accepted here";
  return "the command line cannot be parsed";
}

struct OptionInfo {
  bool is_boolean = false;
  bool is_container = false;
};

std::map<std::string, OptionInfo> accepted_options(const cxxopts::Options& options) {
  std::map<std::string, OptionInfo> out;
  for (const auto& group : options.groups())
    for (const auto& o : options.group_help(group).options)
      for (const auto& name : o.l) out[name] = {o.is_boolean, o.is_container};
  return out;
}

cxxopts::ParseResult parse_argv(cxxopts::Options& options, const std::string& command,
                                const std::vector<std::string>& args, const std::string& from) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  try {
    return options.parse(static_cast<int>(args.size()), argv.data());
  } catch (const cxxopts::exceptions::exception& e) {
    std::string flag;
    const std::string message = flag_message(options, e, args, flag);
    if (from.empty()) throw flag_error(command, message, flag);
    // "--level: ..." about a setting of the file: main() adds its line.
    const bool names_setting = !flag.empty() && report_mode().from_config.count(flag);
    throw usage_error(names_setting ? message : message + " (a setting in " + from + ")",
                      "fix " + from + ", or run with --config-file none")
        .with_flag(flag);
  }
}

// The command-line arguments the config file adds for `command`: each
// setting the command takes and the command line did not give.
std::vector<std::string> config_arguments(const ConfigFile& config, const std::string& command,
                                          const cxxopts::Options& options,
                                          const cxxopts::ParseResult& cli) {
  const auto accepted = accepted_options(options);
  std::set<std::string> given;
  for (const auto& [name, info] : accepted)
    if (name != "help" && cli.count(name)) given.insert(name);
  for (const auto& group : exclusive_groups())
    for (const auto& name : group)
      if (given.count(name)) given.insert(group.begin(), group.end());

  // A setting in the command's own section overrides the same key outside.
  std::map<std::string, std::vector<const ConfigSetting*>> chosen;
  std::set<std::string> from_section;
  const ConfigSetting* create_output = nullptr;  // the last `output` under [create]
  // `list DIR` and `prune DIR` default to where create writes: `output`
  // in their own section, else outside a section, else under [create].
  const bool output_is_dir = accepted.count("dir") && !accepted.count("output");
  for (const auto& s : config.settings) {
    const bool is_create_output = output_is_dir && s.section == "create" && s.key == "output";
    if (!s.section.empty() && s.section != command && !is_create_output) continue;
    std::string key = s.key;
    if (key == "output" && output_is_dir) key = "dir";
    if (!accepted.count(key)) {
      if (!s.section.empty())
        throw usage_error(config.path + ":" + std::to_string(s.line) + ": `" + command + "` takes no --" + s.key,
                          "move the line out of [" + command + "], or run with --config-file none");
      continue;
    }
    if (given.count(key)) continue;
    if (is_create_output) {
      create_output = &s;
      continue;
    }
    if (!s.section.empty() && !from_section.count(key)) {
      chosen[key].clear();
      from_section.insert(key);
    } else if (s.section.empty() && from_section.count(key)) {
      continue;
    }
    chosen[key].push_back(&s);
  }

  if (create_output && !chosen.count("dir") && !given.count("dir")) chosen["dir"] = {create_output};

  std::vector<std::string> args;
  for (const auto& [key, settings] : chosen) {
    const OptionInfo& info = accepted.at(key);
    report_mode().from_config[key] = config.path + ":" + std::to_string(settings.back()->line);
    if (info.is_boolean) {
      const ConfigSetting& s = *settings.back();
      auto on = parse_switch(s.value);
      if (!on)
        throw usage_error(config.path + ":" + std::to_string(s.line) + ": " + s.key + " = " + s.value +
                              ": expected yes or no",
                          "fix the line, or run with --config-file none");
      if (*on) args.push_back("--" + key);
    } else if (info.is_container) {
      for (const auto* s : settings) args.push_back("--" + key + "=" + s->value);
    } else {
      args.push_back("--" + key + "=" + settings.back()->value);
    }
  }
  return args;
}

}  // namespace

void add_common_flags(cxxopts::Options& options) {
  options.add_options("Output")
      ("json", "Print one JSON object on stdout at the end (also on failure)")
      ("quiet", "Print nothing but warnings and errors")
      ("config-file", "Read default flags from FILE (default /etc/jellyfin-backup.conf; none: no file)",
       cxxopts::value<std::string>(), "FILE")
      ("on-success", "When the command succeeds, run CMD (/bin/sh -c; the outcome in JELLYFIN_BACKUP_* "
                     "variables)", cxxopts::value<std::string>(), "CMD")
      ("on-failure", "When the command fails, run CMD (/bin/sh -c; the outcome, error line included, in "
                     "JELLYFIN_BACKUP_* variables)", cxxopts::value<std::string>(), "CMD")
      ("h,help", "Show this help");
}

std::optional<cxxopts::ParseResult> parse_flags(cxxopts::Options& options, const std::string& command,
                                                int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  cxxopts::ParseResult result = parse_argv(options, command, args, "");
  if (result.count("help")) {
    std::cout << options.help({"", "Install", "Server", "Output"});
    return std::nullopt;
  }
  if (!result.unmatched().empty())
    throw flag_error(command, "unexpected argument '" + result.unmatched().front() + "'");

  std::optional<std::string> config_path;
  if (result.count("config-file")) config_path = result["config-file"].as<std::string>();
  if (auto config = load_config(config_path)) {
    std::vector<std::string> extra = config_arguments(*config, command, options, result);
    if (!extra.empty()) {
      // Options before the positional arguments, which may follow a "--".
      args.insert(args.begin() + 1, extra.begin(), extra.end());
      result = parse_argv(options, command, args, config->path);
    }
  }
  report_mode().known = true;
  report_mode().json = result.count("json") > 0;
  if (result.count("on-success")) report_mode().on_success = result["on-success"].as<std::string>();
  if (result.count("on-failure")) report_mode().on_failure = result["on-failure"].as<std::string>();
  return result;
}

CommonFlags common_flags(const cxxopts::ParseResult& result) {
  return {result.count("json") > 0, result.count("quiet") > 0};
}

std::string required(const cxxopts::ParseResult& result, const std::string& command,
                     const std::string& flag) {
  if (!result.count(flag)) throw flag_error(command, "--" + flag + " is required", flag);
  return result[flag].as<std::string>();
}

}  // namespace jb::cli
