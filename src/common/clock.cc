#include "common/clock.h"

#include <ctime>

namespace vidmill {

int64_t Clock::NowMillis() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Now().time_since_epoch()).count();
}

int64_t Clock::NowSeconds() const { return NowMillis() / 1000; }

const SystemClock& SystemClock::Instance() {
  static const SystemClock clock;
  return clock;
}

TimePoint FakeClock::Now() const {
  return TimePoint(std::chrono::milliseconds(millis_.load()));
}

std::string FormatApiDate(int64_t epoch_millis) {
  std::time_t seconds = static_cast<std::time_t>(epoch_millis / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string FormatHttpDate(int64_t epoch_seconds) {
  std::time_t seconds = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

}  // namespace vidmill
