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
#include "filters/conv_net.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
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
inline Vec PRelu(Vec x, Vec slope) { return x >= 0.0f ? x : slope * x; }
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
inline Vec PRelu(const Vec& x, const Vec& slope) {
  Vec r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = x.v[i] >= 0.0f ? x.v[i] : slope.v[i] * x.v[i];
  return r;
}
#endif

#include "filters/conv_net_kernel.inc"

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
inline Vec PRelu(Vec x, Vec slope) {
  return _mm256_blendv_ps(x, _mm256_mul_ps(x, slope), x);  // sign bit set: slope·x
}

#include "filters/conv_net_kernel.inc"

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
inline Vec PRelu(Vec x, Vec slope) {
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mul_ps(x, negative, x, slope);
}

#include "filters/conv_net_kernel.inc"

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
    case ConvNetIsa::kAmx:  // Run calls RunRowsAmx instead
    case ConvNetIsa::kAvx512Fp16:  // and RunRows<_Float16>
    case ConvNetIsa::kPortable:
      break;
  }
  return {&portable::ConvRow, &CopyFloats, &CopyFloats};
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
    RunRows<float>(in, in_row_stride, in_plane_stride, width, height, out, out_row_stride,
                   out_plane_stride, row_begin, row_end);
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
  PullRows(kernels, height, row_begin, row_end, load_input, compute_row);
}

}  // namespace vidmill::filters
