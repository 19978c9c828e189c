#pragma once
// The processing job's video filter chain, built from a TranscodeSpec in a
// fixed order with every option written out:
//
//   trim → deinterlace → denoise → stabilise → scale (+ clarity) →
//   frame-rate conversion → film grain → re-interlace / field order →
//   field flags → pixel format
//
// Stock steps are libavfilter filters; Vidmill's own filters are FilterStages
// (engine/filter_stage.h). Consecutive libavfilter steps form one graph, so a
// chain of stock filters is exactly one libavfilter graph; each own stage splits
// the chain there: graph → stage → graph. docs/processing.md lists the filters
// and options step by step.
//
// Thread safety: BuildVideoSteps / BuildVideoFilters are pure. A
// VideoFilterChain or FilterGraph belongs to one thread.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/av_ptr.h"
#include "engine/filter_stage.h"
#include "engine/transcode_spec.h"

namespace vidmill::engine {

// One step of the chain: a libavfilter description ("bwdif=mode=send_field:…")
// or one of Vidmill's own filters.
struct FilterStep {
  std::string filter;                       // libavfilter; empty for a stage
  std::optional<FilterStageOptions> stage;  // set for an own filter
  // The step after which frames are timed from the first one that passes
  // (setpts=PTS-STARTPTS); before it they keep the input's timestamps.
  bool restarts_clock = false;
  // Not run as `filter`: drops every frame from where the input's pictures
  // end (VideoFilterChain::SetInputEnd), which only the decoded pictures
  // tell. `filter` is its nearest libavfilter description, a trim at the
  // range's end (BuildVideoFilters).
  bool cut_at_pictures_end = false;
};

// The chain for `spec`. `start_seconds` is the source's start time, so a range is
// cut at absolute timestamps. Errors: kInvalidArgument for names it does not
// know. Own filters appear as stage steps whether or not they are registered
// (VideoFilterChain::Create refuses unregistered ones).
Result<std::vector<FilterStep>> BuildVideoSteps(const TranscodeSpec& spec, double start_seconds);

// Writes exact limited-range black (Y 16, Cb and Cr 128, scaled to the
// depth) into `frame` outside the picture's rectangle of `spec` (its bars;
// nothing when the picture fills the frame or the frame is RGB). libavfilter's
// pad writes the chroma of black at more than 8 bits as 514 of 1023, not
// 512. Makes the frame writable first (a copy when its buffers are shared).
Status PaintBarsBlack(AVFrame* frame, const TranscodeSpec& spec);

// The chain as one libavfilter description (what `ffmpeg -vf` would take).
// kNotImplemented when the spec uses one of Vidmill's own filters: those are not
// libavfilter filters. A range with a deinterlacer is cut after it where the
// range's pictures end, which the description writes as a trim at the
// range's end: the same cut where the range ends on a picture or in its first
// half, one field earlier where it ends in its second half.
Result<std::string> BuildVideoFilters(const TranscodeSpec& spec, double start_seconds);

// "25", "30000/1001": the exact rational for a frame rate given as a double
// (NTSC rates are recognised as n×1000/1001).
AVRational RateRational(double fps);
std::string RateString(double fps);

// A configured libavfilter graph with one buffer source and one buffer sink.
struct FilterGraph {
  FilterGraphPtr graph;
  AVFilterContext* source = nullptr;
  AVFilterContext* sink = nullptr;
};

// Builds and configures `source_filter` (buffer | abuffer) with `source_args`
// → `chain` → `sink_filter` (buffersink | abuffersink). `threads`: 0 = every core.
Result<FilterGraph> MakeFilterGraph(const std::string& source_filter,
                                    const std::string& source_args, const std::string& sink_filter,
                                    const std::string& chain, int threads);

// Holds a stream's video frames to one size and pixel format. Streams may
// change size or format mid-way (a broadcast capture switching between SD
// and HD, say), and libavfilter's hqdn3d, yadif and others read past their
// buffers when a frame's size changes under them (the worker died of it);
// Vidmill's own filters refuse such frames. A frame of another size or format
// is scaled and converted to the target's (fields apart where it is flagged
// interlaced, the target's sample aspect ratio); the others pass untouched.
class FrameConformer {
 public:
  explicit FrameConformer(const VideoFormat& target) : target_(target) {}

