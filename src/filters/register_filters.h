#pragma once
// Registers every Vidmill filter this build has with the engine's FilterStage
// registry (engine/filter_stage.h). Called once at start-up by `serve` (so the
// process-video route can tell which own filters exist) and by `worker`.
// Idempotent; thread-safe.

namespace vidmill::filters {

void RegisterBuiltInFilters();

}  // namespace vidmill::filters
