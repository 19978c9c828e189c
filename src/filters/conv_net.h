#pragma once
// ConvNet: inference of a small stack of same-size convolutions (the CNN that
// refines the super-resolution filters' output), written for the worker's
// CPUs: AMX-BF16 tiles, AVX-512 in half or single precision, AVX2+FMA or
// plain C++, chosen at run time; in single precision by Winograd's
// F(4 × 4, 3 × 3) where every layer is 3 × 3.
//
// The network is fixed when built (weights are copied and repacked), so one
// ConvNet is shared by every frame and, being immutable, by every thread.

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

namespace vidmill::filters {

namespace conv_net_internal {
struct AmxNet;
}

// One convolution layer, weights in PyTorch's Conv2d layout.
struct ConvLayer {
  int in_channels = 0;
  int out_channels = 0;
  int kernel = 3;                  // odd: 1, 3 or 5; stride 1, "same" size
  const float* weights = nullptr;  // [out][in][ky][kx]  (torch weight.flatten())
  const float* bias = nullptr;     // [out]; nullptr = no bias
  const float* prelu = nullptr;    // [out] negative-side slopes applied after bias
                                   // (PReLU; all 0 = ReLU); nullptr = no activation
};

// The instruction sets Run can use. Normally the best one the CPU has is
// picked; tests and benchmarks force each in turn (ForceIsaForTesting).
// kAmx (conv_net_amx.h) multiplies bfloat16 inputs and weights and sums in
// float: its results differ from the float paths' by about 1 % of the
// output's range, which the refinement network's corrections of a few code
// values do not notice. kAvx512Fp16 (AVX512-FP16: Intel Sapphire Rapids and
// later, also where a hypervisor hides AMX) computes in IEEE half precision —
// inputs, weights, products and sums — at twice the float path's rate; the
// refinement network's corrections come out within 0.13 code values (RMS
// 0.008) of the float path's on a photo (super_resolution_test). The others
// compute in float.
enum class ConvNetIsa { kPortable, kAvx2, kAvx512, kAvx512Fp16, kAmx };

// Every path, the best first.
inline constexpr ConvNetIsa kConvNetIsas[] = {ConvNetIsa::kAmx, ConvNetIsa::kAvx512Fp16,
                                              ConvNetIsa::kAvx512, ConvNetIsa::kAvx2,
                                              ConvNetIsa::kPortable};

// Whether `isa` computes in single precision (AVX-512, AVX2, portable: the
// paths that take Winograd for networks of 3 × 3 layers).
constexpr bool ComputesInFloat(ConvNetIsa isa) {
  return isa != ConvNetIsa::kAmx && isa != ConvNetIsa::kAvx512Fp16;
}

// "portable", "avx2", "avx512", "avx512fp16", "amx": for test traces and
// benchmark tables.
const char* ConvNetIsaName(ConvNetIsa isa);

class ConvNet {
 public:
  // Copies and repacks the weights; `layers` need not outlive the ConvNet.
  // Throws std::invalid_argument when the layers do not chain (a layer's
  // in_channels differs from the previous one's out_channels), a kernel is not
  // 1, 3 or 5, a channel count is not positive or weights are missing: these
  // come from code, never from a request.
  explicit ConvNet(std::vector<ConvLayer> layers);

  int in_channels() const { return layers_.front().in_channels; }
  int out_channels() const { return layers_.back().out_channels; }

  // Multiply-accumulates per pixel (sum over layers of in·out·k²).
  long long macs_per_pixel() const;

  // in: planar [channel][y][x], in_channels() planes of width*height floats, each
  // plane `in_plane_stride` floats apart, rows `in_row_stride` floats apart.
  // out: same for out_channels() planes; it must not overlap `in` (the two
  // halves read input rows the other half's output rows would overwrite).
  // Borders: replicate padding (edge pixel repeated), exactly like torch
  // padding_mode='replicate', at every layer.
  // `threaded`: split rows in two halves with RunInHalves (filters/halves.h);
  // the output is bit-identical threaded or not (each output row is computed
  // by the same arithmetic whichever half it falls in).
  // Thread-safe: Run may be called concurrently on one ConvNet.
  void Run(const float* in, std::ptrdiff_t in_row_stride, std::ptrdiff_t in_plane_stride, int width,
           int height, float* out, std::ptrdiff_t out_row_stride, std::ptrdiff_t out_plane_stride,
           bool threaded) const;

  // The same, for a caller that makes the input a row at a time and uses the
  // output as it comes, instead of planes (RefineUpscale): the planes' memory
  // and traffic are saved on the Winograd path; the other paths gather the
  // rows into planes and run as Run. `load(y, x_begin, x_end, rows, stride)`
  // writes pixels [x_begin, x_end) of input row y, channel c's pixel x at
  // rows[c · stride + x − x_begin]. The Winograd path asks for a row a stripe
  // at a time (conv_net.cc), and for some pixels more than once (the
  // stripes' margins, the rows the halves share), from either thread, so
  // what it writes must depend on y and x alone. `store(y, x_begin, x_end,
  // rows, stride)` gets output pixels the same way, each once; it must not
  // change what `load` reads.
  using LoadRow =
      std::function<void(int y, int x_begin, int x_end, float* rows, std::ptrdiff_t stride)>;
  using StoreRow =
      std::function<void(int y, int x_begin, int x_end, const float* rows, std::ptrdiff_t stride)>;
  //
  // `negligible` > 0 lets the Winograd path leave out work where the input
  // is too weak to matter: a vector of tiles of a layer (4 rows; 32 pixels
  // wide with AVX2, 64 with AVX-512, 16 in plain C++) whose outputs depend
  // only on inputs smaller in magnitude than `negligible` is not computed,
  // and its outputs are taken as 0 — what a network without biases gives
  // for an input of 0 — at every layer. Outputs elsewhere that read such
  // tiles see those zeros. For a network without biases whose activations
  // are PReLUs (which scale with their input), an output left out is at
  // most `negligible` times the network's gain. The decision depends on the
  // input alone, so the output is still the same threaded or not. The other
  // paths compute everything.
  void RunByRows(const LoadRow& load, const StoreRow& store, int width, int height, bool threaded,
                 float negligible = 0) const;

