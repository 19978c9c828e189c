#include "filters/fusion.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>
#include <vector>

#include "filters/halves.h"
#include "filters/resample.h"
#include "filters/simd.h"

namespace vidmill::filters {
namespace {

// The weights (fusion.h), chosen on the training photos (docs/filters.md).
constexpr float kLowPassSigma = 2.0f;  // G_2: what "low-pass" means
constexpr float kLocalSigma = 3.0f;    // G_3: the neighbourhood of a measure
// Disagreement (squared low-pass difference, 8-bit units) at which a
// neighbour's weight falls to 1/e.
constexpr float kAgreement = 300.0f;
// A neighbour with more detail than the picture counts up to kDetailCap²
// times more; one with less, down to 1/kDetailCap² times.
constexpr float kDetailCap = 4.0f;
// The moving-object gate (MovingBlocks): a shift must leave at most this
// share of the unshifted squared difference, which must exceed kMovingFloor
// per pixel (8-bit units²).
constexpr float kMovingRatio = 0.3f;
constexpr float kMovingFloor = 4.0f;
// The median squared low-pass difference (8-bit units²) up to which a moved
// neighbour counts as aligned with the picture: coded pictures under a
// correct global motion measured at most 1.3 on the training clips, a fast
// pan the fit did not follow 4 to 235.
constexpr float kAlignedMedian = 2.0f;
constexpr int64_t kThreadedPixels = 60000;

using Affine = PictureFusion::Affine;

Affine Compose(const Affine& outer, const Affine& inner) {  // outer ∘ inner
  return {outer.a * inner.a + outer.b * inner.d,
          outer.a * inner.b + outer.b * inner.e,
          outer.a * inner.c + outer.b * inner.f + outer.c,
          outer.d * inner.a + outer.e * inner.d,
          outer.d * inner.b + outer.e * inner.e,
          outer.d * inner.c + outer.e * inner.f + outer.f};
}

Affine Inverse(const Affine& m) {
  const double det = m.a * m.e - m.b * m.d;
  const double a = m.e / det, b = -m.b / det, d = -m.d / det, e = m.a / det;
  return {a, b, -(a * m.c + b * m.f), d, e, -(d * m.c + e * m.f)};
}

// dejit's motion (next(p) ≈ previous(p + u + M (p − centre)), measured on a
// box-downscaled pyramid) as an affine map of full-size coordinates.
Affine ToPrevious(const GlobalMotion& motion, const MotionPyramid& pyramid) {
  // Level-0 pixel x covers full-size pixels f·x … f·x + f − 1, so its centre
  // (f − 1) / 2 further on; the estimator's centre is level 0's middle.
  const double f = pyramid.factor;
  const double cx = (f * pyramid.width0 - 1) / 2.0, cy = (f * pyramid.height0 - 1) / 2.0;
  const double zoom = motion.zoom, rotation = motion.rotation;
  return {1 + zoom, -rotation, motion.ux - (zoom * cx - rotation * cy),
          rotation, 1 + zoom,  motion.uy - (rotation * cx + zoom * cy)};
}

std::vector<float> GaussianKernel(float sigma) {
  const int radius = static_cast<int>(std::ceil(3 * sigma));
  std::vector<float> kernel(2 * radius + 1);
  float sum = 0;
  for (int k = -radius; k <= radius; ++k) {
    kernel[k + radius] = std::exp(-(k * k) / (2 * sigma * sigma));
    sum += kernel[k + radius];
  }
  for (float& value : kernel) value /= sum;
  return kernel;
}

// `in` (width × height) through a Gaussian of σ = `sigma`: separable, edges
// replicated, rows into `scratch`, then columns into `out`.
void GaussianBlur(const std::vector<float>& in, int w, int h, float sigma, std::vector<float>* out,
                  std::vector<float>* scratch) {
  const std::vector<float> kernel = GaussianKernel(sigma);
  const int radius = static_cast<int>(kernel.size() / 2);
  out->resize(in.size());
  scratch->resize(in.size());
  const bool threaded = static_cast<int64_t>(w) * h >= kThreadedPixels;
  RunInHalves(h, threaded, [&](int begin, int end) {
    std::vector<float> padded(w + 2 * radius);
    for (int y = begin; y < end; ++y) {
      const float* row = &in[static_cast<size_t>(y) * w];
      std::copy(row, row + w, padded.begin() + radius);
      std::fill(padded.begin(), padded.begin() + radius, row[0]);
      std::fill(padded.end() - radius, padded.end(), row[w - 1]);
      float* dst = &(*scratch)[static_cast<size_t>(y) * w];
      std::fill(dst, dst + w, 0.0f);
      for (int k = 0; k <= 2 * radius; ++k) {
        const float weight = kernel[k];
        const float* src = padded.data() + k;
        for (int x = 0; x < w; ++x) dst[x] += weight * src[x];
      }
    }
  });
  RunInHalves(h, threaded, [&](int begin, int end) {
    for (int y = begin; y < end; ++y) {
      float* dst = &(*out)[static_cast<size_t>(y) * w];
      std::fill(dst, dst + w, 0.0f);
      for (int k = -radius; k <= radius; ++k) {
        const float* src = &(*scratch)[static_cast<size_t>(std::clamp(y + k, 0, h - 1)) * w];
        const float weight = kernel[k + radius];
        for (int x = 0; x < w; ++x) dst[x] += weight * src[x];
      }
    }
  });
}

// Bilinear sample of `plane` (width × height) at (x, y), clamped to it.
inline float Bilinear(const float* plane, int width, int height, float x, float y) {
  x = std::clamp(x, 0.0f, static_cast<float>(width - 1));
  y = std::clamp(y, 0.0f, static_cast<float>(height - 1));
  const int ix = std::min(static_cast<int>(x), std::max(width - 2, 0));
  const int iy = std::min(static_cast<int>(y), std::max(height - 2, 0));
  const float fx = x - static_cast<float>(ix), fy = y - static_cast<float>(iy);
  const float* p = plane + static_cast<size_t>(iy) * width + ix;
  const int right = width > 1 ? 1 : 0;
  const ptrdiff_t down = height > 1 ? width : 0;
  const float top = p[0] + fx * (p[right] - p[0]);
  const float bottom = p[down] + fx * (p[down + right] - p[down]);
  return top + fy * (bottom - top);
}

// Catmull-Rom sample of `plane` at (x, y), which lies within it.
inline float Bicubic(const float* plane, int width, int height, float x, float y) {
  const int ix = static_cast<int>(x), iy = static_cast<int>(y);
  float wx[4], wy[4];
  CatmullRomWeights(x - static_cast<float>(ix), wx);
  CatmullRomWeights(y - static_cast<float>(iy), wy);
  float sum = 0;
  if (ix >= 1 && iy >= 1 && ix + 2 < width && iy + 2 < height) {
    const float* p = plane + static_cast<size_t>(iy - 1) * width + ix - 1;
    for (int j = 0; j < 4; ++j, p += width)
      sum += wy[j] * (wx[0] * p[0] + wx[1] * p[1] + wx[2] * p[2] + wx[3] * p[3]);
    return sum;
  }
  int cols[4];
  for (int k = 0; k < 4; ++k) cols[k] = std::clamp(ix - 1 + k, 0, width - 1);
  for (int j = 0; j < 4; ++j) {
    const float* row = plane + static_cast<size_t>(std::clamp(iy - 1 + j, 0, height - 1)) * width;
    sum += wy[j] * (wx[0] * row[cols[0]] + wx[1] * row[cols[1]] + wx[2] * row[cols[2]] +
                    wx[3] * row[cols[3]]);
  }
  return sum;
}

// 2 × 2 box average (an odd last row or column dropped), into `out` (its
// memory reused).
void HalfInto(const std::vector<float>& in, int width, int height, std::vector<float>* out) {
  const int w = width / 2, h = height / 2;
  out->resize(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y) {
    const float* top = &in[static_cast<size_t>(2 * y) * width];
    const float* bottom = top + width;
    float* row = out->data() + static_cast<size_t>(y) * w;
    for (int x = 0; x < w; ++x) {
      row[x] = 0.25f * (top[2 * x] + top[2 * x + 1] + bottom[2 * x] + bottom[2 * x + 1]);
    }
  }
}

// The map of full-size coordinates `map` on a grid `factor` times coarser
// (pixel x of it covers full-size pixels factor·x … factor·x + factor − 1).
Affine Coarser(const Affine& map, double factor) {
  const Affine to_full{factor, 0, (factor - 1) / 2, 0, factor, (factor - 1) / 2};
  return Compose(Inverse(to_full), Compose(map, to_full));
}

constexpr int kQuarter = 4;  // the gate works on quarter-size pictures
constexpr int kBlock = 4;    // quarter-size pixels (16 × 16 full-size pixels)
constexpr int kWindow = 2;   // the match window: the block and this many pixels around it
constexpr int kSearch = 4;   // ± quarter-size pixels (± 16 full-size pixels)

// The squared difference of the w × h pictures `a` and `b` (row strides
// `a_stride`, `b_stride`) over the window [x0, x1) × [y0, y1), `b` read at
// (x + dx, y + dy).
float WindowDifference(const float* a, int a_stride, const float* b, int b_stride, int x0, int x1,
                       int y0, int y1, int dx, int dy) {
  float sum = 0;
  for (int y = y0; y < y1; ++y) {
    const float* p = a + static_cast<ptrdiff_t>(y) * a_stride;
    const float* q = b + static_cast<ptrdiff_t>(y + dy) * b_stride + dx;
    for (int x = x0; x < x1; ++x) sum += (q[x] - p[x]) * (q[x] - p[x]);
  }
  return sum;
}

// `in` (w × h) with a border of `border` replicated samples on each side,
// into `out` (its memory reused; rows w + 2 · border apart), so that shifts
// of up to `border` read it without clamping. Returns where (0, 0) is.
const float* PadReplicated(const std::vector<float>& in, int w, int h, int border,
                           std::vector<float>* out) {
  const int pw = w + 2 * border;
  out->resize(static_cast<size_t>(pw) * (h + 2 * border));
  for (int y = 0; y < h + 2 * border; ++y) {
    const float* row = &in[static_cast<size_t>(std::clamp(y - border, 0, h - 1)) * w];
    float* dst = &(*out)[static_cast<size_t>(y) * pw];
    for (int x = 0; x < pw; ++x) dst[x] = row[std::clamp(x - border, 0, w - 1)];
  }
  return out->data() + static_cast<size_t>(border) * pw + border;
}

// Where the moved neighbour differs from the picture by a displacement (an
// object moving on its own): per kBlock × kBlock block of the quarter-size
// low-pass pictures, 0 when shifting the neighbour by 1 to kSearch pixels
// (4 to 16 full-size pixels) matches the picture much better than no shift,
// and also in the block the shift points to (where the neighbour's object
// sits), and in the blocks around both (an object's edge reaches into
// them); else 1. The coder's own errors are not displacements this large (no
// such shift explains them), so they leave the gate open.
struct Gate {
  int blocks_x = 0, blocks_y = 0;
  std::vector<float> open;  // per block, 0 or 1

