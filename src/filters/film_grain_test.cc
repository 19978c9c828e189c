#include "filters/film_grain.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "filters/register_filters.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace vidmill::filters {
namespace {

// A frame whose luma is `fill(x, y)` and chroma mid-grey.
engine::FramePtr MakeFrame(AVPixelFormat format, int width, int height,
                           const std::function<int(int, int)>& fill) {
  engine::FramePtr frame(av_frame_alloc());
  frame->format = format;
  frame->width = width;
  frame->height = height;
  EXPECT_EQ(av_frame_get_buffer(frame.get(), 0), 0);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  bool wide = desc->comp[0].depth > 8;
  int mid = 1 << (desc->comp[0].depth - 1);
  for (int plane = 0; plane < 3; ++plane) {
    int w = plane ? AV_CEIL_RSHIFT(width, desc->log2_chroma_w) : width;
    int h = plane ? AV_CEIL_RSHIFT(height, desc->log2_chroma_h) : height;
    for (int y = 0; y < h; ++y) {
      uint8_t* row = frame->data[plane] + y * frame->linesize[plane];
      for (int x = 0; x < w; ++x) {
        int value = plane == 0 ? fill(x, y) : mid;
        if (wide) {
          reinterpret_cast<uint16_t*>(row)[x] = static_cast<uint16_t>(value);
        } else {
          row[x] = static_cast<uint8_t>(value);
        }
      }
    }
  }
  return frame;
}

double LumaAt(const AVFrame* frame, int x, int y) {
  const uint8_t* row = frame->data[0] + y * frame->linesize[0];
  return av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format))->comp[0].depth > 8
             ? reinterpret_cast<const uint16_t*>(row)[x]
             : row[x];
}

struct Stats {
  double mean = 0;
  double stddev = 0;
};

// Statistics of (after − before) over a rectangle of luma.
Stats Difference(const AVFrame* before, const AVFrame* after, int x0, int y0, int x1, int y1) {
  double sum = 0;
  double sum_sq = 0;
  int n = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      double d = LumaAt(after, x, y) - LumaAt(before, x, y);
      sum += d;
      sum_sq += d * d;
      ++n;
    }
  }
  double mean = sum / n;
  return {mean, std::sqrt(std::max(0.0, sum_sq / n - mean * mean))};
}

engine::FramePtr Grained(const AVFrame* source, FilmGrainOptions options, int64_t index) {
  engine::FramePtr copy(av_frame_clone(source));
  EXPECT_EQ(av_frame_make_writable(copy.get()), 0);
  FilmGrain grain(options);
  EXPECT_TRUE(grain.Apply(copy.get(), index).ok());
  return copy;
}

auto Gradient = [](int x, int y) { return 16 + (x * 219) / 255; };

TEST(FilmGrainTest, DeterministicForASeedAndDifferentAcrossSeeds) {
  engine::FramePtr source = MakeFrame(AV_PIX_FMT_YUV420P, 256, 64, Gradient);
  engine::FramePtr a = Grained(source.get(), {0.5, 7}, 3);
  engine::FramePtr b = Grained(source.get(), {0.5, 7}, 3);
  engine::FramePtr c = Grained(source.get(), {0.5, 8}, 3);
  EXPECT_EQ(Difference(a.get(), b.get(), 0, 0, 256, 64).stddev, 0.0);
  EXPECT_GT(Difference(a.get(), c.get(), 0, 0, 256, 64).stddev, 1.0);
}

TEST(FilmGrainTest, KeepsTheMeanWithinHalfAPercent) {
  for (AVPixelFormat format : {AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV422P10LE}) {
    bool wide = format != AV_PIX_FMT_YUV420P;
    auto fill = [wide](int x, int y) {
      int v = 16 + ((x + 2 * y) % 220);
      return wide ? v * 4 : v;
    };
    engine::FramePtr source = MakeFrame(format, 320, 180, fill);
    engine::FramePtr grained = Grained(source.get(), {1.0, 1}, 0);
    Stats diff = Difference(source.get(), grained.get(), 0, 0, 320, 180);
    double mean_luma = 0;
    for (int y = 0; y < 180; ++y) {
      for (int x = 0; x < 320; ++x) mean_luma += LumaAt(source.get(), x, y);
    }
    mean_luma /= 320.0 * 180.0;
    EXPECT_LT(std::fabs(diff.mean) / mean_luma, 0.005) << av_get_pix_fmt_name(format);
    EXPECT_GT(diff.stddev, wide ? 20.0 : 5.0) << "grain must be visible";
    EXPECT_EQ(grained->width, 320);
    EXPECT_EQ(grained->format, format);
  }
}

