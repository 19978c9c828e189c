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
// why the ring above suffices). PullRows runs a RowPuller, which keeps the
// next group of each layer.
template <typename LoadInput, typename ComputeRows>
class RowPuller {
 public:
  RowPuller(const std::vector<int>& kernels, int group, int height, int row_begin, int row_end,
            const LoadInput& load_input, const ComputeRows& compute_rows)
      : kernels_(kernels),
        group_(group),
        height_(height),
        row_end_(row_end),
        load_input_(load_input),
        compute_rows_(compute_rows),
        next_row_(kernels.size()) {
    // From the last layer down: the first group holding the lowest row the
    // layer after needs.
    int lowest = row_begin, reach = 0;
    for (int layer_idx = static_cast<int>(kernels_.size()) - 1; layer_idx >= 0; --layer_idx) {
      next_row_[layer_idx] = lowest - (((lowest - reach) % group) + group) % group;
      const int radius = kernels_[layer_idx] / 2;
      lowest = std::max(0, next_row_[layer_idx] - radius);
      reach += radius;
    }
    next_input_ = lowest;
  }

  // Computes the last layer's groups that start before row_end, with
  // whatever they need of the layers before.
  void Run() {
    const int last = static_cast<int>(kernels_.size()) - 1;
    for (; next_row_[last] < row_end_; next_row_[last] += group_) {
      Compute(last, next_row_[last]);
    }
  }

 private:
  void Compute(int layer_idx, int y) {
    const int radius = kernels_[layer_idx] / 2;
    const int last_needed = std::min(y + group_ - 1 + radius, height_ - 1);
    if (layer_idx == 0) {
      while (next_input_ <= last_needed) {
        load_input_(next_input_++);
      }
    } else {
      while (next_row_[layer_idx - 1] <= last_needed) {
        Compute(layer_idx - 1, next_row_[layer_idx - 1]);
        next_row_[layer_idx - 1] += group_;
      }
    }
    int rows[8];  // kernel + group − 1 ≤ 8: 5 × 5 kernels a row at a time, 3 × 3 four
    for (int k = 0; k < kernels_[layer_idx] + group_ - 1; ++k) {
      rows[k] = std::clamp(y + k - radius, 0, height_ - 1);
    }
    compute_rows_(layer_idx, y, rows);
  }

  const std::vector<int>& kernels_;
  const int group_, height_, row_end_;
  const LoadInput& load_input_;
  const ComputeRows& compute_rows_;
  std::vector<int> next_row_;  // the start of each layer's next group to compute
  int next_input_;             // the next frame row to load
};

template <typename LoadInput, typename ComputeRows>
void PullRows(const std::vector<int>& kernels, int group, int height, int row_begin, int row_end,
              const LoadInput& load_input, const ComputeRows& compute_rows) {
  RowPuller<LoadInput, ComputeRows>(kernels, group, height, row_begin, row_end, load_input,
                                    compute_rows)
      .Run();
}

}  // namespace vidmill::filters::conv_net_internal

#endif  // VIDMILL_FILTERS_CONV_NET_ROWS_H_
