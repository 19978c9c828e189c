#include "filters/denoise.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace vidmill::filters {
namespace {

// Pictures on each side of the current one.
constexpr int kRadius = 2;
// Luma block of the vector field, and the largest vector searched (pixels).
constexpr int kBlock = 16;
constexpr int kMaxVector = 64;
// Temporal weight of an aligned sample against z = (3×3 mean squared
// difference) / (2σ²): 1 up to kFullWeightZ, 0 from kZeroWeightZ, linear
// between. Chosen on the training photos.
constexpr float kFullWeightZ = 1.0f;
constexpr float kZeroWeightZ = 3.0f;
// Spatial stage: DCT coefficients below kThreshold × the residual σ are
// dropped; kStride is the step between overlapping 8×8 blocks.
constexpr float kThreshold = 2.7f;
constexpr int kStride = 4;

// A plane of float samples.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<float> data;

  void Resize(int w, int h) {
    width = w;
    height = h;
    data.assign(static_cast<size_t>(w) * h, 0.0f);
  }
  float* Row(int y) { return data.data() + static_cast<size_t>(y) * width; }
  const float* Row(int y) const { return data.data() + static_cast<size_t>(y) * width; }
  float Clamped(int x, int y) const {
    return Row(std::clamp(y, 0, height - 1))[std::clamp(x, 0, width - 1)];
  }
};

// Runs fn(begin, end) over [0, count) as two fixed halves on two threads: the
// split never changes, so neither does the output.
template <typename Fn>
void SplitInTwo(int count, const Fn& fn) {
  const int middle = count / 2;
  if (middle == 0) {
    fn(0, count);
    return;
  }
  std::thread other([&] { fn(middle, count); });
  fn(0, middle);
  other.join();
}

void ToImage(const PlaneView& plane, Image* image) {
  image->Resize(plane.width, plane.height);
  for (int y = 0; y < plane.height; ++y) {
    float* dst = image->Row(y);
    if (plane.bit_depth > 8) {
      const uint16_t* src = plane.Row16(y);
      for (int x = 0; x < plane.width; ++x) dst[x] = src[x];
    } else {
      const uint8_t* src = plane.Row8(y);
      for (int x = 0; x < plane.width; ++x) dst[x] = src[x];
    }
  }
}

double EstimateSigma(const Image& image) {
  if (image.width < 2 || image.height < 2) return 0;
  std::vector<float> details;
  details.reserve(static_cast<size_t>(image.width / 2) * (image.height / 2));
  for (int y = 0; y + 1 < image.height; y += 2) {
    const float* a = image.Row(y);
    const float* b = image.Row(y + 1);
    for (int x = 0; x + 1 < image.width; x += 2) {
      details.push_back(std::abs(a[x] - a[x + 1] - b[x] + b[x + 1]) * 0.5f);
    }
  }
  auto middle = details.begin() + static_cast<ptrdiff_t>(details.size() / 2);
  std::nth_element(details.begin(), middle, details.end());
  return *middle / 0.6745;
}

// [1 2 1] / 4 in both directions, edges clamped.
void Smooth(const Image& in, Image* out) {
  Image tmp;
  tmp.Resize(in.width, in.height);
  for (int y = 0; y < in.height; ++y) {
    const float* src = in.Row(y);
    float* dst = tmp.Row(y);
    for (int x = 0; x < in.width; ++x) {
      const float left = src[std::max(x - 1, 0)], right = src[std::min(x + 1, in.width - 1)];
      dst[x] = 0.25f * (left + right) + 0.5f * src[x];
    }
  }
  out->Resize(in.width, in.height);
  for (int y = 0; y < in.height; ++y) {
    const float* up = tmp.Row(std::max(y - 1, 0));
    const float* mid = tmp.Row(y);
    const float* down = tmp.Row(std::min(y + 1, in.height - 1));
    float* dst = out->Row(y);
    for (int x = 0; x < in.width; ++x) dst[x] = 0.25f * (up[x] + down[x]) + 0.5f * mid[x];
  }
}

