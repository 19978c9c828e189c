#include "filters/deint.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <thread>

namespace vidmill::filters {
namespace {

// Mean absolute error (8-bit units) on a block's real lines above which its
// motion-compensated lines are not used.
// 16 keeps all but badly matched blocks (occlusions, new content): on the
// benchmark's pans, 3 → +0.0 dB, 8 → +1.3 dB, 16 and above → +2.1 dB over the
// motion-adaptive result.
constexpr float kMotionTolerance = 16.0f;

// The missing lines are this mix of the compensated and the motion-adaptive
// values. The previous output is itself partly reconstructed, so taking the
// compensated value alone (1.0) feeds errors back field after field: on the
// training photos (Autumn, FallenLeaf; bench/quality/run.sh split) 1.0 was
// 1.1 dB and 7.9 dB *below* 0.7, 0.6 and 0.8 within 0.4 dB of it.
constexpr float kCompensatedWeight = 0.7f;

// The block-matching error is taken on every kCostStepX-th pixel of every
// kCostStepY-th line (kept lines only): 2 and 4 cost nothing measurable in
// quality and make the search 8× cheaper than every pixel.
constexpr int kCostStepX = 2;
constexpr int kCostStepY = 4;

// The nearest row of parity `parity` to `y` inside [0, height).
int ClampRow(int y, int parity, int height) {
  while (y < 0) y += 2;
  while (y >= height) y -= 2;
  if (y < 0 || (y & 1) != parity) {
    // Plane too short for this parity (height 1): fall back to row 0.
    return std::clamp(y, 0, height - 1);
  }
  return y;
}

template <typename T>
void DeinterlaceRows(const PlaneView& before, const PlaneView& cur, const PlaneView& after,
                     const PlaneView& same_before, const PlaneView& same_after, int kept_parity,
                     const PlaneView& out, bool edge_directed, int row_begin, int row_end) {
  const int width = cur.width;
  const int height = cur.height;
  const int max_value = (1 << cur.bit_depth) - 1;
  auto row = [](const PlaneView& p, int y) {
    return reinterpret_cast<const T*>(p.data + p.stride * y);
  };
  for (int y = row_begin; y < row_end; ++y) {
    T* dst = reinterpret_cast<T*>(out.data + out.stride * y);
    if ((y & 1) == kept_parity || height < 2) {
      std::copy(row(cur, y), row(cur, y) + width, dst);
      continue;
    }
    const T* up = row(cur, ClampRow(y - 1, kept_parity, height));
    const T* down = row(cur, ClampRow(y + 1, kept_parity, height));
    const T* up3 = row(cur, ClampRow(y - 3, kept_parity, height));
    const T* down3 = row(cur, ClampRow(y + 3, kept_parity, height));
    const T* prev2_up = row(before, ClampRow(y - 2, 1 - kept_parity, height));
    const T* prev2_down = row(before, ClampRow(y + 2, 1 - kept_parity, height));
    const T* next2_up = row(after, ClampRow(y - 2, 1 - kept_parity, height));
    const T* next2_down = row(after, ClampRow(y + 2, 1 - kept_parity, height));
    const T* prev_line = row(before, y);
    const T* next_line = row(after, y);
    const T* sb_up = row(same_before, ClampRow(y - 1, kept_parity, height));
    const T* sb_down = row(same_before, ClampRow(y + 1, kept_parity, height));
    const T* sa_up = row(same_after, ClampRow(y - 1, kept_parity, height));
    const T* sa_down = row(same_after, ClampRow(y + 1, kept_parity, height));
    for (int x = 0; x < width; ++x) {
      const int c = up[x];
      const int e = down[x];
      const int a = prev_line[x];
      const int b = next_line[x];
      const int temporal = (a + b + 1) >> 1;
      const int diff0 = std::abs(a - b) >> 1;
      const int diff1 = (std::abs(sb_up[x] - c) + std::abs(sb_down[x] - e)) >> 1;
      const int diff2 = (std::abs(sa_up[x] - c) + std::abs(sa_down[x] - e)) >> 1;
      int diff = std::max({diff0, diff1, diff2});

      // Vertical: 4-tap cubic on the kept lines.
      int spatial = (5077 * (c + e) - 981 * (up3[x] + down3[x]) + 4096) >> 13;
      if (edge_directed && x >= 6 && x < width - 6) {
        auto cost = [&](int k) {
          return std::abs(up[x + k - 2] - down[x - k - 2]) +
                 std::abs(up[x + k - 1] - down[x - k - 1]) + std::abs(up[x + k] - down[x - k]) +
                 std::abs(up[x + k + 1] - down[x - k + 1]) +
                 std::abs(up[x + k + 2] - down[x - k + 2]);
        };
        const int vertical_cost = cost(0);
        int best_cost = vertical_cost / 2;
        // Walk each side outward while the slope keeps improving.
        for (int sign = -1; sign <= 1; sign += 2) {
          int prev_cost = best_cost;
          for (int k = 1; k <= 3; ++k) {
            int score = cost(sign * k);
            if (score >= prev_cost) break;
            prev_cost = score;
            if (score < best_cost) {
              best_cost = score;
              spatial = (up[x + sign * k] + down[x - sign * k] + 1) >> 1;
            }
          }
        }
      }
      if (diff == 0) {
        dst[x] = static_cast<T>(temporal);
        continue;
      }
      // yadif's extra check: the temporal neighbourhood may widen the band.
      // The temporal predictions of the kept lines above and below (b, f): where
      // the kept lines disagree with them the picture moves, however still the
      // missing line looked.
      const int b2 = (prev2_up[x] + next2_up[x] + 1) >> 1;
      const int f2 = (prev2_down[x] + next2_down[x] + 1) >> 1;
      const int max_v = std::max({temporal - e, temporal - c, std::min(b2 - c, f2 - e)});
      const int min_v = std::min({temporal - e, temporal - c, std::max(b2 - c, f2 - e)});
      diff = std::max({diff, min_v, -max_v});
      int value = std::clamp(spatial, temporal - diff, temporal + diff);
      dst[x] = static_cast<T>(std::clamp(value, 0, max_value));
    }
  }
}

// Catmull-Rom weights for the four taps around a fractional position t ∈ [0, 1).
void CubicWeights(float t, float* w) {
  w[0] = 0.5f * (-t + 2 * t * t - t * t * t);
  w[1] = 0.5f * (2 - 5 * t * t + 3 * t * t * t);
  w[2] = 0.5f * (t + 4 * t * t - 3 * t * t * t);
  w[3] = 0.5f * (-t * t + t * t * t);
}

}  // namespace

void MotionCompensateLuma(const std::vector<float>& previous, const PlaneView& out, int kept_parity,
                          std::vector<MotionVector>* vectors) {
  const int width = out.width;
  const int height = out.height;
  constexpr int kBlock = 16;
  const int blocks_x = (width + kBlock - 1) / kBlock;
  const int blocks_y = (height + kBlock - 1) / kBlock;
  vectors->resize(static_cast<size_t>(blocks_x) * blocks_y);
  const int max_value = (1 << out.bit_depth) - 1;
  const float scale = 255.0f / max_value;
  const float max_float = static_cast<float>(max_value);
  // The current field as floats, read many times by the search.
  std::vector<float> current(static_cast<size_t>(width) * height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) current[static_cast<size_t>(y) * width + x] = out.At(x, y);
  }
  auto prev_at = [&](int x, int y) {
    return previous[static_cast<size_t>(std::clamp(y, 0, height - 1)) * width +
                    std::clamp(x, 0, width - 1)];
  };

