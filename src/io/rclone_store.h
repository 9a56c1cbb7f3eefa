// The rclone kind of Store, for open_store() alone: the commands only ever
// see a Store.
#pragma once

#include <memory>

#include "jellyfin_backup/io/store.h"

namespace jb {

// A directory on an rclone remote; `dir` is an rclone Location.
std::unique_ptr<Store> make_rclone_store(const Location& dir);

}  // namespace jb