  // The gate at full-size pixel (x, y): bilinear between block centres.
  float At(int x, int y) const {
    const float span = kQuarter * kBlock;
    const float bx = (static_cast<float>(x) + 0.5f) / span - 0.5f;
    const float by = (static_cast<float>(y) + 0.5f) / span - 0.5f;
    return Bilinear(open.data(), blocks_x, blocks_y, bx, by);
  }
};

Gate MovingBlocks(const std::vector<float>& own, const std::vector<float>& other, int w, int h,
                  const std::vector<uint8_t>& own_motion, int own_motion_x) {
  Gate gate;
  const int bx_count = (w + kBlock - 1) / kBlock, by_count = (h + kBlock - 1) / kBlock;
  gate.blocks_x = bx_count;
  gate.blocks_y = by_count;
  std::vector<uint8_t> moving(static_cast<size_t>(bx_count) * by_count, 0);
  // The local refinement's blocks are the gate's (16 full-size pixels);
  // an odd half-size width or height can give it one more.
  for (size_t i = 0; i < own_motion.size(); ++i) {
    if (!own_motion[i]) continue;
    const int bx = std::min(static_cast<int>(i % own_motion_x), bx_count - 1);
    const int by = std::min(static_cast<int>(i / own_motion_x), by_count - 1);
    moving[static_cast<size_t>(by) * bx_count + bx] = 1;
  }
  std::vector<float> padded;
  const float* shifted = PadReplicated(other, w, h, kSearch, &padded);
  const int pw = w + 2 * kSearch;
  // Each block writes its own flag and the one its shift points to: the
  // second may be another block's, so each half of the rows collects its
  // targets and they are set after both halves.
  std::vector<size_t> targets[2];
  RunInHalves(
      by_count, static_cast<int64_t>(w) * h * 16 >= kThreadedPixels, [&](int begin, int end) {
        std::vector<size_t>& pointed = targets[begin == 0 ? 0 : 1];
        for (int by = begin; by < end; ++by) {
          for (int bx = 0; bx < bx_count; ++bx) {
            const int x0 = std::max(bx * kBlock - kWindow, 0),
                      y0 = std::max(by * kBlock - kWindow, 0);
            const int x1 = std::min(bx * kBlock + kBlock + kWindow, w);
            const int y1 = std::min(by * kBlock + kBlock + kWindow, h);
            // The squared difference with the neighbour shifted by (dx, dy).
            auto cost = [&](int dx, int dy) {
              return WindowDifference(own.data(), w, shifted, pw, x0, x1, y0, y1, dx, dy);
            };
            const float pixels = static_cast<float>((x1 - x0) * (y1 - y0));
            const float still = cost(0, 0);
            if (still <= kMovingFloor * pixels) continue;  // agrees unshifted: no search
            float best = 0;
            int best_dx = 0, best_dy = 0;
            bool first = true;
            for (int dy = -kSearch; dy <= kSearch; ++dy) {
              for (int dx = -kSearch; dx <= kSearch; ++dx) {
                if (dx == 0 && dy == 0) continue;
                const float shifted = cost(dx, dy);
                if (first || shifted < best) {
                  best = shifted;
                  best_dx = dx;
                  best_dy = dy;
                  first = false;
                }
              }
            }
            if (best < kMovingRatio * still) {
              moving[static_cast<size_t>(by) * bx_count + bx] = 1;
              const int tx =
                  std::clamp((bx * kBlock + best_dx + kBlock / 2) / kBlock, 0, bx_count - 1);
              const int ty =
                  std::clamp((by * kBlock + best_dy + kBlock / 2) / kBlock, 0, by_count - 1);
              pointed.push_back(static_cast<size_t>(ty) * bx_count + tx);
            }
          }
        }
      });
  for (const auto& pointed : targets) {
    for (size_t block : pointed) moving[block] = 1;
  }
  gate.open.assign(moving.size(), 1.0f);
  for (int by = 0; by < by_count; ++by) {
    for (int bx = 0; bx < bx_count; ++bx) {
      bool near = false;
      for (int j = std::max(by - 1, 0); j <= std::min(by + 1, by_count - 1); ++j)
        for (int i = std::max(bx - 1, 0); i <= std::min(bx + 1, bx_count - 1); ++i)
          near = near || moving[static_cast<size_t>(j) * bx_count + i];
      if (near) gate.open[static_cast<size_t>(by) * bx_count + bx] = 0;
    }
  }
  return gate;
}

// How far a neighbour moved by `half` (half-size coordinates) is aligned
// with the picture as a whole, from the median of the squared low-pass
// differences `disagreement` over the pixels it covers: 1 up to
// kAlignedMedian, falling to 0 at twice that.
float AlignedShare(const std::vector<float>& disagreement, int hw, int hh, const Affine& half,
                   std::vector<float>* sample) {
  sample->clear();
  for (int y = 0; y < hh; y += 2) {
    for (int x = 0; x < hw; x += 2) {
      const double sx = half.a * x + half.b * y + half.c, sy = half.d * x + half.e * y + half.f;
      if (sx >= 0 && sy >= 0 && sx <= hw - 1 && sy <= hh - 1)
        sample->push_back(disagreement[static_cast<size_t>(y) * hw + x]);
    }
  }
  if (sample->size() < 16) return 0;  // hardly overlaps
  std::nth_element(sample->begin(), sample->begin() + sample->size() / 2, sample->end());
  const float median = (*sample)[sample->size() / 2];
  return std::clamp(2.0f - median / kAlignedMedian, 0.0f, 1.0f);
}

// The local refinement of the global motion (LocalShifts). The global
// motion fits one camera move; where the scene has layers at different
// depths (parallax: a near layer passes faster than a far one) it fits
// neither exactly, and its fit bends (a false zoom or rotation) to explain
// the difference. Per block of kRefineBlock × kRefineBlock half-size pixels
// (16 × 16 full-size), the neighbour is shifted by up to ± kRefineSearch
// half-size pixels from where the global motion put it, the shift that best
// matches its half-size luma to the picture's over the block and
// kRefineMargin pixels around it is kept, refined to a fraction of a pixel
// (a parabola through the neighbouring shifts). Every weight is then
// measured where the refined motion samples the neighbour.
constexpr int kRefineBlock = 8;
constexpr int kRefineMargin = 2;
constexpr int kRefineSearch = 2;
// A block is refined only when the global motion leaves it a squared
// difference above kRefineFloor per pixel (8-bit units², about 7 code values
// RMS: a coder's own differences stay below it; refining them moved
// MPEG-2's flat areas after its block edges), and
//  * a whole-pixel shift leaves at most kRefineRatio of it, or
//  * less than half a pixel off: the parabolas through the unshifted
//    difference and the four nearest shifts predict at most
//    kRefineSubRatio of it;
// and not when the neighbour unmoved leaves less than kRefineStill times it
// (content that stays put on the screen, such as thin strokes of a
// timecode, is the on-screen tests' to leave out; refined, it was half
// aligned instead).
constexpr float kRefineFloor = 50.0f;
constexpr float kRefineRatio = 0.5f;
constexpr float kRefineSubRatio = 0.6f;
constexpr float kRefineStill = 2.0f;
// Content that moves on its own slowly (a drift of a few pixels a picture
// against the camera) falls between the gate, which reaches displacements
// of 4 pixels and more, and the texture match, which forgives up to 4; the
// refinement's blocks find it. A block is suspected of it in a neighbour
// when its shift lies more than kObjectOffScreen from where the screen
// holds still (strokes that stay put are the on-screen tests'), and
//  * not refined, its best whole-pixel shift leaves at most kObjectRatio
//    of both the unshifted difference (above kObjectFloor per pixel) and
//    the neighbour unmoved's; or
//  * refined, with such a match, its shift differs by more than
//    kObjectJump from a neighbouring block's: the bilinear field between
//    their centres aligns neither side.
// It moves on its own (OwnMotion) where at least kObjectAgreeing other
// neighbours suspect it at the same velocity (shift per picture apart,
// within kObjectVelocity): a coder's misplaced block keeps none. A picture
// with fewer than kObjectSidesForAgreeing neighbours on one side (a run's
// first two and last two pictures) needs kObjectAgreeingAtEnds: its farther
// neighbours see the object beyond the search's reach, so fewer can agree.
// The gate leaves it, and the blocks around it, out of those neighbours and
// of every other one its velocity displaces it in by kObjectReach or more
// (the nearest neighbours, where it has moved too little to be suspected);
// kObjectReachNearEnds where the picture lacks a neighbour on one side (a
// run's first three and last three pictures): with the neighbours on one
// side only, what a near one leaves misaligned is not balanced by the other
// side's, and shows as a ghost rather than a slight blur.
constexpr float kObjectFloor = 8.0f;
constexpr float kObjectRatio = 0.25f;
constexpr float kObjectOffScreen = 0.75f;
constexpr float kObjectJump = 0.75f;
constexpr float kObjectVelocity = 0.35f;
constexpr int kObjectAgreeing = 2;
constexpr int kObjectAgreeingAtEnds = 1;
constexpr int kObjectSidesForAgreeing = 2;
constexpr float kObjectReach = 0.5f;
constexpr float kObjectReachNearEnds = 0.3f;

// How far the shift (dx, dy) reaches: the larger of |dx| and |dy|.
inline float Reach(float dx, float dy) { return std::max(std::abs(dx), std::abs(dy)); }

// Per block, the shift (half-size pixels) to add to the global motion.
struct Displacement {
  int blocks_x = 1, blocks_y = 1;
  std::vector<float> dx{0.0f}, dy{0.0f};
  bool none = true;  // every shift is 0
  // Per block, 1 where content may move on its own (LocalShifts), and the
  // shift that matched it.
  std::vector<uint8_t> suspect{0};
  std::vector<float> suspect_dx{0.0f}, suspect_dy{0.0f};
  // Per block, 1 where it does (OwnMotion): the gate's to leave out.
  std::vector<uint8_t> own_motion{0};

