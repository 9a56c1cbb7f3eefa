// cxxopts set-up shared by the command files: the common flags, parsing with
// errors turned into usage errors (exit 2), and --help.
#pragma once

// --exclude 'a,b' is one glob: never split repeated values on commas.
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>

#include <optional>
#include <string>

#include "cli/cli.h"

namespace jb::cli {

// Adds --json, --quiet and --help to `options`.
void add_common_flags(cxxopts::Options& options);

// Parses argv; throws a usage error (exit 2) for unknown flags, bad values
// and stray arguments. Returns nullopt after printing --help.
std::optional<cxxopts::ParseResult> parse_flags(cxxopts::Options& options, const std::string& command,
                                                int argc, char** argv);

CommonFlags common_flags(const cxxopts::ParseResult& result);

// The value of a required flag, or a usage error naming it.
std::string required(const cxxopts::ParseResult& result, const std::string& command,
                     const std::string& flag);

}  // namespace jb::cli