void HalveSize(const Image& in, Image* out) {
  out->Resize((in.width + 1) / 2, (in.height + 1) / 2);
  for (int y = 0; y < out->height; ++y) {
    const float* a = in.Row(2 * y);
    const float* b = in.Row(std::min(2 * y + 1, in.height - 1));
    float* dst = out->Row(y);
    for (int x = 0; x < out->width; ++x) {
      const int x1 = std::min(2 * x + 1, in.width - 1);
      dst[x] = 0.25f * (a[2 * x] + a[x1] + b[2 * x] + b[x1]);
    }
  }
}

// Catmull-Rom weights of the four taps around a fraction t ∈ [0, 1).
void CubicWeights(float t, float* w) {
  w[0] = 0.5f * (-t + 2 * t * t - t * t * t);
  w[1] = 0.5f * (2 - 5 * t * t + 3 * t * t * t);
  w[2] = 0.5f * (t + 4 * t * t - 3 * t * t * t);
  w[3] = 0.5f * (-t * t + t * t * t);
}

using Vector = Denoiser::Vector;

// A rectangle of a plane.
struct Rect {
  int x0, y0, width, height;
};

// The vectors v for which `rect` moved by v (plus one pixel for bilinear
// interpolation) stays inside a plane of width × height: [lo, hi] per axis.
struct Range {
  int x_lo, x_hi, y_lo, y_hi;
};
Range VectorRange(const Rect& rect, int width, int height, int limit) {
  return Range{std::max(-rect.x0, -limit), std::min(width - 1 - (rect.x0 + rect.width), limit),
               std::max(-rect.y0, -limit), std::min(height - 1 - (rect.y0 + rect.height), limit)};
}

// Sum of absolute differences between `rect` of `cur` and of `ref` moved by an
// integer vector (inside the plane).
float IntegerCost(const Image& cur, const Image& ref, const Rect& rect, int vx, int vy) {
  float sum = 0;
  for (int y = 0; y < rect.height; ++y) {
    const float* a = cur.Row(rect.y0 + y) + rect.x0;
    const float* b = ref.Row(rect.y0 + y + vy) + rect.x0 + vx;
    float row = 0;
    for (int x = 0; x < rect.width; ++x) row += std::abs(a[x] - b[x]);
    sum += row;
  }
  return sum;
}

// The same with a fractional vector, bilinear.
float FractionalCost(const Image& cur, const Image& ref, const Rect& rect, Vector v) {
  const int ix = static_cast<int>(std::floor(v.dx)), iy = static_cast<int>(std::floor(v.dy));
  const float fx = v.dx - ix, fy = v.dy - iy;
  const float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
  float sum = 0;
  for (int y = 0; y < rect.height; ++y) {
    const float* a = cur.Row(rect.y0 + y) + rect.x0;
    const float* b0 = ref.Row(rect.y0 + y + iy) + rect.x0 + ix;
    const float* b1 = b0 + ref.width;
    float row = 0;
    for (int x = 0; x < rect.width; ++x) {
      row += std::abs(a[x] - (w00 * b0[x] + w01 * b0[x + 1] + w10 * b1[x] + w11 * b1[x + 1]));
    }
    sum += row;
  }
  return sum;
}

}  // namespace

struct Denoiser::Picture {
  int64_t pts = 0;
  std::array<Image, 3> planes;
  Image smooth;  // luma, [1 2 1]²
  Image half;    // smooth at half resolution
  std::array<double, 3> sigma{};
};

