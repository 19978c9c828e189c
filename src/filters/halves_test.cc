#include "filters/halves.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace vidmill::filters {
namespace {

// Every index in [0, count) once, split at count / 2, threaded or not.
TEST(RunInHalvesTest, CoversEveryIndexOnceWithAFixedSplit) {
  for (bool threaded : {false, true}) {
    for (int count : {0, 1, 2, 3, 10, 101}) {
      std::vector<int> seen(static_cast<size_t>(count), 0);
      std::vector<std::pair<int, int>> ranges(2, {-1, -1});
      std::atomic<int> calls{0};
      RunInHalves(count, threaded, [&](int begin, int end) {
        ranges[begin == 0 ? 0 : 1] = {begin, end};
        ++calls;
        for (int i = begin; i < end; ++i) ++seen[static_cast<size_t>(i)];
      });
      for (int i = 0; i < count; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], 1) << count;
      if (count >= 2) {
        EXPECT_EQ(calls, 2);
        EXPECT_EQ(ranges[0], std::make_pair(0, count / 2));
        EXPECT_EQ(ranges[1], std::make_pair(count / 2, count));
      } else {
        EXPECT_EQ(calls, 1);
      }
    }
  }
}

// Every chunk once; threaded, both threads take chunks (chunk 0 waits until
// a thread other than its own has run one); not threaded, the caller runs all.
TEST(RunInChunksTest, RunsEveryChunkOnceOnBothThreads) {
  for (bool threaded : {false, true}) {
    for (int count : {0, 1, 2, 9}) {
      std::vector<std::atomic<int>> runs(static_cast<size_t>(count));
      std::vector<std::thread::id> runner(static_cast<size_t>(count));
      std::mutex mutex;
      std::set<std::thread::id> threads;
      RunInChunks(count, threaded, [&](int chunk) {
        ++runs[static_cast<size_t>(chunk)];
        runner[static_cast<size_t>(chunk)] = std::this_thread::get_id();
        {
          std::lock_guard<std::mutex> lock(mutex);
          threads.insert(std::this_thread::get_id());
        }
        if (chunk != 0 || !threaded || count < 2) return;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        for (;;) {
          {
            std::lock_guard<std::mutex> lock(mutex);
            if (threads.size() >= 2 || std::chrono::steady_clock::now() > deadline) break;
          }
          std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
      });
      for (int chunk = 0; chunk < count; ++chunk) {
        EXPECT_EQ(runs[static_cast<size_t>(chunk)], 1) << count << " " << chunk;
      }
      int by_caller = 0;
      for (const std::thread::id& id : runner) by_caller += id == std::this_thread::get_id();
      if (threaded && count >= 2) {
        EXPECT_EQ(threads.size(), 2u) << count;
        EXPECT_GT(by_caller, 0) << count;
      } else {
        EXPECT_EQ(by_caller, count) << count;
      }
    }
  }
}

// The second half runs on another thread, the same one call after call.
TEST(RunInHalvesTest, KeepsOneHelperThreadPerCaller) {
  std::thread::id helper;
  for (int round = 0; round < 50; ++round) {
    std::thread::id first, second;
    RunInHalves(2, true, [&](int begin, int) {
      (begin == 0 ? first : second) = std::this_thread::get_id();
    });
    EXPECT_EQ(first, std::this_thread::get_id());
    EXPECT_NE(second, first);
    if (round == 0) helper = second;
    EXPECT_EQ(second, helper);
  }
  // Another caller gets a helper of its own.
  std::thread other([&] {
    std::thread::id second;
    RunInHalves(2, true, [&](int begin, int) {
      if (begin == 1) second = std::this_thread::get_id();
    });
    EXPECT_NE(second, helper);
  });
  other.join();
}

// Halves may split again (the helper has a helper of its own), and several
// callers may split at once.
TEST(RunInHalvesTest, NestsAndRunsFromManyCallers) {
  auto sum_to = [](int count) {
    std::atomic<long> sum{0};
    RunInHalves(count, true, [&](int begin, int end) {
      RunInHalves(end - begin, true, [&](int b, int e) {
        for (int i = begin + b; i < begin + e; ++i) sum += i;
      });
    });
    return sum.load();
  };
  std::vector<std::thread> callers;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 3; ++t) {
    callers.emplace_back([&] {
      for (int round = 0; round < 200; ++round) {
        if (sum_to(1000) != 999L * 1000 / 2) ++wrong;
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(wrong, 0);
}

// Hand-offs work whether the other thread is still polling or has gone to
// sleep: calls back to back and 2 ms apart (past the poll), with the helper's
// half quick or 2 ms long (the caller then sleeps in its wait). Each call
// sees what the helper's half wrote.
TEST(RunInHalvesTest, HandsOverWhetherTheOtherThreadPollsOrSleeps) {
  using std::chrono::milliseconds;
  for (int gap_ms : {0, 2}) {
    for (int helper_ms : {0, 2}) {
      for (int round = 0; round < 20; ++round) {
        std::this_thread::sleep_for(milliseconds(gap_ms));
        int written[2] = {0, 0};
        RunInHalves(2, true, [&](int begin, int) {
          if (begin == 1) std::this_thread::sleep_for(milliseconds(helper_ms));
          written[begin] = round + 1;
        });
        EXPECT_EQ(written[0], round + 1);
        EXPECT_EQ(written[1], round + 1) << gap_ms << " " << helper_ms;
      }
    }
  }
}

// When the caller's half throws, the exception leaves only after the
// helper's half has finished (it may still be using the caller's data).
TEST(RunInHalvesTest, AnExceptionWaitsForTheHelper) {
  std::atomic<bool> helper_done{false};
  try {
    RunInHalves(2, true, [&](int begin, int) {
      if (begin == 1) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        helper_done = true;
      } else {
        throw std::runtime_error("first half");
      }
    });
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error&) {
    EXPECT_TRUE(helper_done);
  }
  // The helper still serves the next call.
  int second = 0;
  RunInHalves(2, true, [&](int begin, int) {
    if (begin == 1) second = 1;
  });
  EXPECT_EQ(second, 1);
}

}  // namespace
}  // namespace vidmill::filters
