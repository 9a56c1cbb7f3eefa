#include "jellyfin_backup/error.h"

#include <cstring>

namespace jb {

Error::Error(ErrorKind kind, std::string message, std::string hint)
    : std::runtime_error(std::move(message)), kind_(kind), hint_(std::move(hint)) {}

std::string Error::full_message() const {
  if (hint_.empty()) return what();
  return std::string(what()) + "; " + hint_;
}

Error io_error(const std::string& path, const std::string& what, int err, std::string hint) {
  std::string message = path + ": " + what;
  if (err != 0) message += std::string(": ") + std::strerror(err);
  if (hint.empty() && (err == EACCES || err == EPERM))
    hint = "run as a user that can access it (the jellyfin user or root)";
  if (hint.empty() && (err == ENOSPC || err == EDQUOT))
    hint = "free some space or choose another --output";
  return Error(ErrorKind::kRuntime, std::move(message), std::move(hint));
}

Error usage_error(std::string message, std::string hint) {
  return Error(ErrorKind::kUsage, std::move(message), std::move(hint));
}

Error damaged_error(std::string message, std::string hint) {
  return Error(ErrorKind::kDamaged, std::move(message), std::move(hint));
}

Error refused_error(std::string message, std::string hint) {
  return Error(ErrorKind::kRefused, std::move(message), std::move(hint));
}

}  // namespace jb