namespace {

using Picture = Denoiser::Picture;

// The vector field from `cur` to `ref` (one vector per kBlock² luma block).
// `previous` is the same field for the picture before (may be empty), `twice`
// the field to the picture half as far (may be empty).
void EstimateMotion(const Picture& cur, const Picture& ref, const std::vector<Vector>& previous,
                    const std::vector<Vector>& twice, int blocks_x, int blocks_y,
                    std::vector<Vector>* field) {
  field->assign(static_cast<size_t>(blocks_x) * blocks_y, Vector{});
  const Image& full = cur.smooth;
  auto search_rows = [&](int row_begin, int row_end) {
    for (int by = row_begin; by < row_end; ++by) {
      for (int bx = 0; bx < blocks_x; ++bx) {
        const size_t index = static_cast<size_t>(by) * blocks_x + bx;
        const Rect rect{bx * kBlock, by * kBlock, std::min(kBlock, full.width - bx * kBlock),
                        std::min(kBlock, full.height - by * kBlock)};
        // Half resolution: integer search from the best candidate.
        const Rect half_rect{rect.x0 / 2, rect.y0 / 2,
                             std::max(1, std::min(kBlock / 2, cur.half.width - rect.x0 / 2)),
                             std::max(1, std::min(kBlock / 2, cur.half.height - rect.y0 / 2))};
        const Range half_range =
            VectorRange(half_rect, cur.half.width + 1, cur.half.height + 1, kMaxVector / 2);
        int best_x = 0, best_y = 0;
        float best = IntegerCost(cur.half, ref.half, half_rect, 0, 0);
        auto consider = [&](int vx, int vy) {
          if (vx < half_range.x_lo || vx > half_range.x_hi || vy < half_range.y_lo ||
              vy > half_range.y_hi) {
            return;
          }
          const float cost = IntegerCost(cur.half, ref.half, half_rect, vx, vy);
          if (cost < best) {
            best = cost;
            best_x = vx;
            best_y = vy;
          }
        };
        auto consider_vector = [&](Vector v) {
          consider(static_cast<int>(std::lround(v.dx / 2)), static_cast<int>(std::lround(v.dy / 2)));
        };
        if (!previous.empty()) consider_vector(previous[index]);
        if (!twice.empty()) consider_vector(Vector{2 * twice[index].dx, 2 * twice[index].dy});
        if (bx > 0) consider_vector((*field)[index - 1]);
        if (by > row_begin) consider_vector((*field)[index - blocks_x]);
        for (int step = 0; step < 16; ++step) {
          const int center_x = best_x, center_y = best_y;
          for (int dy = -1; dy <= 1; ++dy) {
            for (int dx = -1; dx <= 1; ++dx) {
              if (dx || dy) consider(center_x + dx, center_y + dy);
            }
          }
          if (best_x == center_x && best_y == center_y) break;
        }
        // Full resolution: integer, then half and quarter pixel.
        const Range range = VectorRange(rect, full.width, full.height, kMaxVector);
        if (range.x_lo > range.x_hi || range.y_lo > range.y_hi) {
          (*field)[index] = Vector{};
          continue;
        }
        Vector v{std::clamp(2.0f * best_x, static_cast<float>(range.x_lo),
                            static_cast<float>(range.x_hi)),
                 std::clamp(2.0f * best_y, static_cast<float>(range.y_lo),
                            static_cast<float>(range.y_hi))};
        float best_cost = FractionalCost(full, ref.smooth, rect, v);
        for (float step : {1.0f, 0.5f, 0.25f}) {
          for (int round = 0; round < (step == 1.0f ? 2 : 1); ++round) {
            const Vector center = v;
            for (int dy = -1; dy <= 1; ++dy) {
              for (int dx = -1; dx <= 1; ++dx) {
                if (!dx && !dy) continue;
                const Vector candidate{center.dx + dx * step, center.dy + dy * step};
                if (candidate.dx < range.x_lo || candidate.dx > range.x_hi ||
                    candidate.dy < range.y_lo || candidate.dy > range.y_hi) {
                  continue;
                }
                const float cost = FractionalCost(full, ref.smooth, rect, candidate);
                if (cost < best_cost) {
                  best_cost = cost;
                  v = candidate;
                }
              }
            }
            if (v.dx == center.dx && v.dy == center.dy) break;
          }
        }
        (*field)[index] = v;
      }
    }
  };
  SplitInTwo(blocks_y, search_rows);
}

// `ref`'s plane moved along the field onto the current picture (Catmull-Rom),
// rows [row_begin, row_end) of the plane.
void Compensate(const Image& ref, const std::vector<Vector>& field, int blocks_x, int shift_x,
                int shift_y, int row_begin, int row_end, Image* out) {
  const int block_w = kBlock >> shift_x, block_h = kBlock >> shift_y;
  for (int y = row_begin; y < row_end; ++y) {
    const int by = y / block_h;
    float* dst = out->Row(y);
    for (int bx = 0; bx * block_w < ref.width; ++bx) {
      const Vector& v = field[static_cast<size_t>(by) * blocks_x + bx];
      const float dx = v.dx / (1 << shift_x), dy = v.dy / (1 << shift_y);
      const int ix = static_cast<int>(std::floor(dx)), iy = static_cast<int>(std::floor(dy));
      float wx[4], wy[4];
      CubicWeights(dx - ix, wx);
      CubicWeights(dy - iy, wy);
      const int x0 = bx * block_w, x1 = std::min(x0 + block_w, ref.width);
      const int sy = y + iy;
      if (x0 + ix - 1 >= 0 && x1 + ix + 2 <= ref.width && sy - 1 >= 0 && sy + 2 < ref.height) {
        const float* r0 = ref.Row(sy - 1) + ix - 1;
        const float* r1 = ref.Row(sy) + ix - 1;
        const float* r2 = ref.Row(sy + 1) + ix - 1;
        const float* r3 = ref.Row(sy + 2) + ix - 1;
        for (int x = x0; x < x1; ++x) {
          float sum = 0;
          for (int i = 0; i < 4; ++i) {
            sum += wx[i] * (wy[0] * r0[x + i] + wy[1] * r1[x + i] + wy[2] * r2[x + i] +
                            wy[3] * r3[x + i]);
          }
          dst[x] = sum;
        }
      } else {
        for (int x = x0; x < x1; ++x) {
          float sum = 0;
          for (int j = 0; j < 4; ++j) {
            float line = 0;
            for (int i = 0; i < 4; ++i) line += wx[i] * ref.Clamped(x + ix - 1 + i, sy - 1 + j);
            sum += wy[j] * line;
          }
          dst[x] = sum;
        }
      }
    }
  }
}

// The orthonormal 8-point DCT-II matrix, basis[u][x].
struct DctBasis {
  float m[8][8];
  DctBasis() {
    for (int u = 0; u < 8; ++u) {
      for (int x = 0; x < 8; ++x) {
        m[u][x] = static_cast<float>((u == 0 ? std::sqrt(0.125) : 0.5) *
                                     std::cos((2 * x + 1) * u * 3.14159265358979 / 16));
      }
    }
  }
};

// Hard-thresholds one 8×8 block in place; returns the number of kept
// coefficients.
int ShrinkBlock(float block[8][8], float threshold) {
  static const DctBasis basis;
  float tmp[8][8], coef[8][8];
  // Rows, then columns.
  for (int y = 0; y < 8; ++y) {
    for (int u = 0; u < 8; ++u) {
      float sum = 0;
      for (int x = 0; x < 8; ++x) sum += basis.m[u][x] * block[y][x];
      tmp[y][u] = sum;
    }
  }
  int kept = 0;
  for (int v = 0; v < 8; ++v) {
    for (int u = 0; u < 8; ++u) {
      float sum = 0;
      for (int y = 0; y < 8; ++y) sum += basis.m[v][y] * tmp[y][u];
      const bool keep = (u == 0 && v == 0) || std::abs(sum) >= threshold;
      coef[v][u] = keep ? sum : 0.0f;
      kept += keep;
    }
  }
  for (int y = 0; y < 8; ++y) {
    for (int u = 0; u < 8; ++u) {
      float sum = 0;
      for (int v = 0; v < 8; ++v) sum += basis.m[v][y] * coef[v][u];
      tmp[y][u] = sum;
    }
  }
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) {
      float sum = 0;
      for (int u = 0; u < 8; ++u) sum += basis.m[u][x] * tmp[y][u];
      block[y][x] = sum;
    }
  }
  return kept;
}

