#pragma once
// The processing pipeline, in-process: libavformat → libavcodec (decode) →
// one libavfilter graph → libavcodec (encode) → libavformat (mux).
//
// The video filter graph is built from the spec in a fixed order:
//
//   trim → deinterlace → denoise → [stabilise] → scale → frame-rate conversion
//        → [film grain] → interlace/field flags → pixel format
//
// with every option written out (see BuildVideoFilters). Audio, when the
// source has it and the spec keeps it, runs through its own small graph
// (atrim → aresample) so that a clip range cuts both streams at the same
// instants; frame-rate conversion leaves audio untouched, so its speed is
// kept. Output goes to `output_path` (a temporary name chosen by the caller,
// who publishes it by rename); on any error the partial file is removed.
//
// Thread safety: one call per thread; calls are independent.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/status.h"
#include "engine/media_input.h"

namespace vidmill::engine {

// Everything the pipeline does, decided beforehand (videos::ProcessingPlan
// maps onto it one to one; the engine does not depend on the videos domain).
struct TranscodeSpec {
  std::string container;  // mov | mxf | mp4 | mts
  std::string codec;      // h264 | hevc | prores | dnxhd | xdcam | mpeg2 | ffv1
  std::string profile;    // prores: proxy…4444xq; dnxhd: dnxhd_* / dnxhr_*
  std::string pixel_format;            // "yuv422p10le"
  std::optional<double> bitrate_mbps;  // rate-controlled codecs; DNxHD's profile rate
  int width = 0;
  int height = 0;
  double fps = 25;
  bool interlaced_output = false;
  bool top_field_first = true;
  // Source facts (from ingestion).
  bool source_interlaced = false;
  bool source_top_field_first = true;
  double source_fps = 25;
  int source_width = 0;
  int source_height = 0;
  // Filters; empty when unused. Names as in the API.
  std::string deinterlacer;          // yadif | bwdif | weston3f (deint: own filter)
  bool deinterlace_field_rate = false;
  std::string denoiser;              // hqdn3d
  std::string scaler;                // scale
  std::string frame_rate_converter;  // fps | fblend | mcinterpolate
  // Clip, in milliseconds from the start of the source.
  bool has_range = false;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  bool keep_audio = true;
  int threads = 0;  // 0: the libraries' choice
};

struct TranscodeProgress {
  double fraction = 0;                 // 0..1 of the expected output duration
  std::optional<double> eta_seconds;
};

struct TranscodeResult {
  int64_t video_frames = 0;
  double duration_seconds = 0;
  bool has_audio = false;
};

using TranscodeProgressFn = std::function<void(const TranscodeProgress&)>;

// Builds the libavfilter description of the video chain (without the buffer
// source and sink). `start_seconds` is the source's start time, so a range is
// cut at absolute timestamps. Errors: kNotImplemented for filters Vidmill
// implements itself that are not built yet (deint, denoise, dejit, pabsr1,
// dvres, filmgrain), kInvalidArgument for names it does not know.
Result<std::string> BuildVideoFilters(const TranscodeSpec& spec, double start_seconds);

Result<TranscodeResult> Transcode(const std::string& input_path, const std::string& output_path,
                                  const TranscodeSpec& spec, const MediaLimits& limits,
                                  const TranscodeProgressFn& progress, const CancelFn& cancel);

// "25", "30000/1001": the exact rational for a frame rate given as a double.
std::string RateString(double fps);
AVRational RateRational(double fps);

}  // namespace vidmill::engine
