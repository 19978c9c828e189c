// ConvNet's AMX path. Design: the tile unit multiplies a 16 × 32 bfloat16
// matrix A by a 32 × 16 one B into 16 × 16 float sums C (TDPBF16PS). Here a
// row of A is one output pixel's inputs and a column of B one output
// channel's weights, so one product is 16 pixels × 16 output channels × 32
// of the inputs under the kernel.
//
// Rows are stored pixel-interleaved: pixel x's channels are consecutive
// bfloat16s, the channel count padded (`Cp`, zeros in the padding) to a
// multiple of 16, or of 8 for the network's input. Then the inputs under a kernel row — pixels x −
// r … x + r, all channels — are one contiguous run of kernel · Cp values, and the A tile for 16
// neighbouring pixels is a strided tile load straight from the row buffer (stride Cp values: the
// tile's rows overlap), with no im2col copy. The run is cut into tiles of 32 values; the weights
// that fall past its end, into the next pixel, are zero (padding channels likewise), so the
// products over-read up to two pixels into the right margin, which holds the replicated edge pixel
// (finite: 0 × a finite value is 0).
//
// Per block of 32 pixels and pair of 16-channel output groups four C tiles
// (tiles 0–3) accumulate over the kernel rows and input tiles; tiles 4 and 5
// hold the two pixel groups' inputs, 6 and 7 the two output groups' weights.
// The sums go through a small float scratch where bias, PReLU and the
// conversion to bfloat16 for the next layer (or the float output planes for
// the last) are done with AVX-512. Rounding: inputs and weights to bfloat16
// (round to nearest even), sums in float; the results are within about 1 %
// of the float path's, relative to the output's range (conv_net_test).
#include "filters/conv_net_amx.h"

#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "filters/conv_net_rows.h"

