#include "filters/conv_net.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace vidmill::filters {
namespace {

// A layer's parameters, owned (ConvLayer only points at them).
struct LayerData {
  int in_channels;
  int out_channels;
  int kernel;
  std::vector<float> weights;
  std::vector<float> bias;
  std::vector<float> prelu;  // empty = no activation
  bool has_bias = true;
};

std::vector<ConvLayer> Layers(const std::vector<LayerData>& data) {
  std::vector<ConvLayer> layers;
  for (const LayerData& d : data) {
    layers.push_back({d.in_channels, d.out_channels, d.kernel, d.weights.data(),
                      d.has_bias ? d.bias.data() : nullptr,
                      d.prelu.empty() ? nullptr : d.prelu.data()});
  }
  return layers;
}

// Random layers chaining `channels` (channels[i] → channels[i + 1]), PReLU on
// all but the last, weights scaled like a trained net's so values stay O(1).
std::vector<LayerData> RandomNet(const std::vector<int>& channels, const std::vector<int>& kernels,
                                 std::mt19937& rng) {
  std::vector<LayerData> net;
  for (size_t i = 0; i + 1 < channels.size(); ++i) {
    LayerData d{channels[i], channels[i + 1], kernels[i], {}, {}, {}};
    const int fan_in = d.in_channels * d.kernel * d.kernel;
    std::normal_distribution<float> weight(0.0f, 1.5f / std::sqrt(static_cast<float>(fan_in)));
    std::uniform_real_distribution<float> uniform(-0.3f, 0.3f);
    d.weights.resize(static_cast<size_t>(fan_in) * d.out_channels);
    for (float& w : d.weights) w = weight(rng);
    d.bias.resize(d.out_channels);
    for (float& b : d.bias) b = uniform(rng);
    if (i + 2 < channels.size()) {
      d.prelu.resize(d.out_channels);
      for (float& s : d.prelu) s = uniform(rng);
    }
    net.push_back(std::move(d));
  }
  return net;
}

// Planar frame with its own strides, so the engine's stride handling is tested.
struct Planes {
  int channels, width, height;
  std::ptrdiff_t row_stride, plane_stride;
  std::vector<float> data;
  Planes(int c, int w, int h, int row_pad, int plane_pad)
      : channels(c),
        width(w),
        height(h),
        row_stride(w + row_pad),
        plane_stride(static_cast<std::ptrdiff_t>(w + row_pad) * h + plane_pad),
        data(static_cast<size_t>(plane_stride) * c, -12345.0f) {}
  float& at(int c, int y, int x) { return data[c * plane_stride + y * row_stride + x]; }
  float at(int c, int y, int x) const { return data[c * plane_stride + y * row_stride + x]; }
};

Planes RandomInput(int channels, int width, int height, std::mt19937& rng) {
  Planes in(channels, width, height, 3, 5);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (int c = 0; c < channels; ++c) {
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) in.at(c, y, x) = value(rng);
    }
  }
  return in;
}

