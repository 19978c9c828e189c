#pragma once
// The ingestion job handler (kinds ingest_full and ingest_light): runs the
// engine's RunIngestion on a video's stored original and records the results
// in the video row (jobs/ingestion_state.h) and the blob store.
//
// One attempt:
//   1. fenced: ingestion IN_PROGRESS at 0 %, earlier partial results cleared;
//   2. RunIngestion on BlobStore::LocalPath(video, "original"), outputs into the
//      attempt's temp dir, cancelled through JobContext::ShouldStop (lease lost,
//      video deleted, shutdown, time limit); progress goes to the context;
//   3. as soon as the metadata is known: fenced write of the metadata JSON
//      (videoMetadataAvailable), and the attempt's time limit is set from the
//      media duration;
//   4. full ingestion: thumbnails and the web preview are published through
//      the blob store (rename from the temp dir; idempotent when repeated);
//   5. JobContext::Complete with CommitIngestion: DONE, quality, counts,
//      videoMetadataCommitted — in the transaction that completes the job.
// When the job fails for good (corrupt media at once; transient errors after
// the last attempt), OnFailed marks the ingestion FAILED with the message.
//
// Thread safety: Run is reentrant (state lives in the context and the stack).

#include <memory>

#include "common/clock.h"
#include "jobs/handler.h"
#include "jobs/ingestion_state.h"
#include "storage/blob_store.h"

namespace vidmill::jobs {

struct IngestHandlerOptions {
  // Thumbnails made by full ingestion, spread evenly over the video.
  int thumbnail_count = 5;
  // Limits on the untrusted input (engine::MediaLimits).
  int64_t max_frame_pixels = int64_t{7680} * 4320;
  double max_duration_seconds = 6 * 3600.0;
};

class IngestHandler final : public JobHandler {
 public:
  // `blobs` and `clock` must outlive the handler.
  IngestHandler(IngestionKind kind, storage::BlobStore& blobs, const Clock& clock,
                IngestHandlerOptions options = {});

  Status Run(JobContext& context) override;
  Status OnProgress(storage::Session& session, const Job& job, double percent,
                    std::optional<int64_t> eta_seconds) override;
  Status OnRetry(storage::Session& session, const Job& job, const std::string& note) override;
  Status OnFailed(storage::Session& session, const Job& job, const std::string& message) override;

 private:
  IngestionKind kind_;
  storage::BlobStore& blobs_;
  const Clock& clock_;
  IngestHandlerOptions options_;
};

}  // namespace vidmill::jobs