namespace vidmill::filters::conv_net_internal {

namespace {

constexpr int kTileValues = 32;   // bfloat16 inputs per A row / B column
constexpr int kTileRows = 16;     // pixels per A tile, output channels per B tile
constexpr int kBlockPixels = 32;  // two pixel groups per block
// Pixels of margin left and right of a row: the kernel radius (≤ 2) plus,
// on the right, the tile over-read (under 32 values: at most 3 pixels of 8
// channels) past the last block (rows are padded to whole blocks).
constexpr int kLeftPixels = 4;
constexpr int kRightPixels = 8;

constexpr int RoundUp(int value, int multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

uint16_t ToBf16(float value) {  // round to nearest even, as VCVTNEPS2BF16
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  bits += 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

// The tile configuration (palette 1): all eight tiles 16 rows × 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

}  // namespace

struct AmxLayer {
  int in_channels = 0;
  int out_channels = 0;
  int kernel = 0;
  int in_padded = 0;      // Cp of the input rows: a multiple of 8
  int out_padded = 0;     // output channels padded to 16 (= the next layer's Cp)
  int tiles_per_row = 0;  // tiles of 32 inputs covering kernel · Cp
  // B tiles, [out group][ky][tile][pair r][channel n][2], bfloat16.
  std::vector<uint16_t> weights;
  std::vector<float> bias;   // out_padded
  std::vector<float> prelu;  // out_padded, empty = no activation
};

struct AmxNet {
  std::vector<AmxLayer> layers;
};

bool AmxUsable() {
  static const bool usable = [] {
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bf16") ||
        !__builtin_cpu_supports("amx-tile") || !__builtin_cpu_supports("amx-bf16")) {
      return false;
    }
    constexpr long kArchReqXcompPerm = 0x1023;
    constexpr long kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return usable;
}

std::shared_ptr<const AmxNet> PackForAmx(const std::vector<ConvLayer>& layers) {
  auto net = std::make_shared<AmxNet>();
  for (const ConvLayer& layer : layers) {
    AmxLayer packed;
    packed.in_channels = layer.in_channels;
    packed.out_channels = layer.out_channels;
    packed.kernel = layer.kernel;
    // Hidden layers read the previous layer's output rows, whose channels
    // are padded to whole 16-channel groups; the first layer reads rows
    // converted from the caller's planes, padded only to 8 so that a 3 × 3
    // kernel over 5 channels is one tile of inputs per kernel row, not two.
    packed.in_padded =
        net->layers.empty() ? RoundUp(layer.in_channels, 8) : net->layers.back().out_padded;
    packed.out_padded = RoundUp(layer.out_channels, kTileRows);
    const int window = layer.kernel * packed.in_padded;
    packed.tiles_per_row = RoundUp(window, kTileValues) / kTileValues;
    const int groups = packed.out_padded / kTileRows;
    constexpr int kTileSize = kTileValues * kTileRows;
    packed.weights.assign(
        static_cast<size_t>(groups) * layer.kernel * packed.tiles_per_row * kTileSize, 0);
    for (int group = 0; group < groups; ++group) {
      for (int ky = 0; ky < layer.kernel; ++ky) {
        for (int tile = 0; tile < packed.tiles_per_row; ++tile) {
          uint16_t* b =
              packed.weights.data() +
              ((static_cast<size_t>(group) * layer.kernel + ky) * packed.tiles_per_row + tile) *
                  kTileSize;
          for (int r = 0; r < kTileValues / 2; ++r) {
            for (int n = 0; n < kTileRows; ++n) {
              for (int e = 0; e < 2; ++e) {
                const int k = tile * kTileValues + 2 * r + e;  // index in the window
                const int kx = k / packed.in_padded;
                const int ci = k % packed.in_padded;
                const int co = group * kTileRows + n;
                if (kx >= layer.kernel || ci >= layer.in_channels || co >= layer.out_channels) {
                  continue;
                }
                b[(r * kTileRows + n) * 2 + e] =
                    ToBf16(layer.weights[((static_cast<size_t>(co) * layer.in_channels + ci) *
                                              layer.kernel +
                                          ky) *
                                             layer.kernel +
                                         kx]);
              }
            }
          }
        }
      }
    }
    packed.bias.assign(packed.out_padded, 0.0f);
    if (layer.bias != nullptr) {
      std::copy(layer.bias, layer.bias + layer.out_channels, packed.bias.begin());
    }
    if (layer.prelu != nullptr) {
      packed.prelu.assign(packed.out_padded, 0.0f);
      std::copy(layer.prelu, layer.prelu + layer.out_channels, packed.prelu.begin());
    }
    net->layers.push_back(std::move(packed));
  }
  return net;
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512bf16,amx-tile,amx-bf16")

namespace {

// Repeats pixel 0 into the left margin and pixel width − 1 into the right
// one and the rest of the padded row.
void ReplicateEdges(uint16_t* row, int channels, int width, int padded_width) {
  for (int x = -kLeftPixels; x < 0; ++x) {
    std::memcpy(row + x * channels, row, sizeof(uint16_t) * channels);
  }
  const uint16_t* last = row + (width - 1) * channels;
  for (int x = width; x < padded_width + kRightPixels; ++x) {
    std::memcpy(row + x * channels, last, sizeof(uint16_t) * channels);
  }
}

// Converts `channels` (≤ 8) float rows, `plane_stride` apart, to a row of
// 8-channel bfloat16 pixels (channels past `channels` zero), 16 pixels at a
// time: the channel rows are converted and paired into four vectors
// (0|1, 2|3, 4|5, 6|7: 16 pixels each), and each 4-pixel output vector is
// two two-source permutes and a blend. Writes whole groups of 16 pixels (the
// row has room past the width).
void InterleaveEight(const float* in, std::ptrdiff_t plane_stride, int channels, int width,
                     uint16_t* row) {
  // Output lane l = 8·q + c (pixel q of 4, channel c) takes element
  // (c mod 4)·16 + 4·o + q of the pair vectors (0|1 ++ 2|3) for c < 4,
  // (4|5 ++ 6|7) for c ≥ 4.
  __m512i index[4];
  for (int o = 0; o < 4; ++o) {
    alignas(64) uint16_t lanes[32];
    for (int l = 0; l < 32; ++l) lanes[l] = static_cast<uint16_t>((l % 8 % 4) * 16 + 4 * o + l / 8);
    index[o] = _mm512_load_si512(lanes);
  }
  const __mmask32 high_channels = 0xf0f0f0f0u;
  for (int x = 0; x < width; x += kTileRows) {
    const __mmask16 valid = static_cast<__mmask16>((1u << std::min(kTileRows, width - x)) - 1);
    alignas(64) uint16_t converted[8][kTileRows];  // channel c's 16 pixels
    for (int c = 0; c < 8; ++c) {
      const __m512 v = c < channels ? _mm512_maskz_loadu_ps(valid, in + c * plane_stride + x)
                                    : _mm512_setzero_ps();
      const __m256bh bf = _mm512_cvtneps_pbh(v);
      std::memcpy(converted[c], &bf, sizeof(bf));
    }
    __m512i pairs[4];
    for (int i = 0; i < 4; ++i) pairs[i] = _mm512_load_si512(converted[2 * i]);
    for (int o = 0; o < 4; ++o) {
      const __m512i low = _mm512_permutex2var_epi16(pairs[0], index[o], pairs[1]);
      const __m512i high = _mm512_permutex2var_epi16(pairs[2], index[o], pairs[3]);
      _mm512_storeu_si512(row + (x + 4 * o) * 8, _mm512_mask_blend_epi16(high_channels, low, high));
    }
  }
}

// One output row of one layer: C tiles over blocks of 32 pixels, then bias,
// PReLU and the store: bfloat16 into `next` (the next layer's ring row), or,
// for the last layer (`next` null), floats into the output planes at row
// `frame_out`, pixels below `width` only.
void ConvRowAmx(const AmxLayer& layer, const uint16_t* const* in_rows, int width, int padded_width,
                uint16_t* next, float* frame_out, std::ptrdiff_t frame_plane_stride) {
  const int cp = layer.in_padded;
  const int radius = layer.kernel / 2;
  const long stride = static_cast<long>(cp) * sizeof(uint16_t);
  const int groups = layer.out_padded / kTileRows;
  constexpr int kTileSize = kTileValues * kTileRows;
  alignas(64) float sums[4][kTileRows][kTileRows];  // [tile][pixel][channel]
  for (int x0 = 0; x0 < padded_width; x0 += kBlockPixels) {
    for (int group = 0; group < groups; group += 2) {
      const bool two = group + 1 < groups;
      _tile_zero(0);
      _tile_zero(1);
      if (two) {
        _tile_zero(2);
        _tile_zero(3);
      }
      for (int ky = 0; ky < layer.kernel; ++ky) {
        const uint16_t* a = in_rows[ky] + static_cast<std::ptrdiff_t>(x0 - radius) * cp;
        const uint16_t* b =
            layer.weights.data() +
            (static_cast<size_t>(group) * layer.kernel + ky) * layer.tiles_per_row * kTileSize;
        const size_t next_group =
            static_cast<size_t>(layer.kernel) * layer.tiles_per_row * kTileSize;
        for (int tile = 0; tile < layer.tiles_per_row; ++tile) {
          _tile_loadd(4, a + tile * kTileValues, stride);
          _tile_loadd(5, a + tile * kTileValues + kTileRows * cp, stride);
          _tile_loadd(6, b + tile * kTileSize, 64);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(1, 5, 6);
          if (two) {
            _tile_loadd(7, b + next_group + tile * kTileSize, 64);
            _tile_dpbf16ps(2, 4, 7);
            _tile_dpbf16ps(3, 5, 7);
          }
        }
      }
      _tile_stored(0, sums[0], 64);
      _tile_stored(1, sums[1], 64);
      if (two) {
        _tile_stored(2, sums[2], 64);
        _tile_stored(3, sums[3], 64);
      }
      for (int t = 0; t < (two ? 4 : 2); ++t) {
        const int c0 = (group + t / 2) * kTileRows;
        const int xg = x0 + (t % 2) * kTileRows;
        const __m512 bias = _mm512_loadu_ps(layer.bias.data() + c0);
        const __m512 slope =
            layer.prelu.empty() ? _mm512_setzero_ps() : _mm512_loadu_ps(layer.prelu.data() + c0);
        for (int p = 0; p < kTileRows; ++p) {
          __m512 v = _mm512_add_ps(_mm512_load_ps(sums[t][p]), bias);
          if (!layer.prelu.empty()) {
            const __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
            v = _mm512_mask_mul_ps(v, negative, v, slope);
          }
          if (next != nullptr) {
            const __m256bh converted = _mm512_cvtneps_pbh(v);
            std::memcpy(next + static_cast<std::ptrdiff_t>(xg + p) * layer.out_padded + c0,
                        &converted, sizeof(converted));
          } else {
            _mm512_store_ps(sums[t][p], v);
          }
        }
        if (next == nullptr) {
          const int pixels = std::min(kTileRows, width - xg);
          const int channels = std::min(kTileRows, layer.out_channels - c0);
          for (int c = 0; c < channels; ++c) {
            float* dst = frame_out + (c0 + c) * frame_plane_stride + xg;
            for (int p = 0; p < pixels; ++p) dst[p] = sums[t][p][c];
          }
        }
      }
    }
  }
}

}  // namespace

void RunRowsAmx(const AmxNet& net, const float* in, std::ptrdiff_t in_row_stride,
                std::ptrdiff_t in_plane_stride, int width, int height, float* out,
                std::ptrdiff_t out_row_stride, std::ptrdiff_t out_plane_stride, int row_begin,
                int row_end) {
  const int layer_count = static_cast<int>(net.layers.size());
  const int padded_width = RoundUp(width, kBlockPixels);
  const int row_pixels = kLeftPixels + padded_width + kRightPixels;
  std::vector<AlignedBuffer<uint16_t>> rings;
  std::vector<int> kernels;
  for (const AmxLayer& layer : net.layers) {
    rings.emplace_back(static_cast<size_t>(layer.kernel) * row_pixels * layer.in_padded);
    kernels.push_back(layer.kernel);
  }
  auto ring_row = [&](int layer_idx, int y) {
    const AmxLayer& layer = net.layers[layer_idx];
    return rings[layer_idx].get() +
           (static_cast<std::ptrdiff_t>(y % layer.kernel) * row_pixels + kLeftPixels) *
               layer.in_padded;
  };
  const AmxLayer& first = net.layers.front();
  auto load_input = [&](int y) {
    uint16_t* row = ring_row(0, y);
    if (first.in_padded == 8) {
      InterleaveEight(in + y * in_row_stride, in_plane_stride, first.in_channels, width, row);
    } else {
      alignas(64) uint16_t converted[kTileRows];
      for (int c = 0; c < first.in_channels; ++c) {
        const float* src = in + c * in_plane_stride + y * in_row_stride;
        for (int x = 0; x < width; x += kTileRows) {
          const int count = std::min(kTileRows, width - x);
          const __m512 v =
              _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1), src + x);
          const __m256bh bf = _mm512_cvtneps_pbh(v);
          std::memcpy(converted, &bf, sizeof(bf));
          for (int p = 0; p < count; ++p) row[(x + p) * first.in_padded + c] = converted[p];
        }
      }
    }
    ReplicateEdges(row, first.in_padded, width, padded_width);
  };
  auto compute_row = [&](int layer_idx, int y, const int* in_rows) {
    const AmxLayer& layer = net.layers[layer_idx];
    const uint16_t* rows[8];
    for (int ky = 0; ky < layer.kernel; ++ky) rows[ky] = ring_row(layer_idx, in_rows[ky]);
    if (layer_idx + 1 < layer_count) {
      uint16_t* next = ring_row(layer_idx + 1, y);
      ConvRowAmx(layer, rows, width, padded_width, next, nullptr, 0);
      ReplicateEdges(next, layer.out_padded, width, padded_width);
    } else {
      ConvRowAmx(layer, rows, width, padded_width, nullptr, out + y * out_row_stride,
                 out_plane_stride);
    }
  };
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.bytes_per_row[t] = 64;
    config.rows[t] = kTileRows;
  }
  _tile_loadconfig(&config);
  PullRows(kernels, 1, height, row_begin, row_end, load_input, compute_row);
  _tile_release();
}

#pragma GCC pop_options

}  // namespace vidmill::filters::conv_net_internal
