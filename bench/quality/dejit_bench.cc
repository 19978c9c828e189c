#include "dejit_bench.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "filters/filter.h"
#include "filters/frame.h"
#include "raw_video.h"

namespace vidmill::filters {
namespace {

// A luma plane as floats, with edge-clamped and Catmull-Rom access.
struct Luma {
  int width = 0, height = 0;
  std::vector<float> data;

  float At(int x, int y) const {
    return data[static_cast<size_t>(std::clamp(y, 0, height - 1)) * width +
                std::clamp(x, 0, width - 1)];
  }
  float Cubic(double x, double y) const {
    const int ix = static_cast<int>(std::floor(x)), iy = static_cast<int>(std::floor(y));
    const double fx = x - ix, fy = y - iy;
    auto weights = [](double t, double* w) {
      w[0] = 0.5 * (-t + 2 * t * t - t * t * t);
      w[1] = 0.5 * (2 - 5 * t * t + 3 * t * t * t);
      w[2] = 0.5 * (t + 4 * t * t - 3 * t * t * t);
      w[3] = 0.5 * (-t * t + t * t * t);
    };
    double wx[4], wy[4];
    weights(fx, wx);
    weights(fy, wy);
    double sum = 0;
    for (int j = 0; j < 4; ++j) {
      double row = 0;
      for (int i = 0; i < 4; ++i) row += wx[i] * At(ix - 1 + i, iy - 1 + j);
      sum += wy[j] * row;
    }
    return static_cast<float>(sum);
  }
  Luma Downscale(int factor) const {
    Luma out;
    out.width = width / factor;
    out.height = height / factor;
    out.data.resize(static_cast<size_t>(out.width) * out.height);
    for (int y = 0; y < out.height; ++y) {
      for (int x = 0; x < out.width; ++x) {
        float sum = 0;
        for (int j = 0; j < factor; ++j) {
          for (int i = 0; i < factor; ++i) sum += At(x * factor + i, y * factor + j);
        }
        out.data[static_cast<size_t>(y) * out.width + x] = sum / (factor * factor);
      }
    }
    return out;
  }
};

Luma LumaOf(const PlaneView& plane) {
  Luma luma;
  luma.width = plane.width;
  luma.height = plane.height;
  luma.data.resize(static_cast<size_t>(plane.width) * plane.height);
  for (int y = 0; y < plane.height; ++y) {
    for (int x = 0; x < plane.width; ++x) {
      luma.data[static_cast<size_t>(y) * plane.width + x] = static_cast<float>(plane.At(x, y));
    }
  }
  return luma;
}

// The similarity mapping TEST pixels onto REF: ref(c + t + [s −r; r s](p − c)) ≈ test(p).
struct Similarity {
  double tx = 0, ty = 0, s = 1, r = 0;
};

constexpr int kBlock = 48;

// The displacement v of the TEST block with top-left (bx, by) in REF: ref(p + v) ≈ test(p).
std::array<double, 2> MatchBlock(const Luma& ref, const Luma& test, const Luma& ref4,
                                 const Luma& test4, int bx, int by) {
  // Integer search on the 4× downscale.
  auto sad4 = [&](int dx, int dy) {
    double sum = 0;
    for (int y = by / 4; y < (by + kBlock) / 4; ++y) {
      for (int x = bx / 4; x < (bx + kBlock) / 4; ++x) {
        sum += std::abs(test4.At(x, y) - ref4.At(x + dx, y + dy));
      }
    }
    return sum;
  };
  int best_x = 0, best_y = 0;
  double best = 1e300;
  for (int dy = -12; dy <= 12; ++dy) {
    for (int dx = -12; dx <= 12; ++dx) {
      const double cost = sad4(dx, dy) + 1e-6 * (std::abs(dx) + std::abs(dy));
      if (cost < best) {
        best = cost;
        best_x = dx;
        best_y = dy;
      }
    }
  }
  auto ssd = [&](double dx, double dy) {
    double sum = 0;
    const bool integer = dx == std::floor(dx) && dy == std::floor(dy);
    for (int y = by; y < by + kBlock; ++y) {
      for (int x = bx; x < bx + kBlock; ++x) {
        const double value = integer ? ref.At(x + static_cast<int>(dx), y + static_cast<int>(dy))
                                     : ref.Cubic(x + dx, y + dy);
        const double d = test.At(x, y) - value;
        sum += d * d;
      }
    }
    return sum;
  };
  double vx = best_x * 4, vy = best_y * 4;
  best = 1e300;
  double cx = vx, cy = vy;
  for (int dy = -4; dy <= 4; ++dy) {
    for (int dx = -4; dx <= 4; ++dx) {
      const double cost = ssd(cx + dx, cy + dy);
      if (cost < best) {
        best = cost;
        vx = cx + dx;
        vy = cy + dy;
      }
    }
  }
  for (double step : {0.5, 0.25, 0.125}) {
    cx = vx;
    cy = vy;
    double costs[3][3];
    for (int dy = -1; dy <= 1; ++dy) {
      for (int dx = -1; dx <= 1; ++dx) {
        costs[dy + 1][dx + 1] = (dx || dy) ? ssd(cx + dx * step, cy + dy * step) : best;
        if (costs[dy + 1][dx + 1] < best) {
          best = costs[dy + 1][dx + 1];
          vx = cx + dx * step;
          vy = cy + dy * step;
        }
      }
    }
    if (step == 0.125 && vx == cx && vy == cy) {
      // A parabola through the last three costs on each axis.
      auto vertex = [](double left, double mid, double right) {
        const double denominator = left - 2 * mid + right;
        return denominator > 0 ? std::clamp(0.5 * (left - right) / denominator, -0.5, 0.5) : 0.0;
      };
      vx += step * vertex(costs[1][0], costs[1][1], costs[1][2]);
      vy += step * vertex(costs[0][1], costs[1][1], costs[2][1]);
    }
  }
  return {vx, vy};
}

Similarity FitSimilarity(const Luma& ref, const Luma& test) {
  const Luma ref4 = ref.Downscale(4), test4 = test.Downscale(4);
  const double cx = (test.width - 1) / 2.0, cy = (test.height - 1) / 2.0;
  struct Sample {
    double x, y, vx, vy;
  };
  std::vector<Sample> samples;
  for (int j = 0; j < 5; ++j) {
    for (int i = 0; i < 7; ++i) {
      const int bx = static_cast<int>(0.1 * test.width + (0.8 * test.width - kBlock) * i / 6);
      const int by = static_cast<int>(0.1 * test.height + (0.8 * test.height - kBlock) * j / 4);
      auto v = MatchBlock(ref, test, ref4, test4, bx, by);
      samples.push_back({bx + kBlock / 2.0 - 0.5 - cx, by + kBlock / 2.0 - 0.5 - cy, v[0], v[1]});
    }
  }
  // v = t + [a −b; b a] p, least squares over the kept samples.
  auto fit = [&](const std::vector<bool>& keep) {
    double h[4][5] = {};
    for (size_t k = 0; k < samples.size(); ++k) {
      if (!keep[k]) continue;
      const Sample& s = samples[k];
      const double rows[2][4] = {{1, 0, s.x, -s.y}, {0, 1, s.y, s.x}};
      const double values[2] = {s.vx, s.vy};
      for (int e = 0; e < 2; ++e) {
        for (int r = 0; r < 4; ++r) {
          for (int c = 0; c < 4; ++c) h[r][c] += rows[e][r] * rows[e][c];
          h[r][4] += rows[e][r] * values[e];
        }
      }
    }
    for (int col = 0; col < 4; ++col) {
      int pivot = col;
      for (int r = col + 1; r < 4; ++r) {
        if (std::abs(h[r][col]) > std::abs(h[pivot][col])) pivot = r;
      }
      std::swap(h[col], h[pivot]);
      for (int r = 0; r < 4; ++r) {
        if (r == col || h[col][col] == 0) continue;
        const double factor = h[r][col] / h[col][col];
        for (int c = col; c < 5; ++c) h[r][c] -= factor * h[col][c];
      }
    }
    std::array<double, 4> p{};
    for (int r = 0; r < 4; ++r) p[r] = h[r][r] != 0 ? h[r][4] / h[r][r] : 0;
    return p;
  };
  std::vector<bool> keep(samples.size(), true);
  std::array<double, 4> p = fit(keep);
  std::vector<double> errors;
  for (const Sample& s : samples) {
    errors.push_back(
        std::hypot(p[0] + p[2] * s.x - p[3] * s.y - s.vx, p[1] + p[3] * s.x + p[2] * s.y - s.vy));
  }
  std::vector<double> sorted = errors;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const double limit = std::max(0.25, 3 * sorted[sorted.size() / 2]);
  for (size_t k = 0; k < samples.size(); ++k) keep[k] = errors[k] <= limit;
  p = fit(keep);
  return Similarity{p[0], p[1], 1 + p[2], p[3]};
}

// 1 when an edge line of `test` is largely black where REF's is not.
bool HasBlackEdge(const PlaneView& ref, const PlaneView& test) {
  auto dark_fraction = [](const PlaneView& plane, bool row, int index) {
    const int length = row ? plane.width : plane.height;
    int dark = 0;
    for (int k = 0; k < length; ++k) {
      if ((row ? plane.At(k, index) : plane.At(index, k)) <= 20) ++dark;
    }
    return static_cast<double>(dark) / length;
  };
  const std::array<std::pair<bool, int>, 4> edges = {
      {{true, 0}, {true, test.height - 1}, {false, 0}, {false, test.width - 1}}};
  for (const auto& [row, index] : edges) {
    if (dark_fraction(test, row, index) >= 0.25 && dark_fraction(ref, row, index) < 0.05) {
      return true;
    }
  }
  return false;
}

// Row shifts: for each row of `warped` (REF aligned to TEST, whose pixel
// (x0, y0) is warped's (0, 0)), the horizontal displacement d with
// test(x0 + x, y0 + y) ≈ warped(x + d, y): an integer search over ±4 px, then
// Gauss-Newton with Catmull-Rom interpolation. NaN where the row has too
// little horizontal detail (mean |gradient| under 1 code value) to tell.
std::vector<double> RowShifts(const Luma& warped, const Luma& test, int x0, int y0) {
  const int w = warped.width;
  const int margin = 8;  // columns left out at each end, so shifted samples stay inside
  std::vector<double> shifts(warped.height, std::nan(""));
  for (int y = 0; y < warped.height; ++y) {
    const float* row = &warped.data[static_cast<size_t>(y) * w];
    auto ref_at = [&](double x) {  // Catmull-Rom along the row
      const int i = static_cast<int>(std::floor(x));
      const double t = x - i;
      auto at = [&](int k) { return static_cast<double>(row[std::clamp(k, 0, w - 1)]); };
      const double a = at(i - 1), b = at(i), c = at(i + 1), e = at(i + 2);
      return b + 0.5 * t * (c - a + t * (2 * a - 5 * b + 4 * c - e + t * (3 * (b - c) + e - a)));
    };
    double detail = 0;
    for (int x = margin; x < w - margin; ++x) {
      detail += std::abs(warped.At(x + 1, y) - warped.At(x - 1, y)) / 2;
    }
    if (detail / (w - 2 * margin) < 1.0) continue;
    double best = 1e300, d = 0;
    for (int dx = -4; dx <= 4; ++dx) {
      double cost = 0;
      for (int x = margin; x < w - margin; ++x) {
        const double e = test.At(x0 + x, y0 + y) - warped.At(x + dx, y);
        cost += e * e;
      }
      if (cost < best) {
        best = cost;
        d = dx;
      }
    }
    for (int iteration = 0; iteration < 8; ++iteration) {
      double gr = 0, gg = 0;
      for (int x = margin; x < w - margin; ++x) {
        const double g = ref_at(x + d + 0.5) - ref_at(x + d - 0.5);
        const double r = test.At(x0 + x, y0 + y) - ref_at(x + d);
        gr += g * r;
        gg += g * g;
      }
      if (gg <= 0) break;
      const double step = std::clamp(gr / gg, -0.5, 0.5);
      d += step;
      if (std::abs(step) < 0.001) break;
    }
    shifts[y] = d;
  }
  return shifts;
}

// Adds one picture's line jitter — each measured row shift minus the mean of
// the measured shifts within ±7 rows (the slow part: a skew or bend the
// similarity did not take up), where at least 8 rows of that window were
// measured — to the squared sum and count.
void AddLineJitter(const std::vector<double>& shifts, double* sum, int64_t* count) {
  const int rows = static_cast<int>(shifts.size());
  for (int y = 0; y < rows; ++y) {
    if (std::isnan(shifts[y])) continue;
    double mean = 0;
    int n = 0;
    for (int k = std::max(0, y - 7); k <= std::min(rows - 1, y + 7); ++k) {
      if (std::isnan(shifts[k])) continue;
      mean += shifts[k];
      ++n;
    }
    if (n < 8) continue;
    mean /= n;
    *sum += (shifts[y] - mean) * (shifts[y] - mean);
    ++*count;
  }
}

}  // namespace

int DejitCommand(int argc, char** argv) {
  if (argc != 6) return 1;
  std::vector<uint8_t> in = ReadFile(argv[2]);
  const int width = std::atoi(argv[3]), height = std::atoi(argv[4]);
  FilterConfig config;
  config.input = PixelFormat{width, height, 8, Chroma::k420};
  if (const char* smoothing = std::getenv("DEJIT_SMOOTHING")) {
    config.properties["smoothing"] = smoothing;
  }
  if (const char* lines = std::getenv("DEJIT_LINES")) config.properties["lines"] = lines;
  if (const char* fields = std::getenv("DEJIT_FIELDS")) config.properties["fields"] = fields;
  return RunFilterOverFile("dejit", config, in, argv[5]);
}

int JitterCommand(int argc, char** argv) {
  if (argc != 6) return 1;
  std::vector<uint8_t> ref = ReadFile(argv[2]);
  std::vector<uint8_t> test = ReadFile(argv[3]);
  const int width = std::atoi(argv[4]), height = std::atoi(argv[5]);
  const size_t frames = std::min(ref.size(), test.size()) / FrameBytes(width, height);
  std::vector<Similarity> fits;
  std::vector<double> crops;
  int black = 0;
  double psnr_sum = 0, line_sum = 0;
  int64_t line_count = 0;
  for (size_t n = 0; n < frames; ++n) {
    const PlaneView ref_plane = ViewAt(ref, width, height, n).planes[0];
    const PlaneView test_plane = ViewAt(test, width, height, n).planes[0];
    const Luma ref_luma = LumaOf(ref_plane), test_luma = LumaOf(test_plane);
    const Similarity fit = FitSimilarity(ref_luma, test_luma);
    if (std::getenv("JITTER_PER_FRAME")) {
      std::fprintf(stderr, "%zu %.3f %.3f %.5f %.5f\n", n, fit.tx, fit.ty, fit.s, fit.r);
    }
    fits.push_back(fit);
    crops.push_back(1 - fit.s * fit.s);
    if (HasBlackEdge(ref_plane, test_plane)) ++black;
    // REF warped by the fitted similarity onto TEST's pixels, central 90 %.
    const double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0;
    const int x0 = width / 20, x1 = width - width / 20, y0 = height / 20, y1 = height - height / 20;
    Luma warped;
    warped.width = x1 - x0;
    warped.height = y1 - y0;
    warped.data.resize(static_cast<size_t>(warped.width) * warped.height);
    double sse = 0;
    int64_t count = 0;
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) {
        const double px = x - cx, py = y - cy;
        const float value = std::clamp(ref_luma.Cubic(cx + fit.tx + fit.s * px - fit.r * py,
                                                      cy + fit.ty + fit.r * px + fit.s * py),
                                       0.0f, 255.0f);
        warped.data[static_cast<size_t>(y - y0) * warped.width + x - x0] = value;
        const double d = test_luma.At(x, y) - value;
        sse += d * d;
        ++count;
      }
    }
    AddLineJitter(RowShifts(warped, test_luma, x0, y0), &line_sum, &line_count);
    psnr_sum += 10 * std::log10(255.0 * 255.0 / std::max(sse / count, 1e-10));
  }
  // The jitter: the translation minus its centred 15-frame moving average, on
  // the frames whose window is complete.
  constexpr int kHalf = 7;
  double sum = 0;
  int count = 0;
  for (int n = kHalf; n + kHalf < static_cast<int>(frames); ++n) {
    double mx = 0, my = 0;
    for (int k = n - kHalf; k <= n + kHalf; ++k) {
      mx += fits[k].tx;
      my += fits[k].ty;
    }
    mx /= 2 * kHalf + 1;
    my /= 2 * kHalf + 1;
    sum += (fits[n].tx - mx) * (fits[n].tx - mx) + (fits[n].ty - my) * (fits[n].ty - my);
    ++count;
  }
  std::nth_element(crops.begin(), crops.begin() + crops.size() / 2, crops.end());
  std::printf("frames %zu jitter %.3f crop %.4f black %d psnr %.3f lines %.3f\n", frames,
              count ? std::sqrt(sum / count) : 0.0, crops.empty() ? 0.0 : crops[crops.size() / 2],
              black, frames ? psnr_sum / frames : 0.0,
              line_count ? std::sqrt(line_sum / static_cast<double>(line_count)) : 0.0);
  return 0;
}

}  // namespace vidmill::filters
