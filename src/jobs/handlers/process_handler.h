#pragma once
// The "process" job: turns a processed (child) video's request into its media
// file. The job's params are {"sourceVideoId", "request"}: the request is
// validated again against the source's metadata (the same deterministic
// validation the route ran), so the plan the worker executes is exactly the
// one the route accepted. Output is written under the job's temporary
// directory, published to the blob store as the child's "processed" blob, and
// recorded — with its own metadata from a light probe — in the job's
// completing transaction; DONE is never set before the file is in place.

#include "engine/transcode_spec.h"
#include "jobs/handler.h"
#include "storage/blob_store.h"

namespace vidmill::videos {
struct ProcessingPlan;
}  // namespace vidmill::videos

namespace vidmill::jobs {

// The engine's spec for a validated plan, field for field: what the process
// job runs (and what bench/processing measures).
engine::TranscodeSpec TranscodeSpecFromPlan(const videos::ProcessingPlan& plan);

struct ProcessHandlerOptions {
  int64_t max_frame_pixels = int64_t{7680} * 4320;
  double max_duration_seconds = 6 * 3600.0;
};

class ProcessHandler final : public JobHandler {
 public:
  ProcessHandler(storage::BlobStore& blobs, const Clock& clock, ProcessHandlerOptions options);
  Status Run(JobContext& context) override;
  Status OnProgress(storage::Session& session, const Job& job, double percent,
                    std::optional<int64_t> eta_seconds) override;
  Status OnRetry(storage::Session& session, const Job& job, const std::string& note) override;
  Status OnFailed(storage::Session& session, const Job& job, const std::string& message) override;

 private:
  storage::BlobStore& blobs_;
  const Clock& clock_;
  ProcessHandlerOptions options_;
};

}  // namespace vidmill::jobs
