#include "jobs/handlers/ingest_handler.h"

#include <boost/json.hpp>
#include <cmath>
#include <filesystem>

#include "common/log.h"
#include "engine/ingestion.h"
#include "videos/media_state.h"

namespace vidmill::jobs {
namespace {

// Removes the video's thumbnails from number `first` on and, unless
// `keep_web_preview`, its web preview: what an earlier upload's full
// ingestion left and this ingestion did not write over. A light re-upload
// had left them on disk (never served) for the life of the video (audit 36
// F2). `drawn` is how many a full ingestion draws; files past it (a build
// that drew more) go too.
Status RemoveStaleArtifacts(storage::BlobStore& blobs, const std::string& video_id, int first,
                            int drawn, bool keep_web_preview) {
  for (int index = first;; ++index) {
    const std::string name = storage::ThumbnailBlobName(index);
    if (index >= drawn) {
      ASSIGN_OR_RETURN(bool exists, blobs.Exists(video_id, name));
      if (!exists) break;
    }
    RETURN_IF_ERROR(blobs.Remove(video_id, name));
  }
  if (keep_web_preview) return Status::Ok();
  return blobs.Remove(video_id, storage::kWebPreviewBlob);
}

}  // namespace

IngestHandler::IngestHandler(IngestionKind kind, storage::BlobStore& blobs, const Clock& clock,
                             IngestHandlerOptions options)
    : kind_(kind), blobs_(blobs), clock_(clock), options_(options) {}

Status IngestHandler::Run(JobContext& context) {
  const std::string& video_id = context.job().video_id;
  RETURN_IF_ERROR(context.FencedWrite([&](storage::Session& session) {
    return MarkIngestionStarted(session, video_id, kind_, clock_.NowMillis(),
                                /*retry=*/context.job().attempts > 1);
  }));

  Result<std::string> input = blobs_.LocalPath(video_id, storage::kOriginalBlob);
  if (!input.ok()) {
    if (input.status().code() == Code::kNotFound) {
      return Status::NotFound("the uploaded media file of this video is missing");
    }
    return input.status();
  }

  bool full = kind_ == IngestionKind::kFull;
  engine::IngestionOutputs outputs;
  if (full) {
    for (int thumbnail_idx = 0; thumbnail_idx < options_.thumbnail_count; ++thumbnail_idx) {
      outputs.thumbnail_paths.push_back(context.temp_dir() + "/" +
                                        storage::ThumbnailBlobName(thumbnail_idx));
    }
    outputs.web_preview_path = context.temp_dir() + "/" + std::string(storage::kWebPreviewBlob);
  }
  engine::MediaLimits limits;
  limits.max_frame_pixels = options_.max_frame_pixels;
  limits.max_duration_seconds = options_.max_duration_seconds;
  // The deadline is the context's (it moves once the duration is known); the
  // heartbeat turns it into a stop request that `cancel` reports.

  Status metadata_status;
  auto on_metadata = [&](const engine::VideoMetadata& metadata) {
    context.SetMediaDuration(static_cast<double>(metadata.duration_millis) / 1000.0);
    std::string json = boost::json::serialize(metadata.ToJson());
    metadata_status = context.FencedWrite([&](storage::Session& session) {
      return RecordIngestionMetadata(session, video_id, json, clock_.NowMillis());
    });
  };
  auto on_progress = [&](const engine::IngestionProgress& progress) {
    std::optional<int64_t> eta;
    if (progress.eta_seconds && std::isfinite(*progress.eta_seconds)) {
      eta = static_cast<int64_t>(std::ceil(*progress.eta_seconds));
    }
    (void)context.ReportProgress(progress.fraction * 100.0, eta);
  };
  auto cancel = [&context] { return context.ShouldStop(); };

  Result<engine::IngestionReport> report = engine::RunIngestion(
      *input, full ? engine::IngestionKind::kFull : engine::IngestionKind::kLight, outputs, limits,
      on_progress, cancel, on_metadata);
  // A stop request explains a kCancelled from the engine better than the
  // engine can ("lost the lease …", "the job ran longer than …").
  RETURN_IF_ERROR(context.CheckStop());
  if (!report.ok()) {
    return report.status();
  }
  RETURN_IF_ERROR(metadata_status);

  IngestionResult result;
  result.metadata_json = boost::json::serialize(report->metadata.ToJson());
  if (report->quality) {
    result.quality_json = boost::json::serialize(report->quality->ToJson());
  }
  // The files are read, hashed and synced now, and moved into place inside
  // the completion's transaction, which is fenced on this attempt's lease: a
  // worker that lost the job (a newer upload superseded it, its lease ran
  // out while it stalled) never gets there. Renamed earlier, a stalled
  // worker's thumbnails and web preview would replace those of the newer
  // upload, which would then show another clip.
  struct Prepared {
    std::string name;
    std::string path;
    storage::BlobInfo info;
  };
  std::vector<Prepared> prepared;
  if (full) {
    for (int thumbnail_idx = 0; thumbnail_idx < report->thumbnails_written; ++thumbnail_idx) {
      prepared.push_back(
          {storage::ThumbnailBlobName(thumbnail_idx), outputs.thumbnail_paths[thumbnail_idx], {}});
    }
    result.thumbnail_count = report->thumbnails_written;
    if (report->web_preview_written) {
      prepared.push_back({std::string(storage::kWebPreviewBlob), outputs.web_preview_path, {}});
      result.web_video_available = true;
    }
  }
  for (Prepared& file : prepared) {
    ASSIGN_OR_RETURN(file.info, blobs_.PrepareFile(file.path));
  }
  RETURN_IF_ERROR(context.CheckStop());
  Status completed = context.Complete([&](storage::Session& session) -> Status {
    for (const Prepared& file : prepared) {
      RETURN_IF_ERROR(blobs_.PublishFile(video_id, file.name, file.path, file.info).status());
    }
    RETURN_IF_ERROR(RemoveStaleArtifacts(blobs_, video_id, result.thumbnail_count,
                                         options_.thumbnail_count, result.web_video_available));
    return CommitIngestion(session, video_id, result, clock_.NowMillis());
  });
  if (completed.code() == Code::kCancelled) {
    (void)videos::RemoveMediaOfDeletedVideo(context.database(), blobs_, video_id);
  }
  return completed;
}

Status IngestHandler::OnProgress(storage::Session& session, const Job& job, double percent,
                                 std::optional<int64_t> eta_seconds) {
  return RecordIngestionProgress(session, job.video_id, percent, eta_seconds, clock_.NowMillis());
}

Status IngestHandler::OnRetry(storage::Session& session, const Job& job, const std::string& note) {
  return MarkIngestionRetrying(session, job.video_id, note, clock_.NowMillis());
}

Status IngestHandler::OnFailed(storage::Session& session, const Job& job,
                               const std::string& message) {
  // The row says the video has no thumbnails or preview now; an earlier
  // upload's go too, where the store lets them (the failure is recorded
  // whatever: the hourly sweep does not know them, but nothing serves them).
  if (Status removed =
          RemoveStaleArtifacts(blobs_, job.video_id, 0, options_.thumbnail_count, false);
      !removed.ok()) {
    LogWarning("video " + job.video_id +
               ": an earlier upload's previews stay: " + removed.ToString());
  }
  return MarkIngestionFailed(session, job.video_id, message, clock_.NowMillis());
}

}  // namespace vidmill::jobs