  // Where the positions x_i = step · i + start (half-size pixels, i <
  // count) fall between block centres: the left one and the share of the
  // way to the next (edges held). The same for every row: made once.
  struct Columns {
    std::vector<int> left;
    std::vector<float> share;
  };
  Columns ColumnsOf(int count, float step, float start) const {
    Columns columns;
    columns.left.resize(count);
    columns.share.resize(count);
    for (int i = 0; i < count; ++i) {
      const float bx =
          std::clamp((step * static_cast<float>(i) + start + 0.5f) / kRefineBlock - 0.5f, 0.0f,
                     static_cast<float>(blocks_x - 1));
      columns.left[i] = std::min(static_cast<int>(bx), std::max(blocks_x - 2, 0));
      columns.share[i] = bx - static_cast<float>(columns.left[i]);
    }
    return columns;
  }

  // The shifts along the row at half-size y, at `columns`' positions, times
  // `scale`, into sx and sy (bilinear between block centres); `scratch`
  // holds the row between the block rows.
  void Row(float y, const Columns& columns, float scale, float* sx, float* sy,
           std::vector<float>* scratch) const {
    const size_t count = columns.left.size();
    if (none) {
      std::fill(sx, sx + count, 0.0f);
      std::fill(sy, sy + count, 0.0f);
      return;
    }
    const float by =
        std::clamp((y + 0.5f) / kRefineBlock - 0.5f, 0.0f, static_cast<float>(blocks_y - 1));
    const int iy = std::min(static_cast<int>(by), std::max(blocks_y - 2, 0));
    const float fy = by - static_cast<float>(iy);
    const int down = blocks_y > 1 ? blocks_x : 0;
    scratch->resize(2 * static_cast<size_t>(blocks_x) + 2);
    float* row_x = scratch->data();
    float* row_y = row_x + blocks_x + 1;
    for (int bx = 0; bx < blocks_x; ++bx) {
      const size_t top = static_cast<size_t>(iy) * blocks_x + bx;
      row_x[bx] = scale * (dx[top] + fy * (dx[top + down] - dx[top]));
      row_y[bx] = scale * (dy[top] + fy * (dy[top + down] - dy[top]));
    }
    row_x[blocks_x] = row_x[blocks_x - 1];  // read as `left + 1` with one block column
    row_y[blocks_x] = row_y[blocks_x - 1];
    for (size_t i = 0; i < count; ++i) {
      const int left = columns.left[i];
      const float share = columns.share[i];
      sx[i] = row_x[left] + share * (row_x[left + 1] - row_x[left]);
      sy[i] = row_y[left] + share * (row_y[left + 1] - row_y[left]);
    }
  }
};

// Where the minimum of the parabola through (−1, before), (0, at), (1,
// after) lies, within ± ½.
float ParabolaMinimum(float before, float at, float after) {
  const float curvature = before - 2 * at + after;
  if (!(curvature > 0)) return 0;
  return std::clamp(0.5f * (before - after) / curvature, -0.5f, 0.5f);
}

// The local refinement's shifts of the neighbour `moved` (moved by the
// global motion) onto the picture `own`; `unmoved` is the neighbour where
// it is. All w × h half-size pictures.
Displacement LocalShifts(const std::vector<float>& own, const std::vector<float>& moved,
                         const std::vector<float>& unmoved, const Affine& to_unmoved, int w, int h,
                         bool threaded, std::vector<float>* padded) {
  constexpr int r = kRefineSearch + 1;  // the parabola reads one beyond the search
  Displacement field;
  field.blocks_x = (w + kRefineBlock - 1) / kRefineBlock;
  field.blocks_y = (h + kRefineBlock - 1) / kRefineBlock;
  const size_t blocks = static_cast<size_t>(field.blocks_x) * field.blocks_y;
  field.dx.assign(blocks, 0.0f);
  field.dy.assign(blocks, 0.0f);
  field.own_motion.assign(blocks, 0);
  field.suspect.assign(blocks, 0);
  field.suspect_dx.assign(blocks, 0.0f);
  field.suspect_dy.assign(blocks, 0.0f);
  // Per block: where the neighbour unmoved sits (as a shift, x and y), and
  // whether the best shift matches far better than both it and none.
  std::vector<float> screen(2 * blocks, 0.0f);
  std::vector<uint8_t> strong(blocks, 0);
  const float* shifted = PadReplicated(moved, w, h, r, padded);
  const int pw = w + 2 * r;
  RunInHalves(field.blocks_y, threaded, [&](int begin, int end) {
    for (int by = begin; by < end; ++by) {
      for (int bx = 0; bx < field.blocks_x; ++bx) {
        const int x0 = std::max(bx * kRefineBlock - kRefineMargin, 0);
        const int x1 = std::min((bx + 1) * kRefineBlock + kRefineMargin, w);
        const int y0 = std::max(by * kRefineBlock - kRefineMargin, 0);
        const int y1 = std::min((by + 1) * kRefineBlock + kRefineMargin, h);
        auto at = [&](int dx, int dy) {
          return WindowDifference(own.data(), w, shifted, pw, x0, x1, y0, y1, dx, dy);
        };
        const float pixels = static_cast<float>((x1 - x0) * (y1 - y0));
        const float still = at(0, 0);
        if (still <= kObjectFloor * pixels) continue;
        // The searched shifts; the parabola's one step beyond them, at the
        // search's edge, is measured when it is read.
        constexpr int search = kRefineSearch;
        float cost[2 * search + 1][2 * search + 1];
        for (int dy = -search; dy <= search; ++dy)
          for (int dx = -search; dx <= search; ++dx)
            cost[dy + search][dx + search] = dx || dy ? at(dx, dy) : still;
        auto c = [&](int dx, int dy) {
          return std::abs(dx) <= search && std::abs(dy) <= search ? cost[dy + search][dx + search]
                                                                  : at(dx, dy);
        };
        int best_x = 0, best_y = 0;
        for (int dy = -kRefineSearch; dy <= kRefineSearch; ++dy)
          for (int dx = -kRefineSearch; dx <= kRefineSearch; ++dx)
            if (c(dx, dy) < c(best_x, best_y)) best_x = dx, best_y = dy;
        const float left_out =
            WindowDifference(own.data(), w, unmoved.data(), w, x0, x1, y0, y1, 0, 0);
        // Where the neighbour unmoved sits, as a shift of the moved one.
        const double mid_x = 0.5 * (x0 + x1 - 1), mid_y = 0.5 * (y0 + y1 - 1);
        const float screen_x = static_cast<float>(
            mid_x - (to_unmoved.a * mid_x + to_unmoved.b * mid_y + to_unmoved.c));
        const float screen_y = static_cast<float>(
            mid_y - (to_unmoved.d * mid_x + to_unmoved.e * mid_y + to_unmoved.f));
        const size_t i = static_cast<size_t>(by) * field.blocks_x + bx;
        // Whether the global motion is off here and a shift corrects it.
        const bool refined = [&] {
          if (still <= kRefineFloor * pixels) return false;
          // Content that stays put on the screen (a timecode, subtitles)
          // matches the neighbour unmoved: left to the on-screen tests.
          if (left_out < kRefineStill * still) return false;
          if (best_x || best_y) return c(best_x, best_y) <= kRefineRatio * still;
          // Less than half a pixel off: the parabolas' predicted minimum.
          const float cx = c(-1, 0) - 2 * still + c(1, 0), cy = c(0, -1) - 2 * still + c(0, 1);
          if (!(cx > 0 && cy > 0)) return false;
          const float gx = 0.5f * (c(-1, 0) - c(1, 0)), gy = 0.5f * (c(0, -1) - c(0, 1));
          return still - 0.5f * (gx * gx / cx + gy * gy / cy) <= kRefineSubRatio * still;
        }();
        screen[2 * i] = screen_x;
        screen[2 * i + 1] = screen_y;
        strong[i] = c(best_x, best_y) <= kObjectRatio * std::min(still, left_out);
        if (!refined) {
          if ((best_x || best_y) && strong[i] &&
              Reach(static_cast<float>(best_x) - screen_x, static_cast<float>(best_y) - screen_y) >
                  kObjectOffScreen) {
            field.suspect[i] = 1;
            field.suspect_dx[i] = static_cast<float>(best_x);
            field.suspect_dy[i] = static_cast<float>(best_y);
          }
          continue;
        }
        field.dx[i] =
            static_cast<float>(best_x) +
            ParabolaMinimum(c(best_x - 1, best_y), c(best_x, best_y), c(best_x + 1, best_y));
        field.dy[i] =
            static_cast<float>(best_y) +
            ParabolaMinimum(c(best_x, best_y - 1), c(best_x, best_y), c(best_x, best_y + 1));
      }
    }
  });
  // Refined blocks whose shift jumps from a neighbouring block's.
  auto off_screen = [&](size_t k) {
    return strong[k] && (field.dx[k] != 0 || field.dy[k] != 0) &&
           Reach(field.dx[k] - screen[2 * k], field.dy[k] - screen[2 * k + 1]) > kObjectOffScreen;
  };
  auto suspect = [&](size_t k) {  // refined blocks only: the others' shifts are 0
    if (!off_screen(k)) return;
    field.suspect[k] = 1;
    field.suspect_dx[k] = field.dx[k];
    field.suspect_dy[k] = field.dy[k];
  };
  for (int by = 0; by < field.blocks_y; ++by) {
    for (int bx = 0; bx < field.blocks_x; ++bx) {
      const size_t i = static_cast<size_t>(by) * field.blocks_x + bx;
      for (const auto& [nx, ny] : {std::pair{bx + 1, by}, std::pair{bx, by + 1}}) {
        if (nx >= field.blocks_x || ny >= field.blocks_y) continue;
        const size_t j = static_cast<size_t>(ny) * field.blocks_x + nx;
        if (Reach(field.dx[i] - field.dx[j], field.dy[i] - field.dy[j]) > kObjectJump) {
          suspect(i);
          suspect(j);
        }
      }
    }
  }
  for (size_t i = 0; i < field.dx.size(); ++i)
    field.none = field.none && field.dx[i] == 0 && field.dy[i] == 0;
  return field;
}

// Confirms the suspects of LocalShifts: fields[k] is the displacement
// towards the neighbour k − kFusionRadius pictures away, where present[k].
void OwnMotion(std::vector<Displacement>* fields, const std::vector<uint8_t>& present) {
  const int count = static_cast<int>(fields->size());
  // Near a run's ends a picture has fewer neighbours on one side.
  int before = 0, after = 0;
  for (int a = 0; a < count; ++a) {
    before += present[a] && a < kFusionRadius;
    after += present[a] && a > kFusionRadius;
  }
  const int fewer = std::min(before, after);
  const int need = fewer >= kObjectSidesForAgreeing ? kObjectAgreeing : kObjectAgreeingAtEnds;
  const float reach = fewer >= kFusionRadius ? kObjectReach : kObjectReachNearEnds;
  for (int a = 0; a < count; ++a) {
    if (!present[a]) continue;
    Displacement& first = (*fields)[a];
    std::vector<uint8_t> agreeing(first.suspect.size(), 0);
    for (int b = 0; b < count; ++b) {
      if (b == a || !present[b]) continue;
      const Displacement& second = (*fields)[b];
      const float apart_a = static_cast<float>(a - kFusionRadius);
      const float apart_b = static_cast<float>(b - kFusionRadius);
      for (size_t i = 0; i < first.suspect.size(); ++i) {
        agreeing[i] += first.suspect[i] && second.suspect[i] &&
                       Reach(first.suspect_dx[i] / apart_a - second.suspect_dx[i] / apart_b,
                             first.suspect_dy[i] / apart_a - second.suspect_dy[i] / apart_b) <=
                           kObjectVelocity;
      }
    }
    for (size_t i = 0; i < agreeing.size(); ++i) first.own_motion[i] = agreeing[i] >= need;
  }
  // A confirmed block's velocity (the mean over the neighbours that
  // confirm it) displaces it in the others too, nearer ones by less.
  size_t blocks = 0;
  for (int a = 0; a < count; ++a) {
    if (present[a]) blocks = (*fields)[a].suspect.size();
  }
  std::vector<float> sum_x(blocks, 0.0f), sum_y(blocks, 0.0f);
  std::vector<int> confirmed(blocks, 0);
  for (int a = 0; a < count; ++a) {
    if (!present[a]) continue;
    const Displacement& field = (*fields)[a];
    const float apart = static_cast<float>(a - kFusionRadius);
    for (size_t i = 0; i < blocks; ++i) {
      if (!field.own_motion[i]) continue;
      sum_x[i] += field.suspect_dx[i] / apart;
      sum_y[i] += field.suspect_dy[i] / apart;
      ++confirmed[i];
    }
  }
  for (int a = 0; a < count; ++a) {
    if (!present[a]) continue;
    Displacement& field = (*fields)[a];
    const float apart = std::abs(static_cast<float>(a - kFusionRadius));
    for (size_t i = 0; i < blocks; ++i) {
      if (confirmed[i] > 0 &&
          Reach(sum_x[i], sum_y[i]) / static_cast<float>(confirmed[i]) * apart >= reach) {
        field.own_motion[i] = 1;
      }
    }
  }
}

// The texture match (TextureMatch): a window of (2 r + 1)² half-size
// pixels; the neighbour shifted by up to ± kTextureShift half-size pixels; a
// floor (8-bit units², per pixel) added to the window's energies and to their
// product, so that two flat windows match; the weight ramps from 0 at
// correlation kTextureLow to 1 at kTextureHigh.
constexpr int kTextureRadius = 3;
constexpr int kTextureShift = 2;
constexpr float kTextureFloor = 0.5f;
constexpr float kTextureLow = 0.5f, kTextureHigh = 0.8f;
// Strong fine detail that the neighbour unmoved matches better than moved
// (correlation above kStillMatch, and above the moved neighbour's at no
// shift; the picture's band-pass energy above kStillEnergy per pixel, about
// 16 code values RMS) stays put on the screen: thin strokes of a timecode or
// subtitles, which the low-pass on-screen test cannot see.
constexpr float kStillMatch = 0.3f;
constexpr float kStillEnergy = 250.0f;
constexpr int kTextureWindow = 2 * kTextureRadius + 1;
// The floor for window sums (the window's pixel count times the floor).
constexpr float kTextureSumFloor = kTextureFloor * kTextureWindow * kTextureWindow;

// The row kernels of the texture match, pixels [begin, end): the portable
// loops, and AVX2 ones that do the same operations per pixel in the same
// order (so give the same values) and return where they stopped.
void MultiplyRow(const float* a, const float* b, float* out, int begin, int end) {
  for (int x = begin; x < end; ++x) out[x] = a[x] * b[x];
}
// out = rows[0] + rows[1] + … + rows[count − 1], added in that order.
void SumRows(const float* const* rows, int count, float* out, int begin, int end) {
  for (int x = begin; x < end; ++x) {
    float sum = rows[0][x];
    for (int k = 1; k < count; ++k) sum += rows[k][x];
    out[x] = sum;
  }
}
// out = previous + added − removed: a window slid down one row.
void SlideRow(const float* previous, const float* added, const float* removed, float* out,
              int begin, int end) {
  for (int x = begin; x < end; ++x) out[x] = previous[x] + added[x] - removed[x];
}
// best = max(best, (cross + floor) · scale).
void KeepBestMatch(const float* cross, const float* scale, float* best, int begin, int end) {
  for (int x = begin; x < end; ++x)
    best[x] = std::max(best[x], (cross[x] + kTextureSumFloor) * scale[x]);
}

#if defined(__x86_64__) || defined(__i386__)
VIDMILL_AVX2 int MultiplyRowAvx2(const float* a, const float* b, float* out, int begin, int end) {
  int x = begin;
  for (; x + 8 <= end; x += 8) {
    _mm256_storeu_ps(out + x, _mm256_mul_ps(_mm256_loadu_ps(a + x), _mm256_loadu_ps(b + x)));
  }
  return x;
}
VIDMILL_AVX2 int SumRowsAvx2(const float* const* rows, int count, float* out, int begin, int end) {
  int x = begin;
  for (; x + 8 <= end; x += 8) {
    __m256 sum = _mm256_loadu_ps(rows[0] + x);
    for (int k = 1; k < count; ++k) sum = _mm256_add_ps(sum, _mm256_loadu_ps(rows[k] + x));
    _mm256_storeu_ps(out + x, sum);
  }
  return x;
}
VIDMILL_AVX2 int SlideRowAvx2(const float* previous, const float* added, const float* removed,
                              float* out, int begin, int end) {
  int x = begin;
  for (; x + 8 <= end; x += 8) {
    const __m256 sum = _mm256_add_ps(_mm256_loadu_ps(previous + x), _mm256_loadu_ps(added + x));
    _mm256_storeu_ps(out + x, _mm256_sub_ps(sum, _mm256_loadu_ps(removed + x)));
  }
  return x;
}
VIDMILL_AVX2 int KeepBestMatchAvx2(const float* cross, const float* scale, float* best, int begin,
                                   int end) {
  const __m256 floor = _mm256_set1_ps(kTextureSumFloor);
  int x = begin;
  for (; x + 8 <= end; x += 8) {
    const __m256 match =
        _mm256_mul_ps(_mm256_add_ps(_mm256_loadu_ps(cross + x), floor), _mm256_loadu_ps(scale + x));
    // std::max(best, match) keeps best unless best < match.
    const __m256 old = _mm256_loadu_ps(best + x);
    _mm256_storeu_ps(best + x, _mm256_blendv_ps(old, match, _mm256_cmp_ps(old, match, _CMP_LT_OQ)));
  }
  return x;
}
#endif

// The row kernels, through AVX2 when `avx2`.
struct TextureKernels {
  bool avx2;
  void Multiply(const float* a, const float* b, float* out, int begin, int end) const {
#if defined(__x86_64__) || defined(__i386__)
    if (avx2) begin = MultiplyRowAvx2(a, b, out, begin, end);
#endif
    MultiplyRow(a, b, out, begin, end);
  }
  void Sum(const float* const* rows, int count, float* out, int begin, int end) const {
#if defined(__x86_64__) || defined(__i386__)
    if (avx2) begin = SumRowsAvx2(rows, count, out, begin, end);
#endif
    SumRows(rows, count, out, begin, end);
  }
  void Slide(const float* previous, const float* added, const float* removed, float* out, int begin,
             int end) const {
#if defined(__x86_64__) || defined(__i386__)
    if (avx2) begin = SlideRowAvx2(previous, added, removed, out, begin, end);
#endif
    SlideRow(previous, added, removed, out, begin, end);
  }
  void KeepBest(const float* cross, const float* scale, float* best, int begin, int end) const {
#if defined(__x86_64__) || defined(__i386__)
    if (avx2) begin = KeepBestMatchAvx2(cross, scale, best, begin, end);
#endif
    KeepBestMatch(cross, scale, best, begin, end);
  }
};

// Sums of `in` (w × h) over the kTextureWindow² window around each pixel of
// rows [begin, end) (edges replicated), into the same rows of `out`; `rows`
// is scratch. The first row is summed, the next ones slid down from it, so
// a row's sums depend on `begin`: callers split rows by RunInHalves, whose
// split never depends on the threads.
void WindowSumRows(const TextureKernels& kernels, const float* in, int w, int h, int begin, int end,
                   float* out, std::vector<float>* rows) {
  constexpr int r = kTextureRadius, n = kTextureWindow;
  const int first = std::max(begin - r - 1, 0), last = std::min(end + r, h);  // rows read
  rows->resize(static_cast<size_t>(last - first) * w);
  const float* taps[n];
  for (int y = first; y < last; ++y) {  // along the row
    const float* src = in + static_cast<size_t>(y) * w;
    float* dst = rows->data() + static_cast<size_t>(y - first) * w;
    auto clamped_sum = [&](int x) {
      float sum = src[std::clamp(x - r, 0, w - 1)];
      for (int k = 1 - r; k <= r; ++k) sum += src[std::clamp(x + k, 0, w - 1)];
      return sum;
    };
    // Pixels r … w − r − 1 read no edge: pixel r + j sums src[j … j + 2 r].
    const int inside_begin = std::min(r, w), inside_end = std::max(w - r, inside_begin);
    for (int x = 0; x < inside_begin; ++x) dst[x] = clamped_sum(x);
    for (int k = 0; k < n; ++k) taps[k] = src + k;
    kernels.Sum(taps, n, dst + inside_begin, 0, inside_end - inside_begin);
    for (int x = inside_end; x < w; ++x) dst[x] = clamped_sum(x);
  }
  auto row = [&](int y) {
    return rows->data() + static_cast<size_t>(std::clamp(y, 0, h - 1) - first) * w;
  };
  for (int y = begin; y < end; ++y) {  // across rows
    float* dst = out + static_cast<size_t>(y) * w;
    if (y == begin) {
      for (int k = -r; k <= r; ++k) taps[k + r] = row(y + k);
      kernels.Sum(taps, n, dst, 0, w);
    } else {
      kernels.Slide(dst - w, row(y + r), row(y - r - 1), dst, 0, w);
    }
  }
}

// The local energy of a band-pass picture: window sums of its square.
void BandEnergy(const std::vector<float>& band, int w, int h, std::vector<float>* energy,
                std::vector<float>* square, std::vector<float>* rows) {
  const TextureKernels kernels{Avx2LoopsAllowed()};
  square->resize(band.size());
  kernels.Multiply(band.data(), band.data(), square->data(), 0, static_cast<int>(band.size()));
  energy->resize(band.size());
  WindowSumRows(kernels, square->data(), w, h, 0, h, energy->data(), rows);
}

// Multiplies `weight` by how well the moved neighbour's fine texture matches
// the picture's (the texture match): the best normalised correlation of
// their band-pass pictures `moved` and `own` over a window, the neighbour
// shifted by up to ± kTextureShift half-size pixels (a coder's pictures may
// sit a pixel or two off), ramped between kTextureLow and kTextureHigh. The
// low-pass agreement and the gate cannot see a neighbour that brings another
// texture of the same mean brightness (an object passing over the place), or
// noise of its own; this can. Also 0 where strong detail stays put on the
// screen (kStillMatch): `unmoved` is the neighbour where it is, with its
// window energy `unmoved_energy`.
void TextureMatch(const std::vector<float>& own, const std::vector<float>& own_energy,
                  const std::vector<float>& moved, const std::vector<float>& unmoved,
                  const std::vector<float>& unmoved_energy, int w, int h, bool threaded,
                  PictureFusion::TextureBuffers* buffers, std::vector<float>* weight) {
  buffers->unshifted.resize(own.size());
  float* unshifted = buffers->unshifted.data();
  const TextureKernels kernels{Avx2LoopsAllowed()};
  // 1 / √(energy + floor) of the moved neighbour, per pixel.
  std::vector<float>& scale = buffers->moved_scale;
  BandEnergy(moved, w, h, &scale, &buffers->square, &buffers->rows[0]);
  for (float& value : scale) value = 1.0f / std::sqrt(value + kTextureSumFloor);
  buffers->best.assign(own.size(), -1.0f);
  RunInHalves(h, threaded, [&](int begin, int end) {
    const int half = begin == 0 ? 0 : 1;
    std::vector<float>& product = buffers->product[half];
    std::vector<float>& local = buffers->local[half];
    product.resize(own.size());
    local.resize(own.size());
    float* best = buffers->best.data();
    // Rows the window reads around [begin, end).
    const int first = std::max(begin - kTextureRadius - 1, 0);
    const int last = std::min(end + kTextureRadius, h);
    for (int dy = -kTextureShift; dy <= kTextureShift; ++dy) {
      for (int dx = -kTextureShift; dx <= kTextureShift; ++dx) {
        // Columns [x0, x1) read the shifted neighbour inside it.
        const int x0 = std::max(-dx, 0), x1 = std::min(w - dx, w);
        for (int y = first; y < last; ++y) {
          const float* m = &moved[static_cast<size_t>(std::clamp(y + dy, 0, h - 1)) * w];
          const float* o = &own[static_cast<size_t>(y) * w];
          float* p = &product[static_cast<size_t>(y) * w];
          for (int x = 0; x < x0; ++x) p[x] = m[0] * o[x];
          kernels.Multiply(m + dx, o, p, x0, x1);
          for (int x = x1; x < w; ++x) p[x] = m[w - 1] * o[x];
        }
        WindowSumRows(kernels, product.data(), w, h, begin, end, local.data(),
                      &buffers->rows[half]);
        for (int y = begin; y < end; ++y) {
          const size_t row = static_cast<size_t>(y) * w;
          const float* e = &scale[static_cast<size_t>(std::clamp(y + dy, 0, h - 1)) * w];
          const float* c = &local[row];
          auto keep_edge = [&](int x, float edge_scale) {  // KeepBestMatch, edge replicated
            best[row + x] = std::max(best[row + x], (c[x] + kTextureSumFloor) * edge_scale);
          };
          for (int x = 0; x < x0; ++x) keep_edge(x, e[0]);
          kernels.KeepBest(c, e + dx, best + row, x0, x1);
          for (int x = x1; x < w; ++x) keep_edge(x, e[w - 1]);
          if (dx == 0 && dy == 0) {  // kept for the on-screen test
            for (int x = 0; x < w; ++x) unshifted[row + x] = (c[x] + kTextureSumFloor) * e[x];
          }
        }
      }
    }
    // The neighbour unmoved against the picture.
    for (int y = first; y < last; ++y) {
      const size_t row = static_cast<size_t>(y) * w;
      kernels.Multiply(&unmoved[row], &own[row], &product[row], 0, w);
    }
    WindowSumRows(kernels, product.data(), w, h, begin, end, local.data(), &buffers->rows[half]);
    for (int y = begin; y < end; ++y) {
      for (int x = 0; x < w; ++x) {
        const size_t i = static_cast<size_t>(y) * w + x;
        const float own_scale = 1.0f / std::sqrt(own_energy[i] + kTextureSumFloor);
        const float still = (local[i] + kTextureSumFloor) /
                            std::sqrt(unmoved_energy[i] + kTextureSumFloor) * own_scale;
        if (still > kStillMatch && still > unshifted[i] * own_scale &&
            own_energy[i] > kStillEnergy * kTextureWindow * kTextureWindow) {
          (*weight)[i] = 0;
          continue;
        }
        const float match = best[i] * own_scale;
        (*weight)[i] *=
            std::clamp((match - kTextureLow) / (kTextureHigh - kTextureLow), 0.0f, 1.0f);
      }
    }
  });
}

// Where a row of moved samples goes: numerator += weight · sample and
// denominator += weight, per pixel.
struct RowTarget {
  float* numerator;
  float* denominator;
};

// Pixels [begin, end) of a row: the neighbour `plane` sampled at (xs, ys)
// with Catmull-Rom, where the weight is not 0 and the position lies within
// the plane.
void AccumulateRow(const float* plane, int w, int h, const float* xs, const float* ys,
                   const float* weights, const RowTarget& target, int begin, int end) {
  for (int x = begin; x < end; ++x) {
    const float sx = xs[x], sy = ys[x];
    if (weights[x] == 0 || !(sx >= 0 && sy >= 0 && sx <= w - 1 && sy <= h - 1)) continue;
    target.numerator[x] += weights[x] * Bicubic(plane, w, h, sx, sy);
    target.denominator[x] += weights[x];
  }
}

#if defined(__x86_64__) || defined(__i386__)
// CatmullRomWeights<float> on eight positions, with the same operations in
// the same order (so the same values).
VIDMILL_AVX2 inline void CatmullRomWeights8(__m256 t, __m256 w[4]) {
  const __m256 half = _mm256_set1_ps(0.5f);
  const __m256 neg = _mm256_xor_ps(t, _mm256_set1_ps(-0.0f));
  const __m256 tt = _mm256_mul_ps(t, t), ttt = _mm256_mul_ps(tt, t);
  const __m256 two_tt = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(2), t), t);
  const __m256 four_tt = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(4), t), t);
  const __m256 five_tt = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(5), t), t);
  const __m256 three_ttt = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(3), t), t), t);
  w[0] = _mm256_mul_ps(half, _mm256_sub_ps(_mm256_add_ps(neg, two_tt), ttt));
  w[1] = _mm256_mul_ps(half, _mm256_add_ps(_mm256_sub_ps(_mm256_set1_ps(2), five_tt), three_ttt));
  w[2] = _mm256_mul_ps(half, _mm256_sub_ps(_mm256_add_ps(t, four_tt), three_ttt));
  w[3] = _mm256_mul_ps(half, _mm256_add_ps(_mm256_mul_ps(neg, t), ttt));
}

