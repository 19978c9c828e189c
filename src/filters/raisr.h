#pragma once
// The learned upscaling engine behind pabsr1 and dvres: RAISR-like per-pixel
// filters chosen by hashing the local gradient (Romano, Isidoro, Milanfar,
// "RAISR: Rapid and Accurate Image Super Resolution", 2016), learned by least
// squares from (low-resolution → high-resolution) pairs.
//
// Design. Unlike RAISR, which first upscales with a cheap interpolator and
// then filters the high-resolution grid, the filters here read the
// low-resolution picture directly: each low-resolution pixel (x, y) owns the
// scale × scale output pixels of its footprint (the "phases"), and every phase
// has its own filter over the same 7 × 8 patch (rows y−3…y+3, columns
// x−3…x+4; 8 columns fill one AVX2 register). One filter per (bucket, phase):
//  * bucket: the hash of the 5 × 5 (binomially weighted) structure tensor of
//    the low-resolution gradient at (x, y): the angle of the dominant gradient
//    (`angles` bins over 180°), its strength (√λ1, `strengths` bins at
//    thresholds learned as quantiles of the training data) and its coherence
//    ((√λ1 − √λ2)/(√λ1 + √λ2), `coherences` bins);
//  * phase: the output pixel's position inside the footprint.
// The hash is computed once per input pixel and shared by its scale² outputs,
// so 2× costs 4 and 4× 16 dot products of 56 taps per input pixel, and no
// intermediate upscaled picture exists. Scale 1 (dvres's restoration at the
// same size) is the same with one phase.
//
// Samples are floats in 8-bit code units (a 10-bit picture is divided by 4
// first) so that the hash thresholds mean the same at every depth.
//
// Thread safety: models are immutable; Upscale() splits rows over two threads.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace vidmill::filters {

inline constexpr int kRaisrRows = 7;  // patch rows, y−3…y+3
inline constexpr int kRaisrCols = 8;  // patch columns, x−3…x+4
inline constexpr int kRaisrTaps = kRaisrRows * kRaisrCols;
inline constexpr int kRaisrBorder = 4;  // padding around a PaddedPlane
inline constexpr int kRaisrMaxStrengths = 6;
inline constexpr int kRaisrMaxCoherences = 4;

// How the gradient is hashed into a bucket.
struct RaisrHash {
  int angles = 24;
  int strengths = 3;
  int coherences = 3;
  // Ascending bin edges: strengths − 1 and coherences − 1 of them.
  float strength_edges[kRaisrMaxStrengths - 1] = {};
  float coherence_edges[kRaisrMaxCoherences - 1] = {};

  int buckets() const { return angles * strengths * coherences; }
};

// One learned model: the filters of one scale for one kind of input.
struct RaisrModel {
  int scale = 2;  // 1, 2 or 4
  RaisrHash hash;
  // [bucket][phase_y * scale + phase_x][tap], tap = row * kRaisrCols + col.
  std::vector<float> weights;

  int phases() const { return scale * scale; }
  const float* Filter(int bucket, int phase) const {
    return weights.data() + (static_cast<size_t>(bucket) * phases() + phase) * kRaisrTaps;
  }
};

// A float picture with kRaisrBorder samples of edge replication on every side.
struct PaddedPlane {
  int width = 0;
  int height = 0;
  int stride = 0;  // floats
  std::vector<float> data;

  // Samples are unspecified until the caller writes the interior and calls
  // FillBorder; storage of the same size is kept, not cleared.
  void Resize(int new_width, int new_height);
  float* Row(int y) {
    return data.data() + static_cast<size_t>(y + kRaisrBorder) * stride + kRaisrBorder;
  }
  const float* Row(int y) const {
    return data.data() + static_cast<size_t>(y + kRaisrBorder) * stride + kRaisrBorder;
  }
  // Replicates the edge samples into the border (after the interior is written).
  void FillBorder();
};

// The hash's buffers, kept from picture to picture by a filter: at 1280 ×
// 720 they are 13 MB, which allocating and zeroing afresh for every picture
// cost about 3 ms of the picture's 92 ms wall time in pabsr1 2× on two cores.
struct RaisrScratch {
  std::vector<float> xx, xy, yy;  // the structure tensor's smoothed sums
  std::vector<uint16_t> buckets;
};

// The bucket of every pixel of `plane` (row-major, width × height). Rows are
// split over `threads` threads.
void ComputeBuckets(const PaddedPlane& plane, const RaisrHash& hash, std::vector<uint16_t>* buckets,
                    int threads);
// The raw hash features (strength, coherence) of every pixel, for training the
// bin edges.
void ComputeFeatures(const PaddedPlane& plane, std::vector<float>* strength,
                     std::vector<float>* coherence);

// Applies `model` to `in`: `out` receives width·scale × height·scale floats
// (row stride out_stride floats), unclamped. Two threads when `threads` ≥ 2;
// AVX2 where the CPU has it.
void RaisrUpscale(const PaddedPlane& in, const RaisrModel& model, float* out, ptrdiff_t out_stride,
                  int threads, RaisrScratch* scratch);

// Whether the AVX2 code may be used (when the CPU has it); default true.
// For tests of the portable code; process-wide, not for concurrent toggling.
void AllowRaisrAvx2(bool allowed);

// The models compiled into this binary (sr_weights.cc, generated by
// bench/quality/train_sr.sh): family "pabsr1" or "dvres", scale 1, 2 or 4.
// Null when there is none.
const RaisrModel* FindRaisrModel(std::string_view family, int scale);

}  // namespace vidmill::filters
