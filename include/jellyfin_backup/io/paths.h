// Path arithmetic shared by create, restore and recover. Paths are byte
// strings; nothing here touches the disk except absolute_* (realpath).
#pragma once

#include <string>

namespace jb {

// dirname / basename of a path without trailing slashes.
std::string parent_of(const std::string& path);
std::string name_of(const std::string& path);

// True if `inner` is `outer` or lies below it (both absolute, normalised).
bool lies_within(const std::string& inner, const std::string& outer);

// An existing directory, resolved with realpath. Throws Error(kUsage) naming
// `flag` when it is missing or not a directory.
std::string absolute_dir(const std::string& path, const char* flag);

// An absolute, normalised form of `path` whose parent exists (the path
// itself need not): the parent is resolved with realpath.
std::string absolute_target(const std::string& path, const char* flag);

// The two trees may not overlap: a file would be stored twice, and a restore
// of one tree would replace part of the other. Throws Error(kUsage).
void check_not_nested(const std::string& config, const std::string& data);

}  // namespace jb
