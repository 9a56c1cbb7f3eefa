#pragma once

namespace jb {

// Set by meson from project(version: ...).
#ifndef JB_VERSION
#define JB_VERSION "0.0.0-dev"
#endif
inline constexpr const char* kToolVersion = JB_VERSION;

}  // namespace jb
