// The filters' hand-written AVX2 loops: the attribute that compiles a function
// for AVX2 (nothing off x86), and whether such loops may run.
#ifndef VIDMILL_FILTERS_SIMD_H_
#define VIDMILL_FILTERS_SIMD_H_

#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VIDMILL_AVX2 __attribute__((target("avx2")))
#else
#define VIDMILL_AVX2
#endif

namespace vidmill::filters {

// True when the CPU has AVX2 and the environment does not set
// VIDMILL_NO_SIMD, which selects the portable loops (to compare them with the
// AVX2 ones: every filter's two give the same pictures). Read at each call.
inline bool Avx2LoopsAllowed() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx2") && std::getenv("VIDMILL_NO_SIMD") == nullptr;
#else
  return false;
#endif
}

}  // namespace vidmill::filters

#endif  // VIDMILL_FILTERS_SIMD_H_
