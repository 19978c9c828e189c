#pragma once
// The process-video request (POST /videos/v1/process-video/{id}): parsed and
// validated against the reference's field table and the source's metadata,
// then resolved into a ProcessingPlan in which every choice is explicit —
// container, codec and profile, pixel format, bitrate, size, scanning, frame
// rate, filters and clip range — so the worker never guesses.
//
// Every refusal is InvalidArgument (400) with a message naming the field, the
// value given and what is allowed. Unknown fields are refused too: a typo must
// not silently do nothing. Pure domain code: pixel formats are described by
// name, chroma subsampling and bit depth; libav is not involved.
//
// Thread safety: free functions.

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace vidmill::videos {

// What validation needs to know about the source, read from its ingestion
// metadata (see SourceFromMetadata).
struct SourceInfo {
  std::string container;  // mov | mxf | mp4 | mts | "" (another container)
  std::string codec;      // h264 | hevc | prores | dnxhd | mpeg2 | ffv1 | … (libav name mapped)
  std::string chroma = "4:2:0";
  int bits = 8;
  bool rgb = false;  // stored as RGB (qtrle, PNG, FFV1 RGB, …): chroma is "4:4:4"
  int width = 0;
  int height = 0;
  double sample_aspect = 1.0;  // pixel width / pixel height
  // Degrees clockwise the stored pictures are turned to stand upright (width,
  // height and sample_aspect are the upright picture's); -1 when the metadata
  // does not say (ingested before 2026-12-01: width and height are the stored
  // picture's, and the pictures are not turned).
  int rotation = -1;
  double fps = 25.0;
  int64_t duration_ms = 0;
  // How long the pictures last (metadata videoDurationInMillis, else
  // totalFrames over averageFramerate), which may end before duration_ms
  // (sound that runs on); 0 when unknown.
  int64_t video_duration_ms = 0;
  // Where the first picture is after the file's start (metadata
  // videoStartInMillis: video that starts after its sound); 0 when unknown.
  int64_t video_start_ms = 0;
  // A transport stream cut together (metadata timestampJoins > 0): read from
  // its start, its timestamps do not say where a range is.
  bool timestamp_joins = false;
  int64_t video_bit_rate = 0;  // bits/s; 0 when unknown
  bool interlaced = false;
  bool top_field_first = true;
  bool has_audio = false;
};

// Reads the ingestion metadata document (GET /v1/video's ingestion.metadata).
// `file_name` helps tell mov from mp4 (one demuxer reads both).
Result<SourceInfo> SourceFromMetadata(const boost::json::object& metadata,
                                      const std::string& file_name);

struct ProcessingPlan {
  // Output format.
  std::string container;  // mov | mxf | mp4 | mts
  std::string codec;      // h264 | prores | dnxhd | xdcam | hevc | mpeg2 | ffv1
  std::string profile;    // ProRes or DNx profile; "" otherwise
  std::string chroma;     // "4:2:2"
  int bits = 8;
  std::string pixel_format;            // FFmpeg name: "yuv422p10le"
  std::optional<double> bitrate_mbps;  // nullopt: fixed by profile or lossless
  bool bitrate_derived = false;        // computed, not requested
  int width = 0;
  int height = 0;
  // Pixel width / height of the output: the source's where the frame keeps
  // its shape (the source's size, or 2x/3x/4x), so an anamorphic 16:9 PAL
  // frame stays 16:9 on screen; a standard-definition frame's (720 or 704 by
  // 480, 486 or 576) shows 4:3 or 16:9; square pixels for any other size.
  double sample_aspect = 1.0;
  // Where the picture sits in the frame: the whole frame, or, when the frame's
  // shape differs from the source's display aspect by more than 3 %, the
  // largest rectangle of that aspect, centred (pillarbox or letterbox), with
  // black around it. Offsets on the chroma grid, and on whole field pairs
  // for interlaced output.
  int picture_width = 0;
  int picture_height = 0;
  int picture_x = 0;
  int picture_y = 0;
  // The picture sits in the frame with bars around it.
  bool boxed() const {
    return picture_width > 0 && (picture_width != width || picture_height != height);
  }
  // Scanning of the output.
  bool interlaced_output = false;
  bool top_field_first = true;
  // Frame rate of the output, and how it is reached.
  double fps = 25.0;
  std::optional<double> requested_fps;  // frameRate given in the request
  // Source facts the pipeline needs.
  bool source_interlaced = false;
  bool source_top_field_first = true;
  double source_fps = 25.0;
  int source_width = 0;
  int source_height = 0;
  int source_rotation = -1;  // SourceInfo::rotation
  int64_t source_video_ms = 0;  // SourceInfo::video_duration_ms
  bool source_timestamp_joins = false;  // SourceInfo::timestamp_joins
  bool has_audio = false;
  // Filters in pipeline order; each empty when not used.
  std::string deinterlacer;             // deint | yadif | bwdif | weston3f
  bool deinterlace_field_rate = false;  // one frame per field (25i → 50p)
  std::string denoiser;                 // denoise | hqdn3d
  std::string stabilizer;               // dejit
  std::string scaler;                   // pabsr1 | dvres | scale ("" = no size change)
  std::string clarity_boost = "none";
  std::string frame_rate_converter;  // fps | fblend | mcinterpolate
  std::string post_processor;        // filmgrain
  // Clip.
  int64_t start_ms = 0;
  int64_t end_ms = 0;  // exclusive; the source duration when no range
  bool has_range = false;

  // The reference's processing.processingParameters document.
  boost::json::object ToProcessingParameters() const;
  // The Pixop-named filters this plan uses (deint, denoise, dejit, pabsr1,
  // dvres, clarityBoost, filmgrain), for callers that must check they exist.
  std::vector<std::string> OwnFilters() const;
  double DurationSeconds() const { return static_cast<double>(end_ms - start_ms) / 1000.0; }
};

Result<ProcessingPlan> ValidateProcessingRequest(const boost::json::object& request,
                                                 const SourceInfo& source);

// The containers a codec may go in, and the codecs a container takes.
const std::vector<std::string>& CodecsFor(const std::string& container);
// Chroma subsamplings each codec supports (with its profile), and the bit
// depths it supports with one of them.
std::vector<std::string> ChromaFor(const std::string& codec, const std::string& profile);
std::vector<int> BitsFor(const std::string& codec, const std::string& profile,
                         const std::string& chroma);

// DNxHD (not HR): the bitrate in Mb/s for a profile at a size and rate, or
// nullopt where the format defines none.
std::optional<int> DnxhdBitrate(const std::string& profile, int width, int height, double fps);

}  // namespace vidmill::videos