// Block positions 0, kStride, … and the last one flush with the edge.
std::vector<int> BlockStarts(int size) {
  std::vector<int> starts;
  for (int p = 0; p + 8 <= size; p += kStride) starts.push_back(p);
  if (!starts.empty() && starts.back() + 8 < size) starts.push_back(size - 8);
  return starts;
}

// Spatial stage on rows [row_begin, row_end): `in` denoised by overlapping DCT
// shrinkage with per-block thresholds from `residual` (the noise variance left
// per sample, in units of σ²) into `out`.
void SpatialRows(const Image& in, const Image& residual, double sigma, int row_begin, int row_end,
                 Image* out) {
  if (in.width < 8 || in.height < 8 || sigma <= 0) {
    for (int y = row_begin; y < row_end; ++y) std::copy(in.Row(y), in.Row(y) + in.width, out->Row(y));
    return;
  }
  const std::vector<int> xs = BlockStarts(in.width), ys = BlockStarts(in.height);
  const int rows = row_end - row_begin;
  std::vector<float> acc(static_cast<size_t>(rows) * in.width, 0.0f);
  std::vector<float> weight(acc.size(), 0.0f);
  float block[8][8];
  for (int y0 : ys) {
    if (y0 + 8 <= row_begin || y0 >= row_end) continue;
    for (int x0 : xs) {
      float variance = 0;
      for (int j = 0; j < 8; ++j) {
        const float* src = in.Row(y0 + j) + x0;
        const float* res = residual.Row(y0 + j) + x0;
        for (int i = 0; i < 8; ++i) {
          block[j][i] = src[i];
          variance += res[i];
        }
      }
      const float threshold = kThreshold * static_cast<float>(sigma) * std::sqrt(variance / 64);
      const float w = 1.0f / (1 + ShrinkBlock(block, threshold));
      for (int j = 0; j < 8; ++j) {
        const int y = y0 + j;
        if (y < row_begin || y >= row_end) continue;
        float* a = acc.data() + static_cast<size_t>(y - row_begin) * in.width + x0;
        float* s = weight.data() + static_cast<size_t>(y - row_begin) * in.width + x0;
        for (int i = 0; i < 8; ++i) {
          a[i] += w * block[j][i];
          s[i] += w;
        }
      }
    }
  }
  for (int y = row_begin; y < row_end; ++y) {
    const float* a = acc.data() + static_cast<size_t>(y - row_begin) * in.width;
    const float* s = weight.data() + static_cast<size_t>(y - row_begin) * in.width;
    float* dst = out->Row(y);
    for (int x = 0; x < in.width; ++x) dst[x] = a[x] / s[x];
  }
}

