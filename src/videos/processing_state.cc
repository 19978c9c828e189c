#include "videos/processing_state.h"

namespace vidmill::videos {
namespace {

Status RequireRow(Result<int64_t> changed, const std::string& video_id) {
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::NotFound("video", video_id);
  return Status::Ok();
}

}  // namespace

Status MarkProcessingStarted(storage::Session& session, const std::string& video_id,
                             int64_t now_millis) {
  return RequireRow(session.Execute("UPDATE videos SET processing_status = 'IN_PROGRESS', "
                                    "processing_progress = 0, "
                                    "processing_eta = NULL, processing_updated_at = ?, "
                                    "updated_at = ? WHERE id = ?",
                                    {now_millis, now_millis, video_id}),
                    video_id);
}

Status RecordProcessingProgress(storage::Session& session, const std::string& video_id,
                                double percent, std::optional<int64_t> eta_seconds,
                                int64_t now_millis) {
  // Runs inside heartbeats: a row gone or in another state is left alone, not
  // an error (an error would roll the lease renewal back).
  return session
      .Execute(
          "UPDATE videos SET processing_progress = ?, processing_eta = ?, "
          "processing_updated_at = ? WHERE id = ? AND processing_status = 'IN_PROGRESS'",
          {percent, eta_seconds ? storage::Value(*eta_seconds) : storage::Null(), now_millis,
           video_id})
      .status();
}

Status CompleteProcessing(storage::Session& session, const std::string& video_id,
                          const std::string& metadata_json, int64_t now_millis) {
  return RequireRow(
      session.Execute("UPDATE videos SET processing_status = 'DONE', processing_error = NULL, "
                      "processing_progress = 100, processing_eta = 0, processing_updated_at = ?, "
                      "ingestion_status = 'DONE', ingestion_kind = 'light', "
                      "ingestion_progress = 100, ingestion_eta = 0, ingestion_updated_at = ?, "
                      "metadata = ?, metadata_available = 1, metadata_committed = 1, "
                      "updated_at = ? WHERE id = ?",
                      {now_millis, now_millis, metadata_json, now_millis, video_id}),
      video_id);
}

Status MarkProcessingRetrying(storage::Session& session, const std::string& video_id,
                              const std::string& note, int64_t now_millis) {
  return session
      .Execute(
          "UPDATE videos SET processing_error = ?, processing_progress = 0, "
          "processing_eta = NULL, processing_updated_at = ? "
          "WHERE id = ? AND processing_status = 'IN_PROGRESS'",
          {note, now_millis, video_id})
      .status();
}

Status MarkProcessingFailed(storage::Session& session, const std::string& video_id,
                            const std::string& message, int64_t now_millis) {
  // Runs inside the transaction that fails the job: a video deleted meanwhile
  // leaves nothing to mark, and must not keep the job from failing.
  return session
      .Execute(
          "UPDATE videos SET processing_status = 'FAILED', processing_error = ?, "
          "processing_eta = NULL, processing_updated_at = ?, updated_at = ? WHERE id = ?",
          {message, now_millis, now_millis, video_id})
      .status();
}

}  // namespace vidmill::videos