  auto run_rows = [&](int block_row_begin, int block_row_end) {
    for (int by = block_row_begin; by < block_row_end; ++by) {
      for (int bx = 0; bx < blocks_x; ++bx) {
        const int x0 = bx * kBlock, y0 = by * kBlock;
        const int x1 = std::min(x0 + kBlock, width), y1 = std::min(y0 + kBlock, height);
        const int first_kept = y0 + ((y0 & 1) != kept_parity);
        // Matching error of a vector on a sparse grid of the block's kept (real)
        // lines (every other kept line, every other pixel), cubic sub-pixel.
        auto cost = [&](float dx, float dy) {
          const int ix = static_cast<int>(std::floor(dx)), iy = static_cast<int>(std::floor(dy));
          float wx[4], wy[4];
          CubicWeights(dx - ix, wx);
          CubicWeights(dy - iy, wy);
          const bool integer = dx == ix && dy == iy;
          const bool interior =
              x0 + ix - 1 >= 0 && x1 + ix + 2 < width && y0 + iy - 1 >= 0 && y1 + iy + 2 < height;
          float sum = 0;
          int count = 0;
          for (int y = first_kept; y < y1; y += kCostStepY) {
            for (int x = x0; x < x1; x += kCostStepX) {
              float mc;
              if (integer) {
                mc = prev_at(x + ix, y + iy);
              } else if (interior) {
                const float* base = &previous[static_cast<size_t>(y + iy - 1) * width + x + ix - 1];
                mc = 0;
                for (int j = 0; j < 4; ++j) {
                  const float* row = base + static_cast<size_t>(j) * width;
                  mc += wy[j] * (wx[0] * row[0] + wx[1] * row[1] + wx[2] * row[2] + wx[3] * row[3]);
                }
              } else {
                mc = 0;
                for (int j = 0; j < 4; ++j) {
                  float line = 0;
                  for (int i = 0; i < 4; ++i)
                    line += wx[i] * prev_at(x + ix - 1 + i, y + iy - 1 + j);
                  mc += wy[j] * line;
                }
              }
              sum += std::abs(current[static_cast<size_t>(y) * width + x] - mc);
              ++count;
            }
          }
          return count ? sum / count : 0.0f;
        };
        MotionVector& vector = (*vectors)[static_cast<size_t>(by) * blocks_x + bx];
        // Predictive search: last field's vector here, the neighbours' vectors
        // found this field, zero; then integer steps, then half and quarter pixels.
        MotionVector best{0, 0};
        float best_cost = cost(0, 0);
        auto consider = [&](MotionVector candidate) {
          if (std::abs(candidate.dx) > 32 || std::abs(candidate.dy) > 32) return;
          float c = cost(candidate.dx, candidate.dy);
          if (c < best_cost) {
            best_cost = c;
            best = candidate;
          }
        };
        consider({std::round(vector.dx), std::round(vector.dy)});
        if (bx > 0) {
          const MotionVector& left = (*vectors)[static_cast<size_t>(by) * blocks_x + bx - 1];
          consider({std::round(left.dx), std::round(left.dy)});
        }
        if (by > block_row_begin) {
          const MotionVector& up = (*vectors)[static_cast<size_t>(by - 1) * blocks_x + bx];
          consider({std::round(up.dx), std::round(up.dy)});
        }
        for (float step : {1.0f, 0.5f, 0.25f}) {
          for (int iteration = 0; iteration < (step == 1.0f ? 8 : 1); ++iteration) {
            MotionVector center = best;
            for (int dy = -1; dy <= 1; ++dy) {
              for (int dx = -1; dx <= 1; ++dx) {
                if (dx || dy) consider({center.dx + dx * step, center.dy + dy * step});
              }
            }
            if (best.dx == center.dx && best.dy == center.dy) break;
          }
        }
        vector = best;
        // Trust the compensated field only where it matches the real lines.
        if (best_cost * scale > kMotionTolerance) continue;
        // The vector is constant over the block: its cubic weights too.
        const int ix = static_cast<int>(std::floor(best.dx));
        const int iy = static_cast<int>(std::floor(best.dy));
        float wx[4], wy[4];
        CubicWeights(best.dx - ix, wx);
        CubicWeights(best.dy - iy, wy);
        const bool interior =
            x0 + ix - 1 >= 0 && x1 + ix + 2 < width && y0 + iy - 1 >= 0 && y1 + iy + 2 < height;
        for (int y = y0 + ((y0 & 1) == kept_parity); y < y1; y += 2) {
          for (int x = x0; x < x1; ++x) {
            float mc = 0;
            for (int j = 0; j < 4; ++j) {
              const int sy = y + iy - 1 + j;
              float line = 0;
              if (interior) {
                const float* row = &previous[static_cast<size_t>(sy) * width + x + ix - 1];
                line = wx[0] * row[0] + wx[1] * row[1] + wx[2] * row[2] + wx[3] * row[3];
              } else {
                for (int i = 0; i < 4; ++i) line += wx[i] * prev_at(x + ix - 1 + i, sy);
              }
              mc += wy[j] * line;
            }
            mc = kCompensatedWeight * mc + (1 - kCompensatedWeight) * out.At(x, y);
            out.Set(x, y, static_cast<int>(std::clamp(mc, 0.0f, max_float) + 0.5f));
          }
        }
      }
    }
  };
  if (static_cast<int64_t>(width) * height < 200000) {
    run_rows(0, blocks_y);
    return;
  }
  std::thread helper(run_rows, blocks_y / 2, blocks_y);
  run_rows(0, blocks_y / 2);
  helper.join();
}

