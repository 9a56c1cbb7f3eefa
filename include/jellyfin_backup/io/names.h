// Names for what we make: the random part of a temporary file's name,
// this host's name (recorded in manifests and lock files), and a short
// stand-in for a text too long or too secret to spell in a file name.
#pragma once

#include <string>
#include <string_view>

namespace jb {

// 8 characters of [a-z0-9] from std::random_device.
std::string random_suffix();

// gethostname(), or "unknown".
std::string host_name();

// 16 hex digits of the XXH3-64 hash of `text`.
std::string short_hash(std::string_view text);

}  // namespace jb