// 3×3 mean of a plane, rows [row_begin, row_end), edges clamped.
void BoxRows(const Image& in, int row_begin, int row_end, Image* out) {
  std::vector<float> line(static_cast<size_t>(in.width));
  for (int y = row_begin; y < row_end; ++y) {
    const float* up = in.Row(std::max(y - 1, 0));
    const float* mid = in.Row(y);
    const float* down = in.Row(std::min(y + 1, in.height - 1));
    for (int x = 0; x < in.width; ++x) line[x] = up[x] + mid[x] + down[x];
    float* dst = out->Row(y);
    for (int x = 0; x < in.width; ++x) {
      const float left = line[std::max(x - 1, 0)], right = line[std::min(x + 1, in.width - 1)];
      dst[x] = (left + line[x] + right) * (1.0f / 9);
    }
  }
}

}  // namespace

double EstimateNoiseSigma(const PlaneView& plane) {
  Image image;
  ToImage(plane, &image);
  return EstimateSigma(image);
}

Result<std::unique_ptr<VideoFilter>> Denoiser::Create(const FilterConfig& config) {
  RETURN_IF_ERROR(config.input.Validate());
  RETURN_IF_ERROR(CheckProperties(config, "denoise", {"sigma", "strength"}));
  ASSIGN_OR_RETURN(double sigma, DoubleProperty(config, "denoise", "sigma", 0.0, 0.0, 100.0));
  ASSIGN_OR_RETURN(double strength, DoubleProperty(config, "denoise", "strength", 1.0, 0.0, 4.0));
  sigma *= config.input.max_value() / 255.0;
  return std::unique_ptr<VideoFilter>(new Denoiser(config, sigma, strength));
}