// AccumulateRow for whole groups of eight pixels that sample one source row
// band at consecutive columns, away from the edges (under a camera's global
// motion nearly all of them): four shifted loads per tap row instead of
// sixteen scalar ones per pixel. Returns where it stopped; the pixels of a
// group that does not qualify go through AccumulateRow. Same values as it.
VIDMILL_AVX2 int AccumulateRowAvx2(const float* plane, int w, int h, const float* xs,
                                   const float* ys, const float* weights, const RowTarget& target,
                                   int begin, int end) {
  int x = begin;
  for (; x + 8 <= end; x += 8) {
    const __m256 sx = _mm256_loadu_ps(xs + x), sy = _mm256_loadu_ps(ys + x);
    const __m256i ix = _mm256_cvttps_epi32(sx), iy = _mm256_cvttps_epi32(sy);
    alignas(32) int32_t cols[8], rows[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(cols), ix);
    _mm256_store_si256(reinterpret_cast<__m256i*>(rows), iy);
    bool simple = xs[x] >= 0 && ys[x] >= 0 && cols[0] >= 1 && cols[7] + 2 < w && rows[0] >= 1 &&
                  rows[0] + 2 < h;
    for (int j = 1; j < 8 && simple; ++j) {
      simple = cols[j] == cols[0] + j && rows[j] == rows[0] && xs[x + j] >= 0 && ys[x + j] >= 0;
    }
    if (!simple) {
      AccumulateRow(plane, w, h, xs, ys, weights, target, x, x + 8);
      continue;
    }
    __m256 wx[4], wy[4];
    CatmullRomWeights8(_mm256_sub_ps(sx, _mm256_cvtepi32_ps(ix)), wx);
    CatmullRomWeights8(_mm256_sub_ps(sy, _mm256_cvtepi32_ps(iy)), wy);
    const float* p = plane + static_cast<size_t>(rows[0] - 1) * w + cols[0] - 1;
    __m256 sum = _mm256_setzero_ps();
    for (int j = 0; j < 4; ++j, p += w) {
      __m256 row = _mm256_mul_ps(wx[0], _mm256_loadu_ps(p));
      row = _mm256_add_ps(row, _mm256_mul_ps(wx[1], _mm256_loadu_ps(p + 1)));
      row = _mm256_add_ps(row, _mm256_mul_ps(wx[2], _mm256_loadu_ps(p + 2)));
      row = _mm256_add_ps(row, _mm256_mul_ps(wx[3], _mm256_loadu_ps(p + 3)));
      sum = _mm256_add_ps(sum, _mm256_mul_ps(wy[j], row));
    }
    // A weight of 0 adds 0 · a finite sample: nothing, as AccumulateRow's skip.
    const __m256 weight = _mm256_loadu_ps(weights + x);
    _mm256_storeu_ps(target.numerator + x, _mm256_add_ps(_mm256_loadu_ps(target.numerator + x),
                                                         _mm256_mul_ps(weight, sum)));
    _mm256_storeu_ps(target.denominator + x,
                     _mm256_add_ps(_mm256_loadu_ps(target.denominator + x), weight));
  }
  return x;
}
#endif

