#pragma once
// The composition of job handlers a `vidmill worker` runs: one place that
// knows every kind and what it needs, so worker_command.cc stays wiring only.
//
// Thread safety: call before the worker starts.

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "jobs/handler.h"
#include "storage/blob_store.h"
#include "storage/database.h"

namespace vidmill::jobs {

// What handlers need. Pointers are not owned and must outlive the registry.
struct JobHandlerConfig {
  storage::Database* database = nullptr;
  storage::BlobStore* blobs = nullptr;
  const Clock* clock = &SystemClock::Instance();
  // Full ingestion: thumbnails per video.
  int thumbnail_count = 5;
  // Limits on untrusted inputs (engine::MediaLimits).
  int64_t max_frame_pixels = int64_t{7680} * 4320;
  double max_duration_seconds = 6 * 3600.0;
};

// Registers the handler of every job kind (ingest_full, ingest_light, and
// process once it exists) in `registry`.
void RegisterJobHandlers(HandlerRegistry& registry, const JobHandlerConfig& config);

}  // namespace vidmill::jobs
