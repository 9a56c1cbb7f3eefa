#include "jellyfin_backup/pipeline/bounded_queue.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

using jb::BoundedQueue;
using namespace std::chrono_literals;

namespace {

// Long enough for a thread that is not blocked to get through a push or pop.
constexpr auto kSettle = 100ms;

}  // namespace

TEST_CASE("BoundedQueue: first in, first out", "[bounded_queue]") {
  BoundedQueue<int> q(8);
  for (int i = 0; i < 8; ++i) REQUIRE(q.push(i));
  for (int i = 0; i < 8; ++i) {
    auto v = q.pop();
    REQUIRE(v.has_value());
    CHECK(*v == i);
  }
  // Interleaved pushes and pops keep the order too.
  q.push(100);
  q.push(101);
  CHECK(q.pop() == std::optional<int>(100));
  q.push(102);
  CHECK(q.pop() == std::optional<int>(101));
  CHECK(q.pop() == std::optional<int>(102));
}

TEST_CASE("BoundedQueue: holds move-only items", "[bounded_queue]") {
  BoundedQueue<std::unique_ptr<std::string>> q(2);
  REQUIRE(q.push(std::make_unique<std::string>("a")));
  REQUIRE(q.push(std::make_unique<std::string>("b")));
  auto a = q.pop();
  REQUIRE(a);
  REQUIRE(*a);
  CHECK(**a == "a");
  auto b = q.pop();
  REQUIRE(b);
  CHECK(**b == "b");
}

TEST_CASE("BoundedQueue: a full queue blocks the producer until a pop", "[bounded_queue]") {
  BoundedQueue<int> q(2);
  REQUIRE(q.push(1));
  REQUIRE(q.push(2));
  std::atomic<bool> pushed{false};
  std::atomic<bool> result{false};
  std::thread producer([&] {
    result = q.push(3);
    pushed = true;
  });
  std::this_thread::sleep_for(kSettle);
  CHECK_FALSE(pushed.load());  // capacity 2 reached: the third push waits

  CHECK(q.pop() == std::optional<int>(1));
  producer.join();
  CHECK(pushed.load());
  CHECK(result.load());
  CHECK(q.pop() == std::optional<int>(2));
  CHECK(q.pop() == std::optional<int>(3));
}

TEST_CASE("BoundedQueue: an empty queue blocks the consumer until a push", "[bounded_queue]") {
  BoundedQueue<int> q(1);
  std::atomic<bool> popped{false};
  std::optional<int> got;
  std::thread consumer([&] {
    got = q.pop();
    popped = true;
  });
  std::this_thread::sleep_for(kSettle);
  CHECK_FALSE(popped.load());
  q.push(42);
  consumer.join();
  CHECK(got == std::optional<int>(42));
}

TEST_CASE("BoundedQueue: close wakes a blocked producer, which drops its item",
          "[bounded_queue]") {
  BoundedQueue<int> q(1);
  REQUIRE(q.push(1));
  std::atomic<bool> done{false};
  std::atomic<bool> result{true};
  std::thread producer([&] {
    result = q.push(2);
    done = true;
  });
  std::this_thread::sleep_for(kSettle);
  CHECK_FALSE(done.load());
  q.close();
  producer.join();
  CHECK_FALSE(result.load());
  // What was queued before close still drains; the dropped item never shows.
  CHECK(q.pop() == std::optional<int>(1));
  CHECK_FALSE(q.pop().has_value());
}

TEST_CASE("BoundedQueue: close wakes a blocked consumer with nullopt", "[bounded_queue]") {
  BoundedQueue<int> q(4);
  std::atomic<bool> done{false};
  std::optional<int> got = 7;
  std::thread consumer([&] {
    got = q.pop();
    done = true;
  });
  std::this_thread::sleep_for(kSettle);
  CHECK_FALSE(done.load());
  q.close();
  consumer.join();
  CHECK_FALSE(got.has_value());
}

TEST_CASE("BoundedQueue: close wakes every blocked thread", "[bounded_queue]") {
  BoundedQueue<int> empty(1);
  std::vector<std::thread> consumers;
  std::atomic<int> woken{0};
  for (int i = 0; i < 4; ++i)
    consumers.emplace_back([&] {
      if (!empty.pop()) ++woken;
    });
  std::this_thread::sleep_for(kSettle);
  CHECK(woken.load() == 0);
  empty.close();
  for (auto& t : consumers) t.join();
  CHECK(woken.load() == 4);
}

TEST_CASE("BoundedQueue: pop drains queued items after close, then returns nullopt",
          "[bounded_queue]") {
  BoundedQueue<int> q(4);
  q.push(1);
  q.push(2);
  q.push(3);
  q.close();
  CHECK_FALSE(q.push(4));  // closed: refused
  CHECK(q.pop() == std::optional<int>(1));
  CHECK(q.pop() == std::optional<int>(2));
  CHECK(q.pop() == std::optional<int>(3));
  CHECK_FALSE(q.pop().has_value());
  CHECK_FALSE(q.pop().has_value());  // and stays so
  q.close();                         // closing twice is harmless
  CHECK_FALSE(q.pop().has_value());
}

TEST_CASE("BoundedQueue: cancel drops what is queued", "[bounded_queue]") {
  BoundedQueue<int> q(4);
  q.push(1);
  q.push(2);
  q.cancel();
  CHECK_FALSE(q.pop().has_value());  // nothing drains after cancel
  CHECK_FALSE(q.push(3));
  CHECK_FALSE(q.pop().has_value());
}

TEST_CASE("BoundedQueue: cancel wakes a blocked producer and a blocked consumer",
          "[bounded_queue]") {
  BoundedQueue<int> full(1);
  full.push(1);
  std::atomic<bool> push_result{true};
  std::thread producer([&] { push_result = full.push(2); });

  BoundedQueue<int> empty(1);
  std::atomic<bool> popped_something{true};
  std::thread consumer([&] { popped_something = empty.pop().has_value(); });

  std::this_thread::sleep_for(kSettle);
  full.cancel();
  empty.cancel();
  producer.join();
  consumer.join();
  CHECK_FALSE(push_result.load());
  CHECK_FALSE(popped_something.load());
  CHECK_FALSE(full.pop().has_value());  // the item queued before cancel is gone
}

TEST_CASE("BoundedQueue: producers and consumers on threads lose and duplicate nothing",
          "[bounded_queue]") {
  constexpr int kProducers = 3;
  constexpr int kPerProducer = 5000;
  BoundedQueue<int> q(3);
  std::vector<int> seen(kProducers * kPerProducer, 0);
  std::vector<std::vector<int>> per_consumer(2);
  std::vector<std::thread> consumers;
  for (auto& out : per_consumer)
    consumers.emplace_back([&q, &out] {
      while (auto v = q.pop()) out.push_back(*v);
    });
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p)
    producers.emplace_back([&q, p] {
      for (int i = 0; i < kPerProducer; ++i) q.push(p * kPerProducer + i);
    });
  for (auto& t : producers) t.join();
  q.close();
  for (auto& t : consumers) t.join();

  for (const auto& out : per_consumer) {
    // Each producer's items arrive in the order it pushed them.
    std::vector<int> last(kProducers, -1);
    for (int v : out) {
      ++seen[static_cast<std::size_t>(v)];
      int producer = v / kPerProducer;
      CHECK(v > last[static_cast<std::size_t>(producer)]);
      last[static_cast<std::size_t>(producer)] = v;
    }
  }
  CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
}
