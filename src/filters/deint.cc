#include "filters/deint.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace vidmill::filters {
namespace {

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
                     const PlaneView& out, int row_begin, int row_end) {
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
      if (x >= 4 && x < width - 4) {
        auto cost = [&](int k) {
          return std::abs(up[x + k - 1] - down[x - k - 1]) + std::abs(up[x + k] - down[x - k]) +
                 std::abs(up[x + k + 1] - down[x - k + 1]);
        };
        int best_cost = cost(0);
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

}  // namespace

void DeinterlacePlane(const PlaneView& before, const PlaneView& cur, const PlaneView& after,
                      const PlaneView& same_before, const PlaneView& same_after, int kept_parity,
                      const PlaneView& out) {
  const int height = cur.height;
  auto run = [&](int begin, int end) {
    if (cur.bit_depth > 8) {
      DeinterlaceRows<uint16_t>(before, cur, after, same_before, same_after, kept_parity, out,
                                begin, end);
    } else {
      DeinterlaceRows<uint8_t>(before, cur, after, same_before, same_after, kept_parity, out,
                               begin, end);
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
  RETURN_IF_ERROR(CheckProperties(config, "deint", {}));
  if (config.output_width != 0 || config.output_height != 0) {
    return Status::InvalidArgument("deint does not scale: output size must be unset");
  }
  return std::unique_ptr<VideoFilter>(new Deinterlacer(config));
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
                         prev.planes[plane], next.planes[plane], first_parity, dst.planes[plane]);
      } else {
        // Missing lines: the first field of cur (before) and of next (after).
        DeinterlacePlane(cur.planes[plane], cur.planes[plane], next.planes[plane],
                         prev.planes[plane], next.planes[plane], 1 - first_parity,
                         dst.planes[plane]);
      }
    }
    result.pts = window_[1].pts * fields + field;
    out->push_back(std::move(result));
  }
}

}  // namespace vidmill::filters
