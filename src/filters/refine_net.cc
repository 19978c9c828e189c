#include "filters/refine_net.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace vidmill::filters {

namespace {

bool Serves(const RefineNetTable& table, std::string_view family, int scale) {
  return table.family == family && table.scale == scale;
}

std::unique_ptr<ConvNet> Build(const RefineNetTable& table) {
  return std::make_unique<ConvNet>(
      std::vector<ConvLayer>(table.layers, table.layers + table.layer_count));
}

}  // namespace

std::vector<std::unique_ptr<ConvNet>> BuildRefineNets(std::string_view family, int scale) {
  std::vector<std::unique_ptr<ConvNet>> built;
  for (int i = 0; i < kRefineNetCount; ++i) {
    if (Serves(kRefineNets[i], family, scale)) built.push_back(Build(kRefineNets[i]));
  }
  return built;
}

const ConvNet* FindRefineNet(std::string_view family, int scale) {
  // Built once, on first use: repacking the weights is cheap but not free.
  static const std::vector<std::unique_ptr<ConvNet>> nets = [] {
    std::vector<std::unique_ptr<ConvNet>> built;
    for (int i = 0; i < kRefineNetCount; ++i) built.push_back(Build(kRefineNets[i]));
    return built;
  }();
  std::vector<const ConvNet*> candidates;
  for (int i = 0; i < kRefineNetCount; ++i) {
    if (Serves(kRefineNets[i], family, scale)) candidates.push_back(nets[i].get());
  }
  if (candidates.empty()) return nullptr;
  // Every ConvNet of a process picks the same path.
  return PickRefineNet(candidates, RunsWideNetworks(candidates.front()->isa()));
}

bool RunsWideNetworks(ConvNetIsa isa) {
  // Not kAvx512Fp16: it runs the wide network of pabsr1 2× in about the time
  // the float path takes for the narrow one, 9.2–10.3 fps at 720p → 1440p on
  // two cores, short of the 10 fps target; with the narrow one, 12.6.
  return isa == ConvNetIsa::kAmx;
}

const ConvNet* PickRefineNet(const std::vector<const ConvNet*>& candidates, bool wide) {
  const ConvNet* chosen = candidates.front();
  for (const ConvNet* net : candidates) {
    if (wide ? net->macs_per_pixel() > chosen->macs_per_pixel()
             : net->macs_per_pixel() < chosen->macs_per_pixel()) {
      chosen = net;
    }
  }
  return chosen;
}

float RefineNegligible() {
  static const float negligible = [] {
    const char* value = std::getenv("VIDMILL_REFINE_NEGLIGIBLE");
    return value != nullptr ? std::strtof(value, nullptr) : kRefineNegligible;
  }();
  return negligible;
}

void RefineUpscale(const ConvNet& net, const float* low, std::ptrdiff_t low_stride, int width,
                   int height, const float* base, std::ptrdiff_t base_stride,
                   const RefinedRowSink& emit, bool threaded, float negligible) {
  // Every channel is taken relative to the 3 × 3 mean of the input (edge
  // replicated), as in training: channel 0 the input, channel 1 + 2·dy + dx
  // output pixel (2x + dx, 2y + dy) — PyTorch's pixel_unshuffle order. The
  // corrections need no mean.
  const ConvNet::LoadRow load = [&](int y, int x_begin, int x_end, float* rows,
                                    std::ptrdiff_t stride) {
    // Vertical sums of 3 rows, then horizontal sums of 3 columns: plain
    // loops over x without clamps, which the compiler vectorizes. The
    // column sums carry one column on either side, replicated at the
    // picture's edges. Each thread keeps its own.
    thread_local std::vector<float> padded, mean;
    const int count = x_end - x_begin;
    padded.resize(count + 2);
    mean.resize(count);
    float* const column = padded.data() + 1;  // pixel x_begin + i at i, −1 ≤ i ≤ count
    const float* above = low + std::max(y - 1, 0) * low_stride;
    const float* row = low + y * low_stride;
    const float* below = low + std::min(y + 1, height - 1) * low_stride;
    const int first = std::max(x_begin - 1, 0), last = std::min(x_end, width - 1);
    for (int x = first; x <= last; ++x) column[x - x_begin] = above[x] + row[x] + below[x];
    if (x_begin == 0) column[-1] = column[0];
    if (x_end == width) column[count] = column[count - 1];
    for (int i = 0; i < count; ++i) {
      mean[i] = (column[i - 1] + column[i] + column[i + 1]) * (1.0f / 9.0f);
    }
    for (int i = 0; i < count; ++i) rows[i] = row[x_begin + i] - mean[i];
    for (int dy = 0; dy < 2; ++dy) {
      const float* up = base + (2 * y + dy) * base_stride + 2 * x_begin;
      float* even = rows + (1 + 2 * dy) * stride;
      float* odd = even + stride;
      for (int i = 0; i < count; ++i) {
        even[i] = up[2 * i] - mean[i];
        odd[i] = up[2 * i + 1] - mean[i];
      }
    }
  };
  const ConvNet::StoreRow store = [&](int y, int x_begin, int x_end, const float* rows,
                                      std::ptrdiff_t stride) {
    thread_local std::vector<float> corrected;
    const int count = x_end - x_begin;
    corrected.resize(2 * count);
    float* const out = corrected.data();
    for (int dy = 0; dy < 2; ++dy) {
      const float* up = base + (2 * y + dy) * base_stride + 2 * x_begin;
      const float* even = rows + (2 * dy) * stride;
      const float* odd = even + stride;
      for (int i = 0; i < count; ++i) {
        out[2 * i] = up[2 * i] + even[i];
        out[2 * i + 1] = up[2 * i + 1] + odd[i];
      }
      emit(2 * y + dy, 2 * x_begin, 2 * x_end, out);
    }
  };
  net.RunByRows(load, store, width, height, threaded, negligible);
}

}  // namespace vidmill::filters
