#include "jobs/handlers/register_handlers.h"

namespace vidmill::jobs {

void RegisterJobHandlers(HandlerRegistry& registry, const JobHandlerConfig& config) {
  (void)registry;
  (void)config;
}

}  // namespace vidmill::jobs