  // Whether this CPU can run `isa` (kPortable always).
  static bool IsaSupported(ConvNetIsa isa);
  // Every path this CPU can run, the best first.
  static std::vector<ConvNetIsa> SupportedIsas();
  // The path Run uses: the best supported one unless forced, here or by the
  // environment variable VIDMILL_CONV_NET_ISA (a ConvNetIsaName).
  ConvNetIsa isa() const { return isa_; }
  // Forces the path (tests and benchmarks compare them); `isa` must be
  // supported. Not thread-safe against a concurrent Run.
  void ForceIsaForTesting(ConvNetIsa isa);

  // Whether Run computes by Winograd's F(4 × 4, 3 × 3) (conv_net_winograd.inc):
  // on the float paths (AVX-512, AVX2 + FMA, portable) when every layer is
  // 3 × 3, with a quarter of the multiply-adds of the direct convolution and
  // the same results within float rounding. Set VIDMILL_CONV_NET_WINOGRAD=0
  // to compute directly instead.
  bool winograd() const;
  // Turns Winograd off or back on (tests compare the two); on needs every
  // layer 3 × 3. Not thread-safe against a concurrent Run.
  void UseWinogradForTesting(bool on);
  // The Winograd path cuts frames wider than 1.5 × this many pixels into
  // vertical stripes (conv_net.cc, RunRowsWinograd); 0 computes whole rows.
  // Default kWinogradStripe, or VIDMILL_CONV_NET_STRIPE. The outputs differ
  // only within float rounding, near the stripes' ends. Not thread-safe
  // against a concurrent Run.
  static constexpr int kWinogradStripe = 384;
  void SetWinogradStripeForTesting(int pixels) { winograd_stripe_ = pixels; }

 private:
  // A layer's parameters in one precision: weights repacked as
  // [in][ky][kx][out], the order the kernel reads them (for one input channel
  // and tap, consecutive output channels).
  template <typename T>
  struct Params {
    std::vector<T> weights;
    std::vector<T> bias;   // out_channels values (zeros when none given)
    std::vector<T> prelu;  // out_channels slopes, empty = no activation
  };
  struct PackedLayer {
    int in_channels = 0;
    int out_channels = 0;
    int kernel = 0;
    Params<float> single;
    Params<_Float16> half;               // filled when the CPU can run kAvx512Fp16
    std::vector<float> winograd;         // 3 × 3 layers: U = G g Gᵀ, [36][in][out]
    std::vector<float> winograd_slopes;  // PReLU slopes, 1 where none
    // What the Winograd kernel's output transform may leave out: the bias
    // where every one is 0, the activation where every slope is 1; and
    // whether every slope is at most 1 (then PReLU(x) = max(x, slope · x)).
    bool winograd_bias = false;
    bool winograd_activation = false;
    bool winograd_slopes_at_most_one = false;
  };

  // The row pipeline of the vector paths, in float or _Float16 (conv_net.cc).
  template <typename Elem>
  void RunRows(const float* in, std::ptrdiff_t in_row_stride, std::ptrdiff_t in_plane_stride,
               int width, int height, float* out, std::ptrdiff_t out_row_stride,
               std::ptrdiff_t out_plane_stride, int row_begin, int row_end) const;

  // Whether Winograd can compute this network.
  bool EveryLayerIs3x3() const;
  // Where RunRowsWinograd reads its input and puts its output: planes, as
  // Run's arguments, or (load and store not null) RunByRows's functions.
  struct RowsIo {
    const float* in = nullptr;
    std::ptrdiff_t in_row_stride = 0, in_plane_stride = 0;
    float* out = nullptr;
    std::ptrdiff_t out_row_stride = 0, out_plane_stride = 0;
    const LoadRow* load = nullptr;
    const StoreRow* store = nullptr;
    float negligible = 0;  // RunByRows's
  };
  // The same in F(4 × 4, 3 × 3) tiles, four rows at a time, in stripes
  // (conv_net.cc).
  // `only_stripe` ≥ 0: that stripe alone.
  void RunRowsWinograd(const RowsIo& io, int width, int height, int row_begin, int row_end,
                       int only_stripe = -1) const;
  // The widths of the stripes RunRowsWinograd cuts a frame `width` pixels
  // wide into, in order.
  std::vector<int> WinogradStripeWidths(int width) const;

  std::vector<PackedLayer> layers_;
  std::shared_ptr<const conv_net_internal::AmxNet> amx_;  // when the CPU has AMX
  ConvNetIsa isa_ = ConvNetIsa::kPortable;
  bool winograd_ = false;  // every layer 3 × 3, and not turned off
  int winograd_stripe_ = kWinogradStripe;
};

}  // namespace vidmill::filters