// Luma as floats in 8-bit code units, into `out` (its memory reused).
void LumaInto(const OwnedFrame& frame, std::vector<float>* out) {
  const PlaneView luma = frame.plane(0);
  const float scale = 1.0f / static_cast<float>(1 << (luma.bit_depth - 8));
  out->resize(static_cast<size_t>(luma.width) * luma.height);
  for (int y = 0; y < luma.height; ++y) {
    float* row = out->data() + static_cast<size_t>(y) * luma.width;
    for (int x = 0; x < luma.width; ++x) row[x] = static_cast<float>(luma.At(x, y)) * scale;
  }
}

}  // namespace

Result<std::unique_ptr<VideoFilter>> PictureFusion::Create(const PixelFormat& format) {
  RETURN_IF_ERROR(format.Validate());
  return std::unique_ptr<VideoFilter>(new PictureFusion(format));
}

Status PictureFusion::Push(const FrameView& in, int64_t pts) {
  if (flushed_) return Status::InvalidArgument("dvres: Push after Flush");
  if (!(in.format == format_)) {
    return Status::InvalidArgument("dvres: frame format differs from the configured input");
  }
  // A picture dropped earlier lends its buffers (a 1440p plane is 15 MB;
  // fresh ones cost page faults each time).
  Picture picture;
  if (!spare_.empty()) {
    picture = std::move(spare_.back());
    spare_.pop_back();
    picture.to_previous = Affine{};
    picture.run = 0;
  }
  picture.frame = OwnedFrame::CopyOf(in);
  picture.frame.pts = pts;
  const int w = format_.width, h = format_.height;
  if (fuses()) {
    // What every neighbour's weights read of this picture, made once.
    LumaInto(picture.frame, &picture.luma);
    Scratch& s = scratch_;  // full-size buffers kept from picture to picture
    GaussianBlur(picture.luma, w, h, kLowPassSigma, &s.low, &s.blur_scratch);
    s.detail.resize(picture.luma.size());
    s.high.resize(picture.luma.size());
    for (size_t i = 0; i < s.detail.size(); ++i) {
      const float high = picture.luma[i] - s.low[i];
      s.high[i] = high;
      s.detail[i] = high * high;
    }
    GaussianBlur(s.detail, w, h, kLocalSigma, &s.local_detail, &s.blur_scratch);
    HalfInto(picture.luma, w, h, &picture.half);
    HalfInto(s.low, w, h, &picture.low);
    HalfInto(s.local_detail, w, h, &picture.detail);
    HalfInto(picture.low, w / 2, h / 2, &picture.quarter);
    HalfInto(s.high, w, h, &picture.band);
    BandEnergy(picture.band, w / 2, h / 2, &picture.band_energy, &s.band_square,
               &s.texture.rows[0]);
    MotionPyramid pyramid = BuildMotionPyramid(in.planes[0]);
    if (pushed_ > 0) {
      const GlobalMotion motion = EstimateGlobalMotion(last_pyramid_, pyramid);
      picture.to_previous = ToPrevious(motion, pyramid);
      picture.run = held_.back().run + (motion.matched ? 0 : 1);
    }
    last_pyramid_ = std::move(pyramid);
  }
  held_.push_back(std::move(picture));
  ++pushed_;
  while (next_out_ + kFusionRadius < pushed_) EmitNext();
  return Status::Ok();
}