Denoiser::Denoiser(const FilterConfig& config, double sigma, double strength)
    : config_(config), fixed_sigma_(sigma), strength_(strength) {}

Denoiser::~Denoiser() = default;

Status Denoiser::Push(const FrameView& in, int64_t pts) {
  if (flushed_) return Status::InvalidArgument("denoise: Push after Flush");
  if (!(in.format == config_.input)) {
    return Status::InvalidArgument("denoise: frame format differs from the configured input");
  }
  auto picture = std::make_unique<Picture>();
  picture->pts = pts;
  for (int plane = 0; plane < 3; ++plane) {
    ToImage(in.planes[plane], &picture->planes[plane]);
    picture->sigma[plane] =
        strength_ * (fixed_sigma_ > 0 ? fixed_sigma_ : EstimateSigma(picture->planes[plane]));
  }
  Smooth(picture->planes[0], &picture->smooth);
  HalveSize(picture->smooth, &picture->half);
  window_.push_back(std::move(picture));
  while (current_ + kRadius < window_.size()) {
    EmitCurrent();
    ++current_;
    while (current_ > static_cast<size_t>(kRadius)) {
      window_.pop_front();
      --current_;
    }
  }
  return Status::Ok();
}

Status Denoiser::Pull(std::vector<OwnedFrame>* out) {
  for (OwnedFrame& frame : ready_) out->push_back(std::move(frame));
  ready_.clear();
  return Status::Ok();
}

Status Denoiser::Flush() {
  if (flushed_) return Status::Ok();
  flushed_ = true;
  while (current_ < window_.size()) {
    EmitCurrent();
    ++current_;
  }
  window_.clear();
  current_ = 0;
  return Status::Ok();
}

