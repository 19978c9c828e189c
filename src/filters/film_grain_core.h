#pragma once
// The film grain algorithm on plain planes (see filters/film_grain.h for the
// design): AddFilmGrain is what both the VideoFilter "filmgrain" and the engine
// stage run.

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "filters/frame.h"

namespace vidmill::filters {

// Adds the grain of frame number `frame_index` to `frame` in place. `strength`
// 0–1; `scratch` is reused between calls (two float buffers).
Status AddFilmGrain(const FrameView& frame, double strength, uint64_t seed, int64_t frame_index,
                    std::vector<float>* noise, std::vector<float>* blurred);

}  // namespace vidmill::filters
