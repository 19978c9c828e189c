#pragma once
// clarityBoost: pabsr1's local-contrast boost, applied to the upscaled luma.
//
// Design. detail = y − G(y), with G a Gaussian of σ = 1.5 output pixels (the
// band that reads as "clarity" after a 2–4× upscale); the boosted value
// y + k · detail is then limited to the minimum and maximum of the *unboosted*
// picture in the pixel's 5 × 5 neighbourhood. The limit is what prevents
// halos: an edge can be steepened but never overshoot the darkest or brightest
// value already next to it. k grows with the level (ClarityAmount), so the
// local contrast grows monotonically from none to very_high.
//
// Measures (clarity_test.cc, docs/filters.md): contrast = mean |Laplacian|
// and mean 5 × 5 local standard deviation; halo = largest excursion beyond the
// unboosted 5 × 5 local min/max (0 by construction, ≤ 1 code value after
// rounding).
//
// Thread safety: pure function; rows are split over `threads` threads.

#include <cstddef>

#include "filters/filter.h"

namespace vidmill::filters {

// The k of each level: 0, 0.2, 0.4, 0.6, 0.9, 1.3, 1.8.
float ClarityAmount(ClarityBoost level);

// Boosts `plane` (width × height floats in code units, row stride in floats)
// in place. kNone leaves it untouched.
void ApplyClarity(float* plane, int width, int height, ptrdiff_t stride, ClarityBoost level,
                  int threads);

}  // namespace vidmill::filters
