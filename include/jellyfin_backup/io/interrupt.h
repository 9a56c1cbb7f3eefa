// SIGINT/SIGTERM handling shared by every command.
//
// The handler only does async-signal-safe work: it records the signal and
// unlinks the temporary files registered below, so no partial archive
// survives even if the process is stuck in a blocking write. Long loops call
// throw_if_interrupted() between blocks; the exception then unwinds through
// the RAII owners that clean up the rest. A second signal kills the process
// with the default action.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace jb {

void install_interrupt_handlers();

// 0 if no signal arrived, else the signal number.
int interrupted_signal();

// "interrupted by SIGINT" (or SIGTERM) once a signal arrived, else "".
std::string interruption();

// Throws Error(kRuntime) naming the signal if one arrived; `consequence`
// ("no archive was written") becomes the message's hint.
void throw_if_interrupted(const char* consequence = nullptr);

// Registers a path the signal handler unlinks. Returns a slot for
// unregister_cleanup_path(), or -1 when every slot is taken (the path then
// relies on RAII alone).
int register_cleanup_path(const std::string& path);
void unregister_cleanup_path(int slot);

// read(2) that a SIGINT/SIGTERM always ends, also one that arrives just
// before the call (the handler only sets a flag, so a read that starts
// after it would block on a quiet pipe for ever): it waits in poll() in
// short slices and looks at the flag in between. Throws Error(kRuntime)
// naming the signal; otherwise returns what read(2) returns (never EINTR).
ssize_t read_interruptibly(int fd, void* buffer, std::size_t size);

// write(2) with the same promise: a signal ends a write that a stuck
// reader (a full pipe) would otherwise block for ever. Returns what write(2)
// returns (never EINTR).
ssize_t write_interruptibly(int fd, const void* data, std::size_t size);

// Test hook: forget a recorded signal.
void reset_interrupted_for_testing();

}  // namespace jb