  // Calls `next` with `frame` (borrowed), or with its conformed copy.
  Status Push(AVFrame* frame, const std::function<Status(AVFrame*)>& next);

 private:
  VideoFormat target_;
  // The graph for frames of from_'s size, format and sample aspect ratio
  // (built at the first such frame, rebuilt when they change again).
  FilterGraph graph_;
  VideoFormat from_;
};

// FrameConformer's counterpart for audio: a stream's audio may change sample
// rate, sample format or channel layout mid-way (transport streams cut
// together: 48 kHz stereo, then 44.1 kHz 5.1), which an abuffer source
// refuses ("Invalid argument"). A frame in another format is resampled
// (aresample, downmixed or upmixed by libswresample's default matrix) to the
// target's; the others pass untouched. Frames are stamped in `time_base`.
class AudioConformer {
 public:
  AudioConformer(int sample_rate, AVSampleFormat sample_format, const AVChannelLayout& layout,
                 AVRational time_base);

  // Calls `next` with `frame` (borrowed), or with its resampled copy.
  Status Push(AVFrame* frame, const std::function<Status(AVFrame*)>& next);

 private:
  int sample_rate_;
  AVSampleFormat sample_format_;
  std::string layout_;  // described, e.g. "stereo"
  int channels_;
  AVRational time_base_;
  FilterGraph graph_;
  std::string from_;  // the graph's input: "rate:format:layout"
};

// The video chain at run time: libavfilter graphs and own stages in order.
class VideoFilterChain {
 public:
  // Receives each frame leaving the chain (borrowed: valid during the call).
  using SinkFn = std::function<Status(AVFrame* frame)>;

  // Builds every segment for frames of `input` format. Errors: kNotImplemented
  // for an own filter nobody registered; libav errors as Status.
  static Result<std::unique_ptr<VideoFilterChain>> Create(const std::vector<FilterStep>& steps,
                                                          const VideoFormat& input, int threads);

  // Pushes one decoded frame (borrowed; null = end of stream) through the chain;
  // frames that come out go to `sink`. Frames of another size or pixel format
  // than the chain was built for are conformed to it first (FrameConformer).
  Status Push(AVFrame* frame, const SinkFn& sink);
  // Where the input stream ends, in the input's time base, when its caller
  // knows better than its last frame's start plus one period (a last picture
  // that lasts a second), and where the first frame the chain passes on
  // starts (`origin`: the chain starts its clock there). Every graph is
  // closed there, also those after an own filter; a trim that ends the first
  // graph ends the others when its end passes through, so this is set as
  // soon as it is known, and may grow.
  void SetInputEnd(int64_t pts, int64_t origin) {
    input_end_ = pts;
    input_origin_ = origin;
  }

  // True once the end of the stream has left the last segment (a trim can end
  // the chain before the input does).
  bool finished() const { return finished_; }

  // The format of the frames that leave the chain.
  const VideoFormat& output_format() const { return output_; }
  // Number of libavfilter graphs / own stages (one graph when all stock).
  int graph_count() const;
  int stage_count() const;

 private:
  struct Segment {
    FilterGraph graph;                   // when `stage` is null
    std::unique_ptr<FilterStage> stage;  // an own filter
    VideoFormat input;                   // of the frames it receives
    int64_t last_pts = AV_NOPTS_VALUE;   // of the last frame it received
    bool ended = false;
    bool clock_restarted = false;  // its input is timed from the origin (FilterStep)
    bool cut = false;              // a FilterStep::cut_at_pictures_end (no graph, no stage)
  };

  explicit VideoFilterChain(const VideoFormat& input) : conformer_(input) {}
  Status PushAt(size_t index, AVFrame* frame, const SinkFn& sink);
  // Where the input ends (SetInputEnd) in `segment`'s clock, in the first
  // segment's time base: from the origin once the clock has restarted
  // (setpts=PTS-STARTPTS), else in the input's own timestamps.
  int64_t InputEndFor(const Segment& segment) const {
    return segment.clock_restarted ? input_end_ - input_origin_ : input_end_;
  }

  std::vector<Segment> segments_;
  int64_t input_end_ = AV_NOPTS_VALUE;  // SetInputEnd
  int64_t input_origin_ = 0;            // SetInputEnd
  FrameConformer conformer_;
  VideoFormat output_;
  bool finished_ = false;
};

}  // namespace vidmill::engine