// `value` rounded to bfloat16 (8-bit mantissa, round to nearest even), as
// the AMX path rounds its inputs, weights and hidden activations.
double RoundToBf16(double value) {
  float f = static_cast<float>(value);
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  bits = (bits + 0x7fff + ((bits >> 16) & 1)) & 0xffff0000u;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// `value` rounded to IEEE half precision (11-bit significand, round to
// nearest even).
double RoundToHalf(double value) { return static_cast<double>(static_cast<_Float16>(value)); }

// The arithmetic a reference convolution imitates.
enum class Arithmetic {
  kExact,  // double sums: what the float paths approximate to float precision
  kBf16,   // the AMX path: inputs and weights rounded to bfloat16, sums float
  kHalf,   // the AVX512-FP16 path: every value and every multiply-add rounded
           // to half, in the kernel's order (bias, then input channel, row,
           // column), so its results are matched exactly
};

// The reference: direct convolution per layer on whole planes, coordinates
// clamped to the frame (replicate padding), in `arithmetic`.
std::vector<std::vector<double>> Reference(const std::vector<LayerData>& net, const Planes& in,
                                           Arithmetic arithmetic = Arithmetic::kExact) {
  const auto round = [arithmetic](double v) {
    switch (arithmetic) {
      case Arithmetic::kBf16:
        return RoundToBf16(v);
      case Arithmetic::kHalf:
        return RoundToHalf(v);
      case Arithmetic::kExact:
        break;
    }
    return v;
  };
  // A product of two halves is exact in double, so rounding w·x + sum once
  // is the kernel's fused multiply-add.
  const auto add = [arithmetic](double sum, double product) {
    return arithmetic == Arithmetic::kHalf ? RoundToHalf(sum + product) : sum + product;
  };
  const int w = in.width;
  const int h = in.height;
  std::vector<std::vector<double>> planes(in.channels, std::vector<double>(w * h));
  for (int c = 0; c < in.channels; ++c) {
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) planes[c][y * w + x] = in.at(c, y, x);
    }
  }
  for (const LayerData& layer : net) {
    for (auto& plane : planes) {
      for (double& v : plane) v = round(v);
    }
    const int r = layer.kernel / 2;
    std::vector<std::vector<double>> next(layer.out_channels, std::vector<double>(w * h));
    for (int co = 0; co < layer.out_channels; ++co) {
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          // The AMX path adds the float bias to its float sums; half rounds
          // it like every other value.
          double sum =
              arithmetic == Arithmetic::kHalf ? RoundToHalf(layer.bias[co]) : layer.bias[co];
          for (int ci = 0; ci < layer.in_channels; ++ci) {
            for (int ky = 0; ky < layer.kernel; ++ky) {
              for (int kx = 0; kx < layer.kernel; ++kx) {
                const int sy = std::clamp(y + ky - r, 0, h - 1);
                const int sx = std::clamp(x + kx - r, 0, w - 1);
                sum = add(sum,
                          round(layer.weights[((co * layer.in_channels + ci) * layer.kernel + ky) *
                                                  layer.kernel +
                                              kx]) *
                              planes[ci][sy * w + sx]);
              }
            }
          }
          if (!layer.prelu.empty() && sum < 0) {
            sum = arithmetic == Arithmetic::kHalf ? RoundToHalf(sum * round(layer.prelu[co]))
                                                  : sum * layer.prelu[co];
          }
          next[co][y * w + x] = sum;
        }
      }
    }
    planes = std::move(next);
  }
  return planes;
}

Planes RunNet(const ConvNet& net, const Planes& in, bool threaded) {
  Planes out(net.out_channels(), in.width, in.height, 2, 9);
  net.Run(in.data.data(), in.row_stride, in.plane_stride, in.width, in.height, out.data.data(),
          out.row_stride, out.plane_stride, threaded);
  return out;
}

// The same through RunByRows: input pixels loaded from `in`, output pixels
// stored into `out`, with what the functions saw: the pixels loaded, each
// output pixel's stores, and whether any pixel asked for or given lay
// outside the frame.
struct ByRows {
  Planes out;
  std::vector<int> stores;
  int loaded = 0;
  bool outside = false;
};

ByRows RunNetByRows(const ConvNet& net, const Planes& in, bool threaded, float negligible = 0) {
  ByRows result{Planes(net.out_channels(), in.width, in.height, 0, 0), {}, 0, false};
  std::vector<std::atomic<int>> stores(in.width * in.height);
  std::atomic<int> loaded{0};
  std::atomic<bool> outside{false};
  const auto inside = [&](int y, int x_begin, int x_end) {
    const bool ok = y >= 0 && y < in.height && x_begin >= 0 && x_end <= in.width && x_begin < x_end;
    if (!ok) outside = true;
    return ok;
  };
  const ConvNet::LoadRow load = [&](int y, int x_begin, int x_end, float* rows,
                                    std::ptrdiff_t stride) {
    if (!inside(y, x_begin, x_end)) return;
    loaded += x_end - x_begin;
    for (int c = 0; c < in.channels; ++c) {
      for (int x = x_begin; x < x_end; ++x) rows[c * stride + x - x_begin] = in.at(c, y, x);
    }
  };
  const ConvNet::StoreRow store = [&](int y, int x_begin, int x_end, const float* rows,
                                      std::ptrdiff_t stride) {
    if (!inside(y, x_begin, x_end)) return;
    for (int x = x_begin; x < x_end; ++x) ++stores[y * in.width + x];
    for (int c = 0; c < result.out.channels; ++c) {
      for (int x = x_begin; x < x_end; ++x) {
        result.out.at(c, y, x) = rows[c * stride + x - x_begin];
      }
    }
  };
  net.RunByRows(load, store, in.width, in.height, threaded, negligible);
  result.stores.assign(stores.begin(), stores.end());
  result.loaded = loaded;
  result.outside = outside;
  return result;
}