void Denoiser::EmitCurrent() {
  const Picture& cur = *window_[current_];
  const PixelFormat& format = config_.input;
  const int blocks_x = (format.width + kBlock - 1) / kBlock;
  const int blocks_y = (format.height + kBlock - 1) / kBlock;

  // The neighbours present, nearest first so that the far ones can start
  // from twice the near one's vectors.
  struct Neighbour {
    int slot;  // index into previous_fields_: offsets −2, −1, +1, +2
    const Picture* picture;
    std::vector<Vector> field;
  };
  std::vector<Neighbour> neighbours;
  for (int offset : {-1, 1, -2, 2}) {
    const ptrdiff_t index = static_cast<ptrdiff_t>(current_) + offset;
    if (index < 0 || index >= static_cast<ptrdiff_t>(window_.size())) continue;
    const int slot = offset < 0 ? offset + 2 : offset + 1;
    const std::vector<Vector>* twice = nullptr;
    for (const Neighbour& near : neighbours) {
      if (std::abs(offset) == 2 && near.slot == (offset < 0 ? 1 : 2)) twice = &near.field;
    }
    Neighbour neighbour{slot, window_[index].get(), {}};
    std::vector<Vector>& previous = previous_fields_[slot];
    if (previous.size() != static_cast<size_t>(blocks_x) * blocks_y) previous.clear();
    EstimateMotion(cur, *neighbour.picture, previous, twice ? *twice : std::vector<Vector>{},
                   blocks_x, blocks_y, &neighbour.field);
    neighbours.push_back(std::move(neighbour));
  }
  for (int slot = 0; slot < 4; ++slot) previous_fields_[slot].clear();
  for (const Neighbour& neighbour : neighbours) previous_fields_[neighbour.slot] = neighbour.field;

  OwnedFrame output(format);
  output.pts = cur.pts;
  for (int plane = 0; plane < 3; ++plane) {
    const Image& center = cur.planes[plane];
    const int width = center.width, height = center.height;
    const int shift_x = plane ? ChromaShiftX(format.chroma) : 0;
    const int shift_y = plane ? ChromaShiftY(format.chroma) : 0;
    const double sigma = cur.sigma[plane];
    const float inv_noise = sigma > 0 ? static_cast<float>(1.0 / (2 * sigma * sigma)) : 0.0f;
    const size_t count = neighbours.size();
    std::vector<Image> aligned(count), distance(count);
    Image temporal, residual, result;
    for (size_t k = 0; k < count; ++k) {
      aligned[k].Resize(width, height);
      distance[k].Resize(width, height);
    }
    temporal.Resize(width, height);
    residual.Resize(width, height);
    result.Resize(width, height);
    std::vector<Image> squares(count);
    for (size_t k = 0; k < count; ++k) squares[k].Resize(width, height);

    // Each half compensates its own rows; the box filter, which reads one row
    // beyond, runs once both are done.
    auto compensate_rows = [&](int row_begin, int row_end) {
      for (size_t k = 0; k < count; ++k) {
        Compensate(neighbours[k].picture->planes[plane], neighbours[k].field, blocks_x, shift_x,
                   shift_y, row_begin, row_end, &aligned[k]);
        for (int y = row_begin; y < row_end; ++y) {
          const float* a = aligned[k].Row(y);
          const float* c = center.Row(y);
          float* d = squares[k].Row(y);
          for (int x = 0; x < width; ++x) d[x] = (a[x] - c[x]) * (a[x] - c[x]);
        }
      }
    };
    SplitInTwo(height, compensate_rows);
    auto fuse_rows = [&](int row_begin, int row_end) {
      for (size_t k = 0; k < count; ++k) BoxRows(squares[k], row_begin, row_end, &distance[k]);
      for (int y = row_begin; y < row_end; ++y) {
        const float* c = center.Row(y);
        float* t = temporal.Row(y);
        float* r = residual.Row(y);
        for (int x = 0; x < width; ++x) {
          float sum = c[x], total = 1, total_squared = 1;
          for (size_t k = 0; k < count; ++k) {
            const float z = distance[k].Row(y)[x] * inv_noise;
            const float w = std::clamp((kZeroWeightZ - z) * (1.0f / (kZeroWeightZ - kFullWeightZ)),
                                       0.0f, 1.0f);
            sum += w * aligned[k].Row(y)[x];
            total += w;
            total_squared += w * w;
          }
          t[x] = sum / total;
          r[x] = total_squared / (total * total);
        }
      }
    };
    SplitInTwo(height, fuse_rows);
    SplitInTwo(height, [&](int row_begin, int row_end) {
      SpatialRows(temporal, residual, sigma, row_begin, row_end, &result);
    });

    const PlaneView dst = output.plane(plane);
    const float max_value = static_cast<float>(format.max_value());
    for (int y = 0; y < height; ++y) {
      const float* src = result.Row(y);
      for (int x = 0; x < width; ++x) {
        dst.Set(x, y, static_cast<int>(std::lround(std::clamp(src[x], 0.0f, max_value))));
      }
    }
  }
  ready_.push_back(std::move(output));
}

}  // namespace vidmill::filters
