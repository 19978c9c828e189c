// The filters' hand-written AVX2 loops: the attribute that compiles a function
// for AVX2 (nothing off x86), and whether such loops may run.
#ifndef VIDMILL_FILTERS_SIMD_H_
#define VIDMILL_FILTERS_SIMD_H_

#include <cstdint>
#include <cstdlib>

#include "common/flags.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VIDMILL_AVX2 __attribute__((target("avx2")))
#else
#define VIDMILL_AVX2
#endif

namespace vidmill::filters {

// True when the CPU has AVX2 and the environment does not switch on
// VIDMILL_NO_SIMD, which selects the portable loops (to compare them with the
// AVX2 ones: every filter's two give the same pictures). Read at each call.
inline bool Avx2LoopsAllowed() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx2") && !EnvironmentSwitchOn("VIDMILL_NO_SIMD");
#else
  return false;
#endif
}

#if defined(__x86_64__) || defined(__i386__)
// Eight floats clamped to [0, top], plus ½, truncated and stored as samples:
// the output rounding of the filters' float loops (the portable loops write
// static_cast<Sample>(std::clamp(v, 0.0f, top) + 0.5f), the same values).
template <typename Sample>
VIDMILL_AVX2 inline void StoreRounded8(__m256 v, __m256 top, Sample* dst) {
  v = _mm256_add_ps(_mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), top),
                    _mm256_set1_ps(0.5f));
  alignas(32) int32_t values[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(values), _mm256_cvttps_epi32(v));
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<Sample>(values[i]);
}
#endif

}  // namespace vidmill::filters

#endif  // VIDMILL_FILTERS_SIMD_H_
