#include "filters/refine_net.h"

#include <algorithm>
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

void RefineUpscale(const ConvNet& net, const float* low, std::ptrdiff_t low_stride, int width,
                   int height, const float* base, std::ptrdiff_t base_stride,
                   const RefinedRowSink& emit, bool threaded) {
  // Every channel is taken relative to the 3 × 3 mean of the input (edge
  // replicated), as in training: channel 0 the input, channel 1 + 2·dy + dx
  // output pixel (2x + dx, 2y + dy) — PyTorch's pixel_unshuffle order. The
  // corrections need no mean.
  const ConvNet::LoadRow load = [&](int y, float* rows, std::ptrdiff_t stride) {
    // Vertical sums of 3 rows, then horizontal sums of 3 columns: plain
    // loops over x without clamps, which the compiler vectorizes. The
    // column sums carry one replicated column on either side. Each thread
    // keeps its own.
    thread_local std::vector<float> padded, mean;
    padded.resize(width + 2);
    mean.resize(width);
    float* const column = padded.data() + 1;
    const float* above = low + std::max(y - 1, 0) * low_stride;
    const float* row = low + y * low_stride;
    const float* below = low + std::min(y + 1, height - 1) * low_stride;
    for (int x = 0; x < width; ++x) column[x] = above[x] + row[x] + below[x];
    column[-1] = column[0];
    column[width] = column[width - 1];
    for (int x = 0; x < width; ++x) {
      mean[x] = (column[x - 1] + column[x] + column[x + 1]) * (1.0f / 9.0f);
    }
    for (int x = 0; x < width; ++x) rows[x] = row[x] - mean[x];
    for (int dy = 0; dy < 2; ++dy) {
      const float* up = base + (2 * y + dy) * base_stride;
      float* even = rows + (1 + 2 * dy) * stride;
      float* odd = even + stride;
      for (int x = 0; x < width; ++x) {
        even[x] = up[2 * x] - mean[x];
        odd[x] = up[2 * x + 1] - mean[x];
      }
    }
  };
  const ConvNet::StoreRow store = [&](int y, const float* rows, std::ptrdiff_t stride) {
    thread_local std::vector<float> corrected;
    corrected.resize(2 * width);
    float* const out = corrected.data();
    for (int dy = 0; dy < 2; ++dy) {
      const float* up = base + (2 * y + dy) * base_stride;
      const float* even = rows + (2 * dy) * stride;
      const float* odd = even + stride;
      for (int x = 0; x < width; ++x) {
        out[2 * x] = up[2 * x] + even[x];
        out[2 * x + 1] = up[2 * x + 1] + odd[x];
      }
      emit(2 * y + dy, out);
    }
  };
  net.RunByRows(load, store, width, height, threaded);
}

}  // namespace vidmill::filters
