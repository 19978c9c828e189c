#include "jobs/handlers/process_handler.h"

#include <boost/json.hpp>
#include <cmath>

#include "engine/ingestion.h"
#include "engine/transcode.h"
#include "videos/media_state.h"
#include "videos/processing_request.h"
#include "videos/processing_state.h"
#include "videos/video_store.h"

namespace vidmill::jobs {

engine::TranscodeSpec TranscodeSpecFromPlan(const videos::ProcessingPlan& plan) {
  engine::TranscodeSpec spec;
  spec.container = plan.container;
  spec.codec = plan.codec;
  spec.profile = plan.profile;
  spec.pixel_format = plan.pixel_format;
  spec.bitrate_mbps = plan.bitrate_mbps;
  spec.width = plan.width;
  spec.height = plan.height;
  spec.fps = plan.fps;
  spec.interlaced_output = plan.interlaced_output;
  spec.top_field_first = plan.top_field_first;
  spec.source_interlaced = plan.source_interlaced;
  spec.source_top_field_first = plan.source_top_field_first;
  spec.source_fps = plan.source_fps;
  spec.source_width = plan.source_width;
  spec.source_height = plan.source_height;
  spec.source_rotation = plan.source_rotation;
  spec.source_video_seconds = static_cast<double>(plan.source_video_ms) / 1000.0;
  spec.source_timestamp_joins = plan.source_timestamp_joins;
  spec.sample_aspect = plan.sample_aspect;
  spec.picture_width = plan.picture_width;
  spec.picture_height = plan.picture_height;
  spec.picture_x = plan.picture_x;
  spec.picture_y = plan.picture_y;
  spec.deinterlacer = plan.deinterlacer;
  spec.deinterlace_field_rate = plan.deinterlace_field_rate;
  spec.denoiser = plan.denoiser;
  spec.stabilizer = plan.stabilizer;
  spec.scaler = plan.scaler;
  spec.clarity_boost = plan.clarity_boost;
  spec.frame_rate_converter = plan.frame_rate_converter;
  spec.post_processor = plan.post_processor;
  spec.has_range = plan.has_range;
  spec.start_ms = plan.start_ms;
  spec.end_ms = plan.end_ms;
  spec.keep_audio = plan.has_audio;
  return spec;
}

namespace {

std::string MimeTypeFor(const std::string& container) {
  if (container == "mov") return "video/quicktime";
  if (container == "mxf") return "application/mxf";
  if (container == "mp4") return "video/mp4";
  return "video/mp2t";
}

std::string ExtensionFor(const std::string& container) {
  return container == "mts" ? "mts" : container;
}

}  // namespace

ProcessHandler::ProcessHandler(storage::BlobStore& blobs, const Clock& clock,
                               ProcessHandlerOptions options)
    : blobs_(blobs), clock_(clock), options_(options) {}

Status ProcessHandler::Run(JobContext& context) {
  const std::string& child_id = context.job().video_id;
  boost::system::error_code ec;
  // The job's row is read like any stored input: a malformed one fails the
  // job once, with a message, rather than throwing into a retried internal
  // error.
  boost::json::value params = boost::json::parse(context.params_json(), ec);
  const boost::json::value* source_field =
      !ec && params.is_object() ? params.as_object().if_contains("sourceVideoId") : nullptr;
  const boost::json::value* request_field =
      !ec && params.is_object() ? params.as_object().if_contains("request") : nullptr;
  if (source_field == nullptr || !source_field->is_string() || request_field == nullptr ||
      !request_field->is_object()) {
    return Status::InvalidArgument(
        "the processing job's parameters are malformed (they need a string sourceVideoId and "
        "an object request)");
  }
  const std::string source_id(source_field->as_string());
  const boost::json::object& request = request_field->as_object();

  videos::Video source;
  RETURN_IF_ERROR(context.database().Run([&](storage::Session& session) -> Status {
    ASSIGN_OR_RETURN(source, videos::GetVideoAnyTeam(session, source_id));
    return Status::Ok();
  }));
  if (!source.metadata) return Status::CorruptMedia("the source video has no metadata");
  // A media store that is gone fails at publish; found out now, before the
  // whole transcode is run again at every retry.
  RETURN_IF_ERROR(blobs_.CheckAvailable());
  boost::json::value metadata = boost::json::parse(*source.metadata, ec);
  if (ec || !metadata.is_object()) return Status::CorruptMedia("the source metadata is malformed");
  ASSIGN_OR_RETURN(videos::SourceInfo info,
                   videos::SourceFromMetadata(metadata.as_object(), source.file_name.value_or("")));
  ASSIGN_OR_RETURN(videos::ProcessingPlan plan, videos::ValidateProcessingRequest(request, info));
  RETURN_IF_ERROR(context.FencedWrite([&](storage::Session& session) {
    return videos::MarkProcessingStarted(session, child_id, clock_.NowMillis());
  }));
  context.SetMediaDuration(plan.DurationSeconds());

  // A processed video's file is its processed blob (chained processing).
  Result<std::string> input = blobs_.LocalPath(
      source_id, source.is_processed() ? storage::kProcessedBlob : storage::kOriginalBlob);
  if (!input.ok()) {
    // The store gone (Unavailable) is waited out; a missing file is final.
    if (input.status().code() != Code::kNotFound) return input.status();
    return Status::NotFound("the source video's media file is missing");
  }
  std::string extension = ExtensionFor(plan.container);
  std::string output = context.temp_dir() + "/processed." + extension;

  engine::MediaLimits limits;
  limits.max_frame_pixels = options_.max_frame_pixels;
  limits.max_duration_seconds = options_.max_duration_seconds;
  auto on_progress = [&](const engine::TranscodeProgress& progress) {
    std::optional<int64_t> eta;
    if (progress.eta_seconds && std::isfinite(*progress.eta_seconds)) {
      eta = static_cast<int64_t>(std::ceil(*progress.eta_seconds));
    }
    // Leave the last percent for publishing.
    (void)context.ReportProgress(progress.fraction * 99.0, eta);
  };
  auto cancel = [&context] { return context.ShouldStop(); };
  Result<engine::TranscodeResult> transcoded =
      engine::Transcode(*input, output, TranscodeSpecFromPlan(plan), limits, on_progress, cancel);
  RETURN_IF_ERROR(context.CheckStop());
  if (!transcoded.ok()) return transcoded.status();

  // The child's own metadata, from a light probe of what was written.
  Result<engine::IngestionReport> probed = engine::RunIngestion(
      output, engine::IngestionKind::kLight, engine::IngestionOutputs{}, limits, nullptr, cancel);
  if (!probed.ok()) return probed.status().Annotate("probing the processed file");
  std::string output_metadata = boost::json::serialize(probed->metadata.ToJson());

  // Hashed and synced now, moved into place inside the completion's
  // transaction (fenced on this attempt's lease), as ingestion does: a worker
  // that lost the job cannot replace the file of the attempt that has it.
  ASSIGN_OR_RETURN(storage::BlobInfo prepared, blobs_.PrepareFile(output));
  RETURN_IF_ERROR(context.CheckStop());
  videos::MediaFile file;
  file.file_name = videos::ProcessedFileName(source.file_name.value_or(source.name), extension);
  file.size = static_cast<int64_t>(prepared.size);
  file.file_type = MimeTypeFor(plan.container);
  file.container = probed->metadata.long_container_name;
  file.sha256_hex = prepared.sha256_hex;
  Status completed = context.Complete([&](storage::Session& session) -> Status {
    ASSIGN_OR_RETURN(storage::BlobInfo published,
                     blobs_.PublishFile(child_id, storage::kProcessedBlob, output, prepared));
    file.modified_at_ms = published.modified_at_ms;
    int64_t now = clock_.NowMillis();
    RETURN_IF_ERROR(videos::RecordProcessedMedia(session, child_id, file, now));
    return videos::CompleteProcessing(session, child_id, output_metadata, now);
  });
  if (completed.code() == Code::kCancelled) {
    (void)videos::RemoveMediaOfDeletedVideo(context.database(), blobs_, child_id);
  }
  return completed;
}

Status ProcessHandler::OnProgress(storage::Session& session, const Job& job, double percent,
                                  std::optional<int64_t> eta_seconds) {
  return videos::RecordProcessingProgress(session, job.video_id, percent, eta_seconds,
                                          clock_.NowMillis());
}

Status ProcessHandler::OnRetry(storage::Session& session, const Job& job, const std::string& note) {
  return videos::MarkProcessingRetrying(session, job.video_id, note, clock_.NowMillis());
}

Status ProcessHandler::OnFailed(storage::Session& session, const Job& job,
                                const std::string& message) {
  return videos::MarkProcessingFailed(session, job.video_id, message, clock_.NowMillis());
}

}  // namespace vidmill::jobs
