#pragma once
// The processing pipeline, in-process: libavformat (safe input) → libavcodec
// (decode) → the video filter chain → libavcodec (encode) → libavformat (mux).
//
// The video chain (engine/filter_graph.h) runs in a fixed order
//
//   trim → deinterlace → denoise → stabilise → scale (+ clarity) →
//   frame-rate conversion → film grain → interlace/field flags → pixel format
//
// with every option written out; with stock filters only it is one libavfilter
// graph, and each of Vidmill's own filters is a FilterStage between graph
// segments (engine/filter_stage.h). Encoders and muxers: engine/encoders.h.
// Audio, when the source has it and the spec keeps it, runs through its own
// small graph (atrim → aresample → aformat) so that a clip range cuts both
// streams at the same instants; frame-rate conversion leaves audio untouched,
// so its speed is kept. Output goes to `output_path` (a temporary name chosen by
// the caller, who publishes it by rename); on any error the partial file is
// removed.
//
// Progress is the output's timestamp (frames written / output rate) against
// the expected duration (the range, or the source's duration); the ETA is
// elapsed × (1 − done) / done once 1 % is done. `cancel` is polled for every
// packet and by the demuxer's interrupt callback.
//
// Thread safety: one call per thread; calls are independent.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/status.h"
#include "engine/filter_graph.h"
#include "engine/media_input.h"
#include "engine/transcode_spec.h"

namespace vidmill::engine {

struct TranscodeProgress {
  double fraction = 0;  // 0..1 of the expected output duration
  std::optional<double> eta_seconds;
};

struct TranscodeResult {
  int64_t video_frames = 0;
  double duration_seconds = 0;
  bool has_audio = false;
};

using TranscodeProgressFn = std::function<void(const TranscodeProgress&)>;

Result<TranscodeResult> Transcode(const std::string& input_path, const std::string& output_path,
                                  const TranscodeSpec& spec, const MediaLimits& limits,
                                  const TranscodeProgressFn& progress, const CancelFn& cancel);

}  // namespace vidmill::engine
