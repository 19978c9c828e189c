// ConvNet design. A line-buffered pipeline: layer l keeps a ring of `kernel`
// rows of its input, and a layer's output row is computed as soon as the input
// rows under its kernel exist (pulled, recursively, from the layer before).
// So there are no whole-frame intermediate planes, the working set is a few
// rows per layer (it stays in L2), and no halo is computed twice except the
// few rows above and below each half of the frame that the two halves share.
//
// Row buffers hold each channel's row as a run of values with a margin on both
// sides: the left and right margins repeat the edge pixel (torch's
// padding_mode='replicate' horizontally), and rows above and below the frame
// are the clamped edge rows (the same, vertically). The kernel computes whole
// vector blocks, so it writes and reads a little past the right edge; those
// pixels are never copied out. The last layer stores its whole blocks straight
// into the output planes.
//
// The row kernel (conv_net_kernel.inc) is compiled four times: AVX-512 in
// half precision (AVX512-FP16: row buffers, weights and sums all _Float16,
// 32 lanes a vector), AVX-512, AVX2+FMA and plain C++ in float, picked once
// per ConvNet from what the CPU has. The half path converts the input rows
// as it loads them and the last layer's rows as it copies them out.
//
// Networks whose layers are all 3 × 3 (pabsr1's) run on the float paths by
// Winograd's F(4 × 4, 3 × 3) instead (conv_net_winograd.inc, compiled for
// AVX-512, AVX2+FMA and plain C++; RunRowsWinograd below): the same pipeline
// four rows at a time, with a quarter of the multiply-adds. On AMD Zen 1 it
// computes the 16-channel network in 47 % of the direct kernel's CPU time
// (149 against 319 ms a 1280 × 720 frame, two threads); its transforms take
// about 40 % of that, so the gain is 2.1 ×, not 4 ×. Half precision keeps
// the direct kernel (not tried by Winograd: its transforms scale values by
// up to 5 and 8 before and after the products, which an 11-bit significand
// may not bear). AMX keeps its tiles.
#include "filters/conv_net.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "filters/conv_net_amx.h"
#include "filters/conv_net_rows.h"
#include "filters/halves.h"

namespace vidmill::filters {
namespace {

constexpr int kMaxKernel = 5;
// Margin before x = 0 in a row buffer: whole 64-byte lines, so x = 0 stays
// aligned in either precision; it must hold the largest kernel radius.
constexpr int kLeftMargin = 32;
// The rounded-up width is a multiple of kRowAlign values; after it, room for
// the kernel's last block, which may reach 127 pixels past the width (4
// blocks of 32 halves), plus the radius it reads beyond.
constexpr int kRowAlign = 32;
constexpr int kRightMargin = 4 * 32 + 16;
// Pixels per tile of ConvRow (see there).
constexpr int kTilePixels = 128;

// What the row kernel needs for one output row of one layer; T is the
// precision of the row buffers and weights (float or _Float16).
template <typename T>
struct RowJobOf {
  const T* in_rows[kMaxKernel];  // x = 0 of channel 0 of input rows y-r … y+r
  std::ptrdiff_t in_channel_stride;
  int in_channels;
  int out_channels;
  int kernel;
  const T* weights;  // [in][ky][kx][out]
  const T* bias;     // [out]
  const T* prelu;    // [out] or nullptr
  T* out;            // x = 0 of output channel 0 (a row buffer)
  std::ptrdiff_t out_channel_stride;
  int width;
  // The last layer's row in the caller's output planes, or nullptr (always,
  // in half precision: its rows are converted as they are copied out).
  float* frame_out = nullptr;
  std::ptrdiff_t frame_channel_stride = 0;
};

// One precision's row kernel and the conversions between the caller's float
// planes and its row buffers.
template <typename T>
struct RowKernels {
  void (*conv_row)(const RowJobOf<T>&);
  void (*from_float)(const float* in, T* out, int count);
  void (*to_float)(const T* in, float* out, int count);
};

// One group of 4 output rows of one 3 × 3 layer, all tiles, for the Winograd
// kernel (conv_net_winograd.inc; the layout is described there).
struct WinogradJob {
  // Tile 0 of phase 0 of channel 0 of input rows y − 1 … y + 4, clamped to
  // the frame.
  const float* in_rows[6];
  std::ptrdiff_t channel_stride;  // floats from a row's channel to the next
  int in_channels;
  int out_channels;
  int tiles;             // a multiple of the path's lanes, in chunks
  const float* weights;  // U = G g Gᵀ: [36][in][out]
  const float* bias;     // [out]
  const float* prelu;    // [out] negative-side slopes; 1 = no activation
  float* out_rows[4];    // rows y … y + 3 (same strides); rows not kept may share one
  float* scratch;        // WinogradKernels::scratch_floats(in, out) floats
  bool add_bias;         // false: every bias is 0
  bool activate;         // false: every slope is 1
  bool slopes_at_most_one;
  // One flag per vector of tiles (tiles [v · lanes, (v + 1) · lanes) for
  // flag v): nonzero = every input its outputs depend on is negligible, so
  // they are zeros instead (where a block's first or last vectors are, the
  // kernel computes the rest as a smaller block). nullptr: none is.
  const unsigned char* skip;
};

// One float path's Winograd kernel.
struct WinogradKernels {
  void (*group)(const WinogradJob&);
  size_t (*scratch_floats)(int in_channels, int out_channels);
  int lanes;
  int chunk_tiles;   // tiles per chunk of a row (two of the kernel's blocks)
  int phase_stride;  // floats from a chunk's phase to the next
};

void CopyFloats(const float* in, float* out, int count) {
  std::memcpy(out, in, sizeof(float) * count);
}

namespace portable {

// No intrinsics: four floats a vector (the 16-byte vectors every x86-64 and
// ARM64 CPU has), written with the GNU vector extension, which GCC and Clang
// lower to SSE2 or NEON, or elsewhere as loops over an array.
using Elem = float;
using RowJob = RowJobOf<Elem>;
constexpr int kLanes = 4;
constexpr int kMaxChunk = 4;
constexpr int kTargetAccumulators = 12;  // of 16 xmm registers
#if defined(__GNUC__)
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
inline Vec Load(const float* p) {
  Vec r;
  std::memcpy(&r, p, sizeof(r));
  return r;
}
inline void Store(float* p, Vec a) { std::memcpy(p, &a, sizeof(a)); }
inline Vec Set1(float x) { return Vec{} + x; }
inline Vec Fma(Vec a, Vec b, Vec c) { return a * b + c; }
inline Vec Add(Vec a, Vec b) { return a + b; }
inline Vec Sub(Vec a, Vec b) { return a - b; }
inline Vec PRelu(Vec x, Vec slope) { return x >= 0.0f ? x : slope * x; }
inline Vec PReluAtMostOne(Vec x, Vec slope) { return PRelu(x, slope); }
#else
struct Vec {
  float v[kLanes];
};
inline Vec Load(const float* p) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = p[i];
  return r;
}
inline void Store(float* p, const Vec& a) {
  for (int i = 0; i < kLanes; ++i) p[i] = a.v[i];
}
inline Vec Set1(float x) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = x;
  return r;
}
inline Vec Fma(const Vec& a, const Vec& b, const Vec& c) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i];
  return r;
}
inline Vec Add(const Vec& a, const Vec& b) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = a.v[i] + b.v[i];
  return r;
}
inline Vec Sub(const Vec& a, const Vec& b) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = a.v[i] - b.v[i];
  return r;
}
inline Vec PRelu(const Vec& x, const Vec& slope) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = x.v[i] >= 0.0f ? x.v[i] : slope.v[i] * x.v[i];
  return r;
}
inline Vec PReluAtMostOne(const Vec& x, const Vec& slope) { return PRelu(x, slope); }
#endif

