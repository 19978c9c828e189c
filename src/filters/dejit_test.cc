#include "filters/dejit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>

#include "filters/picture_test_util.h"

namespace vidmill::filters {
namespace {

// A continuous texture that is a sum of a horizontal and a vertical profile,
// so a shifted view can be sampled exactly at any sub-pixel position, and the
// position of a (zoomed, shifted) view can be read back from its column and
// row means. Values stay in [0.25, 0.75] of the range: no black anywhere.
double ProfileX(double x) {
  return 0.1 * std::sin(x * 0.37) + 0.07 * std::sin(x * 0.113 + 1) +
         0.05 * std::tanh(std::sin(x * 0.071) * 4);
}
double ProfileY(double y) {
  return 0.1 * std::sin(y * 0.29 + 2) + 0.07 * std::cos(y * 0.131) +
         0.05 * std::tanh(std::sin(y * 0.083) * 4);
}

// The view of the texture whose pixel (0, 0) sits at (px, py).
OwnedFrame Render(const PixelFormat& format, double px, double py) {
  OwnedFrame frame(format);
  const int max_value = format.max_value();
  for (int plane = 0; plane < 3; ++plane) {
    const PlaneView p = frame.plane(plane);
    const double sx = static_cast<double>(format.width) / p.width;
    const double sy = static_cast<double>(format.height) / p.height;
    for (int y = 0; y < p.height; ++y) {
      for (int x = 0; x < p.width; ++x) {
        const double v = 0.5 + (plane == 0 ? 0.5 : 0.25) *
                                   (ProfileX(x * sx + px + plane) + ProfileY(y * sy + py));
        p.Set(x, y, static_cast<int>(std::lround(v * max_value)));
      }
    }
  }
  return frame;
}

std::vector<OwnedFrame> RunDejit(const FilterConfig& config, const std::vector<OwnedFrame>& input) {
  return RunFilterOver("dejit", config, input, 3);
}

// Where a luma plane shows the texture: the x of its centre column, found by
// matching the column means against the profile seen through `zoom`.
double LocateX(const PlaneView& luma, double zoom, double guess, int max_value) {
  const double centre = (luma.width - 1) / 2.0;
  std::vector<double> means(luma.width, 0.0);
  for (int x = 0; x < luma.width; ++x) {
    for (int y = 0; y < luma.height; ++y) means[x] += luma.At(x, y);
    means[x] /= luma.height * static_cast<double>(max_value);
  }
  double best = guess, best_cost = 1e300;
  for (double s = guess - 12; s <= guess + 12; s += 0.01) {
    double sum = 0;
    std::vector<double> model(luma.width);
    for (int x = 0; x < luma.width; ++x) {
      model[x] = ProfileX(centre + (x - centre) / zoom + s);
      sum += means[x] - model[x];
    }
    const double offset = sum / luma.width;  // the y profile's mean
    double cost = 0;
    for (int x = 8; x < luma.width - 8; ++x) {
      const double d = means[x] - model[x] - offset;
      cost += d * d;
    }
    if (cost < best_cost) {
      best_cost = cost;
      best = s;
    }
  }
  return best;
}

// RMS of the positions around their least-squares line (the intended pan).
double JitterAroundLine(const std::vector<double>& positions, size_t skip) {
  double s0 = 0, s1 = 0, s2 = 0, t0 = 0, t1 = 0;
  for (size_t n = skip; n < positions.size(); ++n) {
    s0 += 1;
    s1 += n;
    s2 += static_cast<double>(n) * n;
    t0 += positions[n];
    t1 += n * positions[n];
  }
  const double slope = (s0 * t1 - s1 * t0) / (s0 * s2 - s1 * s1);
  const double intercept = (t0 - slope * s1) / s0;
  double sum = 0;
  for (size_t n = skip; n < positions.size(); ++n) {
    const double d = positions[n] - intercept - slope * n;
    sum += d * d;
  }
  return std::sqrt(sum / s0);
}

TEST(DejitTest, KeepsFormatCountAndOrderAndHoldsLookAhead) {
  for (Chroma chroma : {Chroma::k420, Chroma::k422, Chroma::k444}) {
    for (int depth : {8, 10}) {
      FilterConfig config;
      config.input = PixelFormat{64, 48, depth, chroma};
      auto filter = MakeFilter("dejit", config);
      ASSERT_TRUE(filter.ok()) << filter.status().ToString();
      std::vector<OwnedFrame> out;
      const int frames = Dejitter::kRadius + 6;
      for (int index = 0; index < frames; ++index) {
        OwnedFrame frame = Render(config.input, index * 0.7, index * 0.3);
        ASSERT_TRUE((*filter)->Push(frame.view(), index * 3).ok());
        ASSERT_TRUE((*filter)->Pull(&out).ok());
        EXPECT_EQ(out.size(), static_cast<size_t>(std::max(0, index - Dejitter::kRadius + 1)));
      }
      ASSERT_TRUE((*filter)->Flush().ok());
      ASSERT_TRUE((*filter)->Pull(&out).ok());
      ASSERT_EQ(out.size(), static_cast<size_t>(frames));
      for (int index = 0; index < frames; ++index) {
        EXPECT_EQ(out[index].pts, index * 3);
        EXPECT_EQ(out[index].format(), config.input);
      }
      OwnedFrame wrong(PixelFormat{64, 48, depth == 8 ? 10 : 8, chroma});
      auto other = MakeFilter("dejit", config);
      EXPECT_FALSE((*other)->Push(wrong.view(), 0).ok());
    }
  }
}

TEST(DejitTest, StillPictureWithoutZoomIsUnchanged) {
  FilterConfig config;
  config.input = PixelFormat{48, 32, 10, Chroma::k422};
  config.properties["zoom"] = "1";
  const OwnedFrame still = Render(config.input, 3, 5);
  std::vector<OwnedFrame> input;
  for (int index = 0; index < 5; ++index) input.push_back(OwnedFrame::CopyOf(still.view()));
  std::vector<OwnedFrame> out = RunDejit(config, input);
  ASSERT_EQ(out.size(), 5u);
  for (const OwnedFrame& frame : out) ExpectSamePicture(frame, still);
}

TEST(DejitTest, BadPropertiesAreRefused) {
  FilterConfig config;
  config.input = PixelFormat{32, 32, 8, Chroma::k420};
  config.properties["zoom"] = "1.1";  // would crop 17 % of the area
  EXPECT_EQ(MakeFilter("dejit", config).status().code(), Code::kInvalidArgument);
  config.properties = {{"smothing", "3"}};
  EXPECT_EQ(MakeFilter("dejit", config).status().code(), Code::kInvalidArgument);
}

// A pan of 1.1 px/frame across and 0.4 down with a seeded random shake.
struct ShakenPan {
  std::vector<OwnedFrame> frames;
  std::vector<double> x;  // the texture x at pixel 0 of each frame (pan + shake)
};

ShakenPan MakeShakenPan(const PixelFormat& format, int count, double shake, uint32_t seed) {
  ShakenPan pan;
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, shake);
  for (int n = 0; n < count; ++n) {
    const double x = 1.1 * n + normal(rng), y = 0.4 * n + normal(rng);
    pan.frames.push_back(Render(format, x, y));
    pan.x.push_back(x);
  }
  return pan;
}

TEST(DejitTest, RemovesAKnownShakeFromAPan) {
  FilterConfig config;
  config.input = PixelFormat{160, 112, 8, Chroma::k420};
  const ShakenPan pan = MakeShakenPan(config.input, 60, 0.8, 7);
  std::vector<OwnedFrame> out = RunDejit(config, pan.frames);
  ASSERT_EQ(out.size(), pan.frames.size());
  std::vector<double> before, after;
  for (size_t n = 0; n < out.size(); ++n) {
    before.push_back(LocateX(pan.frames[n].plane(0), 1.0, pan.x[n], 255));
    after.push_back(LocateX(out[n].plane(0), 1.025, 1.1 * n, 255));
  }
  const double jitter_in = JitterAroundLine(before, 0);
  const double jitter_out = JitterAroundLine(after, 0);
  // The locator itself is exact on the input: it reads back the shake.
  EXPECT_NEAR(before[10], pan.x[10], 0.05);
  EXPECT_GT(jitter_in, 0.6);
  // Measured against one straight line over the whole clip, the slow wobble the
  // smoothing leaves counts too: 0.27 of the input here (margin 1.9 px × 1.4 px).
  EXPECT_LT(jitter_out, 0.35 * jitter_in) << "in " << jitter_in << " out " << jitter_out;
  // The pan is kept: the output still moves 1.1 px per frame.
  EXPECT_NEAR((after.back() - after.front()) / (after.size() - 1), 1.1, 0.1);
}

TEST(DejitTest, IsDeterministic) {
  FilterConfig config;
  config.input = PixelFormat{320, 200, 10, Chroma::k420};  // large enough for two threads
  const ShakenPan pan = MakeShakenPan(config.input, 8, 2.0, 3);
  ExpectSamePictures(RunDejit(config, pan.frames), RunDejit(config, pan.frames));
}

// dejit's AVX2 loops (the motion fit's sums, the warp) and the portable ones
// (VIDMILL_NO_SIMD selects them) give the same pictures, at 8 and 10 bits,
// on widths whose rows end in a partial vector (314: luma 39 × 8 + 2, chroma
// 19 × 8 + 5; the fit's level 0 is 314 wide too), and on one thread or two.
TEST(DejitTest, PortableAndAvx2LoopsGiveTheSamePictures) {
  for (int depth : {8, 10}) {
    FilterConfig config;
    config.input = PixelFormat{314, 200, depth, Chroma::k420};
    const ShakenPan pan = MakeShakenPan(config.input, 8, 2.0, 5);
    ExpectSameOnEveryPath([&] { return RunDejit(config, pan.frames); });
  }
}

TEST(DejitTest, NeverABlackBorderEvenWhenTheShakeExceedsTheMargin) {
  FilterConfig config;
  config.input = PixelFormat{96, 64, 8, Chroma::k420};
  // Shake of σ 6 px against a margin of 1.2 px across, 0.8 down.
  const ShakenPan pan = MakeShakenPan(config.input, 30, 6.0, 11);
  std::vector<OwnedFrame> out = RunDejit(config, pan.frames);
  ASSERT_EQ(out.size(), pan.frames.size());
  for (const OwnedFrame& frame : out) {
    for (int plane = 0; plane < 3; ++plane) {
      const PlaneView p = frame.plane(plane);
      for (int y = 0; y < p.height; ++y) {
        for (int x = 0; x < p.width; ++x)
          ASSERT_GT(p.At(x, y), 60) << plane << " " << x << "," << y;
      }
    }
  }
}

TEST(DejitTest, ACutStartsANewPathInsteadOfSmearingAFalseMotion) {
  FilterConfig config;
  config.input = PixelFormat{128, 96, 8, Chroma::k420};
  // Two still shots; the second is the first's negative, matched by no shift.
  const OwnedFrame first = Render(config.input, 0, 0);
  OwnedFrame second = OwnedFrame::CopyOf(first.view());
  for (int plane = 0; plane < 3; ++plane) {
    const PlaneView p = second.plane(plane);
    for (int y = 0; y < p.height; ++y) {
      for (int x = 0; x < p.width; ++x) p.Set(x, y, 255 - p.At(x, y));
    }
  }
  std::vector<OwnedFrame> input;
  for (int n = 0; n < 40; ++n)
    input.push_back(OwnedFrame::CopyOf((n < 20 ? first : second).view()));
  std::vector<OwnedFrame> out = RunDejit(config, input);
  ASSERT_EQ(out.size(), input.size());
  // Still shots need no correction: every frame of a shot is the same picture,
  // right up to the cut.
  for (int n : {1, 18, 19, 20, 21, 39}) {
    ExpectSamePicture(out[n], out[n < 20 ? 0 : 39], "picture " + std::to_string(n));
  }
}

// A one- or two-frame dropout in a shaken pan (a flash, a flash and a black
// frame) is not a cut: the path is bridged across it, so the frames around it
// sit where they would without it. Taken for a cut, each side's path was
// fitted from one side only, and the shot jolted at the flash.
TEST(DejitTest, AFlashIsBridgedNotTakenForACut) {
  FilterConfig config;
  config.input = PixelFormat{480, 272, 8, Chroma::k420};  // a margin of 5.9 px across
  const ShakenPan pan = MakeShakenPan(config.input, 50, 2.5, 13);
  const std::vector<OwnedFrame> steady = RunDejit(config, pan.frames);
  for (int flash_frames : {1, 2}) {
    SCOPED_TRACE(std::to_string(flash_frames) + " flash frames");
    std::vector<OwnedFrame> flashed;
    for (const OwnedFrame& frame : pan.frames) flashed.push_back(OwnedFrame::CopyOf(frame.view()));
    // A white flash, then (for two) a black frame: the two match neither the
    // shot nor each other.
    for (int n = 25; n < 25 + flash_frames; ++n) {
      for (int plane = 0; plane < 3; ++plane) {
        const PlaneView p = flashed[n].plane(plane);
        for (int y = 0; y < p.height; ++y) {
          for (int x = 0; x < p.width; ++x) p.Set(x, y, plane > 0 ? 128 : n == 25 ? 250 : 16);
        }
      }
    }
    const std::vector<OwnedFrame> out = RunDejit(config, flashed);
    ASSERT_EQ(out.size(), steady.size());
    double worst = 0;
    for (int n = 15; n < 35 + flash_frames; ++n) {
      if (n >= 25 && n < 25 + flash_frames) continue;
      const double where = LocateX(steady[n].plane(0), 1.025, 1.1 * n, 255);
      worst = std::max(worst, std::abs(LocateX(out[n].plane(0), 1.025, where, 255) - where));
    }
    EXPECT_LT(worst, 0.5);
  }
}

TEST(DejitTest, InterlacedFramesKeepTheirFieldsApart) {
  // Top field: a shaken pan; bottom field: flat 200. Warped per field, the
  // bottom field stays exactly flat; warped as one picture, it would not.
  for (const char* fields : {"1", "0"}) {
    FilterConfig config;
    config.input = PixelFormat{128, 96, 8, Chroma::k420};
    config.properties["fields"] = fields;
    ShakenPan pan = MakeShakenPan(config.input, 30, 2.0, 5);
    for (OwnedFrame& frame : pan.frames) {
      for (int plane = 0; plane < 3; ++plane) {
        const PlaneView p = frame.plane(plane);
        for (int y = 1; y < p.height; y += 2) {
          for (int x = 0; x < p.width; ++x) p.Set(x, y, 200);
        }
      }
    }
    std::vector<OwnedFrame> out = RunDejit(config, pan.frames);
    ASSERT_EQ(out.size(), pan.frames.size());
    int changed = 0;
    for (const OwnedFrame& frame : out) {
      for (int plane = 0; plane < 3; ++plane) {
        const PlaneView p = frame.plane(plane);
        for (int y = 1; y < p.height; y += 2) {
          for (int x = 0; x < p.width; ++x) changed += p.At(x, y) != 200;
        }
      }
    }
    if (fields[0] == '1') {
      EXPECT_EQ(changed, 0);
    } else {
      EXPECT_GT(changed, 1000);
    }
  }
}

TEST(DejitTest, FieldWarpPutsEachLineWhereTheFrameWarpDoes) {
  // A vertical ramp is reproduced exactly by the cubic, so per-field and
  // whole-frame warps of a still ramp must agree (the fields' geometry is right).
  std::vector<OwnedFrame> outputs[2];
  for (int fields = 0; fields < 2; ++fields) {
    FilterConfig config;
    config.input = PixelFormat{32, 64, 8, Chroma::k444};
    config.properties["fields"] = fields ? "1" : "0";
    OwnedFrame ramp(config.input);
    for (int plane = 0; plane < 3; ++plane) {
      const PlaneView p = ramp.plane(plane);
      for (int y = 0; y < p.height; ++y) {
        for (int x = 0; x < p.width; ++x) p.Set(x, y, 20 + 3 * y);
      }
    }
    std::vector<OwnedFrame> input;
    for (int n = 0; n < 3; ++n) input.push_back(OwnedFrame::CopyOf(ramp.view()));
    outputs[fields] = RunDejit(config, input);
    ASSERT_EQ(outputs[fields].size(), 3u);
  }
  const PlaneView a = outputs[0][1].plane(0), b = outputs[1][1].plane(0);
  for (int y = 4; y < a.height - 4; ++y) {
    for (int x = 0; x < a.width; ++x) ASSERT_NEAR(a.At(x, y), b.At(x, y), 1) << y;
  }
  EXPECT_NE(a.At(0, 10), 20 + 3 * 10);  // the zoom did move the lines
}

}  // namespace
}  // namespace vidmill::filters
