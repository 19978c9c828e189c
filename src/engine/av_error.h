#pragma once
// The one place where a libav* error code becomes a Status.
//
// Classification (what the jobs layer relies on to decide whether to retry):
//  * kCorruptMedia — the input itself is the problem and retrying cannot help:
//    invalid data, unexpected end of file (truncated upload), no demuxer or
//    decoder for it, a refused container, limits exceeded.
//  * kUnavailable  — an I/O fault on our side (EIO, ENOSPC, EAGAIN): retry later.
//  * kCancelled    — AVERROR_EXIT, i.e. our interrupt callback stopped the call.
//                    (MediaInput reports a passed deadline as kTimeout instead.)
//  * kNotFound     — ENOENT.
//  * kInternal     — anything else (ENOMEM, AVERROR_BUG, EINVAL from our own
//                    misuse of an API).
// Two contexts classify differently, each in its own function below: our own
// output files (AvOutputStatus) and an encoder's settings (AvEncoderOpenStatus).
//
// Messages are for operators: "<context>: <detail>", where detail is the most
// specific text available — the error line libav logged while the call ran
// (captured by AvLogCapture, e.g. "moov atom not found"), otherwise
// av_strerror()'s text ("Invalid data found when processing input").

#include <string>
#include <string_view>

#include "common/status.h"

namespace vidmill::engine {

// Converts `averror` (< 0) into a Status. `detail`, when not empty, replaces
// libav's generic description of the code.
Status AvStatus(int averror, std::string_view context, std::string_view detail = {});

// The same for creating, writing or closing one of our own output files (in
// the attempt's temporary directory): whatever the code (ENOENT, EACCES,
// EROFS, ENOSPC, EIO), the fault is the machine's, not the media's, so it is
// kUnavailable and waited out; AVERROR_EXIT stays kCancelled.
Status AvOutputStatus(int averror, std::string_view context, std::string_view detail = {});

// The same for an encoder that refuses to open with the settings a plan
// chose: it will refuse them every time, and the source is not at fault, so
// kInvalidArgument (permanent); only ENOMEM keeps AvStatus's kInternal.
Status AvEncoderOpenStatus(int averror, std::string_view context, std::string_view detail = {});

// Filter instances given this name log only warnings and errors (their
// informational statistics are dropped once an AvLogCapture has installed the
// callback).
inline constexpr char kQuietFilterName[] = "vidmill_quiet";

// av_strerror() as a std::string.
std::string AvErrorText(int averror);

// While alive, records the error-level lines libav* logs on this thread, so a
// failing call can be reported with the library's own explanation. Captures
// nest (the innermost one records). Installing the first capture installs a
// process-wide av_log callback that forwards every line to FFmpeg's default
// callback unchanged (so logging behaves as before) and additionally records
// it for the active capture of the logging thread.
//
// Thread safety: each capture belongs to the thread that created it.
class AvLogCapture {
 public:
  AvLogCapture();
  ~AvLogCapture();
  AvLogCapture(const AvLogCapture&) = delete;
  AvLogCapture& operator=(const AvLogCapture&) = delete;

  // The first error line logged since construction or the last Clear(), trimmed;
  // empty if none. The first line is usually the cause; later ones are fallout.
  const std::string& first_error() const { return first_error_; }
  void Clear() { first_error_.clear(); }

  // Used by the log callback.
  void Record(int level, std::string_view line);

 private:
  AvLogCapture* previous_;
  std::string first_error_;
};

}  // namespace vidmill::engine
