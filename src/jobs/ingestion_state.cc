#include "jobs/ingestion_state.h"

#include <algorithm>
#include <cmath>

#include "jobs/queue.h"

namespace vidmill::jobs {
namespace {

using storage::Null;
using storage::Value;

Status ExpectOneRow(Result<int64_t> changed, const std::string& video_id) {
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return Status::NotFound("video", video_id);
  return Status::Ok();
}

}  // namespace

std::string_view IngestionKindName(IngestionKind kind) {
  return kind == IngestionKind::kLight ? "light" : "full";
}

Result<std::string> EnqueueIngestion(storage::Session& session, const std::string& video_id,
                                     IngestionKind kind, const Clock& clock) {
  int64_t now = clock.NowMillis();
  RETURN_IF_ERROR(MarkIngestionStarted(session, video_id, kind, now));
  return Enqueue(
      session,
      NewJob{std::string(kind == IngestionKind::kLight ? kKindIngestLight : kKindIngestFull),
             video_id, "{}"},
      clock);
}

Status MarkIngestionStarted(storage::Session& session, const std::string& video_id,
                            IngestionKind kind, int64_t now_millis, bool retry) {
  return ExpectOneRow(
      session.Execute(std::string("UPDATE videos SET ingestion_status = 'IN_PROGRESS', "
                                  "ingestion_kind = ?, ingestion_progress = 0, "
                                  "ingestion_eta = NULL, ") +
                          (retry ? "" : "ingestion_error = NULL, ") +
                          "metadata_available = 0, metadata_committed = 0, metadata = NULL, "
                          "quality = NULL, thumbnail_count = 0, web_video_available = 0, "
                          "ingestion_updated_at = ? WHERE id = ?",
                      {std::string(IngestionKindName(kind)), now_millis, video_id}),
      video_id);
}

Status RecordIngestionProgress(storage::Session& session, const std::string& video_id,
                               double percent, std::optional<int64_t> eta_seconds,
                               int64_t now_millis) {
  if (std::isnan(percent)) percent = 0;
  // Runs inside heartbeats: a row in another state is left alone, not an error
  // (an error would roll the lease renewal back).
  return session
      .Execute(
          "UPDATE videos SET ingestion_progress = ?, ingestion_eta = ?, "
          "ingestion_updated_at = ? WHERE id = ? AND ingestion_status = 'IN_PROGRESS'",
          {std::clamp(percent, 0.0, 100.0), eta_seconds ? Value(*eta_seconds) : Null(), now_millis,
           video_id})
      .status();
}

Status RecordIngestionMetadata(storage::Session& session, const std::string& video_id,
                               const std::string& metadata_json, int64_t now_millis) {
  return ExpectOneRow(session.Execute("UPDATE videos SET metadata = ?, metadata_available = 1, "
                                      "ingestion_updated_at = ? WHERE id = ?",
                                      {metadata_json, now_millis, video_id}),
                      video_id);
}

Status CommitIngestion(storage::Session& session, const std::string& video_id,
                       const IngestionResult& result, int64_t now_millis) {
  return ExpectOneRow(
      session.Execute(
          "UPDATE videos SET ingestion_status = 'DONE', ingestion_progress = 100, "
          "ingestion_eta = 0, ingestion_error = NULL, metadata = ?, "
          "metadata_available = 1, metadata_committed = 1, quality = ?, "
          "thumbnail_count = ?, web_video_available = ?, ingestion_updated_at = ? "
          "WHERE id = ?",
          {result.metadata_json, storage::OptionalText(result.quality_json), result.thumbnail_count,
           int64_t{result.web_video_available ? 1 : 0}, now_millis, video_id}),
      video_id);
}

Status MarkIngestionRetrying(storage::Session& session, const std::string& video_id,
                             const std::string& note, int64_t now_millis) {
  return session
      .Execute(
          "UPDATE videos SET ingestion_error = ?, ingestion_progress = 0, ingestion_eta = NULL, "
          "ingestion_updated_at = ? WHERE id = ? AND ingestion_status = 'IN_PROGRESS'",
          {note, now_millis, video_id})
      .status();
}

Status MarkIngestionFailed(storage::Session& session, const std::string& video_id,
                           const std::string& message, int64_t now_millis) {
  // The video may be gone (deleted while its job failed): nothing to mark.
  return session
      .Execute(
          "UPDATE videos SET ingestion_status = 'FAILED', ingestion_error = ?, "
          "ingestion_eta = NULL, ingestion_updated_at = ? WHERE id = ?",
          {message, now_millis, video_id})
      .status();
}

}  // namespace vidmill::jobs
