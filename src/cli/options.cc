#include "cli/options.h"

#include <iostream>

namespace jb::cli {

void add_common_flags(cxxopts::Options& options) {
  options.add_options("Output")
      ("json", "Print one JSON object on stdout at the end (also on failure)")
      ("quiet", "Print nothing but warnings and errors")
      ("h,help", "Show this help");
}

std::optional<cxxopts::ParseResult> parse_flags(cxxopts::Options& options, const std::string& command,
                                                int argc, char** argv) {
  cxxopts::ParseResult result;
  try {
    result = options.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    throw flag_error(command, e.what());
  }
  if (result.count("help")) {
    std::cout << options.help({"", "Install", "Server", "Output"});
    return std::nullopt;
  }
  if (!result.unmatched().empty())
    throw flag_error(command, "unexpected argument '" + result.unmatched().front() + "'");
  return result;
}

CommonFlags common_flags(const cxxopts::ParseResult& result) {
  return {result.count("json") > 0, result.count("quiet") > 0};
}

std::string required(const cxxopts::ParseResult& result, const std::string& command,
                     const std::string& flag) {
  if (!result.count(flag)) throw flag_error(command, "--" + flag + " is required");
  return result[flag].as<std::string>();
}

}  // namespace jb::cli
