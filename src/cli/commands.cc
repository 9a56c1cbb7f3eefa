#include "cli/cli.h"

namespace jb::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands = {
      {"create", cmd_create}, {"verify", cmd_verify}, {"inspect", cmd_inspect},
      {"restore", cmd_restore}, {"recover", cmd_recover}, {"where", cmd_where},
      {"list", cmd_list},     {"prune", cmd_prune},   {"copy", cmd_copy},
      {"status", cmd_status},
  };
  return kCommands;
}

const Command* find_command(std::string_view name) {
  for (const Command& command : commands())
    if (name == command.name) return &command;
  return nullptr;
}

}  // namespace jb::cli