#include "filters/conv_net_kernel.inc"
// Winograd: output channels per pass × vectors of tiles per block. 8
// channels, as on AVX-512, so that the tests run the pass sizes AVX-512 uses
// on every machine (this path is the fallback; its speed matters little).
constexpr int kWinogradPass = 8;
constexpr int kWinogradVectors = 3;
#include "filters/conv_net_winograd.inc"

}  // namespace portable

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {

using Elem = float;
using RowJob = RowJobOf<Elem>;
constexpr int kLanes = 8;
constexpr int kMaxChunk = 4;
constexpr int kTargetAccumulators = 12;  // of 16 ymm registers
using Vec = __m256;
inline Vec Load(const float* p) { return _mm256_loadu_ps(p); }
inline void Store(float* p, Vec a) { _mm256_storeu_ps(p, a); }
inline Vec Set1(float x) { return _mm256_set1_ps(x); }
inline Vec Fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline Vec Add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec Sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
inline Vec PRelu(Vec x, Vec slope) {
  return _mm256_blendv_ps(x, _mm256_mul_ps(x, slope), x);  // sign bit set: slope·x
}
// PRelu where slope ≤ 1: then slope · x ≤ x for x ≥ 0 and ≥ x below (a
// maximum is cheaper than a blend on AMD Zen 1; about 3 % of the network).
inline Vec PReluAtMostOne(Vec x, Vec slope) { return _mm256_max_ps(x, _mm256_mul_ps(x, slope)); }

#include "filters/conv_net_kernel.inc"
// Winograd: output channels per pass × vectors of tiles per block: 12
// accumulators, 3 pixel vectors and a weight in the 16 registers. On AMD
// Zen 1, 2 × 5 and 2 × 6 (fewer weight broadcasts) measured slower, and
// 4 × 2 2–3 % slower when builds were alternated; 6 × 2, 7 × 2 and 8 × 1
// gave nothing (docs/filters.md, "Winograd").
constexpr int kWinogradPass = 4;
constexpr int kWinogradVectors = 3;
#include "filters/conv_net_winograd.inc"

}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx2,fma")
namespace avx512 {

using Elem = float;
using RowJob = RowJobOf<Elem>;
constexpr int kLanes = 16;
constexpr int kMaxChunk = 8;
constexpr int kTargetAccumulators = 24;  // of 32 zmm registers
using Vec = __m512;
inline Vec Load(const float* p) { return _mm512_loadu_ps(p); }
inline void Store(float* p, Vec a) { _mm512_storeu_ps(p, a); }
inline Vec Set1(float x) { return _mm512_set1_ps(x); }
inline Vec Fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline Vec Add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline Vec Sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
inline Vec PRelu(Vec x, Vec slope) {
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mul_ps(x, negative, x, slope);
}
inline Vec PReluAtMostOne(Vec x, Vec slope) { return PRelu(x, slope); }

#include "filters/conv_net_kernel.inc"
constexpr int kWinogradPass = 8;
constexpr int kWinogradVectors = 3;
#include "filters/conv_net_winograd.inc"

}  // namespace avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512fp16,avx2,fma")
namespace avx512fp16 {

// Half precision: 11-bit significands, so inputs and weights round 8 × more
// finely than AMX's bfloat16 ones, but every product and sum is rounded as
// well (AMX sums in float).
using Elem = _Float16;
using RowJob = RowJobOf<Elem>;
constexpr int kLanes = 32;
constexpr int kMaxChunk = 8;
constexpr int kTargetAccumulators = 24;  // of 32 zmm registers
using Vec = __m512h;
inline Vec Load(const Elem* p) { return _mm512_loadu_ph(p); }
inline void Store(Elem* p, Vec a) { _mm512_storeu_ph(p, a); }
inline Vec Set1(Elem x) { return _mm512_set1_ph(x); }
inline Vec Fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ph(a, b, c); }
inline Vec PRelu(Vec x, Vec slope) {
  const __mmask32 negative = _mm512_cmp_ph_mask(x, _mm512_setzero_ph(), _CMP_LT_OQ);
  return _mm512_mask_mul_ph(x, negative, x, slope);
}

#include "filters/conv_net_kernel.inc"

// Round to nearest even, like every conversion of the reference in
// conv_net_test.
void FromFloat(const float* in, Elem* out, int count) {
  int i = 0;
  for (; i + 16 <= count; i += 16) {
    _mm256_storeu_ph(out + i, _mm512_cvtxps_ph(_mm512_loadu_ps(in + i)));
  }
  for (; i < count; ++i) out[i] = static_cast<Elem>(in[i]);
}

void ToFloat(const Elem* in, float* out, int count) {
  int i = 0;
  for (; i + 16 <= count; i += 16) {
    _mm512_storeu_ps(out + i, _mm512_cvtxph_ps(_mm256_loadu_ph(in + i)));
  }
  for (; i < count; ++i) out[i] = static_cast<float>(in[i]);
}

}  // namespace avx512fp16
#pragma GCC pop_options

