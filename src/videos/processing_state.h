#pragma once
// The processing_* columns of a processed (child) video, written by the
// process-video route (creation) and the process job (progress, outcome).
// Each call is one statement; callers run them inside the job's fenced writes.

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "storage/database.h"

namespace vidmill::videos {

// An attempt of the process job started: IN_PROGRESS at 0 %. A retry note
// from an attempt before stays (the user sees why it runs again).
Status MarkProcessingStarted(storage::Session& session, const std::string& video_id,
                             int64_t now_millis);
// Progress of a running attempt (percent as JobContext clamps it). OK when
// the video is gone or no longer IN_PROGRESS.
Status RecordProcessingProgress(storage::Session& session, const std::string& video_id,
                                double percent, std::optional<int64_t> eta_seconds,
                                int64_t now_millis);
// DONE at 100 %, with the output's metadata (a light ingestion of it) stored
// as the child's ingestion metadata.
Status CompleteProcessing(storage::Session& session, const std::string& video_id,
                          const std::string& metadata_json, int64_t now_millis);
// An attempt failed and the job waits for another: still IN_PROGRESS, back at
// 0 %, with `note` shown as retryMessage until the next attempt starts. OK
// when the video is gone or in another state.
Status MarkProcessingRetrying(storage::Session& session, const std::string& video_id,
                              const std::string& note, int64_t now_millis);
// The job failed for good: FAILED with `message`. OK when the video is gone.
Status MarkProcessingFailed(storage::Session& session, const std::string& video_id,
                            const std::string& message, int64_t now_millis);

}  // namespace vidmill::videos
