// tools/images/ordered_pipeline.h: results come back in push order whatever order the workers finish
// in, no more than max_in_flight items are ever pushed and not popped, Close() drains, and
// Cancel() from the consumer unblocks a producer stuck on a full pipeline.
#include "tools/images/ordered_pipeline.h"

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include <gtest/gtest.h>

namespace rpfs::testing {
namespace {

using tools::OrderedPipeline;

TEST(OrderedPipelineTest, ResultsInPushOrderAndBounded) {
  constexpr int kItems = 5000;
  constexpr size_t kMaxInFlight = 6;
  std::atomic<int> pushed{0}, popped{0}, worst{0};
  OrderedPipeline<int, int> pipe(4, kMaxInFlight, [](unsigned worker, int& in, int* out) {
    // Uneven work so later items often finish first.
    thread_local std::mt19937 rng(worker + 1);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
    *out = in * 3;
  });
  std::thread producer([&] {
    for (int i = 0; i < kItems; ++i) {
      ASSERT_TRUE(pipe.Push(i));
      int n = pushed.fetch_add(1) + 1 - popped.load();
      int w = worst.load();
      while (n > w && !worst.compare_exchange_weak(w, n)) {
      }
    }
    pipe.Close();
  });
  int out = -1, expect = 0;
  while (pipe.Pop(&out)) {
    popped.fetch_add(1);
    ASSERT_EQ(out, 3 * expect) << "result " << expect << " out of order";
    ++expect;
  }
  producer.join();
  EXPECT_EQ(expect, kItems);
  // `popped` trails the consumer by one item at most.
  EXPECT_LE(worst.load(), static_cast<int>(kMaxInFlight) + 1);
}

TEST(OrderedPipelineTest, CloseWithNothingPushed) {
  OrderedPipeline<int, int> pipe(2, 4, [](unsigned, int& in, int* out) { *out = in; });
  pipe.Close();
  int out;
  EXPECT_FALSE(pipe.Pop(&out));
}

TEST(OrderedPipelineTest, CancelUnblocksAFullProducer) {
  OrderedPipeline<int, int> pipe(2, 3, [](unsigned, int& in, int* out) { *out = in; });
  std::atomic<bool> refused{false};
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) {
      if (!pipe.Push(i)) {
        refused = true;
        return;
      }
    }
  });
  int out;
  ASSERT_TRUE(pipe.Pop(&out));
  EXPECT_EQ(out, 0);
  pipe.Cancel();  // the consumer gives up; the producer is blocked on a full pipeline
  producer.join();
  EXPECT_TRUE(refused.load());
  EXPECT_FALSE(pipe.Pop(&out));
}

}  // namespace
}  // namespace rpfs::testing