RowKernels<float> FloatKernelsFor(ConvNetIsa isa) {
  switch (isa) {
    case ConvNetIsa::kAvx512:
      return {&avx512::ConvRow, &CopyFloats, &CopyFloats};
    case ConvNetIsa::kAvx2:
      return {&avx2::ConvRow, &CopyFloats, &CopyFloats};
    case ConvNetIsa::kAmx:         // Run calls RunRowsAmx instead
    case ConvNetIsa::kAvx512Fp16:  // and RunRows<_Float16>
    case ConvNetIsa::kPortable:
      break;
  }
  return {&portable::ConvRow, &CopyFloats, &CopyFloats};
}

WinogradKernels WinogradKernelsFor(ConvNetIsa isa) {
  switch (isa) {
    case ConvNetIsa::kAvx512:
      return {&avx512::winograd::Group, &avx512::winograd::ScratchFloats, avx512::kLanes,
              avx512::winograd::kChunkTiles, avx512::winograd::kPhaseStride};
    case ConvNetIsa::kAvx2:
      return {&avx2::winograd::Group, &avx2::winograd::ScratchFloats, avx2::kLanes,
              avx2::winograd::kChunkTiles, avx2::winograd::kPhaseStride};
    case ConvNetIsa::kAmx:
    case ConvNetIsa::kAvx512Fp16:
    case ConvNetIsa::kPortable:
      break;
  }
  return {&portable::winograd::Group, &portable::winograd::ScratchFloats, portable::kLanes,
          portable::winograd::kChunkTiles, portable::winograd::kPhaseStride};
}

// Buffer `index` of RunRowsWinograd, at least `floats` long (it writes every
// value before reading it), kept by the thread for its next call: a call's
// few megabytes would otherwise be mapped and zeroed afresh for every frame.
// Each of the filters' threads (the caller and its helper, filters/halves.h)
// keeps its own. Separate allocations rather than one: with its rings and
// scratch packed into one buffer the kernel measured 3–5 % slower (in
// sequence, on a machine whose speed drifts; not confirmed alternated).
float* WinogradBuffer(int index, size_t floats) {
  struct Buffer {
    std::unique_ptr<conv_net_internal::AlignedBuffer<float>> data;
    size_t capacity = 0;
  };
  thread_local std::vector<Buffer> buffers;
  if (static_cast<int>(buffers.size()) <= index) buffers.resize(index + 1);
  Buffer& buffer = buffers[index];
  if (floats > buffer.capacity) {
    buffer.data.reset();
    buffer.data = std::make_unique<conv_net_internal::AlignedBuffer<float>>(floats);
    buffer.capacity = floats;
  }
  return buffer.data->get();
}

// Pixels [0, width) of a row into the Winograd layout's four phases (pixel x
// at phase x % 4, position x / 4), and back.
void ToPhases(const float* row, int width, float* phases, std::ptrdiff_t phase_stride) {
  int x = 0;
  for (; x + 16 <= width; x += 16) {  // four tiles, transposed
    __m128 a = _mm_loadu_ps(row + x), b = _mm_loadu_ps(row + x + 4);
    __m128 c = _mm_loadu_ps(row + x + 8), d = _mm_loadu_ps(row + x + 12);
    _MM_TRANSPOSE4_PS(a, b, c, d);
    _mm_storeu_ps(phases + x / 4, a);
    _mm_storeu_ps(phases + phase_stride + x / 4, b);
    _mm_storeu_ps(phases + 2 * phase_stride + x / 4, c);
    _mm_storeu_ps(phases + 3 * phase_stride + x / 4, d);
  }
  for (; x < width; ++x) phases[(x & 3) * phase_stride + (x >> 2)] = row[x];
}

void FromPhases(const float* phases, std::ptrdiff_t phase_stride, int width, float* row) {
  int x = 0;
  for (; x + 16 <= width; x += 16) {
    __m128 a = _mm_loadu_ps(phases + x / 4), b = _mm_loadu_ps(phases + phase_stride + x / 4);
    __m128 c = _mm_loadu_ps(phases + 2 * phase_stride + x / 4);
    __m128 d = _mm_loadu_ps(phases + 3 * phase_stride + x / 4);
    _MM_TRANSPOSE4_PS(a, b, c, d);
    _mm_storeu_ps(row + x, a);
    _mm_storeu_ps(row + x + 4, b);
    _mm_storeu_ps(row + x + 8, c);
    _mm_storeu_ps(row + x + 12, d);
  }
  for (; x < width; ++x) row[x] = phases[(x & 3) * phase_stride + (x >> 2)];
}

