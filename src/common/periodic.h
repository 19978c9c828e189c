#pragma once
// A task run every `interval` on a thread of its own until Stop() (or
// destruction): housekeeping a long-running process repeats, such as the
// media sweep of `vidmill serve` and the workers' temp-dir sweep.
//
// Thread safety: Stop() is the owner's to call (more than once is fine).

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace vidmill {

class PeriodicTask {
 public:
  // The first run is one `interval` after construction.
  PeriodicTask(std::chrono::milliseconds interval, std::function<void()> task);
  ~PeriodicTask();
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  // Waits for a run in progress to end; no run starts after it returns.
  void Stop();

 private:
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vidmill
