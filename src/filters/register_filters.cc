#include "filters/register_filters.h"

#include <memory>

#include "filters/film_grain.h"

namespace vidmill::filters {

void RegisterBuiltInFilters() {
  (void)engine::RegisterFilterStage(
      "filmgrain",
      [](const engine::FilterStageOptions&) -> Result<std::unique_ptr<engine::FilterStage>> {
        return std::unique_ptr<engine::FilterStage>(std::make_unique<FilmGrain>(FilmGrainOptions{}));
      });
}

}  // namespace vidmill::filters
