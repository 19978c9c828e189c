#include "engine/av_error.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>
#include <utility>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
}

namespace vidmill::engine {
namespace {

thread_local AvLogCapture* t_capture = nullptr;

// Filter instances whose closing statistics (logged at INFO) are ours to report,
// not the log's: the idet graphs of the scanning analysis, one per window.
bool IsQuietInstance(void* avcl) {
  if (avcl == nullptr) {
    return false;
  }
  const AVClass* cls = *static_cast<const AVClass* const*>(avcl);
  if (cls == nullptr || cls->item_name == nullptr) {
    return false;
  }
  return std::strcmp(cls->item_name(avcl), kQuietFilterName) == 0;
}

void LogCallback(void* avcl, int level, const char* fmt, va_list args) {
  if (level > AV_LOG_WARNING && IsQuietInstance(avcl)) {
    return;
  }
  if (t_capture != nullptr && level <= AV_LOG_ERROR) {
    va_list copy;
    va_copy(copy, args);
    char line[512];
    std::vsnprintf(line, sizeof(line), fmt, copy);
    va_end(copy);
    t_capture->Record(level, line);
  }
  av_log_default_callback(avcl, level, fmt, args);
}

// libav's own INFO lines (libx264's closing statistics, "using cpu
// capabilities", filter summaries) name no job and no time, and they would
// fill the serve log: warnings and errors only, unless the environment
// variable VIDMILL_LIBAV_LOG names another level for troubleshooting.
int LibavLogLevel() {
  const char* wanted = std::getenv("VIDMILL_LIBAV_LOG");
  if (wanted == nullptr) return AV_LOG_WARNING;
  static constexpr std::pair<std::string_view, int> kLevels[] = {
      {"quiet", AV_LOG_QUIET}, {"error", AV_LOG_ERROR},     {"warning", AV_LOG_WARNING},
      {"info", AV_LOG_INFO},   {"verbose", AV_LOG_VERBOSE}, {"debug", AV_LOG_DEBUG}};
  for (const auto& [name, level] : kLevels) {
    if (name == wanted) return level;
  }
  return AV_LOG_WARNING;
}

void InstallLogCallbackOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_level(LibavLogLevel());
    av_log_set_callback(LogCallback);
  });
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '.')) {
    text.remove_suffix(1);
  }
  while (!text.empty() && text.front() == ' ') {
    text.remove_prefix(1);
  }
  return text;
}

}  // namespace

std::string AvErrorText(int averror) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  if (av_strerror(averror, text, sizeof(text)) < 0) {
    return "libav error " + std::to_string(averror);
  }
  return text;
}

Status AvStatus(int averror, std::string_view context, std::string_view detail) {
  std::string message(context);
  message += ": ";
  std::string_view trimmed = Trim(detail);
  message += trimmed.empty() ? AvErrorText(averror) : std::string(trimmed);

  switch (averror) {
    case AVERROR_INVALIDDATA:
    case AVERROR_EOF:
    case AVERROR_DECODER_NOT_FOUND:
    case AVERROR_DEMUXER_NOT_FOUND:
    case AVERROR_STREAM_NOT_FOUND:
    case AVERROR_PATCHWELCOME:
    case AVERROR(ENOSYS):
      return Status::CorruptMedia(std::move(message));
    case AVERROR(EIO):
    case AVERROR(ENOSPC):
    case AVERROR(EAGAIN):
      return Status::Unavailable(std::move(message));
    case AVERROR_EXIT:
      return Status::Cancelled(std::move(message));
    case AVERROR(ENOENT):
      return Status::NotFound(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

Status AvOutputStatus(int averror, std::string_view context, std::string_view detail) {
  Status status = AvStatus(averror, context, detail);
  if (status.code() == Code::kCancelled) return status;
  return Status::Unavailable(status.message());
}

Status AvEncoderOpenStatus(int averror, std::string_view context, std::string_view detail) {
  Status status = AvStatus(averror, context, detail);
  if (averror == AVERROR(ENOMEM)) return status;
  return Status::InvalidArgument(status.message());
}

AvLogCapture::AvLogCapture() : previous_(t_capture) {
  InstallLogCallbackOnce();
  t_capture = this;
}

AvLogCapture::~AvLogCapture() { t_capture = previous_; }

void AvLogCapture::Record(int level, std::string_view line) {
  std::string_view trimmed = Trim(line);
  if (first_error_.empty() && !trimmed.empty()) {
    first_error_ = std::string(trimmed);
  }
}

}  // namespace vidmill::engine
