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
// 0–1; `full_range`: the luma's black and white are 0 and the maximum, not
// 16 and 235 (scaled to the depth); `noise` and `blurred` are scratch reused
// between calls.
Status AddFilmGrain(const FrameView& frame, double strength, uint64_t seed, int64_t frame_index,
                    bool full_range, std::vector<float>* noise, std::vector<float>* blurred);

}  // namespace vidmill::filters
