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

// `path` as written if absolute, else below the current directory.
std::string absolute_path(const std::string& path);

// `path` made absolute and free of symlinks and "."/".." as realpath does,
// except that a symlink is followed only where no other user could have put
// it or could swap it: in a directory of root's or ours that group and others
// cannot write, or in a sticky directory (/tmp) when the link is root's or
// ours. A symlink the `jellyfin` user planted in its tree would otherwise
// steer root anywhere: it is refused (Error kRefused, naming it and `flag`).
// Components from the first missing one on are kept as written.
std::string resolve_path(const std::string& path, const char* flag);

// An existing directory, resolved with resolve_path. Throws Error(kUsage) naming
// `flag` when it is missing or not a directory.
std::string absolute_dir(const std::string& path, const char* flag);

// An absolute, normalised form of `path` whose parent exists (the path
// itself need not): the parent is resolved with resolve_path.
std::string absolute_target(const std::string& path, const char* flag);

// The two trees may nest (Docker images put one inside the other) but not
// be the same directory. Throws Error(kUsage).
void check_distinct_trees(const std::string& config, const std::string& data);

// "a/b" for inner "/x/a/b" and outer "/x"; empty unless `inner` lies strictly
// below `outer`.
std::string relative_below(const std::string& inner, const std::string& outer);

}  // namespace jb