namespace {}  // namespace

void DeinterlacePlane(const PlaneView& before, const PlaneView& cur, const PlaneView& after,
                      const PlaneView& same_before, const PlaneView& same_after, int kept_parity,
                      const PlaneView& out, bool edge_directed) {
  const int height = cur.height;
  auto run = [&](int begin, int end) {
    if (cur.bit_depth > 8) {
      DeinterlaceRows<uint16_t>(before, cur, after, same_before, same_after, kept_parity, out,
                                edge_directed, begin, end);
    } else {
      DeinterlaceRows<uint8_t>(before, cur, after, same_before, same_after, kept_parity, out,
                               edge_directed, begin, end);
    }
  };
  if (static_cast<int64_t>(cur.width) * height < 200000) {
    run(0, height);
    return;
  }
  const int split = height / 2;
  std::thread helper(run, split, height);
  run(0, split);
  helper.join();
}

Result<std::unique_ptr<VideoFilter>> Deinterlacer::Create(const FilterConfig& config) {
  RETURN_IF_ERROR(config.input.Validate());
  RETURN_IF_ERROR(CheckProperties(config, "deint", {"edge_directed"}));
  ASSIGN_OR_RETURN(double edge_directed, DoubleProperty(config, "deint", "edge_directed", 0, 0, 1));
  if (edge_directed != 0 && edge_directed != 1) {
    return Status::InvalidArgument("deint: edge_directed must be 0 or 1");
  }
  if (config.output_width != 0 || config.output_height != 0) {
    return Status::InvalidArgument("deint does not scale: output size must be unset");
  }
  auto filter = std::unique_ptr<Deinterlacer>(new Deinterlacer(config));
  filter->edge_directed_ = edge_directed == 1;
  return std::unique_ptr<VideoFilter>(std::move(filter));
}

