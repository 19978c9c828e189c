#include "filters/halves.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/flags.h"
#include "common/thread_name.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace vidmill::filters {
namespace {

// How long a thread that waits for the other (the helper for its next task,
// the caller for the helper's half) polls before it sleeps. Waking a sleeping
// thread took 50–150 µs on the 2-core VMs measured (the idle virtual CPU is
// halted), and a filter hands work over a dozen times or more per picture:
// denoise lost about a tenth of its time at 576p that way. Polling costs
// nothing while the other core is idle anyway, and the poll yields the CPU
// to any other thread that wants it.
constexpr std::chrono::microseconds kPoll{200};

// True once ready() is; false if it was not within kPoll.
template <typename Ready>
bool PollFor(const Ready& ready) {
  const auto until = std::chrono::steady_clock::now() + kPoll;
  do {
    for (int i = 0; i < 32; ++i) {
      if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
      _mm_pause();
#endif
    }
    std::this_thread::yield();
  } while (std::chrono::steady_clock::now() < until);
  return ready();
}

// One helper thread, fed one task at a time by the thread that owns it.
class Helper {
 public:
  Helper()
      : thread_([this] {
          NameThisThread("vm-filter-half");
          Loop();
        }) {}
  ~Helper() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  void Start(void (*call)(const void*), const void* context) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      context_ = context;
      busy_.store(true, std::memory_order_relaxed);
      call_.store(call, std::memory_order_release);
    }
    wake_.notify_one();
  }

  void Wait() {
    auto done = [this] { return !busy_.load(std::memory_order_acquire); };
    if (PollFor(done)) return;
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, done);
  }

 private:
  void Loop() {
    auto posted = [this] { return call_.load(std::memory_order_acquire) != nullptr; };
    for (;;) {
      if (!PollFor(posted)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || posted(); });
        if (!posted()) return;  // stop_, nothing left to run
      }
      auto* call = call_.load(std::memory_order_acquire);
      const void* context = context_;  // written before call_ was
      call_.store(nullptr, std::memory_order_relaxed);
      call(context);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        busy_.store(false, std::memory_order_release);
      }
      done_.notify_one();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  // Set under mutex_, read by the polls without it.
  std::atomic<void (*)(const void*)> call_{nullptr};
  std::atomic<bool> busy_{false};
  const void* context_ = nullptr;
  bool stop_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace

bool HelperThreadsAllowed() { return !EnvironmentSwitchOn("VIDMILL_ONE_THREAD"); }

void RunBesideHelper(void (*call)(const void*), const void* context, void (*own)(const void*),
                     const void* own_context) {
  // A caller's own half may split again while its helper is busy with the
  // other half, so each depth of such nesting has a helper of its own.
  thread_local std::vector<std::unique_ptr<Helper>> helpers;
  thread_local size_t depth = 0;
  if (helpers.size() == depth) helpers.push_back(std::make_unique<Helper>());
  Helper& helper = *helpers[depth];
  ++depth;
  helper.Start(call, context);
  try {
    own(own_context);
  } catch (...) {
    helper.Wait();  // the helper's half may still read the caller's frame
    --depth;
    throw;
  }
  helper.Wait();
  --depth;
}

}  // namespace vidmill::filters
