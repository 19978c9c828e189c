#include "jobs/handlers/register_handlers.h"

#include <memory>

#include "jobs/handlers/ingest_handler.h"
#include "jobs/handlers/process_handler.h"

namespace vidmill::jobs {

void RegisterJobHandlers(HandlerRegistry& registry, const JobHandlerConfig& config) {
  IngestHandlerOptions ingest;
  ingest.thumbnail_count = config.thumbnail_count;
  ingest.max_frame_pixels = config.max_frame_pixels;
  ingest.max_duration_seconds = config.max_duration_seconds;
  registry.Register(
      std::string(kKindIngestFull),
      std::make_unique<IngestHandler>(IngestionKind::kFull, *config.blobs, *config.clock, ingest));
  registry.Register(
      std::string(kKindIngestLight),
      std::make_unique<IngestHandler>(IngestionKind::kLight, *config.blobs, *config.clock, ingest));
  ProcessHandlerOptions process;
  process.max_frame_pixels = config.max_frame_pixels;
  process.max_duration_seconds = config.max_duration_seconds;
  registry.Register(std::string(kKindProcess),
                    std::make_unique<ProcessHandler>(*config.blobs, *config.clock, process));
}

}  // namespace vidmill::jobs