Status PictureFusion::Flush() {
  if (flushed_) return Status::Ok();
  flushed_ = true;
  while (next_out_ < pushed_) EmitNext();
  return Status::Ok();
}

Status PictureFusion::Pull(std::vector<OwnedFrame>* out) { return MoveReadyFrames(&ready_, out); }

PictureFusion::Affine PictureFusion::MapTo(int64_t n, int64_t m) const {
  auto to_previous = [&](int64_t k) {
    return held_[static_cast<size_t>(k - first_held_)].to_previous;
  };
  Affine map;  // n → m
  if (m < n) {
    for (int64_t k = n; k > m; --k) map = Compose(to_previous(k), map);
    return map;
  }
  for (int64_t k = m; k > n; --k) map = Compose(to_previous(k), map);  // m → n
  return Inverse(map);
}

void PictureFusion::EmitNext() {
  const int64_t n = next_out_++;
  // The frame itself goes out (its chroma is the output's); the neighbours
  // read only the float pictures.
  OwnedFrame out = std::move(held_[static_cast<size_t>(n - first_held_)].frame);
  if (fuses()) FuseLuma(n, out.plane(0));
  ready_.push_back(std::move(out));
  // Drop what no later picture needs, keeping its buffers for the next Push.
  while (first_held_ < next_out_ - kFusionRadius) {
    spare_.push_back(std::move(held_.front()));
    held_.pop_front();
    ++first_held_;
  }
}

