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
// kernel sizes are `kernels`, on a frame `height` rows high, `group` rows of
// a layer at a time (1 for the direct kernels, 4 for Winograd's 4 × 4
// tiles), each group as soon as the input rows under it exist (pulled,
// recursively, from the layer before), so only kernel + group − 1 rows per
// layer need be kept: a ring in which row y of layer l's input has slot
// y % (kernels[l] + group − 1).
//   load_input(y): put frame row y into layer 0's ring.
//   compute_rows(l, y, rows): compute layer l's output rows y … y + group − 1
//     from its input rows rows[0 … kernel + group − 2] (row indices, clamped
//     to the frame: replicate padding vertically) into layer l+1's ring, or
//     the output frame for the last layer; rows outside the frame (or, in
//     the last layer, outside [row_begin, row_end)) are computed but must
//     not be kept.
// Layer l's groups start at the rows y ≡ reach[l] (mod group), where
// reach[l] sums the radii of the layers after l: a grid fixed by the frame,
// so every row is computed by the same arithmetic whichever rows were asked
// for, and a group of layer l + 1 reads whole groups of layer l (which is
// why the ring above suffices). next_row[l] is the start of layer l's next
// group to compute, next_input the next frame row to load.
template <typename LoadInput, typename ComputeRows>
void PullRows(const std::vector<int>& kernels, int group, int height, int row_begin, int row_end,
              const LoadInput& load_input, const ComputeRows& compute_rows) {
  const int layer_count = static_cast<int>(kernels.size());
  std::vector<int> next_row(layer_count);
  // From the last layer down: the first group holding the lowest row the
  // layer after needs.
  int lowest = row_begin, reach = 0;
  for (int layer_idx = layer_count - 1; layer_idx >= 0; --layer_idx) {
    next_row[layer_idx] = lowest - (((lowest - reach) % group) + group) % group;
    const int radius = kernels[layer_idx] / 2;
    lowest = std::max(0, next_row[layer_idx] - radius);
    reach += radius;
  }
  int next_input = lowest;
  auto compute = [&](auto& self, int layer_idx, int y) -> void {
    const int radius = kernels[layer_idx] / 2;
    const int last_needed = std::min(y + group - 1 + radius, height - 1);
    if (layer_idx == 0) {
      while (next_input <= last_needed) {
        load_input(next_input++);
      }
    } else {
      while (next_row[layer_idx - 1] <= last_needed) {
        self(self, layer_idx - 1, next_row[layer_idx - 1]);
        next_row[layer_idx - 1] += group;
      }
    }
    int rows[8];  // kernel + group − 1 ≤ 8: 5 × 5 kernels a row at a time, 3 × 3 four
    for (int k = 0; k < kernels[layer_idx] + group - 1; ++k) {
      rows[k] = std::clamp(y + k - radius, 0, height - 1);
    }
    compute_rows(layer_idx, y, rows);
  };
  for (int y = next_row[layer_count - 1]; y < row_end; y += group) {
    compute(compute, layer_count - 1, y);
  }
}

}  // namespace vidmill::filters::conv_net_internal

#endif  // VIDMILL_FILTERS_CONV_NET_ROWS_H_
