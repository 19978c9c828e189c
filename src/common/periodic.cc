#include "common/periodic.h"

#include <utility>

#include "common/thread_name.h"

namespace vidmill {

PeriodicTask::PeriodicTask(std::chrono::milliseconds interval, std::function<void()> task)
    : thread_([this, interval, task = std::move(task)] {
        NameThisThread("vm-periodic");
        std::unique_lock lock(mu_);
        while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
          lock.unlock();
          task();
          lock.lock();
        }
      }) {}

PeriodicTask::~PeriodicTask() { Stop(); }

void PeriodicTask::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

}  // namespace vidmill
