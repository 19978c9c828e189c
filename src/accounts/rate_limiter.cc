#include "accounts/rate_limiter.h"

#include <algorithm>

namespace vidmill::accounts {

int64_t LoginRateLimiter::RetryAfterSeconds(const std::string& key, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.locked_until_ms <= now_ms) return 0;
  return (it->second.locked_until_ms - now_ms + 999) / 1000;
}

void LoginRateLimiter::RecordFailure(const std::string& key, int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (entries_.size() >= kMaxKeys) PruneLocked(now_ms);
  Entry& entry = entries_[key];
  if (now_ms - entry.last_failure_ms > kForgetAfterSeconds * 1000) entry.failures = 0;
  entry.failures++;
  entry.last_failure_ms = now_ms;
  if (entry.failures > free_failures_) {
    int excess = std::min(entry.failures - free_failures_ - 1, 20);
    int64_t delay = std::min<int64_t>(int64_t{1} << excess, kMaxDelaySeconds);
    entry.locked_until_ms = now_ms + delay * 1000;
  }
}

void LoginRateLimiter::RecordSuccess(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

void LoginRateLimiter::PruneLocked(int64_t now_ms) {
  std::erase_if(entries_, [&](const auto& item) {
    return now_ms - item.second.last_failure_ms > kForgetAfterSeconds * 1000 &&
           item.second.locked_until_ms <= now_ms;
  });
  if (entries_.size() >= kMaxKeys) entries_.clear();  // under attack: forget, stay bounded
}

}  // namespace vidmill::accounts
