// Internal to ConvNet (conv_net.cc, conv_net_amx.cc): the row schedule of the
// line-buffered pipeline, which both row formats — float channel planes and
// AMX's interleaved bf16 pixels — share, and an aligned buffer.
#ifndef VIDMILL_FILTERS_CONV_NET_ROWS_H_
#define VIDMILL_FILTERS_CONV_NET_ROWS_H_

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace vidmill::filters::conv_net_internal {

// A zeroed buffer of T aligned to a cache line.
template <typename T>
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t count) : data_(new (std::align_val_t(64)) T[count]()) {}
  T* get() const { return data_.get(); }

 private:
  struct Deleter {
    void operator()(T* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::unique_ptr<T[], Deleter> data_;
};

// Computes output rows [row_begin, row_end) of the last of the layers whose
// kernel sizes are `kernels`, on a frame `height` rows high, each layer's row
// as soon as the input rows under its kernel exist (pulled, recursively, from
// the layer before), so only `kernel` rows per layer need be kept: a ring in
// which row y of layer l's input has slot y % kernels[l].
//   load_input(y): put frame row y into layer 0's ring.
//   compute_row(l, y, rows): compute layer l's output row y from its input
//     rows rows[0 … kernel-1] (row indices, clamped to the frame: replicate
//     padding vertically) into layer l+1's ring, or the output frame for the
//     last layer.
// Output rows [row_begin, row_end) need rows [row_begin - reach[l], row_end +
// reach[l]) of layer l's output, where reach[l] sums the radii of the layers
// after l; next_row[l] is the next output row of layer l to compute,
// next_input the next frame row to load.
template <typename LoadInput, typename ComputeRow>
void PullRows(const std::vector<int>& kernels, int height, int row_begin, int row_end,
              const LoadInput& load_input, const ComputeRow& compute_row) {
  const int layer_count = static_cast<int>(kernels.size());
  std::vector<int> next_row(layer_count);
  int reach = 0;
  for (int layer_idx = layer_count - 1; layer_idx >= 0; --layer_idx) {
    next_row[layer_idx] = std::max(0, row_begin - reach);
    reach += kernels[layer_idx] / 2;
  }
  int next_input = std::max(0, row_begin - reach);
  auto compute = [&](auto& self, int layer_idx, int y) -> void {
    const int radius = kernels[layer_idx] / 2;
    const int last_needed = std::min(y + radius, height - 1);
    if (layer_idx == 0) {
      while (next_input <= last_needed) {
        load_input(next_input++);
      }
    } else {
      while (next_row[layer_idx - 1] <= last_needed) {
        self(self, layer_idx - 1, next_row[layer_idx - 1]++);
      }
    }
    int rows[8];
    for (int ky = 0; ky < kernels[layer_idx]; ++ky) {
      rows[ky] = std::clamp(y + ky - radius, 0, height - 1);
    }
    compute_row(layer_idx, y, rows);
  };
  for (int y = row_begin; y < row_end; ++y) {
    compute(compute, layer_count - 1, y);
    ++next_row[layer_count - 1];
  }
}

}  // namespace vidmill::filters::conv_net_internal

#endif  // VIDMILL_FILTERS_CONV_NET_ROWS_H_
