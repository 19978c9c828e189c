#pragma once
// What one processing job does, decided beforehand: the engine-level mirror of
// videos::ProcessingPlan (jobs/handlers/process_handler.cc maps one onto the
// other field for field; the engine does not depend on the videos domain).
// Plain data, no libav types.

#include <cstdint>
#include <optional>
#include <string>

namespace vidmill::engine {

// A picture's colour: libavutil's AVColorSpace, AVColorPrimaries,
// AVColorTransferCharacteristic and AVColorRange values (as ints: this
// header has no libav types); 2 is "unspecified" in the first three, 0 in
// range. engine/colour.h decides them.
struct ColourDescription {
  int matrix = 2;
  int primaries = 2;
  int transfer = 2;
  int range = 0;  // 1 limited ("tv"), 2 full ("pc")
  bool rgb = false;
};

struct TranscodeSpec {
  std::string container;               // mov | mxf | mp4 | mts
  std::string codec;                   // h264 | hevc | prores | dnxhd | xdcam | mpeg2 | ffv1
  std::string profile;                 // prores: proxy…4444xq; dnxhd: dnxhd_* / dnxhr_*
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
  int source_width = 0;  // the upright picture's (see source_rotation)
  int source_height = 0;
  // Degrees clockwise the decoded pictures are turned, after deinterlacing,
  // to stand upright (0, 90, 180, 270); -1: not turned, the display matrix is
  // copied to the output instead (videos whose metadata has no rotation).
  int source_rotation = -1;
  double sample_aspect = 1.0;  // of the output's pixels (ProcessingPlan::sample_aspect)
  // The picture's rectangle in the frame (ProcessingPlan::picture_*); a width
  // of 0 is the whole frame. The rest of the frame is black.
  int picture_width = 0;
  int picture_height = 0;
  int picture_x = 0;
  int picture_y = 0;
  // The picture sits in the frame with bars around it.
  bool boxed() const {
    return picture_width > 0 && (picture_width != width || picture_height != height);
  }
  // The source's colour and the output's (colour.h); Transcode() fills both
  // from the input.
  ColourDescription source_colour;
  ColourDescription output_colour;
  // HDR10's static metadata of a PQ source, as x265 parameters
  // (X265Hdr10Params); Transcode() fills it in for HEVC output, whose
  // pictures then carry it (SEI). "" for none.
  std::string hdr10_x265_params;
  // Filters; empty when unused. Names as in the API. Stock names run as
  // libavfilter filters; Vidmill's own names (deint, denoise, dejit, pabsr1,
  // dvres, filmgrain) run as registered FilterStages (engine/filter_stage.h)
  // and are kNotImplemented while none is registered.
  std::string deinterlacer;  // yadif | bwdif | weston3f | deint
  bool deinterlace_field_rate = false;
  std::string denoiser;                // hqdn3d | denoise
  std::string stabilizer;              // dejit
  std::string scaler;                  // scale | pabsr1 | dvres
  std::string clarity_boost = "none";  // with pabsr1: none … very_high
  std::string frame_rate_converter;    // fps | fblend | mcinterpolate
  std::string post_processor;          // filmgrain
  // Clip, in milliseconds from the start of the source.
  bool has_range = false;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  // Duration of the clip in seconds, what progress is measured against when
  // the pictures' length is unknown. 0: the range's duration when there is
  // one; Transcode() fills it in from the input's video stream otherwise.
  double clip_seconds = 0;
  // How long the pictures of the whole source last, when the caller knows it
  // (the ingestion counted them): progress is measured against it rather than
  // the file's length, which includes sound that runs on. 0: unknown.
  double source_video_seconds = 0;
  // The source is a transport stream cut together (ingestion found joins):
  // a range is reached by reading from the start, since a seek by timestamp
  // would find the first part's.
  bool source_timestamp_joins = false;
  bool keep_audio = true;
  int threads = 0;  // 0: the libraries' choice (every core)
};

}  // namespace vidmill::engine