Status Deinterlacer::Push(const FrameView& in, int64_t pts) {
  if (flushed_) return Status::InvalidArgument("deint: Push after Flush");
  if (!(in.format == config_.input)) {
    return Status::InvalidArgument("deint: frame format differs from the configured input");
  }
  OwnedFrame frame = OwnedFrame::CopyOf(in);
  frame.pts = pts;
  window_.push_back(std::move(frame));
  if (!started_) {
    // Duplicate the first frame as its own predecessor.
    OwnedFrame copy = OwnedFrame::CopyOf(window_.back().view());
    copy.pts = pts;
    window_.push_front(std::move(copy));
    started_ = true;
  }
  if (window_.size() == 3) {
    EmitCurrent(&ready_);
    window_.pop_front();
  }
  return Status::Ok();
}

Status Deinterlacer::Flush() {
  if (flushed_) return Status::Ok();
  flushed_ = true;
  if (window_.size() == 2) {
    OwnedFrame copy = OwnedFrame::CopyOf(window_.back().view());
    copy.pts = window_.back().pts;
    window_.push_back(std::move(copy));
    EmitCurrent(&ready_);
    window_.clear();
  }
  return Status::Ok();
}

Status Deinterlacer::Pull(std::vector<OwnedFrame>* out) {
  for (OwnedFrame& frame : ready_) out->push_back(std::move(frame));
  ready_.clear();
  return Status::Ok();
}

void Deinterlacer::EmitCurrent(std::vector<OwnedFrame>* out) {
  const FrameView prev = window_[0].view();
  const FrameView cur = window_[1].view();
  const FrameView next = window_[2].view();
  const int first_parity = config_.top_field_first ? 0 : 1;
  const int fields = config_.field_rate ? 2 : 1;
  for (int field = 0; field < fields; ++field) {
    OwnedFrame result(config_.input);
    const FrameView dst = result.view();
    for (int plane = 0; plane < 3; ++plane) {
      if (field == 0) {
        // Missing lines: the second field of prev (before) and of cur (after).
        DeinterlacePlane(prev.planes[plane], cur.planes[plane], cur.planes[plane],
                         prev.planes[plane], next.planes[plane], first_parity, dst.planes[plane],
                         edge_directed_);
      } else {
        // Missing lines: the first field of cur (before) and of next (after).
        DeinterlacePlane(cur.planes[plane], cur.planes[plane], next.planes[plane],
                         prev.planes[plane], next.planes[plane], 1 - first_parity,
                         dst.planes[plane], edge_directed_);
      }
    }
    if (config_.field_rate) {
      // The previous output's kept lines are the real lines this field lacks:
      // bring them over along the motion.
      const PlaneView luma = dst.planes[0];
      const int kept = field == 0 ? first_parity : 1 - first_parity;
      if (!previous_luma_.empty()) {
        MotionCompensateLuma(previous_luma_, luma, kept, &vectors_);
      }
      previous_luma_.resize(static_cast<size_t>(luma.width) * luma.height);
      for (int y = 0; y < luma.height; ++y) {
        for (int x = 0; x < luma.width; ++x) {
          previous_luma_[static_cast<size_t>(y) * luma.width + x] = luma.At(x, y);
        }
      }
    }
    result.pts = window_[1].pts * fields + field;
    out->push_back(std::move(result));
  }
}

}  // namespace vidmill::filters
