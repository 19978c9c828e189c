#pragma once
// The ingestion columns of the videos table (ingestion_*, metadata_available,
// metadata_committed, metadata, quality, thumbnail_count, web_video_available):
// their only writers. See videos/video_store.h for the conventions (statuses,
// percentages, JSON text, *_updated_at).
//
// Life of an ingestion: the upload route publishes the original and calls
// EnqueueIngestion in the same transaction (status IN_PROGRESS at 0 %); the
// ingestion job's worker calls MarkIngestionStarted, then
// RecordIngestionProgress as it goes, RecordIngestionMetadata as soon as the
// metadata is known (videoMetadataAvailable), and CommitIngestion with the
// rest at the end (DONE, videoMetadataCommitted) — or the queue calls
// MarkIngestionFailed when the job fails for good (FAILED + message). Workers
// call these through a fenced write (jobs::JobContext), so a worker that lost
// its lease changes nothing.
//
// All functions take the caller's Session and write nothing else. NotFound
// when the video row does not exist (except where noted).

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "storage/database.h"

namespace vidmill::jobs {

enum class IngestionKind { kFull, kLight };

// "full" / "light" (the ingestion_kind column).
std::string_view IngestionKindName(IngestionKind kind);

// Enqueues the ingestion job of a freshly uploaded video (superseding any
// earlier ingestion of it) and resets its ingestion columns: IN_PROGRESS, 0 %,
// no metadata, quality, thumbnails or web video. Call inside the upload's
// transaction. Returns the job id.
Result<std::string> EnqueueIngestion(storage::Session& session, const std::string& video_id,
                                     IngestionKind kind, const Clock& clock);

// The ingestion was queued, or a worker started an attempt of it: IN_PROGRESS,
// progress 0. Earlier partial results are cleared, so a retry starts from a
// clean slate. The error is cleared too, except a retry note at a later
// attempt (`retry`): the user sees why it runs again.
Status MarkIngestionStarted(storage::Session& session, const std::string& video_id,
                            IngestionKind kind, int64_t now_millis, bool retry = false);

// Progress of an IN_PROGRESS ingestion; a video in another state is left
// alone (OK).
Status RecordIngestionProgress(storage::Session& session, const std::string& video_id,
                               double percent, std::optional<int64_t> eta_seconds,
                               int64_t now_millis);

// Stores the metadata JSON object and sets metadata_available.
Status RecordIngestionMetadata(storage::Session& session, const std::string& video_id,
                               const std::string& metadata_json, int64_t now_millis);

struct IngestionResult {
  std::string metadata_json;                // the final metadata object
  std::optional<std::string> quality_json;  // full ingestion only
  int64_t thumbnail_count = 0;
  bool web_video_available = false;
};

// The ingestion finished: DONE at 100 %, metadata committed.
Status CommitIngestion(storage::Session& session, const std::string& video_id,
                       const IngestionResult& result, int64_t now_millis);

// An attempt failed and the job waits for another: still IN_PROGRESS, back at
// 0 %, with `note` (what failed, when it runs again) shown as retryMessage
// until the next attempt starts. OK when the video is gone or in another state.
Status MarkIngestionRetrying(storage::Session& session, const std::string& video_id,
                             const std::string& note, int64_t now_millis);

// The ingestion failed for good: FAILED with `message` (for the user). OK when
// the video no longer exists.
Status MarkIngestionFailed(storage::Session& session, const std::string& video_id,
                           const std::string& message, int64_t now_millis);

}  // namespace vidmill::jobs
