#include "filters/filter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string_view>

namespace vidmill::filters {
namespace {

FilterConfig Config(int width, int height, int depth, Chroma chroma) {
  FilterConfig config;
  config.input = PixelFormat{width, height, depth, chroma};
  return config;
}

TEST(MakeFilterTest, EveryKnownNameMakesAFilter) {
  for (const char* name : {"deint", "denoise", "dejit", "filmgrain", "pabsr1", "dvres"}) {
    ASSERT_TRUE(IsKnownFilterName(name)) << name;
    FilterConfig config = Config(16, 16, 8, Chroma::k420);
    if (std::string_view(name) == "pabsr1" || std::string_view(name) == "dvres") {
      config.output_width = 32;  // the scalers need an output size, the others refuse one
      config.output_height = 32;
    }
    auto filter = MakeFilter(name, config);
    EXPECT_TRUE(filter.ok()) << name << ": " << filter.status().message();
  }
}

TEST(MakeFilterTest, UnknownNameAndPropertyAreInvalid) {
  EXPECT_EQ(MakeFilter("sharpen", Config(16, 16, 8, Chroma::k420)).status().code(),
            Code::kInvalidArgument);
  FilterConfig config = Config(16, 16, 8, Chroma::k420);
  config.properties["strenght"] = "0.5";
  EXPECT_EQ(MakeFilter("filmgrain", config).status().code(), Code::kInvalidArgument);
  config.properties = {{"strength", "2"}};
  EXPECT_EQ(MakeFilter("filmgrain", config).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(MakeFilter("deint", Config(0, 16, 8, Chroma::k420)).status().code(),
            Code::kInvalidArgument);
}

TEST(ClarityBoostTest, ParsesEveryLevel) {
  EXPECT_EQ(*ParseClarityBoost("very_high"), ClarityBoost::kVeryHigh);
  EXPECT_EQ(*ParseClarityBoost("none"), ClarityBoost::kNone);
  EXPECT_FALSE(ParseClarityBoost("max").ok());
}

// Runs `frames` grey-gradient frames through a filmgrain filter.
std::vector<OwnedFrame> RunGrain(const FilterConfig& config, int frames) {
  auto filter = MakeFilter("filmgrain", config);
  EXPECT_TRUE(filter.ok()) << filter.status().ToString();
  std::vector<OwnedFrame> out;
  for (int index = 0; index < frames; ++index) {
    OwnedFrame in(config.input);
    in.Fill(config.input.max_value() / 2, (config.input.max_value() + 1) / 2);
    EXPECT_TRUE((*filter)->Push(in.view(), index).ok());
  }
  EXPECT_TRUE((*filter)->Flush().ok());
  EXPECT_TRUE((*filter)->Pull(&out).ok());
  return out;
}

double Mean(const PlaneView& plane) {
  double sum = 0;
  for (int y = 0; y < plane.height; ++y) {
    for (int x = 0; x < plane.width; ++x) sum += plane.At(x, y);
  }
  return sum / (static_cast<double>(plane.width) * plane.height);
}

TEST(FilmGrainFilterTest, KeepsFormatMeanAndIsDeterministicAndIndependent) {
  for (Chroma chroma : {Chroma::k420, Chroma::k422, Chroma::k444}) {
    for (int depth : {8, 10}) {
      FilterConfig config = Config(64, 48, depth, chroma);
      config.properties = {{"strength", "0.5"}, {"seed", "7"}};
      std::vector<OwnedFrame> a = RunGrain(config, 2);
      std::vector<OwnedFrame> b = RunGrain(config, 2);
      ASSERT_EQ(a.size(), 2u);
      EXPECT_EQ(a[0].format(), config.input);
      EXPECT_EQ(a[1].pts, 1);
      const PlaneView y0 = a[0].plane(0);
      const PlaneView y1 = a[1].plane(0);
      const double mid = config.input.max_value() / 2;
      EXPECT_NEAR(Mean(y0), mid, mid * 0.005);
      double correlation = 0, energy = 0;
      bool same = true, changed = false;
      for (int y = 0; y < y0.height; ++y) {
        for (int x = 0; x < y0.width; ++x) {
          same &= y0.At(x, y) == b[0].plane(0).At(x, y);
          changed |= y0.At(x, y) != static_cast<int>(mid);
          correlation += (y0.At(x, y) - mid) * (y1.At(x, y) - mid);
          energy += (y0.At(x, y) - mid) * (y0.At(x, y) - mid);
        }
      }
      EXPECT_TRUE(same);
      EXPECT_TRUE(changed);
      // Consecutive frames' grain is uncorrelated.
      EXPECT_LT(std::abs(correlation / energy), 0.15);
    }
  }
}

}  // namespace
}  // namespace vidmill::filters
