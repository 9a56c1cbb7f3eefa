// Names for what we make: the random part of a temporary file's name, and
// this host's name (recorded in manifests and lock files).
#pragma once

#include <string>

namespace jb {

// 8 characters of [a-z0-9] from std::random_device.
std::string random_suffix();

// gethostname(), or "unknown".
std::string host_name();

}  // namespace jb
