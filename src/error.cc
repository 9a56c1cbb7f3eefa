#include "jellyfin_backup/error.h"

#include <cerrno>
#include <cstring>

namespace jb {

Error::Error(ErrorKind kind, std::string message, std::string hint)
    : std::runtime_error(std::move(message)), kind_(kind), hint_(std::move(hint)) {}

Error::Error(ErrorKind kind, ErrorCode code, std::string message, std::string hint)
    : std::runtime_error(std::move(message)), kind_(kind), code_(code), hint_(std::move(hint)) {}

Error Error::with_message(std::string message) const {
  Error e = *this;
  static_cast<std::runtime_error&>(e) = std::runtime_error(std::move(message));
  return e;
}

Error Error::with_hint(std::string hint) const {
  Error e = *this;
  e.hint_ = std::move(hint);
  return e;
}

Error Error::with_flag(std::string flag) const {
  Error e = *this;
  e.flag_ = std::move(flag);
  return e;
}

std::string Error::full_message() const {
  if (hint_.empty()) return what();
  return std::string(what()) + "; " + hint_;
}

namespace {

ErrorCode code_of_errno(int err) {
  switch (err) {
    case ENOENT: return ErrorCode::kNotFound;
    case EEXIST: return ErrorCode::kExists;
    case ENOSPC:
    case EDQUOT: return ErrorCode::kNoSpace;
    case EACCES:
    case EPERM: return ErrorCode::kPermission;
    default: return ErrorCode::kNone;
  }
}

}  // namespace

Error io_error(const std::string& path, const std::string& what, int err, std::string hint) {
  std::string message = path + ": " + what;
  if (err != 0) message += std::string(": ") + std::strerror(err);
  const ErrorCode code = code_of_errno(err);
  // Says nothing of flags: what to choose instead is the caller's to say.
  if (hint.empty() && code == ErrorCode::kPermission)
    hint = "run as a user that can access it (the jellyfin user or root)";
  Error e(ErrorKind::kRuntime, code, std::move(message), std::move(hint));
  e.errno_ = err;
  return e;
}

Error exists_error(const std::string& path, std::string hint) {
  return Error(ErrorKind::kRuntime, ErrorCode::kExists, path + ": already exists", std::move(hint));
}

Error usage_error(std::string message, std::string hint) {
  return Error(ErrorKind::kUsage, std::move(message), std::move(hint));
}

Error bad_flag_error(std::string flag, std::string message, std::string hint) {
  return Error(ErrorKind::kUsage, ErrorCode::kBadFlag, std::move(message), std::move(hint))
      .with_flag(std::move(flag));
}

Error damaged_error(std::string message, std::string hint) {
  return Error(ErrorKind::kDamaged, std::move(message), std::move(hint));
}

Error damaged_error(ErrorCode code, std::string message, std::string hint) {
  return Error(ErrorKind::kDamaged, code, std::move(message), std::move(hint));
}

Error refused_error(std::string message, std::string hint) {
  return Error(ErrorKind::kRefused, std::move(message), std::move(hint));
}

Error refused_error(ErrorCode code, std::string message, std::string hint) {
  return Error(ErrorKind::kRefused, code, std::move(message), std::move(hint));
}

}  // namespace jb