// Every path this CPU has, each with and without Winograd where it computes
// so (float paths, networks of 3 × 3 layers only).
std::vector<std::pair<ConvNetIsa, bool>> Algorithms(bool all_3x3) {
  std::vector<std::pair<ConvNetIsa, bool>> algorithms;
  for (ConvNetIsa isa : ConvNet::SupportedIsas()) {
    algorithms.emplace_back(isa, false);
    if (all_3x3 && ComputesInFloat(isa)) algorithms.emplace_back(isa, true);
  }
  return algorithms;
}

struct Shape {
  std::vector<int> channels;
  std::vector<int> kernels;
  int width;
  int height;
};

TEST(ConvNetTest, MatchesDirectConvolutionOnEveryPath) {
  const std::vector<Shape> shapes = {
      {{5, 7, 3}, {3, 3}, 17, 9},
      {{5, 16, 16, 16, 4}, {3, 3, 3, 3}, 33, 40},
      {{5, 24, 24, 24, 4}, {3, 3, 3, 3}, 17, 9},
      {{3, 9, 2}, {5, 1}, 33, 9},
      {{2, 11, 13, 1}, {1, 5, 3}, 40, 17},
      {{1, 4}, {3}, 1, 1},
      {{4, 6, 5}, {3, 5}, 1, 40},
      {{5, 16, 4}, {3, 3}, 2, 2},
      {{3, 33, 3}, {3, 3}, 70, 2},
      {{6, 8, 8}, {5, 5}, 17, 1},
      {{5, 16, 16, 4}, {3, 3, 3}, 301, 13},  // several pixel tiles per row
      {{11, 20, 3}, {3, 5}, 37, 6},          // more than 8 input channels
      // Wide rows for 1×1 and 5×5 kernels; a one-layer net writes the frame
      // directly from its whole blocks.
      {{3, 9, 2}, {5, 1}, 333, 7},
      {{2, 6, 3}, {1, 3}, 250, 5},
      {{4, 5}, {3}, 411, 3},
      {{4, 5}, {5}, 1000, 2},
      // Winograd: rows over several chunks (192 pixels with AVX2, 384 with
      // AVX-512, 96 portable) and heights that cut groups of 4 rows anywhere,
      // the halves' boundary too.
      {{5, 16, 16, 16, 4}, {3, 3, 3, 3}, 385, 10},
      {{5, 16, 4}, {3, 3}, 193, 7},
      {{3, 8, 8, 2}, {3, 3, 3}, 97, 1},
      {{2, 9, 3}, {3, 3}, 770, 5},
  };
  std::mt19937 rng(7);
  for (const Shape& shape : shapes) {
    const std::vector<LayerData> data = RandomNet(shape.channels, shape.kernels, rng);
    const Planes in = RandomInput(shape.channels.front(), shape.width, shape.height, rng);
    const std::vector<std::vector<double>> exact = Reference(data, in);
    const std::vector<std::vector<double>> bf16 = Reference(data, in, Arithmetic::kBf16);
    const std::vector<std::vector<double>> half = Reference(data, in, Arithmetic::kHalf);
    double scale = 0;
    for (const auto& plane : exact) {
      for (double v : plane) scale = std::max(scale, std::abs(v));
    }
    ConvNet net(Layers(data));
    const bool all_3x3 = std::all_of(shape.kernels.begin(), shape.kernels.end(),
                                     [](int kernel) { return kernel == 3; });
    for (const auto& [isa, winograd] : Algorithms(all_3x3)) {
      net.ForceIsaForTesting(isa);
      net.UseWinogradForTesting(winograd);
      ASSERT_EQ(net.winograd(), winograd);
      // AMX against the reference with its roundings. Where a hidden
      // activation's float and double sums round to neighbouring bfloat16
      // values (0.4 % apart), the outputs that see it differ by up to about
      // 0.5 %; everywhere else they agree to float precision.
      // AVX512-FP16 exactly as its emulation.
      const bool amx = isa == ConvNetIsa::kAmx;
      const bool fp16 = isa == ConvNetIsa::kAvx512Fp16;
      const std::vector<std::vector<double>>& want = amx ? bf16 : fp16 ? half : exact;
      for (bool threaded : {false, true}) {
        SCOPED_TRACE(std::string(ConvNetIsaName(isa)) + (winograd ? " winograd" : "") +
                     (threaded ? " threaded " : " ") + std::to_string(shape.width) + "x" +
                     std::to_string(shape.height) + " layers " + std::to_string(data.size()));
        const Planes got = RunNet(net, in, threaded);
        double worst = 0;
        int off = 0;  // outputs beyond float precision
        for (int c = 0; c < got.channels; ++c) {
          for (int y = 0; y < got.height; ++y) {
            for (int x = 0; x < got.width; ++x) {
              const double ref = want[c][y * shape.width + x];
              const double err = std::abs(got.at(c, y, x) - ref) / (std::abs(ref) + 0.1 * scale);
              worst = std::max(worst, err);
              off += err > 1e-5;
            }
          }
        }
        if (amx) {
          EXPECT_LT(worst, 1e-2);
          EXPECT_LE(off, got.channels * got.width * got.height / 20);
        } else if (fp16) {
          EXPECT_EQ(worst, 0.0);
        } else {
          EXPECT_LT(worst, 1e-4);
        }
        // Padding between rows and planes is never written.
        for (int c = 0; c < got.channels; ++c) {
          EXPECT_EQ(got.at(c, 0, got.width), -12345.0f);
        }
      }
    }
  }
}