TEST(FilmGrainTest, LessGrainInShadowsAndHighlights) {
  // Three bands: shadow (20), mid-grey (128), highlight (235).
  auto bands = [](int x, int) { return x < 100 ? 20 : (x < 200 ? 128 : 235); };
  engine::FramePtr source = MakeFrame(AV_PIX_FMT_YUV444P, 300, 100, bands);
  engine::FramePtr grained = Grained(source.get(), {0.6, 2}, 0);
  double shadow = Difference(source.get(), grained.get(), 5, 0, 95, 100).stddev;
  double mid = Difference(source.get(), grained.get(), 105, 0, 195, 100).stddev;
  double highlight = Difference(source.get(), grained.get(), 205, 0, 295, 100).stddev;
  EXPECT_LT(shadow, mid * 0.5);
  EXPECT_LT(highlight, mid * 0.5);
  EXPECT_GT(mid, 4.0);
}

// Limited-range black (16) and white (235) — letterbox bars, peak white —
// are left exactly as they were, at 8 and 10 bits; full-range frames keep
// 0 and the maximum. The response had been taken on the full scale, so the
// bars got grain (σ 0.2) and were lifted by 0.2 code values.
TEST(FilmGrainTest, BlackAndWhiteStayUntouched) {
  for (AVPixelFormat format : {AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV422P10LE}) {
    const int scale = format == AV_PIX_FMT_YUV420P ? 1 : 4;
    for (bool full_range : {false, true}) {
      SCOPED_TRACE(std::string(av_get_pix_fmt_name(format)) + (full_range ? " full" : " limited"));
      const int black = full_range ? 0 : 16 * scale;
      const int white = full_range ? 255 * scale + (scale - 1) : 235 * scale;
      auto bands = [&](int x, int) { return x < 100 ? black : (x < 200 ? 128 * scale : white); };
      engine::FramePtr source = MakeFrame(format, 300, 100, bands);
      source->color_range = full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
      engine::FramePtr grained = Grained(source.get(), {1.0, 4}, 0);
      const Stats bars = Difference(source.get(), grained.get(), 0, 0, 100, 100);
      const Stats peak = Difference(source.get(), grained.get(), 200, 0, 300, 100);
      EXPECT_EQ(bars.mean, 0.0);
      EXPECT_EQ(bars.stddev, 0.0);
      EXPECT_EQ(peak.mean, 0.0);
      EXPECT_EQ(peak.stddev, 0.0);
      EXPECT_GT(Difference(source.get(), grained.get(), 105, 0, 195, 100).stddev, 5.0 * scale);
    }
  }
}

TEST(FilmGrainTest, TemporallyIndependentAndScaledByStrength) {
  engine::FramePtr source = MakeFrame(AV_PIX_FMT_YUV420P, 200, 200, [](int, int) { return 128; });
  engine::FramePtr first = Grained(source.get(), {0.5, 9}, 0);
  engine::FramePtr second = Grained(source.get(), {0.5, 9}, 1);
  // Correlation of the two frames' grain.
  double sum_ab = 0, sum_a = 0, sum_b = 0, sum_aa = 0, sum_bb = 0;
  int n = 0;
  for (int y = 0; y < 200; ++y) {
    for (int x = 0; x < 200; ++x) {
      double a = LumaAt(first.get(), x, y) - 128;
      double b = LumaAt(second.get(), x, y) - 128;
      sum_ab += a * b;
      sum_a += a;
      sum_b += b;
      sum_aa += a * a;
      sum_bb += b * b;
      ++n;
    }
  }
  double cov = sum_ab / n - (sum_a / n) * (sum_b / n);
  double r = cov / std::sqrt((sum_aa / n - std::pow(sum_a / n, 2)) * (sum_bb / n - std::pow(sum_b / n, 2)));
  EXPECT_LT(std::fabs(r), 0.05);
  double weak = Difference(source.get(), Grained(source.get(), {0.2, 9}, 0).get(), 0, 0, 200, 200).stddev;
  double strong = Difference(source.get(), Grained(source.get(), {0.4, 9}, 0).get(), 0, 0, 200, 200).stddev;
  EXPECT_NEAR(strong / weak, 2.0, 0.2);
}

TEST(FilmGrainTest, RunsAsARegisteredStageAndRefusesOtherFormats) {
  RegisterBuiltInFilters();
  EXPECT_TRUE(engine::HasFilterStage("filmgrain"));
  auto stage = engine::MakeFilterStage(engine::FilterStageOptions{.name = "filmgrain"});
  ASSERT_TRUE(stage.ok());
  engine::VideoFormat format{64, 64, AV_PIX_FMT_YUV420P};
  ASSERT_TRUE((*stage)->Configure(format).ok());
  int emitted = 0;
  auto emit = [&](engine::FramePtr frame) {
    EXPECT_EQ(frame->width, 64);
    ++emitted;
    return Status::Ok();
  };
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*stage)->Filter(MakeFrame(AV_PIX_FMT_YUV420P, 64, 64, Gradient), emit).ok());
  }
  ASSERT_TRUE((*stage)->Filter(nullptr, emit).ok());
  EXPECT_EQ(emitted, 3);
  FilmGrain rgb({});
  EXPECT_FALSE(rgb.Configure(engine::VideoFormat{64, 64, AV_PIX_FMT_RGB24}).ok());
}

}  // namespace
}  // namespace vidmill::filters
