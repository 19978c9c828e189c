#pragma once
// Ingestion: everything Vidmill learns and makes from an uploaded video, in one
// call the worker runs (the jobs layer stores the results; the engine knows no
// database and no HTTP).
//
// Steps, in order:
//  1. metadata  — MediaInput::Open + ProbeMetadata (metadata.h): container, codec,
//                 pixel format, size, rate, duration, exact frame count, stream
//                 size, scanning from metadata. Reported through `on_metadata` as
//                 soon as known, before the slow steps (the API's
//                 videoMetadataAvailable turns true then).
//     Light ingestion stops here: no decoding beyond at most one frame, the frame
//     count is exact when the container indexes frames (MP4/MOV) or the
//     demux-only count finishes within 300 ms, estimated otherwise
//     (metadata.total_frames_exact says which). Well under a second for any size.
//  2. analysis  — one sampling pass (frame_sampler.h: 12 windows of up to 24
//                 consecutive frames spread over the video) feeding, per frame:
//                 idet (scanning heuristics, scanning.h), every 8th frame the
//                 quality measures (quality.h), and the frames chosen for
//                 thumbnails. Once the pass ends the scanning verdict decides how
//                 quality is read and thumbnails are drawn (top field if
//                 interlaced); thumbnails are written as JPEGs (thumbnail.h).
//  3. web_preview — a full decode/encode pass (web_preview.h), deinterlacing when
//                 the heuristics say interlaced. Skipped when no path is given.
//
// Outputs go to the temporary paths in IngestionOutputs; the caller publishes
// them by rename once RunIngestion succeeds and deletes them when it fails (a
// failed web preview removes its own partial file; thumbnails already written
// stay until the caller deletes them).
//
// Progress: `on_progress` is called at least at every step boundary and every
// ~100 ms while work advances, with the overall fraction (0..1; step weights:
// metadata 5%, analysis 20%, web preview 75% — renormalised when a step is
// skipped) and an ETA extrapolated from the elapsed time. `cancel` is polled on
// every read of the input and for every decoded frame; when it returns true
// RunIngestion returns kCancelled promptly. The deadline in MediaLimits ends it
// with kTimeout.
//
// Errors: kCorruptMedia (not a video, truncated, no video stream, over the
// limits, refused container — retrying cannot help), kNotFound (no input file),
// kUnavailable (I/O; retry), kTimeout, kCancelled, kInternal (a bug or an
// encoder failure).
//
// Thread safety: reentrant; callbacks run on the calling thread.

#include <boost/json.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/media_input.h"
#include "engine/metadata.h"
#include "engine/quality.h"
#include "engine/scanning.h"

namespace vidmill::engine {

enum class IngestionKind {
  kFull,   // /upload: metadata, heuristics, quality, thumbnails, web preview
  kLight,  // /upload/light: metadata and scanning from metadata only
};

struct IngestionOutputs {
  // One temporary path per thumbnail wanted; thumbnails are spread evenly over
  // the video, in order. Empty: no thumbnails. Ignored by light ingestion.
  std::vector<std::string> thumbnail_paths;
  // Temporary path of the web preview MP4. Empty: none. Ignored by light ingestion.
  std::string web_preview_path;
};

struct IngestionProgress {
  std::string_view step;              // "metadata", "analysis", "web_preview", "done"
  double fraction = 0;                // of the whole ingestion, 0..1, never decreasing
  std::optional<double> eta_seconds;  // absent until it can be estimated
};

using ProgressFn = std::function<void(const IngestionProgress&)>;
using MetadataFn = std::function<void(const VideoMetadata&)>;

struct IngestionReport {
  IngestionKind kind = IngestionKind::kFull;
  // Full ingestion sets metadata.scanning_heuristics.
  VideoMetadata metadata;
  // Full ingestion only.
  std::optional<QualityAssessment> quality;
  int64_t frames_analysed = 0;
  int thumbnails_written = 0;
  bool web_preview_written = false;
  // Wall time of each step run, in seconds, in order.
  std::vector<std::pair<std::string, double>> step_seconds;

  // {"metadata": <ingestion.metadata>, "qualityAssessment": <…> (full only)}
  boost::json::object ToJson() const;
};

// Runs ingestion of `input_path` (see the file comment). `progress`, `cancel` and
// `on_metadata` may be empty.
Result<IngestionReport> RunIngestion(const std::string& input_path, IngestionKind kind,
                                     const IngestionOutputs& outputs, const MediaLimits& limits,
                                     const ProgressFn& progress, const CancelFn& cancel,
                                     const MetadataFn& on_metadata = nullptr);

}  // namespace vidmill::engine
