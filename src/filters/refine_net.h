// The refinement network: a small convolutional network that corrects the
// output of a 2× learned-filter (RAISR) upscale.
//
// The learned filters are linear per hash bucket, so what they cannot
// express — edges that need different filters on either side, texture that
// looks like noise, coding artefacts that look like texture — is left as a
// structured error. The network sees, on the low-resolution grid, the input
// pixel and the four output pixels the filters made for it (5 channels), all
// relative to the input's 3 × 3 mean, and predicts a correction of those four
// (4 channels): 3 × 3 convolutions with PReLU and no biases, so a flat area
// gets no correction and the correction scales with contrast; small enough
// to run at video rate on two cores (conv_net.h).
// Trained by bench/quality/train_cnn.py on the training photos; the weights
// are compiled in (refine_weights.cc), with the normalisation folded in, so
// the network takes and returns 8-bit code units.
#ifndef VIDMILL_FILTERS_REFINE_NET_H_
#define VIDMILL_FILTERS_REFINE_NET_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "filters/conv_net.h"

namespace vidmill::filters {

using RefineLayer = ConvLayer;

// One trained network, as generated into refine_weights.cc.
struct RefineNetTable {
  const char* family;  // the filter it serves: "pabsr1"
  int scale;           // the learned-filter scale it corrects: 2
  const RefineLayer* layers;
  int layer_count;
};

extern const RefineNetTable kRefineNets[];
extern const int kRefineNetCount;

// Every network this build has for `family` at `scale`, freshly built (each
// its own ConvNet, so a test or benchmark may force its path), in the order
// of kRefineNets.
std::vector<std::unique_ptr<ConvNet>> BuildRefineNets(std::string_view family, int scale);

// The network for `family` at `scale`, built on first use; null when this
// build has none. Where the build has several (pabsr1 2×: 24 and 16
// channels), the widest is used when the ConvNet runs on a path that makes
// it affordable (RunsWideNetworks) and the narrowest otherwise: the wide one
// gains about 0.05 dB but costs twice the time, which only the AMX tile unit
// pays for at video rate (docs/filters.md). Thread-safe; the network is
// immutable.
const ConvNet* FindRefineNet(std::string_view family, int scale);

// Whether networks running on `isa` are fast enough to use the widest: on
// AMX only (AVX512-FP16 halves the float path's time, not enough).
bool RunsWideNetworks(ConvNetIsa isa);

// Of `candidates` (not empty), the one FindRefineNet uses: the most
// multiply-adds per pixel when `wide`, the fewest otherwise.
const ConvNet* PickRefineNet(const std::vector<const ConvNet*>& candidates, bool wide);

// Where every input of the network's outputs in a vector of tiles is
// smaller than this (8-bit code units, relative to the 3 × 3 mean:
// low-contrast areas — sky, out-of-focus backgrounds, smooth surfaces), the
// network is not computed and the correction there is 0
// (ConvNet::RunByRows's `negligible`; docs/filters.md, "Leaving out the
// weak inputs"). The environment variable
// VIDMILL_REFINE_NEGLIGIBLE replaces it (0: compute everything);
// RefineNegligible() is the value in force.
inline constexpr float kRefineNegligible = 6;
float RefineNegligible();

// Gives `emit` each row of `base`, the 2·width × 2·height upscale (row
// stride base_stride floats) of `low` (width × height, row stride
// low_stride), plus the network's correction, in pieces: emit(y, x_begin,
// x_end, row) with pixels [x_begin, x_end) of row y (row[x − x_begin]),
// each pixel once, from either thread. Samples in 8-bit code units. `emit`
// must not change `base` or `low`: the two halves read rows of `base` the
// other half's corrected rows are made from. The network's input is made,
// and its output added, a row (or a stripe of a row) at a time
// (ConvNet::RunByRows), so the corrected picture need not be stored as
// floats at all. Where the network's inputs are all below `negligible`, it
// is left out and the correction is 0 (above).
using RefinedRowSink = std::function<void(int y, int x_begin, int x_end, const float* row)>;
void RefineUpscale(const ConvNet& net, const float* low, std::ptrdiff_t low_stride, int width,
                   int height, const float* base, std::ptrdiff_t base_stride,
                   const RefinedRowSink& emit, bool threaded,
                   float negligible = RefineNegligible());

}  // namespace vidmill::filters

#endif  // VIDMILL_FILTERS_REFINE_NET_H_
