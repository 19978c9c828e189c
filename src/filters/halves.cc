#include "filters/halves.h"

#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace vidmill::filters {
namespace {

// One helper thread, fed one task at a time by the thread that owns it.
class Helper {
 public:
  Helper() : thread_([this] { Loop(); }) {}
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
      call_ = call;
      context_ = context;
      busy_ = true;
    }
    wake_.notify_one();
  }

  void Wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return !busy_; });
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stop_ || call_ != nullptr; });
      if (call_ == nullptr) return;  // stop_, nothing left to run
      auto* call = call_;
      const void* context = context_;
      call_ = nullptr;
      lock.unlock();
      call(context);
      lock.lock();
      busy_ = false;
      done_.notify_one();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  void (*call_)(const void*) = nullptr;
  const void* context_ = nullptr;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace

bool HelperThreadsAllowed() { return std::getenv("VIDMILL_ONE_THREAD") == nullptr; }

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