// U = G g Gᵀ of F(4 × 4, 3 × 3) for every kernel of a 3 × 3 layer, computed in
// double, as [36][in][out] (the order the kernel reads them).
std::vector<float> WinogradWeights(const ConvLayer& layer) {
  static constexpr double kG[6][3] = {{1.0 / 4, 0, 0},
                                      {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                      {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                      {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                      {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                      {0, 0, 1}};
  const int ins = layer.in_channels, outs = layer.out_channels;
  std::vector<float> u(static_cast<size_t>(36) * ins * outs);
  for (int co = 0; co < outs; ++co) {
    for (int ci = 0; ci < ins; ++ci) {
      const float* g = layer.weights + (static_cast<size_t>(co) * ins + ci) * 9;
      for (int s = 0; s < 6; ++s) {
        for (int t = 0; t < 6; ++t) {
          double sum = 0;
          for (int a = 0; a < 3; ++a) {
            for (int b = 0; b < 3; ++b) sum += kG[s][a] * g[a * 3 + b] * kG[t][b];
          }
          u[((static_cast<size_t>(s) * 6 + t) * ins + ci) * outs + co] = static_cast<float>(sum);
        }
      }
    }
  }
  return u;
}

template <typename Elem>
RowKernels<Elem> KernelsFor(ConvNetIsa isa) {
  if constexpr (std::is_same_v<Elem, float>) {
    return FloatKernelsFor(isa);
  } else {
    return {&avx512fp16::ConvRow, &avx512fp16::FromFloat, &avx512fp16::ToFloat};
  }
}

using conv_net_internal::AlignedBuffer;
using conv_net_internal::PullRows;

// Repeats the edge pixels of each channel's row into its margins.
template <typename T>
void ReplicateEdges(T* row, std::ptrdiff_t channel_stride, int channels, int width) {
  for (int c = 0; c < channels; ++c) {
    T* p = row + c * channel_stride;
    std::fill(p - kLeftMargin, p, p[0]);
    std::fill(p + width, p + width + kLeftMargin, p[width - 1]);
  }
}

// A vertical stripe of a frame for the Winograd path: pixels [begin, end)
// computed, [keep_begin, keep_end) kept.
struct WinogradStripe {
  int begin, end, keep_begin, keep_end;
};

// Stripes of `stripe` pixels (rounded up to `granule`, the kernel's block
// of tiles, so that only the last stripe ends in a partial block) over a row
// `width` wide, each computed over a margin of `reach` pixels (rounded up to
// a tile) on either side that it does not keep, except at the frame's ends;
// the last takes what is left, up to 1.5 stripes. A stripe begins on a
// tile, so its tiles are the frame's. One stripe, the whole row, where
// `stripe` is 0 or the row is not wider than 1.5 stripes.
std::vector<WinogradStripe> PlanWinogradStripes(int width, int stripe, int reach, int granule) {
  const int margin = (reach + 3) / 4 * 4;
  const auto round_up = [&](int pixels) { return (pixels + granule - 1) / granule * granule; };
  if (stripe <= 0) return {{0, width, 0, width}};
  stripe = std::max(round_up(stripe), round_up(2 * margin + 4));
  if (2 * width <= 3 * stripe) return {{0, width, 0, width}};
  std::vector<WinogradStripe> stripes;
  for (int keep = 0;;) {
    const int begin = keep == 0 ? 0 : keep - margin;
    if (2 * (width - begin) <= 3 * stripe) {
      stripes.push_back({begin, width, keep, width});
      return stripes;
    }
    const int end = begin + stripe;
    stripes.push_back({begin, end, keep, end - margin});
    keep = end - margin;
  }
}

// PlanWinogradStripes for `isa`'s kernel: the granule is its block, half a
// chunk.
std::vector<WinogradStripe> PlanWinogradStripesFor(ConvNetIsa isa, int width, int stripe,
                                                   int reach) {
  return PlanWinogradStripes(width, stripe, reach, 4 * WinogradKernelsFor(isa).chunk_tiles / 2);
}

}  // namespace

ConvNet::ConvNet(std::vector<ConvLayer> layers) {
  if (layers.empty()) {
    throw std::invalid_argument("ConvNet: no layers");
  }
  for (size_t layer_idx = 0; layer_idx < layers.size(); ++layer_idx) {
    const ConvLayer& layer = layers[layer_idx];
    const std::string where = "ConvNet layer " + std::to_string(layer_idx) + ": ";
    if (layer.in_channels <= 0 || layer.out_channels <= 0) {
      throw std::invalid_argument(where + "channel counts must be positive");
    }
    if (layer.kernel != 1 && layer.kernel != 3 && layer.kernel != 5) {
      throw std::invalid_argument(where + "kernel must be 1, 3 or 5");
    }
    if (layer.weights == nullptr) {
      throw std::invalid_argument(where + "no weights");
    }
    if (layer_idx > 0 && layer.in_channels != layers[layer_idx - 1].out_channels) {
      throw std::invalid_argument(where + "in_channels differs from the previous out_channels");
    }
    PackedLayer packed;
    packed.in_channels = layer.in_channels;
    packed.out_channels = layer.out_channels;
    packed.kernel = layer.kernel;
    Params<float>& single = packed.single;
    const int taps = layer.kernel * layer.kernel;
    single.weights.resize(static_cast<size_t>(taps) * layer.in_channels * layer.out_channels);
    for (int co = 0; co < layer.out_channels; ++co) {
      for (int ci = 0; ci < layer.in_channels; ++ci) {
        for (int tap = 0; tap < taps; ++tap) {
          single.weights[(static_cast<size_t>(ci) * taps + tap) * layer.out_channels + co] =
              layer.weights[(static_cast<size_t>(co) * layer.in_channels + ci) * taps + tap];
        }
      }
    }
    single.bias.assign(layer.out_channels, 0.0f);
    if (layer.bias != nullptr) {
      std::copy(layer.bias, layer.bias + layer.out_channels, single.bias.begin());
    }
    if (layer.prelu != nullptr) {
      single.prelu.assign(layer.prelu, layer.prelu + layer.out_channels);
    }
    if (layer.kernel == 3) {
      packed.winograd = WinogradWeights(layer);
      packed.winograd_slopes.assign(layer.out_channels, 1.0f);
      if (layer.prelu != nullptr) {
        std::copy(layer.prelu, layer.prelu + layer.out_channels, packed.winograd_slopes.begin());
      }
      const std::vector<float>& slopes = packed.winograd_slopes;
      packed.winograd_bias = std::any_of(single.bias.begin(), single.bias.end(),
                                         [](float bias) { return bias != 0.0f; });
      packed.winograd_activation =
          std::any_of(slopes.begin(), slopes.end(), [](float slope) { return slope != 1.0f; });
      packed.winograd_slopes_at_most_one =
          std::all_of(slopes.begin(), slopes.end(), [](float slope) { return slope <= 1.0f; });
    }
    if (IsaSupported(ConvNetIsa::kAvx512Fp16)) {
      const auto to_half = [](const std::vector<float>& values) {
        std::vector<_Float16> half(values.size());
        avx512fp16::FromFloat(values.data(), half.data(), static_cast<int>(values.size()));
        return half;
      };
      packed.half = {to_half(single.weights), to_half(single.bias), to_half(single.prelu)};
    }
    layers_.push_back(std::move(packed));
  }
  if (IsaSupported(ConvNetIsa::kAmx)) {
    amx_ = conv_net_internal::PackForAmx(layers);
  }
  isa_ = SupportedIsas().front();
  winograd_ = EveryLayerIs3x3();
  // VIDMILL_CONV_NET_WINOGRAD=0 computes 3 × 3 networks directly instead
  // (benchmarks compare the two).
  if (const char* winograd = std::getenv("VIDMILL_CONV_NET_WINOGRAD")) {
    if (std::string_view(winograd) == "0") winograd_ = false;
  }
  // VIDMILL_CONV_NET_STRIPE sets the Winograd path's stripe width in pixels
  // (0: whole rows; benchmarks compare them).
  if (const char* stripe = std::getenv("VIDMILL_CONV_NET_STRIPE")) {
    if (*stripe != '\0') winograd_stripe_ = std::max(0, std::atoi(stripe));
  }
  // VIDMILL_CONV_NET_ISA names a path to use instead (benchmarks compare
  // them end to end); a name this CPU cannot run is ignored.
  if (const char* forced = std::getenv("VIDMILL_CONV_NET_ISA")) {
    for (ConvNetIsa isa : SupportedIsas()) {
      if (std::string_view(forced) == ConvNetIsaName(isa)) isa_ = isa;
    }
  }
}

long long ConvNet::macs_per_pixel() const {
  long long macs = 0;
  for (const PackedLayer& layer : layers_) {
    macs += static_cast<long long>(layer.in_channels) * layer.out_channels * layer.kernel *
            layer.kernel;
  }
  return macs;
}

bool ConvNet::IsaSupported(ConvNetIsa isa) {
  switch (isa) {
    case ConvNetIsa::kAmx:
      return conv_net_internal::AmxUsable();
    case ConvNetIsa::kAvx512Fp16:
      return IsaSupported(ConvNetIsa::kAvx512) && __builtin_cpu_supports("avx512fp16");
    case ConvNetIsa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512bw");
    case ConvNetIsa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case ConvNetIsa::kPortable:
      return true;
  }
  return false;
}

std::vector<ConvNetIsa> ConvNet::SupportedIsas() {
  std::vector<ConvNetIsa> isas;
  for (ConvNetIsa isa : kConvNetIsas) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

const char* ConvNetIsaName(ConvNetIsa isa) {
  switch (isa) {
    case ConvNetIsa::kAmx:
      return "amx";
    case ConvNetIsa::kAvx512Fp16:
      return "avx512fp16";
    case ConvNetIsa::kAvx512:
      return "avx512";
    case ConvNetIsa::kAvx2:
      return "avx2";
    case ConvNetIsa::kPortable:
      return "portable";
  }
  return "?";
}

void ConvNet::ForceIsaForTesting(ConvNetIsa isa) {
  if (!IsaSupported(isa)) {
    throw std::invalid_argument("ConvNet: this CPU cannot run the forced instruction set");
  }
  isa_ = isa;
}

bool ConvNet::winograd() const { return winograd_ && ComputesInFloat(isa_); }

bool ConvNet::EveryLayerIs3x3() const {
  return std::all_of(layers_.begin(), layers_.end(),
                     [](const PackedLayer& layer) { return layer.kernel == 3; });
}

void ConvNet::UseWinogradForTesting(bool on) {
  if (on && !EveryLayerIs3x3()) {
    throw std::invalid_argument("ConvNet: Winograd needs every layer 3 × 3");
  }
  winograd_ = on;
}

void ConvNet::Run(const float* in, std::ptrdiff_t in_row_stride, std::ptrdiff_t in_plane_stride,
                  int width, int height, float* out, std::ptrdiff_t out_row_stride,
                  std::ptrdiff_t out_plane_stride, bool threaded) const {
  if (width <= 0 || height <= 0) {
    return;
  }
  RunInHalves(height, threaded, [&](int row_begin, int row_end) {
    if (isa_ == ConvNetIsa::kAmx) {
      conv_net_internal::RunRowsAmx(*amx_, in, in_row_stride, in_plane_stride, width, height, out,
                                    out_row_stride, out_plane_stride, row_begin, row_end);
      return;
    }
    if (isa_ == ConvNetIsa::kAvx512Fp16) {
      RunRows<_Float16>(in, in_row_stride, in_plane_stride, width, height, out, out_row_stride,
                        out_plane_stride, row_begin, row_end);
      return;
    }
    if (winograd()) {
      const RowsIo io{.in = in,
                      .in_row_stride = in_row_stride,
                      .in_plane_stride = in_plane_stride,
                      .out = out,
                      .out_row_stride = out_row_stride,
                      .out_plane_stride = out_plane_stride};
      RunRowsWinograd(io, width, height, row_begin, row_end);
      return;
    }
    RunRows<float>(in, in_row_stride, in_plane_stride, width, height, out, out_row_stride,
                   out_plane_stride, row_begin, row_end);
  });
}

void ConvNet::RunByRows(const LoadRow& load, const StoreRow& store, int width, int height,
                        bool threaded, float negligible) const {
  if (width <= 0 || height <= 0) {
    return;
  }
  if (winograd()) {
    const RowsIo io{.load = &load, .store = &store, .negligible = negligible};
    // Each stripe of each half of the rows is one piece of work, taken by
    // the two threads in turn: where negligible inputs leave work out, one
    // half of a picture (a sky) can cost far less than the other. The widest
    // stripes (the last is up to 1.5 wide) go first, so that the pieces left
    // at the end are small: taken in the stripes' order, the 1.5-wide last
    // stripe's lower half left one thread waiting for about a tenth of the
    // time (1280 pixels: stripes of 384, 384 and 528).
    const std::vector<int> widths = WinogradStripeWidths(width);
    std::vector<int> order(widths.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return widths[a] > widths[b]; });
    const int middle = height / 2;
    const int bands = middle == 0 ? 1 : 2;
    RunInChunks(bands * static_cast<int>(order.size()), threaded, [&](int piece) {
      const int band = piece % bands;
      const int row_begin = band == 0 ? 0 : middle;
      const int row_end = bands == 1 || band == 1 ? height : middle;
      RunRowsWinograd(io, width, height, row_begin, row_end, order[piece / bands]);
    });
    return;
  }
  const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(width) * height;
  std::vector<float> in(in_channels() * plane), out(out_channels() * plane);
  RunInHalves(height, threaded, [&](int row_begin, int row_end) {
    for (int y = row_begin; y < row_end; ++y) load(y, 0, width, in.data() + y * width, plane);
  });
  Run(in.data(), width, plane, width, height, out.data(), width, plane, threaded);
  RunInHalves(height, threaded, [&](int row_begin, int row_end) {
    for (int y = row_begin; y < row_end; ++y) store(y, 0, width, out.data() + y * width, plane);
  });
}

template <typename Elem>
void ConvNet::RunRows(const float* in, std::ptrdiff_t in_row_stride, std::ptrdiff_t in_plane_stride,
                      int width, int height, float* out, std::ptrdiff_t out_row_stride,
                      std::ptrdiff_t out_plane_stride, int row_begin, int row_end) const {
  constexpr bool kSingle = std::is_same_v<Elem, float>;
  const RowKernels<Elem> kernels_of_isa = KernelsFor<Elem>(isa_);
  const int layer_count = static_cast<int>(layers_.size());
  // One channel's row in a row buffer: margin, width rounded up, margin.
  const std::ptrdiff_t channel_stride =
      kLeftMargin + (width + kRowAlign - 1) / kRowAlign * kRowAlign + kRightMargin;

  // rings[l]: the last `kernel` input rows of layer l (row y in slot y % kernel,
  // conv_net_rows.h); the final layer writes to the output planes, its last
  // partial block (in half precision: all of its row) via `last_row`.
  std::vector<AlignedBuffer<Elem>> rings;
  std::vector<int> kernels;
  rings.reserve(layer_count);
  for (const PackedLayer& layer : layers_) {
    rings.emplace_back(static_cast<size_t>(layer.kernel) * layer.in_channels * channel_stride);
    kernels.push_back(layer.kernel);
  }
  AlignedBuffer<Elem> last_row(static_cast<size_t>(out_channels()) * channel_stride);
  auto ring_row = [&](int layer_idx, int y) {
    const PackedLayer& layer = layers_[layer_idx];
    return rings[layer_idx].get() +
           static_cast<std::ptrdiff_t>(y % layer.kernel) * layer.in_channels * channel_stride +
           kLeftMargin;
  };
  auto load_input = [&](int y) {
    Elem* row = ring_row(0, y);
    for (int c = 0; c < in_channels(); ++c) {
      kernels_of_isa.from_float(in + c * in_plane_stride + y * in_row_stride,
                                row + c * channel_stride, width);
    }
    ReplicateEdges(row, channel_stride, in_channels(), width);
  };
  auto compute_row = [&](int layer_idx, int y, const int* in_rows) {
    const PackedLayer& layer = layers_[layer_idx];
    const Params<Elem>& params = [&]() -> const Params<Elem>& {
      if constexpr (kSingle) {
        return layer.single;
      } else {
        return layer.half;
      }
    }();
    RowJobOf<Elem> job;
    for (int ky = 0; ky < layer.kernel; ++ky) {
      job.in_rows[ky] = ring_row(layer_idx, in_rows[ky]);
    }
    job.in_channel_stride = channel_stride;
    job.in_channels = layer.in_channels;
    job.out_channels = layer.out_channels;
    job.kernel = layer.kernel;
    job.weights = params.weights.data();
    job.bias = params.bias.data();
    job.prelu = params.prelu.empty() ? nullptr : params.prelu.data();
    const bool last = layer_idx == layer_count - 1;
    job.out = last ? last_row.get() + kLeftMargin : ring_row(layer_idx + 1, y);
    job.out_channel_stride = channel_stride;
    job.width = width;
    if (last && kSingle) {
      job.frame_out = out + y * out_row_stride;
      job.frame_channel_stride = out_plane_stride;
    }
    kernels_of_isa.conv_row(job);
    if (!last) {
      ReplicateEdges(job.out, channel_stride, layer.out_channels, width);
    } else if (!kSingle) {
      for (int c = 0; c < layer.out_channels; ++c) {
        kernels_of_isa.to_float(job.out + c * channel_stride,
                                out + c * out_plane_stride + y * out_row_stride, width);
      }
    }
  };
  PullRows(kernels, 1, height, row_begin, row_end, load_input, compute_row);
}

std::vector<int> ConvNet::WinogradStripeWidths(int width) const {
  std::vector<int> widths;
  for (const WinogradStripe& stripe :
       PlanWinogradStripesFor(isa_, width, winograd_stripe_, static_cast<int>(layers_.size()))) {
    widths.push_back(stripe.end - stripe.begin);
  }
  return widths;
}

// The Winograd pipeline: as RunRows, each layer's rows are computed when the
// next layer needs them, but four at a time (a tile is 4 × 4 pixels), on
// PullRows' grid of rows fixed by the frame alone — layer l's groups start
// at the rows y ≡ (layers − 1 − l) mod 4, so a group of layer l + 1 at rows
// y … y + 3 reads rows y − 1 … y + 4 of layer l, exactly the rows of two of
// layer l's groups — and so every row is computed by the same arithmetic
// whichever half of the frame asks for it (Run's threaded and unthreaded
// outputs stay bit-identical). Each layer keeps the 6 rows a group reads, in
// the phase layout of conv_net_winograd.inc (row y in slot y % 6).
//
// Wide frames are cut into vertical stripes (PlanWinogradStripes), each
// computed over a margin of as many pixels on either side as the layers
// reach (rounded up to a tile) and kept only inside, one stripe after
// another, each through all its rows, in the same rings. A stripe's tiles
// lie on the frame's grid of tiles, so its rows are the frame's, to the bit
// except near its ends: a tile there reads the stripe's repeated edge
// pixels, which the exact convolution would not weigh but Winograd's
// transforms leave a rounding of (within float precision; tested). The
// point is the working set: the rows a group of a layer reads are a
// fraction of the whole width's, about 0.5 MB per layer at 1280 pixels,
// which on a machine whose other tenants take the shared cache made whole
// rows up to 1.7 × slower (docs/filters.md, "Stripes").
void ConvNet::RunRowsWinograd(const RowsIo& io, int width, int height, int row_begin, int row_end,
                              int only_stripe) const {
  constexpr int kGroup = 4, kSlots = kGroup + 2;
  const WinogradKernels kernels = WinogradKernelsFor(isa_);
  const int layer_count = static_cast<int>(layers_.size());
  const int lanes = kernels.lanes;
  const int chunk_tiles = kernels.chunk_tiles;
  const std::ptrdiff_t phase_stride = kernels.phase_stride;
  const std::ptrdiff_t chunk_stride = kGroup * phase_stride;
  int max_channels = 0;
  for (const PackedLayer& layer : layers_) {
    max_channels = std::max({max_channels, layer.in_channels, layer.out_channels});
  }

  // One stripe: pixels [begin, end) of the frame computed, [keep_begin,
  // keep_end) kept; tiles per row rounded up to whole vectors, in chunks
  // (the layout of conv_net_winograd.inc): chunk c holds tiles
  // [c·chunk_tiles, …) as four phases phase_stride apart, with a vector of
  // margin on either side whose tile −1 and tile chunk_tiles repeat the
  // neighbouring chunks' pixels (or, at the ends of the row, the edge
  // pixels).
  struct Stripe {
    int begin, end, keep_begin, keep_end;
    int width, tiles, chunks;
    std::ptrdiff_t channel_stride;
  };
  std::vector<Stripe> stripes;
  // Buffers: the last layer's group before it is interleaved into the
  // output, the kernel's scratch, where rows not kept go, RunByRows' input
  // and output pixels of a stripe's row, then each layer's ring of input
  // rows (for the widest stripe: the stripes run one after another).
  enum { kLastRows, kScratch, kDiscarded, kLoaded, kStored, kRings };
  size_t widest_stride = 0;
  std::vector<WinogradStripe> plans =
      PlanWinogradStripesFor(isa_, width, winograd_stripe_, layer_count);
  if (only_stripe >= 0) plans = {plans[only_stripe]};
  for (const WinogradStripe& plan : plans) {
    const int stripe_width = plan.end - plan.begin;
    const int tiles = ((stripe_width + kGroup - 1) / kGroup + lanes - 1) / lanes * lanes;
    const int chunks = (tiles + chunk_tiles - 1) / chunk_tiles;
    Stripe stripe{.begin = plan.begin,
                  .end = plan.end,
                  .keep_begin = plan.keep_begin,
                  .keep_end = plan.keep_end,
                  .width = stripe_width,
                  .tiles = tiles,
                  .chunks = chunks,
                  .channel_stride = chunks * chunk_stride};
    widest_stride = std::max(widest_stride, static_cast<size_t>(stripe.channel_stride));
    stripes.push_back(stripe);
  }
  std::vector<float*> rings;
  for (const PackedLayer& layer : layers_) {
    rings.push_back(
        WinogradBuffer(kRings + static_cast<int>(rings.size()),
                       static_cast<size_t>(kSlots) * layer.in_channels * widest_stride));
  }
  float* const last_rows =
      WinogradBuffer(kLastRows, static_cast<size_t>(kGroup) * out_channels() * widest_stride);
  float* const scratch =
      WinogradBuffer(kScratch, kernels.scratch_floats(max_channels, max_channels));
  // Where the kernel writes the rows of a group outside the frame (or, in
  // the last layer, outside [row_begin, row_end)), so that it need not check.
  float* const discarded_row =
      WinogradBuffer(kDiscarded, static_cast<size_t>(max_channels) * widest_stride) + lanes;

  auto ring_row = [&](const Stripe& stripe, int layer_idx, int y) {
    return rings[layer_idx] +
           static_cast<std::ptrdiff_t>(y % kSlots) * layers_[layer_idx].in_channels *
               stripe.channel_stride +
           lanes;
  };
  // Pixel x, −1 ≤ x < 4 · tiles + 4, of a channel's row: in its chunk, or
  // beyond the row's ends in the first or last chunk's margin.
  auto pixel = [&](const Stripe& stripe, float* channel_row, int x) -> float& {
    const int tile = x >> 2;
    const int chunk = std::clamp(tile / chunk_tiles, 0, stripe.chunks - 1);
    return channel_row[chunk * chunk_stride + (x & 3) * phase_stride + tile - chunk * chunk_tiles];
  };
  // Replicate padding: pixel −1 repeats pixel 0 and the pixels past the
  // width that a tile reads repeat the last one; then each chunk's margins
  // get the neighbouring chunks' pixels its tiles read (tile −1's phase 3,
  // tile chunk_tiles's phase 0). Inside the frame a stripe's ends repeat
  // pixels too, but only its margin sees them.
  auto replicate_edges = [&](const Stripe& stripe, float* row, int channels) {
    for (int c = 0; c < channels; ++c) {
      float* channel_row = row + c * stripe.channel_stride;
      pixel(stripe, channel_row, -1) = pixel(stripe, channel_row, 0);
      // Pixels width … 4 · tiles + 3 all lie in the last chunk (its margin
      // included), so its start is found once rather than per pixel.
      const float last = pixel(stripe, channel_row, stripe.width - 1);
      float* last_chunk = channel_row + (stripe.chunks - 1) * (chunk_stride - chunk_tiles);
      for (int x = stripe.width; x <= kGroup * stripe.tiles + kGroup - 1; ++x) {
        last_chunk[(x & 3) * phase_stride + (x >> 2)] = last;
      }
      for (int chunk = 1; chunk < stripe.chunks; ++chunk) {
        float* start = channel_row + chunk * chunk_stride;
        start[3 * phase_stride - 1] = start[-chunk_stride + 3 * phase_stride + chunk_tiles - 1];
        start[-chunk_stride + chunk_tiles] = start[0];
      }
    }
  };
  // A stripe's pixels (from x = begin) into a channel's row, and its kept
  // pixels back (to x = keep_begin).
  auto to_phases = [&](const Stripe& stripe, const float* stripe_row, float* channel_row) {
    for (int chunk = 0; chunk < stripe.chunks; ++chunk) {
      const int x = chunk * chunk_tiles * kGroup;
      ToPhases(stripe_row + x, std::min(stripe.width - x, chunk_tiles * kGroup),
               channel_row + chunk * chunk_stride, phase_stride);
    }
  };
  auto from_phases = [&](const Stripe& stripe, const float* channel_row, float* kept_row) {
    // From keep_begin, which is on a tile's first pixel.
    const int first = stripe.keep_begin - stripe.begin;
    for (int chunk = first / (chunk_tiles * kGroup); chunk < stripe.chunks; ++chunk) {
      const int x = std::max(chunk * chunk_tiles * kGroup, first);
      const int count =
          std::min((chunk + 1) * chunk_tiles * kGroup, stripe.keep_end - stripe.begin) - x;
      if (count <= 0) break;
      FromPhases(channel_row + chunk * chunk_stride + (x - chunk * chunk_tiles * kGroup) / kGroup,
                 phase_stride, count, kept_row + x - first);
    }
  };
  // With RunByRows's functions, a stripe's pixels of every channel go
  // through these.
  int widest = 0, widest_kept = 0;
  for (const Stripe& stripe : stripes) {
    widest = std::max(widest, stripe.width);
    widest_kept = std::max(widest_kept, stripe.keep_end - stripe.keep_begin);
  }
  float* const loaded = io.load == nullptr
                            ? nullptr
                            : WinogradBuffer(kLoaded, static_cast<size_t>(in_channels()) * widest);
  float* const stored =
      io.store == nullptr
          ? nullptr
          : WinogradBuffer(kStored, static_cast<size_t>(out_channels()) * widest_kept);

  // Negligible inputs (io.negligible > 0): for each input row a stripe has
  // loaded, the largest magnitude of any channel in each vector of tiles
  // and `reach_tiles` tiles on either side — every tile an output of the
  // vector can depend on, at any layer — in a ring of rows (the rows a
  // group reads lie well within it; a row found missing, which the tags
  // would show, only means nothing is left out).
  constexpr int kMagnitudeRows = 32;
  const bool skipping = io.negligible > 0;
  const int reach_tiles = (layer_count + kGroup - 1) / kGroup;
  int most_vectors = 0;
  for (const Stripe& stripe : stripes) most_vectors = std::max(most_vectors, stripe.tiles / lanes);
  std::vector<float> vector_magnitudes(skipping ? kMagnitudeRows * most_vectors : 0);
  std::vector<int> magnitude_rows(kMagnitudeRows, -1);
  std::vector<float> tile_magnitudes;
  std::vector<unsigned char> skip(most_vectors);
  auto measure_row = [&](const Stripe& stripe, int y, const float* row) {
    tile_magnitudes.assign(stripe.tiles, 0.0f);
    for (int c = 0; c < in_channels(); ++c) {
      for (int chunk = 0; chunk < stripe.chunks; ++chunk) {
        const int first = chunk * chunk_tiles, count = std::min(chunk_tiles, stripe.tiles - first);
        float* magnitude = tile_magnitudes.data() + first;
        for (int phase = 0; phase < kGroup; ++phase) {
          const float* values =
              row + c * stripe.channel_stride + chunk * chunk_stride + phase * phase_stride;
          for (int t = 0; t < count; ++t) {
            magnitude[t] = std::max(magnitude[t], std::abs(values[t]));
          }
        }
      }
    }
    float* vectors = vector_magnitudes.data() + (y % kMagnitudeRows) * most_vectors;
    for (int v = 0; v < stripe.tiles / lanes; ++v) {
      const int first = std::max(v * lanes - reach_tiles, 0);
      const int end = std::min((v + 1) * lanes + reach_tiles, stripe.tiles);
      vectors[v] =
          *std::max_element(tile_magnitudes.begin() + first, tile_magnitudes.begin() + end);
    }
    magnitude_rows[y % kMagnitudeRows] = y;
  };
  // Layer l's outputs in rows y … y + 3 depend on the input rows l + 1 above
  // and below them (and as many pixels on either side, within reach_tiles).
  auto negligible_vectors = [&](const Stripe& stripe, int layer_idx,
                                int y) -> const unsigned char* {
    const int top = std::max(y - layer_idx - 1, 0);
    const int bottom = std::min(y + kGroup + layer_idx, height - 1);
    for (int r = top; r <= bottom; ++r) {
      if (magnitude_rows[r % kMagnitudeRows] != r) return nullptr;
    }
    bool any = false;
    for (int v = 0; v < stripe.tiles / lanes; ++v) {
      float largest = 0.0f;
      for (int r = top; r <= bottom; ++r) {
        largest = std::max(largest, vector_magnitudes[(r % kMagnitudeRows) * most_vectors + v]);
      }
      skip[v] = largest < io.negligible;
      any = any || skip[v];
    }
    return any ? skip.data() : nullptr;
  };

  // PullRows (conv_net_rows.h) schedules the groups of 4 rows on the grid
  // described there; rows[0 … 5] are the input rows y − 1 … y + 4.
  auto compute_rows = [&](const Stripe& stripe, int layer_idx, int y, const int* rows) {
    const PackedLayer& layer = layers_[layer_idx];
    const bool last = layer_idx == layer_count - 1;
    WinogradJob job;
    for (int r = 0; r < kSlots; ++r) job.in_rows[r] = ring_row(stripe, layer_idx, rows[r]);
    job.channel_stride = stripe.channel_stride;
    job.in_channels = layer.in_channels;
    job.out_channels = layer.out_channels;
    job.tiles = stripe.tiles;
    job.weights = layer.winograd.data();
    job.bias = layer.single.bias.data();
    job.prelu = layer.winograd_slopes.data();
    job.scratch = scratch;
    job.add_bias = layer.winograd_bias;
    job.activate = layer.winograd_activation;
    job.slopes_at_most_one = layer.winograd_slopes_at_most_one;
    job.skip = skipping ? negligible_vectors(stripe, layer_idx, y) : nullptr;
    for (int r = 0; r < kGroup; ++r) {
      const int row = y + r;
      const bool kept = last ? row >= row_begin && row < row_end : row >= 0 && row < height;
      job.out_rows[r] = !kept  ? discarded_row
                        : last ? last_rows + r * out_channels() * stripe.channel_stride + lanes
                               : ring_row(stripe, layer_idx + 1, row);
    }
    kernels.group(job);
    for (int r = 0; r < kGroup; ++r) {
      if (job.out_rows[r] == discarded_row) continue;
      if (!last) {
        replicate_edges(stripe, job.out_rows[r], layer.out_channels);
        continue;
      }
      const int kept = stripe.keep_end - stripe.keep_begin;
      for (int c = 0; c < layer.out_channels; ++c) {
        from_phases(stripe, job.out_rows[r] + c * stripe.channel_stride,
                    stored != nullptr ? stored + c * kept
                                      : io.out + c * io.out_plane_stride +
                                            (y + r) * io.out_row_stride + stripe.keep_begin);
      }
      if (stored != nullptr) {
        (*io.store)(y + r, stripe.keep_begin, stripe.keep_end, stored, kept);
      }
    }
  };
  auto load_input = [&](const Stripe& stripe, int y) {
    if (loaded != nullptr) (*io.load)(y, stripe.begin, stripe.end, loaded, stripe.width);
    float* row = ring_row(stripe, 0, y);
    for (int c = 0; c < in_channels(); ++c) {
      to_phases(stripe,
                loaded != nullptr
                    ? loaded + c * stripe.width
                    : io.in + c * io.in_plane_stride + y * io.in_row_stride + stripe.begin,
                row + c * stripe.channel_stride);
    }
    replicate_edges(stripe, row, in_channels());
    if (skipping) measure_row(stripe, y, row);
  };

  // One stripe after another, each through all its rows, so that the rings
  // stay in the core's caches as far as they fit, from one stripe to the
  // next too. Taking turns in bands of 32 rows, each stripe with rings of
  // its own, as first built, brought the rings (0.6–1 MB a stripe) back
  // from the shared cache at every turn: pabsr1 took about 7 % more CPU
  // time for it on AMD Zen 1 (docs/filters.md, "One stripe after another").
  const std::vector<int> kernel_sizes(layer_count, 3);
  for (const Stripe& stripe : stripes) {
    std::fill(magnitude_rows.begin(), magnitude_rows.end(), -1);
    PullRows(
        kernel_sizes, kGroup, height, row_begin, row_end, [&](int y) { load_input(stripe, y); },
        [&](int layer_idx, int y, const int* rows) { compute_rows(stripe, layer_idx, y, rows); });
  }
}

}  // namespace vidmill::filters
