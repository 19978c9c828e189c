#pragma once
// Separable resampling of float planes to any size, for what the learned
// filters do not cover: chroma, and the step from the learned scale (2× or
// 4×) to an arbitrary output size.
//
// Kernel: Catmull-Rom (the bicubic with a = −0.5), stretched by the ratio when
// shrinking so that it also low-passes (no aliasing); pixel centres aligned
// ((x + 0.5) · in / out − 0.5), edges replicated. Weights are normalised.
//
// Thread safety: pure function; rows are split over `threads` threads.

#include <cstddef>

namespace vidmill::filters {

void ResamplePlane(const float* in, int in_width, int in_height, ptrdiff_t in_stride, float* out,
                   int out_width, int out_height, ptrdiff_t out_stride, int threads);

// The Catmull-Rom weights of the four samples around a fractional position
// t ∈ [0, 1) (at offsets −1, 0, 1, 2), computed in T's precision (dejit's
// warp in double, denoise's sub-pixel search in float).
template <typename T>
void CatmullRomWeights(T t, float* w) {
  w[0] = static_cast<float>(T(0.5) * (-t + 2 * t * t - t * t * t));
  w[1] = static_cast<float>(T(0.5) * (2 - 5 * t * t + 3 * t * t * t));
  w[2] = static_cast<float>(T(0.5) * (t + 4 * t * t - 3 * t * t * t));
  w[3] = static_cast<float>(T(0.5) * (-t * t + t * t * t));
}

}  // namespace vidmill::filters
