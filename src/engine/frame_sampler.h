#pragma once
// Decoding frames sampled across a whole video, cheaply.
//
// SampleFrames() decodes `windows` runs of `frames_per_window` consecutive
// frames whose starts are spread evenly over the duration, and hands each frame
// to a sink. Consecutive frames matter: interlace detection compares
// neighbouring frames. To keep the cost near windows × frames_per_window
// decoded frames whatever the GOP length, a window far ahead is reached by
// seeking to the keyframe at or before its start and taking frames from there;
// a window close ahead (or an input that cannot seek) is reached by decoding
// forward. Frames already handed out are never handed out twice, so short
// videos are simply decoded once, front to back. Damaged frames (decode errors,
// AV_FRAME_FLAG_CORRUPT) are skipped.
//
// Each frame is handed out with `follows`: it is the very next picture after
// the one handed out before (decoded next, with no seek, skipped or damaged
// frame between), so an analysis that compares neighbours (idet, the field
// phase) can go on across a window's start instead of starting again. A short
// video whose windows touch is then one run.
//
// Errors: from the input (kTimeout, kCancelled, kCorruptMedia), from the sink
// (returned as is), and kCorruptMedia when not a single frame decodes.

#include <functional>

#include "common/status.h"
#include "engine/media_input.h"
#include "engine/metadata.h"

namespace vidmill::engine {

struct SamplingPlan {
  int windows = 12;
  int frames_per_window = 24;
  // The video's frame count, when known (metadata): spreads the windows by frame
  // index when the duration is unknown (raw elementary streams).
  int64_t total_frames = 0;
  // How long the counted pictures last (metadata video_duration_millis, when
  // every packet was counted; else 0). When they fill less than ⅔ of the
  // stream's duration (a file cut short, whose header still gives the whole
  // length), the windows spread over the pictures there are. A Matroska or
  // TS stream's counted span is its pictures' timestamps, so a gap or a
  // variable rate is not taken for a cut (audit 43 F2: a frame count times
  // the average period was).
  int64_t pictures_millis = 0;
  // A transport stream cut together (metadata timestamp_joins): its
  // timestamps do not say where a window is, so the windows go by frame
  // index, nothing is sought, and the later parts' timestamps are moved on
  // (TimestampJoiner), so its thumbnails and quality come from every part,
  // not the first only.
  bool timestamps_joined = false;
};

// The plan for `metadata`'s video (ProbeMetadata): `windows` windows of up
// to `max_frames_per_window` frames, its frame count, the counted pictures'
// span and whether its timestamps were joined. Short videos' windows shrink
// so that they still spread over the whole video, and touch, so that its
// frames are one run for idet (3-frame runs left idet undetermined; audit 40
// F4); at least 3 frames each.
SamplingPlan SamplingPlanFor(const VideoMetadata& metadata, int windows, int max_frames_per_window);

// `frame` is valid only during the call (av_frame_ref/clone it to keep it).
using FrameSink =
    std::function<Status(const AVFrame* frame, int window_idx, int index_in_window, bool follows)>;

// Decodes the sampled frames of `input`'s video stream and passes them to
// `sink`, in order. Reads `input` from wherever it is (call Rewind() first if
// it was read before). `on_progress` (optional) gets the fraction done.
// Returns the number of frames handed to the sink.
Result<int64_t> SampleFrames(MediaInput& input, const SamplingPlan& plan, const FrameSink& sink,
                             const std::function<void(double)>& on_progress = nullptr);

}  // namespace vidmill::engine
