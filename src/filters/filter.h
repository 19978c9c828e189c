#pragma once
// VideoFilter: the interface every Vidmill filter (deint, denoise, dejit,
// pabsr1, dvres, filmgrain) implements, on plain planes (filters/frame.h) so the
// algorithms do not depend on libav. The engine wraps its AVFrames into
// FrameViews (filters/register_filters.cc registers each built filter as an
// engine::FilterStage that does exactly that).
//
// Contract:
//  * MakeFilter(name, config) builds a filter for frames of config.input. The
//    filter's output format is output_format() (a scaler changes the size; all
//    others keep size, depth and chroma).
//  * Push(frame, pts) hands one input frame, in presentation order. The filter
//    copies what it needs before returning: the caller may reuse the memory.
//    A frame whose format differs from config.input is kInvalidArgument.
//  * Pull(out) appends every output frame that is ready (0 while a temporal
//    filter fills its look-ahead, 1 per input normally, 2 per input for a
//    field-rate deinterlacer) in presentation order, each with its pts.
//    Output pts are in the input's time base; a field-rate deinterlacer emits
//    in a time base of half the input's, and says so via pts_scale() == 2: a
//    frame's first field at pts*2, its second midway to the next frame's pts
//    (pts + next pts), the last frame's second field one frame interval on
//    (the last interval seen, else config.frame_duration).
//  * Flush() declares the end of the stream; the following Pull() returns
//    everything still held. Push after Flush is kInvalidArgument.
//  * Determinism: the same config (including its "seed" property) and the same
//    input frames give bit-identical output, whatever the thread count.
//
// Thread safety: a filter object is used by one thread at a time.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "filters/frame.h"

namespace vidmill::filters {

// clarityBoost levels of the reference, weakest first.
enum class ClarityBoost { kNone, kMarginal, kVeryLow, kLow, kMedium, kHigh, kVeryHigh };
Result<ClarityBoost> ParseClarityBoost(std::string_view name);

struct FilterConfig {
  PixelFormat input;
  // Scalers (pabsr1, dvres): the output luma size. 0 = same as input.
  int output_width = 0;
  int output_height = 0;
  // Deinterlacers: the field order of the input, and whether to emit one
  // frame per field (25i → 50p) rather than one per frame.
  bool top_field_first = true;
  bool field_rate = false;
  // One frame's duration in pts units: where a field-rate deinterlacer places
  // the second field of a clip's only frame (it has no interval to go by).
  int64_t frame_duration = 1;
  ClarityBoost clarity_boost = ClarityBoost::kNone;
  // Free-form properties, e.g. {"strength", "0.5"}, {"seed", "42"}. Unknown
  // keys are kInvalidArgument, so a typo does not silently do nothing.
  std::map<std::string, std::string> properties;
};

class VideoFilter {
 public:
  virtual ~VideoFilter() = default;

  virtual Status Push(const FrameView& in, int64_t pts) = 0;
  virtual Status Pull(std::vector<OwnedFrame>* out) = 0;
  virtual Status Flush() = 0;

  virtual PixelFormat output_format() const = 0;
  // Output pts are in the input time base divided by pts_scale() (above).
  virtual int pts_scale() const { return 1; }
};

// Moves the frames a filter has finished, in order, from `ready` to the end of
// `out` (what every filter's Pull does with its queue). Always OK.
Status MoveReadyFrames(std::vector<OwnedFrame>* ready, std::vector<OwnedFrame>* out);

// The filter names Vidmill knows.
bool IsKnownFilterName(std::string_view name);

// Builds the named filter. kInvalidArgument for an unknown name, an
// unsupported input format or a bad property.
Result<std::unique_ptr<VideoFilter>> MakeFilter(std::string_view name, const FilterConfig& config);

// Helpers for property parsing: the value of `key` as a number in [lo, hi], or
// `fallback` when absent; kInvalidArgument naming the filter, key and value.
Result<double> DoubleProperty(const FilterConfig& config, std::string_view filter,
                              const std::string& key, double fallback, double lo, double hi);
// kInvalidArgument if config.properties has a key outside `allowed`.
Status CheckProperties(const FilterConfig& config, std::string_view filter,
                       const std::vector<std::string>& allowed);

}  // namespace vidmill::filters