TEST(ConvNetTest, ThreadedIsBitIdenticalAndDeterministic) {
  std::mt19937 rng(11);
  const std::vector<LayerData> data = RandomNet({5, 16, 16, 16, 4}, {3, 3, 3, 3}, rng);
  const Planes in = RandomInput(5, 37, 23, rng);
  ConvNet net(Layers(data));
  for (const auto& [isa, winograd] : Algorithms(true)) {
    SCOPED_TRACE(std::string(ConvNetIsaName(isa)) + (winograd ? " winograd" : ""));
    net.ForceIsaForTesting(isa);
    net.UseWinogradForTesting(winograd);
    const Planes single = RunNet(net, in, false);
    const Planes threaded = RunNet(net, in, true);
    const Planes again = RunNet(net, in, true);
    EXPECT_EQ(0, std::memcmp(single.data.data(), threaded.data.data(),
                             single.data.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(threaded.data.data(), again.data.data(),
                             single.data.size() * sizeof(float)));
  }
}

// RunByRows gives Run's output to the bit, on every path, threaded or not,
// stores each pixel once, and loads no pixel outside the frame.
TEST(ConvNetTest, RunByRowsMatchesRun) {
  std::mt19937 rng(13);
  const std::vector<Shape> shapes = {
      {{5, 16, 16, 4}, {3, 3, 3}, 201, 23},  // Winograd on the float paths
      {{3, 8, 2}, {5, 1}, 45, 11},           // direct everywhere
  };
  for (const Shape& shape : shapes) {
    const std::vector<LayerData> data = RandomNet(shape.channels, shape.kernels, rng);
    const Planes in = RandomInput(shape.channels.front(), shape.width, shape.height, rng);
    ConvNet net(Layers(data));
    const bool all_3x3 = shape.kernels.front() == 3;
    for (const auto& [isa, winograd] : Algorithms(all_3x3)) {
      net.ForceIsaForTesting(isa);
      net.UseWinogradForTesting(winograd);
      for (bool threaded : {false, true}) {
        SCOPED_TRACE(std::string(ConvNetIsaName(isa)) + (winograd ? " winograd" : "") +
                     (threaded ? " threaded" : ""));
        const Planes want = RunNet(net, in, threaded);
        const ByRows by_rows = RunNetByRows(net, in, threaded);
        const Planes& got = by_rows.out;
        EXPECT_FALSE(by_rows.outside);
        for (size_t p = 0; p < by_rows.stores.size(); ++p) EXPECT_EQ(by_rows.stores[p], 1) << p;
        for (int c = 0; c < got.channels; ++c) {
          for (int y = 0; y < in.height; ++y) {
            for (int x = 0; x < in.width; ++x) {
              ASSERT_EQ(got.at(c, y, x), want.at(c, y, x)) << c << " " << x << " " << y;
            }
          }
        }
      }
    }
  }
}

// RunByRows's `negligible`: on the Winograd path, vectors of tiles whose
// outputs depend on weak inputs only are left out at every layer and read as
// zeros. A frame of weak noise (|v| < 0.5) with a rectangle of strong values:
// far from the rectangle every output is exactly 0 (the full computation's
// are not), deep inside it every output is the full computation's (its whole
// cone of inputs is strong, so every tile under it is computed) within
// float rounding — a tile's transforms mix every pixel of its patch into the
// rounding, the zeros in place of weak values too, as with the stripes'
// repeated edges below — and threaded and not to the bit; a threshold above
// every input leaves nothing, one below every input leaves out nothing, and
// the paths that do not compute by Winograd compute everything.
TEST(ConvNetTest, NegligibleInputsLeaveTilesOutAsZeros) {
  std::mt19937 rng(23);
  std::vector<LayerData> data = RandomNet({5, 16, 16, 16, 4}, {3, 3, 3, 3}, rng);
  for (LayerData& layer : data) layer.has_bias = false;
  constexpr int kWidth = 900, kHeight = 72;
  constexpr int kLeft = 300, kRight = 600, kTop = 24, kBottom = 48;  // the strong rectangle
  Planes in(5, kWidth, kHeight, 0, 0);
  std::uniform_real_distribution<float> weak(-0.5f, 0.5f), strong(-10.0f, 10.0f);
  for (int c = 0; c < 5; ++c) {
    for (int y = 0; y < kHeight; ++y) {
      for (int x = 0; x < kWidth; ++x) {
        const bool inside = x >= kLeft && x < kRight && y >= kTop && y < kBottom;
        in.at(c, y, x) = inside ? strong(rng) : weak(rng);
      }
    }
  }
  ConvNet net(Layers(data));
  for (const auto& [isa, winograd] : Algorithms(true)) {
    net.ForceIsaForTesting(isa);
    net.UseWinogradForTesting(winograd);
    SCOPED_TRACE(std::string(ConvNetIsaName(isa)) + (winograd ? " winograd" : ""));
    const Planes full = RunNetByRows(net, in, true).out;
    const Planes left_out = RunNetByRows(net, in, false, 1.0f).out;
    const Planes threaded = RunNetByRows(net, in, true, 1.0f).out;
    ASSERT_EQ(threaded.data, left_out.data);
    if (!winograd) {
      EXPECT_EQ(left_out.data, full.data);
      continue;
    }
    // A vector of tiles is at most 64 pixels wide (AVX-512) and 4 rows
    // high, and the layers reach 4 pixels: 200 pixels and 12 rows are far.
    int far = 0, far_nonzero = 0, deep = 0;
    double deep_error = 0;
    for (int c = 0; c < 4; ++c) {
      for (int y = 0; y < kHeight; ++y) {
        for (int x = 0; x < kWidth; ++x) {
          if (x < kLeft - 200 || x >= kRight + 200 || y < kTop - 12 || y >= kBottom + 12) {
            ++far;
            far_nonzero += full.at(c, y, x) != 0.0f;
            ASSERT_EQ(left_out.at(c, y, x), 0.0f) << c << " " << x << " " << y;
          } else if (x >= kLeft + 5 && x < kRight - 5 && y >= kTop + 5 && y < kBottom - 5) {
            ++deep;
            deep_error = std::max(
                deep_error, static_cast<double>(std::abs(left_out.at(c, y, x) - full.at(c, y, x))));
          }
        }
      }
    }
    EXPECT_GT(far, kWidth * kHeight);
    EXPECT_EQ(far_nonzero, far);
    EXPECT_GT(deep, 1000);
    EXPECT_LT(deep_error, 1e-3);  // outputs of up to about 30 here
    const Planes nothing = RunNetByRows(net, in, true, 1e9f).out;
    for (float v : nothing.data) ASSERT_EQ(v, 0.0f);
    EXPECT_EQ(RunNetByRows(net, in, true, 1e-6f).out.data, full.data);
  }
}

// The Winograd path cuts wide frames into stripes computed over a margin
// (conv_net.cc). Through Run and RunByRows alike, each output pixel is
// stored once, input pixels are loaded again only in the margins, and the
// output is that of whole rows within float rounding (measured up to
// 3·10⁻⁵ of the scale, while whole rows are up to 2.5·10⁻⁵ from the exact
// convolution; a margin too narrow is off by more than 10⁻²): a tile near a
// stripe's end reads the stripe's repeated edge pixels, which the exact
// convolution would not weigh but Winograd's transforms leave a rounding of.
// Stripes of 64 pixels and more on rows of 70 to 1000 (the last stripe
// up to 1.5 wide, and rows that are one stripe; the stripes share their
// rings, one after another); 3 and 4 layers; 5 to 70 rows.
TEST(ConvNetTest, StripesComputeTheRowsOfWholeRows) {
  std::mt19937 rng(17);
  const std::vector<Shape> shapes = {
      {{5, 16, 16, 16, 4}, {3, 3, 3, 3}, 385, 45},
      {{5, 16, 16, 16, 4}, {3, 3, 3, 3}, 1000, 9},
      {{3, 8, 8, 2}, {3, 3, 3}, 201, 70},
      {{2, 6, 3}, {3, 3}, 70, 5},
  };
  for (const Shape& shape : shapes) {
    const std::vector<LayerData> data = RandomNet(shape.channels, shape.kernels, rng);
    const Planes in = RandomInput(shape.channels.front(), shape.width, shape.height, rng);
    const std::vector<std::vector<double>> exact = Reference(data, in);
    double scale = 0;
    for (const auto& plane : exact) {
      for (double v : plane) scale = std::max(scale, std::abs(v));
    }
    ConvNet net(Layers(data));
    for (const auto& [isa, winograd] : Algorithms(true)) {
      if (!winograd) continue;
      net.ForceIsaForTesting(isa);
      net.UseWinogradForTesting(true);
      for (bool threaded : {false, true}) {
        net.SetWinogradStripeForTesting(0);
        const Planes whole = RunNet(net, in, threaded);
        int whole_row_loads = 0;
        for (int stripe : {0, 64, 96, 200}) {
          SCOPED_TRACE(std::string(ConvNetIsaName(isa)) + (threaded ? " threaded" : "") +
                       " width " + std::to_string(shape.width) + " stripe " +
                       std::to_string(stripe));
          net.SetWinogradStripeForTesting(stripe);
          const Planes run = RunNet(net, in, threaded);
          const ByRows rows = RunNetByRows(net, in, threaded);
          const Planes& by_rows = rows.out;
          const int loaded = rows.loaded;
          EXPECT_FALSE(rows.outside);
          if (stripe == 0) whole_row_loads = loaded;
          // Only the margins are loaded twice: 8 pixels a row per boundary
          // between stripes (at most one per stripe − 8 pixels).
          const int boundaries = stripe == 0 ? 0 : shape.width / (stripe - 8);
          EXPECT_GE(loaded, whole_row_loads);
          EXPECT_LE(loaded, whole_row_loads * (1.0 + 8.0 * boundaries / shape.width));
          for (size_t p = 0; p < rows.stores.size(); ++p) EXPECT_EQ(rows.stores[p], 1) << p;
          double from_whole = 0, from_exact = 0;
          for (int c = 0; c < whole.channels; ++c) {
            for (int y = 0; y < in.height; ++y) {
              for (int x = 0; x < in.width; ++x) {
                ASSERT_EQ(by_rows.at(c, y, x), run.at(c, y, x)) << c << " " << x << " " << y;
                const double got = run.at(c, y, x), ref = exact[c][y * in.width + x];
                from_whole = std::max(
                    from_whole, std::abs(got - whole.at(c, y, x)) / (std::abs(ref) + 0.1 * scale));
                from_exact =
                    std::max(from_exact, std::abs(got - ref) / (std::abs(ref) + 0.1 * scale));
              }
            }
          }
          EXPECT_LT(from_whole, 5e-5);
          EXPECT_LT(from_exact, 1e-4);
          if (stripe == 0) {
            EXPECT_EQ(from_whole, 0.0);
          }
        }
      }
    }
  }
}

// One 1×1 identity layer over two channels, so the output is the activation
// applied to the input.
Planes ActivationOf(const float* slopes, const Planes& in, ConvNetIsa isa) {
  const std::vector<float> identity = {1, 0, 0, 1};
  const std::vector<float> bias = {0, 0};
  ConvNet net({ConvLayer{2, 2, 1, identity.data(), bias.data(), slopes}});
  net.ForceIsaForTesting(isa);
  return RunNet(net, in, false);
}

TEST(ConvNetTest, PReluScalesOnlyTheNegativeSide) {
  Planes in(2, 19, 3, 0, 0);
  for (int c = 0; c < 2; ++c) {
    for (int y = 0; y < 3; ++y) {
      for (int x = 0; x < 19; ++x) in.at(c, y, x) = (x - 9) * 0.5f + c;
    }
  }
  const float slopes[] = {0.25f, -2.0f};
  const float zeros[] = {0.0f, 0.0f};
  for (ConvNetIsa isa : ConvNet::SupportedIsas()) {
    SCOPED_TRACE(ConvNetIsaName(isa));
    const Planes prelu = ActivationOf(slopes, in, isa);
    const Planes relu = ActivationOf(zeros, in, isa);
    const Planes none = ActivationOf(nullptr, in, isa);
    for (int c = 0; c < 2; ++c) {
      for (int y = 0; y < 3; ++y) {
        for (int x = 0; x < 19; ++x) {
          const float v = in.at(c, y, x);
          EXPECT_EQ(prelu.at(c, y, x), v >= 0 ? v : slopes[c] * v) << c << " " << x;
          EXPECT_EQ(relu.at(c, y, x), std::max(v, 0.0f)) << c << " " << x;
          EXPECT_EQ(none.at(c, y, x), v) << c << " " << x;
        }
      }
    }
  }
}

// The Winograd kernel's output transform leaves out a bias of zeros and an
// activation of slopes 1, and takes PReLU as a maximum where every slope is
// at most 1: each case, through a 3 × 3 identity layer, against its
// definition (Winograd's transforms round, hence the tolerance).
TEST(ConvNetTest, WinogradBiasesAndActivationsMatchTheirDefinition) {
  Planes in(2, 23, 9, 0, 0);
  for (int c = 0; c < 2; ++c) {
    for (int y = 0; y < 9; ++y) {
      for (int x = 0; x < 23; ++x) in.at(c, y, x) = (x - 11) * 0.25f + (y - 4) * 0.125f + c;
    }
  }
  std::vector<float> identity(2 * 2 * 9, 0.0f);
  for (int c = 0; c < 2; ++c) identity[(c * 2 + c) * 9 + 4] = 1.0f;
  const float zeros[] = {0.0f, 0.0f}, biases[] = {0.5f, -0.75f};
  const float at_most_one[] = {-2.0f, 1.0f}, above_one[] = {0.25f, 2.0f}, relu[] = {0.0f, 0.0f};
  struct Case {
    const float* bias;
    const float* slopes;
  };
  const Case cases[] = {{nullptr, nullptr},   {zeros, nullptr},     {biases, nullptr},
                        {nullptr, relu},      {zeros, at_most_one}, {biases, at_most_one},
                        {nullptr, above_one}, {biases, above_one}};
  for (ConvNetIsa isa : ConvNet::SupportedIsas()) {
    if (!ComputesInFloat(isa)) continue;
    for (const Case& test : cases) {
      SCOPED_TRACE(
          std::string(ConvNetIsaName(isa)) + (test.bias == biases ? " bias" : "") +
          (test.slopes == nullptr ? " linear" : " slopes " + std::to_string(test.slopes[1])));
      ConvNet net({ConvLayer{2, 2, 3, identity.data(), test.bias, test.slopes}});
      net.ForceIsaForTesting(isa);
      ASSERT_TRUE(net.winograd());
      const Planes got = RunNet(net, in, false);
      for (int c = 0; c < 2; ++c) {
        for (int y = 0; y < 9; ++y) {
          for (int x = 0; x < 23; ++x) {
            float want = in.at(c, y, x) + (test.bias != nullptr ? test.bias[c] : 0.0f);
            if (test.slopes != nullptr && want < 0) want *= test.slopes[c];
            ASSERT_NEAR(got.at(c, y, x), want, 1e-5f) << c << " " << x << " " << y;
          }
        }
      }
    }
  }
}

TEST(ConvNetTest, ReplicatesEdgesAtEveryLayer) {
  // Two 3×3 filters of 1/8s (exact in bfloat16 too) on a frame that is 1 in
  // its top-left pixel only. With replicate padding the corner pixel is
  // counted 4 times by the first layer, so its value is 4/8 (zero padding
  // would give 1/8).
  const std::vector<float> box(9, 1.0f / 8);
  ConvNet net({ConvLayer{1, 1, 3, box.data(), nullptr, nullptr},
               ConvLayer{1, 1, 3, box.data(), nullptr, nullptr}});
  Planes in(1, 6, 5, 0, 0);
  std::fill(in.data.begin(), in.data.end(), 0.0f);
  in.at(0, 0, 0) = 1;
  for (ConvNetIsa isa : ConvNet::SupportedIsas()) {
    SCOPED_TRACE(ConvNetIsaName(isa));
    net.ForceIsaForTesting(isa);
    const Planes out = RunNet(net, in, true);
    // After layer 1: a = 4/8 at (0,0), 2/8 at (0,1) and (1,0), 1/8 at (1,1).
    // Layer 2 at (0,0) sums a over the clamped 3×3, times 1/8: (a(0,0)·4 +
    // a(0,1)·2 + a(1,0)·2 + a(1,1)) / 8 = (16 + 4 + 4 + 1) / 64.
    EXPECT_NEAR(out.at(0, 0, 0), 25.0 / 64, 1e-6);
    EXPECT_NEAR(out.at(0, 4, 5), 0.0, 1e-7);
  }
}

TEST(ConvNetTest, TheEnvironmentCanForceASupportedPath) {
  const std::vector<float> w(3 * 3 * 2 * 2, 0.1f);
  const std::vector<ConvLayer> layers = {ConvLayer{2, 2, 3, w.data()}};
  const ConvNetIsa best = ConvNet::SupportedIsas().front();
  for (ConvNetIsa isa : ConvNet::SupportedIsas()) {
    ASSERT_EQ(0, setenv("VIDMILL_CONV_NET_ISA", ConvNetIsaName(isa), 1));
    EXPECT_EQ(ConvNet(layers).isa(), isa) << ConvNetIsaName(isa);
  }
  // A name that is not a path, or a path this CPU lacks, leaves the best.
  ASSERT_EQ(0, setenv("VIDMILL_CONV_NET_ISA", "sse9", 1));
  EXPECT_EQ(ConvNet(layers).isa(), best);
  for (ConvNetIsa isa : kConvNetIsas) {
    if (ConvNet::IsaSupported(isa)) continue;
    ASSERT_EQ(0, setenv("VIDMILL_CONV_NET_ISA", ConvNetIsaName(isa), 1));
    EXPECT_EQ(ConvNet(layers).isa(), best) << ConvNetIsaName(isa);
  }
  ASSERT_EQ(0, unsetenv("VIDMILL_CONV_NET_ISA"));
  EXPECT_EQ(ConvNet(layers).isa(), best);
}

TEST(ConvNetTest, WinogradComputesNetworksOf3x3LayersOnTheFloatPaths) {
  const std::vector<float> w(3 * 3 * 4 * 4, 0.1f);
  const std::vector<ConvLayer> all_3x3 = {ConvLayer{2, 4, 3, w.data()},
                                          ConvLayer{4, 2, 3, w.data()}};
  const std::vector<ConvLayer> mixed = {ConvLayer{2, 4, 3, w.data()}, ConvLayer{4, 2, 1, w.data()}};
  ConvNet net(all_3x3);
  for (ConvNetIsa isa : ConvNet::SupportedIsas()) {
    net.ForceIsaForTesting(isa);
    EXPECT_EQ(net.winograd(), ComputesInFloat(isa)) << ConvNetIsaName(isa);
  }
  net.ForceIsaForTesting(ConvNetIsa::kPortable);
  net.UseWinogradForTesting(false);
  EXPECT_FALSE(net.winograd());
  ConvNet other(mixed);
  other.ForceIsaForTesting(ConvNetIsa::kPortable);
  EXPECT_FALSE(other.winograd());
  EXPECT_THROW(other.UseWinogradForTesting(true), std::invalid_argument);
  // The environment turns it off (benchmarks compare the two).
  ASSERT_EQ(0, setenv("VIDMILL_CONV_NET_WINOGRAD", "0", 1));
  ConvNet direct(all_3x3);
  direct.ForceIsaForTesting(ConvNetIsa::kPortable);
  EXPECT_FALSE(direct.winograd());
  ASSERT_EQ(0, unsetenv("VIDMILL_CONV_NET_WINOGRAD"));
  ConvNet again(all_3x3);
  again.ForceIsaForTesting(ConvNetIsa::kPortable);
  EXPECT_TRUE(again.winograd());
}

TEST(ConvNetTest, RejectsLayersThatDoNotChain) {
  const std::vector<float> w(5 * 5 * 16 * 16, 0.1f);
  EXPECT_THROW(ConvNet({}), std::invalid_argument);
  EXPECT_THROW(ConvNet({ConvLayer{3, 4, 3, w.data()}, ConvLayer{5, 2, 3, w.data()}}),
               std::invalid_argument);
  EXPECT_THROW(ConvNet({ConvLayer{3, 4, 2, w.data()}}), std::invalid_argument);
  EXPECT_THROW(ConvNet({ConvLayer{3, 4, 3, nullptr}}), std::invalid_argument);
  EXPECT_THROW(ConvNet({ConvLayer{0, 4, 3, w.data()}}), std::invalid_argument);
  const ConvNet ok({ConvLayer{3, 4, 5, w.data()}, ConvLayer{4, 2, 1, w.data()}});
  EXPECT_EQ(ok.in_channels(), 3);
  EXPECT_EQ(ok.out_channels(), 2);
  EXPECT_EQ(ok.macs_per_pixel(), 3 * 4 * 25 + 4 * 2);
}

}  // namespace
}  // namespace vidmill::filters