void PictureFusion::FuseLuma(int64_t n, const PlaneView& luma) {
  const Picture& self = held_[static_cast<size_t>(n - first_held_)];
  const int w = format_.width, h = format_.height;
  const int hw = w / 2, hh = h / 2, qw = hw / 2, qh = hh / 2;
  const size_t size = self.luma.size(), half_size = static_cast<size_t>(hw) * hh;
  // The picture's own sample, weight 1.
  Scratch& s = scratch_;
  s.numerator = self.luma;
  s.denominator.assign(size, 1.0f);
  s.disagreement.resize(half_size);
  s.unmoved.resize(half_size);
  s.weight.resize(half_size);
  s.moved_band.resize(half_size);
  s.quarter.resize(static_cast<size_t>(qw) * qh);
  const bool threaded = static_cast<int64_t>(w) * h >= kThreadedPixels;
  const bool avx2 = Avx2LoopsAllowed();
  s.moved_half.resize(half_size);
  const int64_t last = std::min(pushed_ - 1, n + kFusionRadius);
  const int64_t first = std::max(first_held_, n - kFusionRadius);
  std::vector<Displacement> fields(2 * kFusionRadius + 1);
  std::vector<uint8_t> present(2 * kFusionRadius + 1, 0);
  for (int64_t m = first; m <= last; ++m) {
    const Picture& other = held_[static_cast<size_t>(m - first_held_)];
    if (m == n || other.run != self.run) continue;
    const Affine half = Coarser(MapTo(n, m), 2);
    // The global motion refined per block (LocalShifts), on the half-size
    // pictures: where a layer moves otherwise than the fit (parallax).
    RunInHalves(hh, threaded, [&](int begin, int end) {
      for (int y = begin; y < end; ++y) {
        for (int x = 0; x < hw; ++x) {
          s.moved_half[static_cast<size_t>(y) * hw + x] = Bilinear(
              other.half.data(), hw, hh, static_cast<float>(half.a * x + half.b * y + half.c),
              static_cast<float>(half.d * x + half.e * y + half.f));
        }
      }
    });
    const size_t k = static_cast<size_t>(m - n + kFusionRadius);
    fields[k] =
        LocalShifts(self.half, s.moved_half, other.half, half, hw, hh, threaded, &s.refine_padded);
    present[k] = 1;
  }
  // Content moving on its own, slowly: confirmed across the neighbours.
  OwnMotion(&fields, present);
  for (int64_t m = first; m <= last; ++m) {
    const Picture& other = held_[static_cast<size_t>(m - first_held_)];
    if (m == n || other.run != self.run) continue;
    const Affine map = MapTo(n, m);
    const Affine half = Coarser(map, 2);
    const Displacement& field = fields[static_cast<size_t>(m - n + kFusionRadius)];
    // The gate, on quarter-size low-pass pictures.
    const Affine quarter = Coarser(map, kQuarter);
    const Displacement::Columns quarter_columns = field.ColumnsOf(qw, 2, 0.5f);
    std::vector<float> shift_x(qw), shift_y(qw), field_row;
    for (int y = 0; y < qh; ++y) {
      field.Row(2 * static_cast<float>(y) + 0.5f, quarter_columns, 0.5f, shift_x.data(),
                shift_y.data(), &field_row);
      for (int x = 0; x < qw; ++x) {
        s.quarter[static_cast<size_t>(y) * qw + x] =
            Bilinear(other.quarter.data(), qw, qh,
                     static_cast<float>(quarter.a * x + quarter.b * y + quarter.c) + shift_x[x],
                     static_cast<float>(quarter.d * x + quarter.e * y + quarter.f) + shift_y[x]);
      }
    }
    const Gate gate =
        MovingBlocks(self.quarter, s.quarter, qw, qh, field.own_motion, field.blocks_x);
    // The weights, on half-size pictures (every measure in them is smooth):
    // the neighbour's low-pass picture and detail moved onto the picture's.
    const Displacement::Columns half_columns = field.ColumnsOf(hw, 1, 0);
    RunInHalves(hh, threaded, [&](int begin, int end) {
      std::vector<float> row_x(hw), row_y(hw), row_scratch;
      for (int y = begin; y < end; ++y) {
        field.Row(static_cast<float>(y), half_columns, 1, row_x.data(), row_y.data(), &row_scratch);
        for (int x = 0; x < hw; ++x) {
          const size_t i = static_cast<size_t>(y) * hw + x;
          const float sx = static_cast<float>(half.a * x + half.b * y + half.c) + row_x[x];
          const float sy = static_cast<float>(half.d * x + half.e * y + half.f) + row_y[x];
          const float apart = Bilinear(other.low.data(), hw, hh, sx, sy) - self.low[i];
          s.disagreement[i] = apart * apart;
          const float unmoved = other.low[i] - self.low[i];
          s.unmoved[i] = unmoved * unmoved;
          const float ratio = std::clamp(
              (Bilinear(other.detail.data(), hw, hh, sx, sy) + 1.0f) / (self.detail[i] + 1.0f),
              1.0f / kDetailCap, kDetailCap);
          s.weight[i] = ratio * ratio * gate.At(2 * x, 2 * y);
          s.moved_band[i] = Bilinear(other.band.data(), hw, hh, sx, sy);
        }
      }
    });
    // Where the global motion is off (a pan faster than the fit follows),
    // most of the picture disagrees: the neighbour counts less, or not at all.
    const float aligned = AlignedShare(s.disagreement, hw, hh, half, &s.sample);
    if (aligned == 0) continue;
    GaussianBlur(s.disagreement, hw, hh, kLocalSigma / 2, &s.local_disagreement, &s.half_scratch);
    // Another fine texture than the picture's (an object passing, noise of
    // the neighbour's own), or thin strokes that stay on the screen: out.
    TextureMatch(self.band, self.band_energy, s.moved_band, other.band, other.band_energy, hw, hh,
                 threaded, &s.texture, &s.weight);
    // Content that stays put on the screen while the camera moves (a
    // timecode, subtitles, a logo): there the neighbour unmoved matches the
    // picture better than moved, and it is left out.
    GaussianBlur(s.unmoved, hw, hh, kLocalSigma / 2, &s.local_unmoved, &s.half_scratch);
    for (size_t i = 0; i < half_size; ++i) {
      const float moved = s.local_disagreement[i];
      const bool on_screen = moved > kMovingFloor && s.local_unmoved[i] < kMovingRatio * moved;
      s.weight[i] *= on_screen ? 0.0f : aligned * std::exp(-moved / kAgreement);
    }
    const Displacement::Columns full_columns = field.ColumnsOf(w, 0.5f, -0.25f);
    // The neighbour's luma moved onto the picture (Catmull-Rom), weighted;
    // the weights brought to full size a row at a time (bilinear).
    RunInHalves(h, threaded, [&](int begin, int end) {
      std::vector<float> column(hw), weights(w), xs(w), ys(w), shift_xs(w), shift_ys(w), field_row;
      for (int y = begin; y < end; ++y) {
        const float hy =
            std::clamp(0.5f * static_cast<float>(y) - 0.25f, 0.0f, static_cast<float>(hh - 1));
        const int iy = std::min(static_cast<int>(hy), std::max(hh - 2, 0));
        const float fy = hy - static_cast<float>(iy);
        const float* top = &s.weight[static_cast<size_t>(iy) * hw];
        const float* bottom = hh > 1 ? top + hw : top;
        for (int x = 0; x < hw; ++x) column[x] = top[x] + fy * (bottom[x] - top[x]);
        for (int x = 0; x < w; ++x) {
          const float hx =
              std::clamp(0.5f * static_cast<float>(x) - 0.25f, 0.0f, static_cast<float>(hw - 1));
          const int ix = std::min(static_cast<int>(hx), std::max(hw - 2, 0));
          const float right = hw > 1 ? column[ix + 1] : column[ix];
          weights[x] = column[ix] + (hx - static_cast<float>(ix)) * (right - column[ix]);
        }
        const double row_x = map.b * y + map.c, row_y = map.e * y + map.f;
        field.Row(0.5f * static_cast<float>(y) - 0.25f, full_columns, 2, shift_xs.data(),
                  shift_ys.data(), &field_row);
        for (int x = 0; x < w; ++x) {
          xs[x] = static_cast<float>(map.a * x + row_x) + shift_xs[x];
          ys[x] = static_cast<float>(map.d * x + row_y) + shift_ys[x];
        }
        const RowTarget target{&s.numerator[static_cast<size_t>(y) * w],
                               &s.denominator[static_cast<size_t>(y) * w]};
        int x = 0;
#if defined(__x86_64__) || defined(__i386__)
        if (avx2)
          x = AccumulateRowAvx2(other.luma.data(), w, h, xs.data(), ys.data(), weights.data(),
                                target, 0, w);
#endif
        AccumulateRow(other.luma.data(), w, h, xs.data(), ys.data(), weights.data(), target, x, w);
      }
    });
  }
  const float scale = static_cast<float>(1 << (luma.bit_depth - 8));
  const int max_value = (1 << luma.bit_depth) - 1;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const size_t i = static_cast<size_t>(y) * w + x;
      const float value = s.numerator[i] / s.denominator[i] * scale;
      luma.Set(x, y, std::clamp(static_cast<int>(std::lround(value)), 0, max_value));
    }
  }
}

}  // namespace vidmill::filters
