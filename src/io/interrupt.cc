#include "jellyfin_backup/io/interrupt.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <atomic>
#include <cstring>

#include "jellyfin_backup/error.h"

namespace jb {
namespace {

std::atomic<int> g_signal{0};

// Fixed storage: the handler may not allocate or take locks.
struct CleanupSlot {
  std::atomic<bool> active{false};
  char path[4096];
};
std::array<CleanupSlot, 8> g_slots;

void on_signal(int sig) {
  int expected = 0;
  if (!g_signal.compare_exchange_strong(expected, sig)) {
    // Second signal: the user insists. Die the way the signal says.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  for (auto& slot : g_slots)
    if (slot.active.load()) ::unlink(slot.path);
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking reads and writes return EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A closed pipe (`create --output - | head`) must be an error we report,
  // not a silent death.
  ::signal(SIGPIPE, SIG_IGN);
}

int interrupted_signal() { return g_signal.load(); }

std::string interruption() {
  const int sig = g_signal.load();
  if (sig == 0) return {};
  return std::string("interrupted by ") + (sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal");
}

void throw_if_interrupted(const char* consequence) {
  std::string what = interruption();
  if (!what.empty())
    throw Error(ErrorKind::kInterrupted, ErrorCode::kInterrupted, std::move(what), consequence ? consequence : "");
}

int register_cleanup_path(const std::string& path) {
  if (path.size() >= sizeof(g_slots[0].path)) return -1;
  for (std::size_t i = 0; i < g_slots.size(); ++i) {
    auto& slot = g_slots[i];
    if (slot.active.load()) continue;
    std::memcpy(slot.path, path.c_str(), path.size() + 1);
    slot.active.store(true);
    return static_cast<int>(i);
  }
  return -1;
}

void unregister_cleanup_path(int slot) {
  if (slot >= 0) g_slots[static_cast<std::size_t>(slot)].active.store(false);
}

namespace {

// Returns when `fd` is ready for `events` (or poll fails: the read or write
// that follows reports it), looking for a signal every 200 ms.
void wait_until_ready(int fd, short events) {
  for (;;) {
    throw_if_interrupted();
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, 200);
    if (ready > 0 || (ready < 0 && errno != EINTR)) return;
  }
}

}  // namespace

ssize_t read_interruptibly(int fd, void* buffer, std::size_t size) {
  for (;;) {
    wait_until_ready(fd, POLLIN);
    const ssize_t n = ::read(fd, buffer, size);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

ssize_t write_interruptibly(int fd, const void* data, std::size_t size) {
  for (;;) {
    wait_until_ready(fd, POLLOUT);
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

void reset_interrupted_for_testing() { g_signal.store(0); }

}  // namespace jb
