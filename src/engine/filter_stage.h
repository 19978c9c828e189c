#pragma once
// The seam for Vidmill's own filters (deint, denoise, dejit, pabsr1 with
// clarityBoost, dvres, filmgrain): each is a FilterStage that runs on decoded
// AVFrames at its place in the processing chain's fixed order, between the
// libavfilter segments around it (see engine/filter_graph.h). A stage is
// registered by name once per process (the filters library does it at start-up);
// a plan that names a stage nobody registered is refused with kNotImplemented,
// never silently replaced by a stock filter.
//
// Contract for implementers:
//  * Configure() is called once, before any frame, with the format of the
//    frames the stage will receive; it returns the format it will emit (a
//    scaler changes the size, a field-rate deinterlacer doubles frame_rate).
//  * Filter() receives frames in presentation order, one at a time, and may emit
//    any number (0 while it fills a look-ahead window, 2 per frame at field
//    rate). Emitted frames carry pts in the output time base and must be
//    writable copies or fresh buffers (never the input's data modified in place
//    unless av_frame_make_writable() made it so). A null frame means the end of
//    the stream: emit whatever is held, then return.
//  * Errors are Status values; the job fails with the message.
//
// Thread safety: the registry is safe to use from any thread. A stage object is
// used by one pipeline on one thread; it may use threads of its own inside
// Filter().

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/av_ptr.h"

extern "C" {
#include <libavutil/pixfmt.h>
#include <libavutil/rational.h>
}

namespace vidmill::engine {

// The format of the frames flowing between two steps of the chain.
struct VideoFormat {
  int width = 0;
  int height = 0;
  AVPixelFormat pixel_format = AV_PIX_FMT_NONE;
  AVRational time_base{1, 25};   // of the frames' pts
  AVRational frame_rate{25, 1};  // nominal; {0, 1} when unknown
  AVRational sample_aspect_ratio{1, 1};
};

// What a stage is asked to do; each kind reads the fields that concern it.
struct FilterStageOptions {
  std::string name;  // deint | denoise | dejit | pabsr1 | dvres | filmgrain
  // deint: one output frame per field (25i → 50p) or per frame, and the
  // source's field order.
  bool field_rate = false;
  bool top_field_first = true;
  // pabsr1, dvres: the output size; pabsr1 also its clarity boost
  // (none, marginal, very_low, low, medium, high, very_high).
  int width = 0;
  int height = 0;
  std::string clarity_boost = "none";
  // The frames are interlaced and stay so (scale each field on its own).
  bool field_aware = false;
};

class FilterStage {
 public:
  using EmitFn = std::function<Status(FramePtr frame)>;

  virtual ~FilterStage() = default;
  // The pixel format the stage wants, given the one the chain has (by default
  // that one). Where they differ the chain converts before the stage
  // (libavfilter's `format` filter), so Configure sees the wanted format.
  virtual AVPixelFormat InputPixelFormat(AVPixelFormat offered) const { return offered; }
  virtual Result<VideoFormat> Configure(const VideoFormat& input) = 0;
  // `frame` is owned by the stage from here on; null at the end of the stream.
  virtual Status Filter(FramePtr frame, const EmitFn& emit) = 0;
};

using FilterStageFactory =
    std::function<Result<std::unique_ptr<FilterStage>>(const FilterStageOptions& options)>;

// True for the names that are Vidmill's own filters rather than libavfilter's.
bool IsOwnFilterName(const std::string& name);

// Registers (or replaces) the factory for `name`. Returns kInvalidArgument for a
// name that is not one of Vidmill's own filter names.
Status RegisterFilterStage(const std::string& name, FilterStageFactory factory);
void UnregisterFilterStage(const std::string& name);
bool HasFilterStage(const std::string& name);
// The names registered so far, sorted.
std::vector<std::string> RegisteredFilterStages();

// Creates the stage for options.name. kNotImplemented when none is registered
// ("the 'deint' filter arrives with Vidmill's own filters …").
Result<std::unique_ptr<FilterStage>> MakeFilterStage(const FilterStageOptions& options);

}  // namespace vidmill::engine
