#include "filters/register_filters.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/filter_graph.h"
#include "engine/filter_stage.h"
#include "filters/av_frame_format.h"
#include "filters/filter.h"
#include "filters/frame.h"

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
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

// A registered deint stage at field rate.
std::unique_ptr<engine::FilterStage> FieldRateDeint() {
  RegisterBuiltInFilters();
  engine::FilterStageOptions options;
  options.name = "deint";
  options.field_rate = true;
  auto stage = engine::MakeFilterStage(options);
  EXPECT_TRUE(stage.ok()) << stage.status().ToString();
  return stage.ok() ? std::move(*stage) : nullptr;
}

TEST(RegisterFiltersTest, DeintRunsAsAnEngineStageAtFieldRate) {
  std::unique_ptr<engine::FilterStage> stage = FieldRateDeint();
  ASSERT_NE(stage, nullptr);
  auto output = stage->Configure(Input32x16());
  ASSERT_TRUE(output.ok()) << output.status().ToString();
  EXPECT_EQ(output->time_base.den, 50);
  EXPECT_EQ(output->frame_rate.num, 50);
  std::vector<engine::FramePtr> frames;
  auto emit = [&](engine::FramePtr frame) {
    frames.push_back(std::move(frame));
    return Status::Ok();
  };
  for (int64_t pts = 0; pts < 3; ++pts) {
    ASSERT_TRUE(stage->Filter(MakeFrame(32, 16, pts), emit).ok());
  }
  ASSERT_TRUE(stage->Filter(nullptr, emit).ok());
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

// A one-frame clip in MPEG's 1/90000 time base at 25 frames/s: the second
// field comes half a frame (3600 ticks of 1/180000) after the first.
TEST(RegisterFiltersTest, DeintStageTimesALoneFramesSecondFieldByTheFrameRate) {
  std::unique_ptr<engine::FilterStage> stage = FieldRateDeint();
  ASSERT_NE(stage, nullptr);
  engine::VideoFormat input = Input32x16();
  input.time_base = {1, 90000};
  auto output = stage->Configure(input);
  ASSERT_TRUE(output.ok()) << output.status().ToString();
  EXPECT_EQ(output->time_base.den, 180000);
  std::vector<int64_t> pts;
  auto emit = [&](engine::FramePtr frame) {
    pts.push_back(frame->pts);
    return Status::Ok();
  };
  ASSERT_TRUE(stage->Filter(MakeFrame(32, 16, 0), emit).ok());
  ASSERT_TRUE(stage->Filter(nullptr, emit).ok());
  EXPECT_EQ(pts, (std::vector<int64_t>{0, 3600}));
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

TEST(RegisterFiltersTest, FormatsTheFiltersDoNotTakeMapToTheNearestOneTheyDo) {
  // Taken as they are.
  for (AVPixelFormat taken : {AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV422P10LE, AV_PIX_FMT_YUV444P12LE,
                              AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUV420P16LE}) {
    EXPECT_EQ(NearestFilterPixelFormat(taken), taken) << av_get_pix_fmt_name(taken);
    EXPECT_TRUE(FilterPixelFormat(taken, 32, 16).ok()) << av_get_pix_fmt_name(taken);
  }
  // Converted without losing chroma resolution or depth.
  const std::pair<AVPixelFormat, AVPixelFormat> nearest[] = {
      {AV_PIX_FMT_YUV411P, AV_PIX_FMT_YUV422P},          // DV 525/60
      {AV_PIX_FMT_UYVY422, AV_PIX_FMT_YUV422P},          // packed 4:2:2
      {AV_PIX_FMT_NV12, AV_PIX_FMT_YUV420P},             // semi-planar
      {AV_PIX_FMT_P010LE, AV_PIX_FMT_YUV420P10LE},       // semi-planar 10-bit
      {AV_PIX_FMT_YUVA420P, AV_PIX_FMT_YUV420P},         // alpha dropped
      {AV_PIX_FMT_YUV420P10BE, AV_PIX_FMT_YUV420P10LE},  // big-endian
      {AV_PIX_FMT_RGB24, AV_PIX_FMT_YUV444P},
  };
  for (const auto& [offered, wanted] : nearest) {
    EXPECT_FALSE(FilterPixelFormat(offered, 32, 16).ok()) << av_get_pix_fmt_name(offered);
    EXPECT_EQ(NearestFilterPixelFormat(offered), wanted)
        << av_get_pix_fmt_name(offered) << " → "
        << av_get_pix_fmt_name(NearestFilterPixelFormat(offered));
  }
  // Grey keeps its depth.
  const AVPixFmtDescriptor* grey10 =
      av_pix_fmt_desc_get(NearestFilterPixelFormat(AV_PIX_FMT_GRAY10LE));
  ASSERT_NE(grey10, nullptr);
  EXPECT_EQ(grey10->comp[0].depth, 10);
  EXPECT_TRUE(FilterPixelFormat(NearestFilterPixelFormat(AV_PIX_FMT_GRAY8), 32, 16).ok());
}

// A DV-like 4:1:1 source through a real own filter: the chain converts it to
// 4:2:2 first (one libavfilter graph before the stage) and the pictures keep
// their level; a format the filters take gets no conversion.
TEST(RegisterFiltersTest, TheChainConvertsAFormatTheFiltersDoNotTake) {
  RegisterBuiltInFilters();
  for (const char* name : {"denoise", "filmgrain"}) {
    for (AVPixelFormat source : {AV_PIX_FMT_YUV411P, AV_PIX_FMT_YUV422P}) {
      engine::VideoFormat input;
      input.width = 64;
      input.height = 32;
      input.pixel_format = source;
      engine::FilterStageOptions options;
      options.name = name;
      auto chain = engine::VideoFilterChain::Create({engine::FilterStep{"", options}}, input, 1);
      ASSERT_TRUE(chain.ok()) << name << ": " << chain.status().ToString();
      EXPECT_EQ((*chain)->graph_count(), source == AV_PIX_FMT_YUV422P ? 0 : 1) << name;
      EXPECT_EQ((*chain)->output_format().pixel_format, AV_PIX_FMT_YUV422P) << name;
      int frames = 0;
      double luma = 0, chroma = 0;
      auto sink = [&](AVFrame* frame) {
        EXPECT_EQ(frame->format, AV_PIX_FMT_YUV422P);
        EXPECT_EQ(frame->width, 64);
        for (int y = 0; y < frame->height; ++y) {
          for (int x = 0; x < frame->width; ++x) luma += frame->data[0][y * frame->linesize[0] + x];
          for (int x = 0; x < frame->width / 2; ++x) {
            chroma += frame->data[1][y * frame->linesize[1] + x];
          }
        }
        ++frames;
        return Status::Ok();
      };
      for (int64_t pts = 0; pts < 4; ++pts) {
        engine::FramePtr frame(av_frame_alloc());
        frame->format = source;
        frame->width = 64;
        frame->height = 32;
        frame->pts = pts;
        ASSERT_EQ(av_frame_get_buffer(frame.get(), 0), 0);
        const int chroma_width = source == AV_PIX_FMT_YUV411P ? 16 : 32;
        for (int y = 0; y < 32; ++y) {
          for (int x = 0; x < 64; ++x) frame->data[0][y * frame->linesize[0] + x] = 100;
          for (int x = 0; x < chroma_width; ++x) {
            frame->data[1][y * frame->linesize[1] + x] = 90;
            frame->data[2][y * frame->linesize[2] + x] = 160;
          }
        }
        ASSERT_TRUE((*chain)->Push(frame.get(), sink).ok());
      }
      ASSERT_TRUE((*chain)->Push(nullptr, sink).ok());
      ASSERT_EQ(frames, 4) << name;
      EXPECT_NEAR(luma / (frames * 64 * 32), 100, 1.0) << name;
      EXPECT_NEAR(chroma / (frames * 32 * 32), 90, 1.0) << name;
    }
  }
}

// Interlaced 4:2:0 kept interlaced and scaled by an own scaler to fields of
// an odd number of lines (30: fields of 15) into 4:2:2: the chain converts to
// 4:2:2 first, so the scaler never makes 4:2:0 fields of half a chroma line.
TEST(RegisterFiltersTest, OwnScalersMakeOddFieldsFrom420ThroughTheOutputFormat) {
  RegisterBuiltInFilters();
  for (const char* scaler : {"pabsr1", "dvres"}) {
    engine::TranscodeSpec spec;
    spec.codec = "prores";
    spec.pixel_format = "yuv422p10le";
    spec.source_width = spec.width = 64;
    spec.source_height = 32;
    spec.height = 30;
    spec.source_fps = spec.fps = 25;
    spec.source_interlaced = spec.interlaced_output = true;
    spec.source_top_field_first = spec.top_field_first = true;
    spec.scaler = scaler;
    auto steps = engine::BuildVideoSteps(spec, 0);
    ASSERT_TRUE(steps.ok()) << scaler << ": " << steps.status().ToString();
    engine::VideoFormat input = Input32x16();
    input.width = 64;
    input.height = 32;
    auto chain = engine::VideoFilterChain::Create(*steps, input, 1);
    ASSERT_TRUE(chain.ok()) << scaler << ": " << chain.status().ToString();
    int frames = 0;
    auto sink = [&](AVFrame* frame) {
      EXPECT_EQ(frame->format, AV_PIX_FMT_YUV422P10LE) << scaler;
      EXPECT_EQ(frame->width, 64) << scaler;
      EXPECT_EQ(frame->height, 30) << scaler;
      ++frames;
      return Status::Ok();
    };
    for (int64_t pts = 0; pts < 4; ++pts) {
      engine::FramePtr frame = MakeFrame(64, 32, pts);
      frame->interlaced_frame = 1;
      frame->top_field_first = 1;
      ASSERT_TRUE((*chain)->Push(frame.get(), sink).ok()) << scaler;
    }
    ASSERT_TRUE((*chain)->Push(nullptr, sink).ok()) << scaler;
    EXPECT_EQ(frames, 4) << scaler;
  }
}

// A range of one picture (40–80 ms at 25 frames/s) deinterlaced by deint at
// field rate through the engine's chain: the chain lets the deinterlacer see
// the pictures after the range and cuts after it where the range's pictures
// end, so the picture's two fields come out, timed from 0, as deint makes
// them with the next picture there.
TEST(RegisterFiltersTest, ARangeIsCutAgainAfterDeintWhichSeesThePictureAfterIt) {
  RegisterBuiltInFilters();
  engine::TranscodeSpec spec;
  spec.codec = "ffv1";
  spec.pixel_format = "yuv420p10le";
  spec.source_width = spec.width = 32;
  spec.source_height = spec.height = 16;
  spec.source_fps = 25;
  spec.fps = 50;
  spec.source_interlaced = true;
  spec.source_top_field_first = true;
  spec.deinterlacer = "deint";
  spec.deinterlace_field_rate = true;
  spec.has_range = true;
  spec.start_ms = 40;
  spec.end_ms = 80;
  auto steps = engine::BuildVideoSteps(spec, 0);
  ASSERT_TRUE(steps.ok()) << steps.status().ToString();
  auto chain = engine::VideoFilterChain::Create(*steps, Input32x16(), 1);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  // Pictures that change from one to the next, so each field differs.
  auto picture = [](int64_t pts) {
    engine::FramePtr frame = MakeFrame(32, 16, pts);
    for (int y = 0; y < 16; ++y) {
      auto* row = reinterpret_cast<uint16_t*>(frame->data[0] + y * frame->linesize[0]);
      for (int x = 0; x < 32; ++x) row[x] = static_cast<uint16_t>((row[x] + pts * 97) % 1024);
    }
    frame->interlaced_frame = 1;
    frame->top_field_first = 1;
    return frame;
  };
  auto luma = [](const AVFrame& frame) {
    std::vector<uint16_t> values;
    for (int y = 0; y < frame.height; ++y) {
      auto* row = reinterpret_cast<const uint16_t*>(frame.data[0] + y * frame.linesize[0]);
      values.insert(values.end(), row, row + frame.width);
    }
    return values;
  };
  std::vector<int64_t> pts;
  std::vector<std::vector<uint16_t>> pictures;
  auto sink = [&](AVFrame* frame) {
    pts.push_back(frame->pts);
    pictures.push_back(luma(*frame));
    return Status::Ok();
  };
  // As the transcoder says once it has decoded the picture at 80 ms: the
  // range's pictures end there, and the first shown starts at 40 ms.
  (*chain)->SetInputEnd(2, 1);
  for (int64_t index = 0; index < 5; ++index) {
    engine::FramePtr frame = picture(index);
    ASSERT_TRUE((*chain)->Push(frame.get(), sink).ok());
  }
  ASSERT_TRUE((*chain)->Push(nullptr, sink).ok());
  EXPECT_EQ(pts, (std::vector<int64_t>{0, 1}));

  // deint itself, given the range's picture and the two the chain let in.
  std::unique_ptr<engine::FilterStage> stage = FieldRateDeint();
  ASSERT_NE(stage, nullptr);
  ASSERT_TRUE(stage->Configure(Input32x16()).ok());
  std::vector<std::vector<uint16_t>> expected;
  auto emit = [&](engine::FramePtr frame) {
    expected.push_back(luma(*frame));
    return Status::Ok();
  };
  for (int64_t index = 1; index < 4; ++index) ASSERT_TRUE(stage->Filter(picture(index), emit).ok());
  ASSERT_TRUE(stage->Filter(nullptr, emit).ok());
  ASSERT_EQ(pictures.size(), 2u);
  EXPECT_EQ(pictures[0], expected[0]);
  EXPECT_EQ(pictures[1], expected[1]);
  EXPECT_NE(pictures[0], pictures[1]);
}

// The stage hands each output on without copying it: the AVFrame's planes
// are the filter's own, in reference-counted buffers that keep them alive
// after the stage is gone, laid out as FFmpeg lays out its own frames.
TEST(RegisterFiltersTest, OutputsAreHandedOnWithoutACopyAndOutliveTheStage) {
  RegisterBuiltInFilters();
  engine::FilterStageOptions options;
  options.name = "pabsr1";
  options.width = 64;
  options.height = 32;
  auto stage = engine::MakeFilterStage(options);
  ASSERT_TRUE(stage.ok()) << stage.status().ToString();
  ASSERT_TRUE((*stage)->Configure(Input32x16()).ok());
  std::vector<engine::FramePtr> frames;
  auto emit = [&](engine::FramePtr frame) {
    frames.push_back(std::move(frame));
    return Status::Ok();
  };
  for (int64_t pts = 0; pts < 2; ++pts) {
    ASSERT_TRUE((*stage)->Filter(MakeFrame(32, 16, pts), emit).ok());
  }
  ASSERT_TRUE((*stage)->Filter(nullptr, emit).ok());
  ASSERT_EQ(frames.size(), 2u);
  stage->reset();

  // The same filter run directly gives the samples to expect.
  FilterConfig config;
  auto format = FilterPixelFormat(AV_PIX_FMT_YUV420P10LE, 32, 16);
  ASSERT_TRUE(format.ok());
  config.input = *format;
  config.output_width = 64;
  config.output_height = 32;
  auto filter = MakeFilter("pabsr1", config);
  ASSERT_TRUE(filter.ok()) << filter.status().ToString();
  std::vector<OwnedFrame> expected;
  for (int64_t pts = 0; pts < 2; ++pts) {
    engine::FramePtr input = MakeFrame(32, 16, pts);
    ASSERT_TRUE((*filter)->Push(WrapFrame(input.get(), *format), pts).ok());
  }
  ASSERT_TRUE((*filter)->Flush().ok());
  ASSERT_TRUE((*filter)->Pull(&expected).ok());
  ASSERT_EQ(expected.size(), 2u);

  for (size_t index = 0; index < frames.size(); ++index) {
    AVFrame* frame = frames[index].get();
    const FrameView want = expected[index].view();
    for (int plane = 0; plane < 3; ++plane) {
      SCOPED_TRACE("frame " + std::to_string(index) + " plane " + std::to_string(plane));
      // A buffer of the stage's making (av_frame_get_buffer's have none of
      // this opaque), holding the plane, and this frame's alone.
      ASSERT_NE(frame->buf[plane], nullptr);
      EXPECT_NE(av_buffer_get_opaque(frame->buf[plane]), nullptr);
      EXPECT_EQ(av_frame_get_plane_buffer(frame, plane), frame->buf[plane]);
      EXPECT_TRUE(av_buffer_is_writable(frame->buf[plane]));
      EXPECT_EQ(reinterpret_cast<uintptr_t>(frame->data[plane]) % 64, 0u);
      EXPECT_EQ(frame->linesize[plane] % 64, 0);
      const PlaneView& w = want.planes[plane];
      EXPECT_GE(static_cast<size_t>(frame->buf[plane]->size),
                static_cast<size_t>(frame->linesize[plane]) * w.height + 64)
          << "FFmpeg's padding after the last row";
      for (int y = 0; y < w.height; ++y) {
        ASSERT_EQ(std::memcmp(frame->data[plane] + y * frame->linesize[plane], w.Row8(y),
                              static_cast<size_t>(w.width) * 2),
                  0)
            << "row " << y;
      }
    }
    // Writable in place: no copy is made to write to it.
    uint8_t* const luma = frame->data[0];
    ASSERT_EQ(av_frame_make_writable(frame), 0);
    EXPECT_EQ(frame->data[0], luma);
  }
  // A reference outlives the frame it was taken from.
  engine::FramePtr clone(av_frame_clone(frames[0].get()));
  ASSERT_NE(clone, nullptr);
  frames.clear();
  EXPECT_EQ(std::memcmp(clone->data[0], expected[0].view().planes[0].Row8(0), 64 * 2), 0);
}

}  // namespace
}  // namespace vidmill::filters
