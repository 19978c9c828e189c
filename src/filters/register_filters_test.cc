#include "filters/register_filters.h"

#include <gtest/gtest.h>

#include "engine/filter_stage.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace vidmill::filters {
namespace {

engine::FramePtr MakeFrame(int width, int height, int64_t pts) {
  engine::FramePtr frame(av_frame_alloc());
  frame->format = AV_PIX_FMT_YUV420P10LE;
  frame->width = width;
  frame->height = height;
  frame->pts = pts;
  EXPECT_EQ(av_frame_get_buffer(frame.get(), 0), 0);
  for (int plane = 0; plane < 3; ++plane) {
    int h = plane ? height / 2 : height;
    int w = plane ? width / 2 : width;
    for (int y = 0; y < h; ++y) {
      auto* row = reinterpret_cast<uint16_t*>(frame->data[plane] + y * frame->linesize[plane]);
      for (int x = 0; x < w; ++x)
        row[x] = static_cast<uint16_t>(plane ? 512 : (x * 13 + y * 7) % 1024);
    }
  }
  return frame;
}

// The input the stage tests configure: 32×16, 10-bit 4:2:0, 25 frames/s.
engine::VideoFormat Input32x16() {
  engine::VideoFormat input;
  input.width = 32;
  input.height = 16;
  input.pixel_format = AV_PIX_FMT_YUV420P10LE;
  input.time_base = {1, 25};
  input.frame_rate = {25, 1};
  return input;
}

TEST(RegisterFiltersTest, DeintRunsAsAnEngineStageAtFieldRate) {
  RegisterBuiltInFilters();
  engine::FilterStageOptions options;
  options.name = "deint";
  options.field_rate = true;
  auto stage = engine::MakeFilterStage(options);
  ASSERT_TRUE(stage.ok()) << stage.status().ToString();
  auto output = (*stage)->Configure(Input32x16());
  ASSERT_TRUE(output.ok()) << output.status().ToString();
  EXPECT_EQ(output->time_base.den, 50);
  EXPECT_EQ(output->frame_rate.num, 50);
  std::vector<engine::FramePtr> frames;
  auto emit = [&](engine::FramePtr frame) {
    frames.push_back(std::move(frame));
    return Status::Ok();
  };
  for (int64_t pts = 0; pts < 3; ++pts) {
    ASSERT_TRUE((*stage)->Filter(MakeFrame(32, 16, pts), emit).ok());
  }
  ASSERT_TRUE((*stage)->Filter(nullptr, emit).ok());
  ASSERT_EQ(frames.size(), 6u);
  for (size_t index = 0; index < frames.size(); ++index) {
    EXPECT_EQ(frames[index]->pts, static_cast<int64_t>(index));
    EXPECT_EQ(frames[index]->format, AV_PIX_FMT_YUV420P10LE);
    EXPECT_EQ(frames[index]->width, 32);
  }
  // A static picture comes out unchanged.
  auto* row = reinterpret_cast<uint16_t*>(frames[3]->data[0] + 5 * frames[3]->linesize[0]);
  EXPECT_EQ(row[4], (4 * 13 + 5 * 7) % 1024);
}

TEST(RegisterFiltersTest, DejitStageHoldsItsLookAheadUntilFlushOnInterlacedOutput) {
  RegisterBuiltInFilters();
  engine::FilterStageOptions options;
  options.name = "dejit";
  options.field_aware = true;  // the stage asks the filter to keep the fields apart
  auto stage = engine::MakeFilterStage(options);
  ASSERT_TRUE(stage.ok()) << stage.status().ToString();
  auto output = (*stage)->Configure(Input32x16());
  ASSERT_TRUE(output.ok()) << output.status().ToString();
  EXPECT_EQ(output->width, 32);
  EXPECT_EQ(output->time_base.den, 25);
  std::vector<engine::FramePtr> frames;
  auto emit = [&](engine::FramePtr frame) {
    frames.push_back(std::move(frame));
    return Status::Ok();
  };
  for (int64_t pts = 0; pts < 3; ++pts) {
    ASSERT_TRUE((*stage)->Filter(MakeFrame(32, 16, pts), emit).ok());
  }
  EXPECT_TRUE(frames.empty());
  ASSERT_TRUE((*stage)->Filter(nullptr, emit).ok());
  ASSERT_EQ(frames.size(), 3u);
  for (size_t index = 0; index < frames.size(); ++index) {
    EXPECT_EQ(frames[index]->pts, static_cast<int64_t>(index));
    EXPECT_EQ(frames[index]->format, AV_PIX_FMT_YUV420P10LE);
    EXPECT_EQ(frames[index]->height, 16);
  }
}

TEST(RegisterFiltersTest, DvresStageScalesAndReleasesItsLookAheadOnFlush) {
  RegisterBuiltInFilters();
  for (bool fields : {false, true}) {
    engine::FilterStageOptions options;
    options.name = "dvres";
    options.width = 64;
    options.height = 32;
    options.field_aware = fields;  // fields: denoise and scale each field on its own
    auto stage = engine::MakeFilterStage(options);
    ASSERT_TRUE(stage.ok()) << stage.status().ToString();
    auto output = (*stage)->Configure(Input32x16());
    ASSERT_TRUE(output.ok()) << output.status().ToString();
    EXPECT_EQ(output->width, 64);
    EXPECT_EQ(output->height, 32);
    std::vector<engine::FramePtr> frames;
    auto emit = [&](engine::FramePtr frame) {
      frames.push_back(std::move(frame));
      return Status::Ok();
    };
    for (int64_t pts = 0; pts < 4; ++pts) {
      ASSERT_TRUE((*stage)->Filter(MakeFrame(32, 16, 10 * pts), emit).ok());
    }
    EXPECT_EQ(frames.size(), 2u) << "two pictures of look-ahead";
    ASSERT_TRUE((*stage)->Filter(nullptr, emit).ok());
    ASSERT_EQ(frames.size(), 4u);
    for (size_t index = 0; index < frames.size(); ++index) {
      EXPECT_EQ(frames[index]->pts, static_cast<int64_t>(10 * index));
      EXPECT_EQ(frames[index]->format, AV_PIX_FMT_YUV420P10LE);
      EXPECT_EQ(frames[index]->width, 64);
      EXPECT_EQ(frames[index]->height, 32);
    }
  }
}

TEST(RegisterFiltersTest, UnsupportedPixelFormatIsRefused) {
  RegisterBuiltInFilters();
  engine::FilterStageOptions options;
  options.name = "deint";
  auto stage = engine::MakeFilterStage(options);
  ASSERT_TRUE(stage.ok());
  engine::VideoFormat input;
  input.width = 32;
  input.height = 16;
  input.pixel_format = AV_PIX_FMT_RGB24;
  EXPECT_EQ((*stage)->Configure(input).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace vidmill::filters
