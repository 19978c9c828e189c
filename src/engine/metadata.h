#pragma once
// The metadata part of ingestion: what the container and stream headers say,
// plus an exact frame count, without decoding the video.
//
// ProbeMetadata() fills every field of the reference's `ingestion.metadata`
// (see VideoMetadata::ToJson) and `scanning.metadata`. It reads the headers that
// MediaInput::Open already parsed and, for the frame count and the video stream
// size, uses the cheapest exact source:
//  1. the sample index of containers that carry one for every frame (MP4/MOV:
//     the stts/stsz tables; libavformat exposes them as the stream's index);
//  2. otherwise a demux-only pass that counts the video stream's packets and sums
//     their sizes (no decoding; reading is I/O bound, ~1 GB/s from page cache).
// With CountPolicy::kBudgeted (light ingestion) the pass in 2 stops when its time
// budget runs out and the numbers are estimated instead (frames = duration ×
// average frame rate; stream size extrapolated from the bytes read); the
// *_exact flags say which. Light ingestion thus finishes in well under a second
// for any file size, while full ingestion always counts exactly.
//
// Scanning from metadata comes from the stream's field order; when the
// container does not record it, from the first decoded frame's flags (one
// frame is decoded in that case only).
//
// Thread safety: functions are reentrant; a MediaInput is used by one thread.

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "engine/media_input.h"

namespace vidmill::engine {

enum class ScanningType { kProgressive, kInterlaced };
enum class FieldOrder { kNone, kTopFieldFirst, kBottomFieldFirst };

struct Scanning {
  ScanningType type = ScanningType::kProgressive;
  FieldOrder field_order = FieldOrder::kNone;  // kNone iff progressive

  bool interlaced() const { return type == ScanningType::kInterlaced; }
  bool operator==(const Scanning&) const = default;

  // {"scanningType": "progressive"|"interlaced",
  //  "interlacedFieldOrder": "top_field"|"bottom_field"|null}
  boost::json::object ToJson() const;
  // "progressive", "interlaced top_field", "interlaced bottom_field".
  std::string ToString() const;
};

// Maps libav's field order to Vidmill's. libav's two-letter codes name the
// field coded/stored first, and FFmpeg's own tools write a top-field-first
// stream as TT or TB (bottom-first as BB or BT), so the first letter decides.
// AV_FIELD_UNKNOWN yields nullopt.
std::optional<Scanning> ScanningFromFieldOrder(AVFieldOrder order);

struct Rational {
  int num = 0;
  int den = 1;
  bool operator==(const Rational&) const = default;
  // "16:9"; "" when unknown (den or num is 0).
  std::string ToString() const;
};

struct PixelFormatInfo {
  std::string name;                // "yuv420p"
  std::string chroma_subsampling;  // "4:2:0"; "4:4:4" for RGB, "4:0:0" for grey
  int bits = 0;                    // bits per component sample: 8, 10, 12 …
};

// Describes a pixel format (AV_PIX_FMT_NONE gives an empty name and 0 bits).
PixelFormatInfo DescribePixelFormat(AVPixelFormat format);

struct VideoMetadata {
  std::string container_name;       // libavformat demuxer name: "mov,mp4,m4a,3gp,3g2,mj2"
  std::string long_container_name;  // "QuickTime / MOV"
  std::string codec_name;           // "h264"
  std::string long_codec_name;      // "H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10"
  PixelFormatInfo pixel_format;
  // The picture as shown: a stream stored turned (a display matrix, phones'
  // portrait video) has its width and height, pixel shape and aspect ratios
  // given upright, as processing turns its pictures.
  int frame_width = 0;
  int frame_height = 0;
  int rotation = 0;                    // degrees clockwise the stored picture is turned
  Rational sample_aspect_ratio{1, 1};  // pixel shape; 1:1 when unknown
  Rational display_aspect_ratio;       // picture shape: width·SAR : height, reduced
  Rational storage_aspect_ratio;       // width : height, reduced
  double average_framerate = 0;        // frames per second
  // The rate the stream was shot at: the average, except for a progressive
  // variable-rate stream (a phone dropping frames in low light) whose
  // r_frame_rate (libavformat's guess from its shortest frame durations) is
  // above the average but under 1.5 × it. Processing without a frameRate
  // keeps this rate.
  double nominal_framerate = 0;
  int64_t duration_millis = 0;
  // How long the pictures last: their counted span where the packets were
  // counted (Matroska, MPEG-TS), else total frames ÷ average. Processing
  // refuses a range that starts after the pictures end (at
  // video_start_millis + this).
  int64_t video_duration_millis = 0;
  // Where the first picture is, after the file's start (the origin of a
  // processing range): 0 for most files; in an MPEG-TS whose video starts
  // after its sound, the gap. Processing refuses a range that ends before it.
  int64_t video_start_millis = 0;
  // Joins found in a transport stream cut together (TimestampJoiner): its
  // duration is then the parts' together, not its timestamps' span, and
  // processing reads it from the start rather than seeking by timestamp.
  int timestamp_joins = 0;
  int64_t total_frames = 0;
  bool total_frames_exact = false;
  int64_t size = 0;               // bytes in the file
  int64_t video_stream_size = 0;  // bytes of video packets
  bool video_stream_size_exact = false;
  int64_t bit_rate = 0;  // whole file, bits/s; 0 when unknown
  bool has_audio = false;
  std::string audio_codec_name;  // "" without audio
  int audio_channels = 0;
  int audio_sample_rate = 0;
  // All of them (processing keeps each); the fields above are the main one's.
  int audio_streams = 0;
  Scanning scanning_metadata;
  // Filled by full ingestion (scanning.h); absent after light ingestion.
  std::optional<Scanning> scanning_heuristics;

  // The reference's `ingestion.metadata` object: containerName,
  // longContainerName, codecName, longCodecName, pixelFormat{name,
  // chromaSubsampling{yuv, bits}}, frameWidth, frameHeight, scanning{metadata,
  // heuristics (only when known)}, averageFramerate, durationInMillis,
  // totalFrames, size, videoStreamSize — plus Vidmill's additions
  // displayAspectRatio, sampleAspectRatio, storageAspectRatio, bitRate, audio
  // {codecName, channels, sampleRate, streams} or null, totalFramesExact,
  // nominalFramerate, rotation, timestampJoins.
  boost::json::object ToJson() const;
};

enum class CountPolicy {
  kExact,     // count every packet if the container has no index (full ingestion)
  kBudgeted,  // stop counting after `count_budget` and estimate (light ingestion)
};

struct ProbeOptions {
  CountPolicy count_policy = CountPolicy::kExact;
  std::chrono::milliseconds count_budget{300};
  // Called during the counting pass with the fraction of the file read.
  std::function<void(double)> on_count_progress;
};

// Reads the metadata of `input`'s video stream. May read through the file (the
// counting pass) and decode one frame: open a fresh MediaInput for later passes.
// Errors: kCorruptMedia when the counting pass hits undecodable data (a truncated
// file whose header promises more is reported, not silently counted short),
// kTimeout/kCancelled from the input's interrupt.
Result<VideoMetadata> ProbeMetadata(MediaInput& input, const ProbeOptions& options = {});

}  // namespace vidmill::engine
