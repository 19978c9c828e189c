// The pipeline on tiny generated clips, checked by probing the outputs
// (through libavformat, as ffprobe reads them) and decoding them: every container/codec pair, the
// ProRes and DNx profiles, chroma and bit depths, scanning, deinterlacers, frame-rate converters,
// sizes, ranges, bitrate and audio.

#include "engine/transcode.h"

#include <gtest/gtest.h>

extern "C" {
#include <libavutil/pixdesc.h>
}

#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

#include "engine/av_ptr.h"
#include "engine/test_media.h"
#include "tests/support/temp_dir.h"
#include "videos/processing_request.h"

namespace vidmill::engine {
namespace {

using testing::Ffmpeg;
using testing::FfprobeVideo;
using testing::Output;
using testing::ReadBytes;
using testing::WriteFile;

// Shared inputs, made once per test binary.
class Inputs {
 public:
  static Inputs& Get() {
    static Inputs inputs;
    return inputs;
  }
  // 2 s of 320x240 progressive 25 fps H.264 with stereo audio.
  std::string progressive;
  // 2 s of 320x240 interlaced TFF 25i (woven from 50p) MPEG-2 4:2:2 with audio.
  std::string interlaced;

 private:
  Inputs() {
    progressive = dir_.path() + "/progressive.mp4";
    interlaced = dir_.path() + "/interlaced.mov";
    Ffmpeg(
        "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i "
        "sine=frequency=440:sample_rate=48000 "
        "-t 2 -ac 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest '" +
        progressive + "'");
    Ffmpeg(
        "-f lavfi -i testsrc2=size=320x240:rate=50 -f lavfi -i "
        "sine=frequency=440:sample_rate=48000 "
        "-t 2 -vf tinterlace=mode=interleave_top,setfield=tff -c:v mpeg2video -flags +ildct+ilme "
        "-pix_fmt yuv422p -b:v 4M -c:a pcm_s16le -shortest '" +
        interlaced + "'");
  }
  test::TempDir dir_;
};

std::string PixelFormatFor(const std::string& chroma, int bits) {
  static const std::map<std::string, std::string> base = {
      {"4:2:0", "yuv420p"}, {"4:2:2", "yuv422p"}, {"4:4:4", "yuv444p"},
      {"4:1:1", "yuv411p"}, {"4:1:0", "yuv410p"}, {"4:4:0", "yuv440p"}};
  return base.at(chroma) + (bits > 8 ? std::to_string(bits) + "le" : "");
}

TranscodeSpec Base() {
  TranscodeSpec spec;
  spec.container = "mov";
  spec.codec = "h264";
  spec.pixel_format = "yuv420p";
  spec.bitrate_mbps = 1.0;
  spec.width = 320;
  spec.height = 240;
  spec.fps = 25;
  spec.source_fps = 25;
  spec.source_width = 320;
  spec.source_height = 240;
  return spec;
}

// The first picture of `dir`'s out.mov (RunSpec's output) in its own format,
// as raw planes: the code values the encoder was given.
std::string FirstPicture(const test::TempDir& dir) {
  return Output("ffmpeg -nostdin -v error -i '" + dir.path() +
                "/out.mov' -frames:v 1 -f rawvideo -");
}

// Base() written losslessly (FFV1), pictures only: what a test that reads the
// output's code values back needs.
TranscodeSpec Lossless() {
  TranscodeSpec spec = Base();
  spec.codec = "ffv1";
  spec.bitrate_mbps.reset();
  spec.keep_audio = false;
  return spec;
}

// Lossless() of the range [`start_ms`, `end_ms`].
TranscodeSpec LosslessRange(int start_ms, int end_ms) {
  TranscodeSpec spec = Lossless();
  spec.has_range = true;
  spec.start_ms = start_ms;
  spec.end_ms = end_ms;
  return spec;
}

// Lossless() into a `width`x`height` frame with the picture at (`x`, `y`),
// `picture_width`x`picture_height`.
TranscodeSpec Boxed(int width, int height, int x, int y, int picture_width, int picture_height) {
  TranscodeSpec spec = Lossless();
  spec.width = width;
  spec.height = height;
  spec.picture_x = x;
  spec.picture_y = y;
  spec.picture_width = picture_width;
  spec.picture_height = picture_height;
  return spec;
}

struct Probe {
  std::string codec, pix_fmt, field_order, rate, profile;
  int width = 0, height = 0;
  int64_t frames = 0;
  double duration = 0;
  bool audio = false;
  std::string audio_codec;
  double audio_duration = 0;
};

// What ffprobe reports of `path` (its first video stream, its first audio
// stream's codec, the container's duration), read through libavformat in the
// test's own process: the same library ffprobe reads with, without starting
// three programs for every file a test writes (most of this suite's time).
Probe ProbeFile(const std::string& path) {
  Probe p;
  AVFormatContext* opened = nullptr;
  if (avformat_open_input(&opened, path.c_str(), nullptr, nullptr) < 0) {
    ADD_FAILURE() << "cannot open " << path;
    return p;
  }
  FormatInputPtr format(opened);
  EXPECT_GE(avformat_find_stream_info(format.get(), nullptr), 0) << path;
  const AVStream* first_video = nullptr;
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    const AVCodecParameters* par = format->streams[i]->codecpar;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO && first_video == nullptr) {
      first_video = format->streams[i];
    }
    if (par->codec_type == AVMEDIA_TYPE_AUDIO && !p.audio) {
      p.audio = true;
      p.audio_codec = avcodec_get_name(par->codec_id);
    }
  }
  if (format->duration != AV_NOPTS_VALUE) p.duration = format->duration / double{AV_TIME_BASE};
  if (first_video == nullptr) return p;
  const AVCodecParameters* par = first_video->codecpar;
  p.codec = avcodec_get_name(par->codec_id);
  const char* pix_fmt = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format));
  p.pix_fmt = pix_fmt != nullptr ? pix_fmt : "unknown";
  static const std::map<AVFieldOrder, std::string> kFieldOrders = {
      {AV_FIELD_PROGRESSIVE, "progressive"},
      {AV_FIELD_TT, "tt"},
      {AV_FIELD_BB, "bb"},
      {AV_FIELD_TB, "tb"},
      {AV_FIELD_BT, "bt"}};
  const auto order = kFieldOrders.find(par->field_order);
  p.field_order = order != kFieldOrders.end() ? order->second : "unknown";
  p.rate = std::to_string(first_video->r_frame_rate.num) + "/" +
           std::to_string(first_video->r_frame_rate.den);
  const char* profile = avcodec_profile_name(par->codec_id, par->profile);
  p.profile = profile != nullptr                   ? profile
              : par->profile != FF_PROFILE_UNKNOWN ? std::to_string(par->profile)
                                                   : "unknown";
  p.width = par->width;
  p.height = par->height;
  PacketPtr packet(av_packet_alloc());
  while (av_read_frame(format.get(), packet.get()) >= 0) {
    if (packet->stream_index == first_video->index) ++p.frames;
    av_packet_unref(packet.get());
  }
  return p;
}

Result<Probe> RunSpec(const TranscodeSpec& spec, const std::string& input, const std::string& ext,
                      test::TempDir& dir) {
  std::string out = dir.path() + "/out." + ext;
  Result<TranscodeResult> result = Transcode(input, out, spec, MediaLimits{}, nullptr, nullptr);
  if (!result.ok()) return result.status();
  return ProbeFile(out);
}

// The first audio stream's duration in `dir`'s out.mov (RunSpec's output).
double OutputAudioSeconds(const test::TempDir& dir) {
  return std::atof(Output("ffprobe -v error -select_streams a:0 -show_entries stream=duration "
                          "-of default=nw=1:nk=1 '" +
                          dir.path() + "/out.mov'")
                       .c_str());
}

// `spec` at each output rate of `frames_at` (rate, frames): the frame count,
// and the sound lasting `seconds` (within `tolerance`).
void ExpectFramesAndSoundAtEachRate(TranscodeSpec spec, const std::string& input,
                                    const std::vector<std::pair<double, int>>& frames_at,
                                    double seconds, double tolerance, test::TempDir& dir) {
  for (const auto& [fps, frames] : frames_at) {
    SCOPED_TRACE(fps);
    spec.fps = fps;
    auto probe = RunSpec(spec, input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_EQ(probe->frames, frames);
    EXPECT_NEAR(OutputAudioSeconds(dir), seconds, tolerance);
  }
}

struct PairCase {
  std::string container, codec, profile, pix_fmt, probe_codec;
  int width, height;
  std::optional<double> mbps;
};

// XDCAM HD422 keeps its GOP cadence (an I-frame every 12 pictures) through
// cuts: mpeg2video's scene-change detection had added I-frames at a flash.
TEST(TranscodeTest, XdcamKeepsAFixedGopThroughCuts) {
  test::TempDir dir;
  const std::string input = dir.path() + "/cuts.mp4";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i \"color=c=black:s=320x240:r=50:d=1,"
             "drawbox=c=white:t=fill:enable='between(t\\,0.3\\,0.5)'\" "
             "-c:v libx264 -preset ultrafast -pix_fmt yuv420p '" +
             input + "'"));
  TranscodeSpec spec = Base();
  spec.container = "mxf";
  spec.codec = "xdcam";
  spec.pixel_format = "yuv422p";
  spec.bitrate_mbps = 50;
  spec.width = 1280;
  spec.height = 720;
  spec.fps = spec.source_fps = 50;
  spec.keep_audio = false;
  auto probe = RunSpec(spec, input, "mxf", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  const std::string types = Output(
      "ffprobe -v error -select_streams v:0 -show_entries frame=pict_type -of default=nw=1:nk=1 '" +
      dir.path() + "/out.mxf' | tr -d '\\n'");
  ASSERT_EQ(types.size(), 50u) << types;
  for (size_t picture = 0; picture < types.size(); ++picture) {
    EXPECT_EQ(types[picture] == 'I', picture % 12 == 0) << picture << ": " << types;
  }
}

TEST(TranscodeTest, EveryContainerCodecPairAndProfile) {
  const std::vector<PairCase> cases = {
      {"mov", "h264", "", "yuv420p", "h264", 320, 240, 1.0},
      {"mov", "hevc", "", "yuv420p", "hevc", 320, 240, 1.0},
      {"mov", "mpeg2", "", "yuv420p", "mpeg2video", 320, 240, 2.0},
      {"mov", "ffv1", "", "yuv420p", "ffv1", 320, 240, std::nullopt},
      {"mov", "prores", "proxy", "yuv422p10le", "prores", 320, 240, std::nullopt},
      {"mov", "prores", "lt", "yuv422p10le", "prores", 320, 240, std::nullopt},
      {"mov", "prores", "standard", "yuv422p10le", "prores", 320, 240, std::nullopt},
      {"mov", "prores", "hq", "yuv422p10le", "prores", 320, 240, std::nullopt},
      {"mov", "prores", "4444", "yuv444p10le", "prores", 320, 240, std::nullopt},
      {"mov", "prores", "4444xq", "yuv444p10le", "prores", 320, 240, std::nullopt},
      {"mov", "dnxhd", "dnxhr_lb", "yuv422p", "dnxhd", 320, 240, std::nullopt},
      {"mov", "dnxhd", "dnxhr_sq", "yuv422p", "dnxhd", 320, 240, std::nullopt},
      {"mov", "dnxhd", "dnxhr_hq", "yuv422p", "dnxhd", 320, 240, std::nullopt},
      {"mov", "dnxhd", "dnxhr_hqx", "yuv422p10le", "dnxhd", 320, 240, std::nullopt},
      {"mov", "dnxhd", "dnxhr_444", "yuv444p10le", "dnxhd", 320, 240, std::nullopt},
      {"mov", "dnxhd", "dnxhd_sq", "yuv422p", "dnxhd", 1280, 720, 60},
      {"mxf", "h264", "", "yuv420p", "h264", 320, 240, 1.0},
      {"mxf", "mpeg2", "", "yuv422p", "mpeg2video", 320, 240, 4.0},
      {"mxf", "dnxhd", "dnxhr_sq", "yuv422p", "dnxhd", 320, 240, std::nullopt},
      {"mxf", "xdcam", "", "yuv422p", "mpeg2video", 1280, 720, 50},
      {"mp4", "h264", "", "yuv420p", "h264", 320, 240, 1.0},
      {"mp4", "hevc", "", "yuv420p", "hevc", 320, 240, 1.0},
      {"mts", "h264", "", "yuv420p", "h264", 320, 240, 1.0},
      {"mts", "hevc", "", "yuv420p", "hevc", 320, 240, 1.0},
      {"mts", "mpeg2", "", "yuv420p", "mpeg2video", 320, 240, 2.0},
  };
  test::TempDir dir;
  const std::string& input = Inputs::Get().progressive;
  for (const PairCase& c : cases) {
    TranscodeSpec spec = Base();
    spec.container = c.container;
    spec.codec = c.codec;
    spec.profile = c.profile;
    spec.pixel_format = c.pix_fmt;
    spec.bitrate_mbps = c.mbps;
    spec.width = c.width;
    spec.height = c.height;
    spec.has_range = true;  // keep the big-frame cases short
    spec.start_ms = 0;
    spec.end_ms = c.width > 320 ? 400 : 1000;
    std::string label = c.container + "/" + c.codec + " " + c.profile;
    auto probe = RunSpec(spec, input, c.container, dir);
    ASSERT_TRUE(probe.ok()) << label << ": " << probe.status().ToString();
    EXPECT_EQ(probe->codec, c.probe_codec) << label;
    // FFmpeg's ProRes decoder reports 4444 as 12-bit whatever was encoded.
    std::string decoded_format =
        c.pix_fmt == "yuv444p10le" && c.codec == "prores" ? "yuv444p12le" : c.pix_fmt;
    EXPECT_EQ(probe->pix_fmt, decoded_format) << label;
    EXPECT_EQ(probe->width, c.width) << label;
    EXPECT_EQ(probe->height, c.height) << label;
    EXPECT_EQ(probe->frames, c.width > 320 ? 10 : 25) << label;
    EXPECT_TRUE(probe->audio) << label;
    EXPECT_EQ(probe->audio_codec,
              c.container == "mov" || c.container == "mxf" ? "pcm_s24le" : "aac")
        << label;
  }
}

TEST(TranscodeTest, EveryChromaAndBitDepthEachCodecSupports) {
  // The validator's tables (videos::ChromaFor / BitsFor) are the contract;
  // every combination they allow must encode and probe back as itself.
  test::TempDir dir;
  for (const std::string codec : {"h264", "hevc", "mpeg2", "ffv1"}) {
    for (const std::string& chroma : videos::ChromaFor(codec, "")) {
      for (int bits : videos::BitsFor(codec, "", chroma)) {
        TranscodeSpec spec = Base();
        spec.codec = codec;
        spec.pixel_format = PixelFormatFor(chroma, bits);
        if (codec == "ffv1") spec.bitrate_mbps.reset();
        spec.has_range = true;
        spec.end_ms = 200;
        spec.keep_audio = false;
        auto probe = RunSpec(spec, Inputs::Get().progressive, "mov", dir);
        ASSERT_TRUE(probe.ok()) << codec << " " << spec.pixel_format << ": "
                                << probe.status().ToString();
        EXPECT_EQ(probe->pix_fmt, spec.pixel_format) << codec;
        EXPECT_EQ(probe->frames, 5) << codec << " " << spec.pixel_format;
      }
    }
  }
}

// FFV1 at frames too large for 4 slices (the encoder's limit per slice):
// 6000x4000 in 8 bits had failed to open the encoder ("Unsupported number 4
// of slices"), as had 8K at any depth.
TEST(TranscodeTest, Ffv1TakesFramesTooLargeForFourSlices) {
  test::TempDir dir;
  TranscodeSpec spec = Base();
  spec.codec = "ffv1";
  spec.bitrate_mbps.reset();
  spec.width = 6000;
  spec.height = 4000;
  spec.has_range = true;
  spec.end_ms = 40;
  spec.keep_audio = false;
  auto probe = RunSpec(spec, Inputs::Get().progressive, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->width, 6000);
  EXPECT_EQ(probe->frames, 1);
}

// MPEG-2 below one frame a second: its buffer holds a frame (one second's
// bits had been less, and the encoder refused to open).
TEST(TranscodeTest, Mpeg2BelowOneFrameASecond) {
  test::TempDir dir;
  TranscodeSpec spec = Base();
  spec.codec = "mpeg2";
  spec.fps = 0.75;
  spec.keep_audio = false;
  auto probe = RunSpec(spec, Inputs::Get().progressive, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->frames, 2);  // 2 s at 0.75 frames/s
}

TEST(TranscodeTest, ScanningFormsSetTheFieldOrder) {
  test::TempDir dir;
  // Progressive in, interlaced TFF / BFF out.
  for (bool tff : {true, false}) {
    for (const char* codec : {"h264", "mpeg2", "prores"}) {
      TranscodeSpec spec = Base();
      spec.codec = codec;
      spec.pixel_format = std::string(codec) == "prores" ? "yuv422p10le" : "yuv420p";
      if (std::string(codec) == "prores") spec.bitrate_mbps.reset();
      spec.interlaced_output = true;
      spec.top_field_first = tff;
      spec.keep_audio = false;
      auto probe = RunSpec(spec, Inputs::Get().progressive, "mov", dir);
      ASSERT_TRUE(probe.ok()) << codec << ": " << probe.status().ToString();
      EXPECT_EQ(probe->field_order, tff ? "tt" : "bb") << codec;
      EXPECT_EQ(probe->frames, 50) << codec;  // segmented frames: one per input frame
      EXPECT_EQ(probe->rate, "25/1") << codec;
    }
  }
  // Interlaced in, kept interlaced (field-aware scale) with the order swapped.
  TranscodeSpec keep = Base();
  keep.codec = "mpeg2";
  keep.pixel_format = "yuv422p";
  keep.bitrate_mbps = 4;
  keep.source_interlaced = true;
  keep.interlaced_output = true;
  keep.top_field_first = false;
  keep.width = 640;
  keep.height = 480;
  auto kept = RunSpec(keep, Inputs::Get().interlaced, "mov", dir);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->field_order, "bb");
  EXPECT_EQ(kept->width, 640);
}

// Interlaced 4:2:0 kept interlaced, scaled to a height whose fields have an
// odd number of lines (238: fields of 119), into 4:2:2. libswscale, scaling
// fields straight into 4:2:0 of half a chroma line, corrupted the heap and
// killed the worker ("malloc_consolidate(): invalid chunk size"); the
// pictures now take the 4:2:2 format before they are scaled.
TEST(TranscodeTest, FieldsOfAnOddNumberOfLinesFrom420AreScaledSafely) {
  test::TempDir dir;
  const std::string input = dir.path() + "/i420.mov";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=50 -t 0.4 "
             "-vf tinterlace=mode=interleave_top,setfield=tff -c:v libx264 "
             "-preset ultrafast -flags +ildct+ilme -pix_fmt yuv420p '" +
             input + "'"));
  // The own scalers: filters_test's OwnScalersMakeOddFieldsFrom420….
  for (const std::string scaler : {"", "scale"}) {
    SCOPED_TRACE("scaler '" + scaler + "'");
    TranscodeSpec spec = Base();
    spec.codec = "prores";
    spec.profile = "standard";
    spec.pixel_format = "yuv422p10le";
    spec.source_interlaced = spec.interlaced_output = true;
    spec.source_top_field_first = spec.top_field_first = true;
    spec.scaler = scaler;
    spec.height = 238;
    auto probe = RunSpec(spec, input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_EQ(probe->height, 238);
    EXPECT_EQ(probe->pix_fmt, "yuv422p10le");
    EXPECT_EQ(probe->field_order, "tt");
    EXPECT_EQ(probe->frames, 10);
  }
  // 4:2:0 output cannot have such fields: refused, not attempted.
  TranscodeSpec spec = Base();
  spec.source_interlaced = spec.interlaced_output = true;
  spec.height = 238;
  auto refused = RunSpec(spec, input, "mov", dir);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("multiple of 4"), std::string::npos)
      << refused.status().ToString();
}

TEST(TranscodeTest, InterlacedDnxhdAndXdcamAt1080i) {
  // 1080i25 bottom field first in; DNxHD and XDCAM 1080i are top field first,
  // so the fields are swapped (fieldorder) and kept interlaced.
  test::TempDir dir;
  std::string input = dir.path() + "/bff.mov";
  Ffmpeg(
      "-f lavfi -i testsrc2=size=1920x1080:rate=50 -t 0.4 "
      "-vf tinterlace=mode=interleave_bottom,setfield=bff -c:v mpeg2video -flags +ildct+ilme "
      "-top 0 -pix_fmt yuv422p -b:v 20M '" +
      input + "'");
  struct Case {
    std::string container, codec, profile, pix_fmt;
    double mbps;
    bool top_field_first;
    std::string stream_field_order;  // what ffprobe shows for the stream
  };
  const std::vector<Case> cases = {
      // FFmpeg's mov muxer writes no 'fiel' atom for DNxHD: the order is in the frames.
      {"mov", "dnxhd", "dnxhd_sq", "yuv422p", 120, true, "unknown"},
      {"mxf", "dnxhd", "dnxhd_hqx", "yuv422p10le", 185, true, "tt"},
      {"mxf", "xdcam", "", "yuv422p", 50, true, "tt"},
  };
  for (const Case& c : cases) {
    TranscodeSpec spec = Base();
    spec.container = c.container;
    spec.codec = c.codec;
    spec.profile = c.profile;
    spec.pixel_format = c.pix_fmt;
    spec.bitrate_mbps = c.mbps;
    spec.width = spec.source_width = 1920;
    spec.height = spec.source_height = 1080;
    spec.source_interlaced = true;
    spec.source_top_field_first = false;
    spec.interlaced_output = true;
    spec.top_field_first = c.top_field_first;
    spec.keep_audio = false;
    std::string label = c.container + "/" + c.codec + " " + c.profile;
    auto probe = RunSpec(spec, input, c.container, dir);
    ASSERT_TRUE(probe.ok()) << label << ": " << probe.status().ToString();
    EXPECT_EQ(probe->frames, 10) << label;
    EXPECT_EQ(probe->pix_fmt, c.pix_fmt) << label;
    EXPECT_EQ(probe->field_order.substr(0, c.stream_field_order.size()), c.stream_field_order)
        << label;
    std::string first = Output(
        "ffprobe -v error -select_streams v:0 -read_intervals %+#1 "
        "-show_entries frame=interlaced_frame,top_field_first -of csv=p=0 '" +
        dir.path() + "/out." + c.container + "'");
    EXPECT_EQ(first.substr(0, 3), c.top_field_first ? "1,1" : "1,0") << label;
  }
}

// Bottom-first fields whose frames are flagged progressive (or top-first), as
// archive files' flags lie, are still turned top-first when asked: the output's
// top field is the one shown first. fieldorder had left such frames alone, so
// a file labelled top-first carried bottom-first pictures (audit 27 F1).
TEST(TranscodeTest, FieldsAreSwappedWhateverTheFramesAreFlagged) {
  test::TempDir dir;
  for (const char* flag : {"prog", "tff"}) {
    SCOPED_TRACE(flag);
    // White first in time, in the bottom field; black after it, in the top.
    const std::string input = dir.path() + "/bff-" + flag + ".mkv";
    ASSERT_TRUE(Ffmpeg(
        "-f lavfi -i color=c=white:s=320x240:r=25:d=0.4 -f lavfi -i color=c=black:s=320x240:r=25:"
        "d=0.4 -filter_complex \"[0][1]interleave,tinterlace=interleave_bottom,setfield=" +
        std::string(flag) + ",fps=25\" -c:v ffv1 '" + input + "'"));
    TranscodeSpec spec = Lossless();
    spec.source_interlaced = spec.interlaced_output = true;
    spec.source_top_field_first = false;
    spec.top_field_first = true;
    auto probe = RunSpec(spec, input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    const std::string picture = FirstPicture(dir);
    ASSERT_GE(picture.size(), 320u * 240);
    for (int row : {20, 21, 100, 101}) {
      const int luma = static_cast<unsigned char>(picture[row * 320 + 160]);
      EXPECT_EQ(luma, row % 2 == 0 ? 235 : 16) << "row " << row;
    }
  }
}

TEST(TranscodeTest, DeinterlacersAtFrameAndFieldRate) {
  test::TempDir dir;
  for (const char* deinterlacer : {"yadif", "bwdif", "weston3f"}) {
    for (bool field_rate : {false, true}) {
      TranscodeSpec spec = Base();
      spec.source_interlaced = true;
      spec.deinterlacer = deinterlacer;
      spec.deinterlace_field_rate = field_rate;
      spec.fps = field_rate ? 50 : 25;
      spec.keep_audio = false;
      auto probe = RunSpec(spec, Inputs::Get().interlaced, "mov", dir);
      ASSERT_TRUE(probe.ok()) << deinterlacer << ": " << probe.status().ToString();
      EXPECT_EQ(probe->rate, field_rate ? "50/1" : "25/1") << deinterlacer;
      EXPECT_EQ(probe->frames, field_rate ? 100 : 50) << deinterlacer;
      EXPECT_TRUE(probe->field_order == "progressive" || probe->field_order.empty())
          << probe->field_order;
    }
  }
}

// A range's last picture is deinterlaced with the picture after it, as in
// the whole file: its fields come out as they do there. The range had been
// cut before the deinterlacer, which made the last picture's second field
// without the next (frame 49 differed), and a range of one picture gave one
// field twice (audit 38 F5).
TEST(TranscodeTest, ARangesLastPictureIsDeinterlacedWithTheNext) {
  test::TempDir dir;
  // The MD5 of each picture of `dir`'s out.mov (RunSpec's output).
  auto pictures = [&dir] {
    std::vector<std::string> md5s;
    std::istringstream lines(
        Output("ffmpeg -nostdin -v error -i '" + dir.path() + "/out.mov' -map 0:v -f framemd5 -"));
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line[0] != '#') md5s.push_back(line.substr(line.rfind(' ') + 1));
    }
    return md5s;
  };
  for (const char* deinterlacer : {"yadif", "bwdif", "weston3f"}) {
    SCOPED_TRACE(deinterlacer);
    TranscodeSpec spec = Lossless();
    spec.source_interlaced = true;
    spec.deinterlacer = deinterlacer;
    spec.deinterlace_field_rate = true;
    spec.fps = 50;
    // The pictures of the range [start_ms, end_ms] (the whole file for -1).
    auto cut = [&](int start_ms, int end_ms) {
      spec.has_range = start_ms >= 0;
      spec.start_ms = std::max(start_ms, 0);
      spec.end_ms = end_ms;
      EXPECT_TRUE(RunSpec(spec, Inputs::Get().interlaced, "mov", dir).ok());
      return pictures();
    };
    const std::vector<std::string> whole = cut(-1, 0);
    ASSERT_EQ(whole.size(), 100u);
    const std::vector<std::string> ranged = cut(0, 1000);
    ASSERT_EQ(ranged.size(), 50u);
    EXPECT_EQ(ranged[48], whole[48]);
    EXPECT_EQ(ranged[49], whole[49]);
    const std::vector<std::string> one = cut(1000, 1040);
    ASSERT_EQ(one.size(), 2u);
    EXPECT_NE(one[0], one[1]);
    // Ending in its last picture's second half (1480 + 20 ms > 1490): that
    // picture's second field still belongs to the range, made with the next
    // (the first version of the second cut, at the range's end, dropped it:
    // 49 frames; audit 41 F1).
    const std::vector<std::string> late = cut(500, 1490);
    ASSERT_EQ(late.size(), 50u);
    EXPECT_EQ(late[48], whole[74]);
    EXPECT_EQ(late[49], whole[75]);
  }
}

TEST(TranscodeTest, FrameRateConvertersReachTheTargetRate) {
  test::TempDir dir;
  struct Case {
    std::string converter;
    double fps;
    std::string rate;
    int frames;
  };
  for (const Case& c : std::vector<Case>{{"fps", 30000.0 / 1001, "30000/1001", 60},
                                         {"fblend", 50, "50/1", 100},
                                         {"mcinterpolate", 50, "50/1", 100}}) {
    TranscodeSpec spec = Base();
    spec.frame_rate_converter = c.converter;
    spec.fps = c.fps;
    auto probe = RunSpec(spec, Inputs::Get().progressive, "mov", dir);
    ASSERT_TRUE(probe.ok()) << c.converter << ": " << probe.status().ToString();
    EXPECT_EQ(probe->rate, c.rate) << c.converter;
    // The rate and the count are exact: the converters run to the clip's end,
    // not to its last frame's timestamp.
    EXPECT_EQ(probe->frames, c.frames) << c.converter;
    EXPECT_NEAR(probe->duration, 2.0, 0.1) << c.converter << ": audio keeps its speed";
  }
}

TEST(TranscodeTest, RangeTrimsVideoAndAudioInSync) {
  test::TempDir dir;
  // Also as an MPEG program stream (.mpg, .vob), whose muxer stores a
  // stream's audio well after the video of the same instant: reading had
  // stopped at the range's last picture, and the audio ended 0.5 s early.
  const std::string program_stream = dir.path() + "/source.mpg";
  Ffmpeg("-i '" + Inputs::Get().progressive + "' -c:v mpeg2video -q:v 2 -c:a mp2 -b:a 192k '" +
         program_stream + "'");
  for (const std::string& input : {Inputs::Get().progressive, program_stream}) {
    TranscodeSpec spec = Base();
    spec.has_range = true;
    spec.start_ms = 520;
    spec.end_ms = 1480;
    auto probe = RunSpec(spec, input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << input << ": " << probe.status().ToString();
    EXPECT_NEAR(probe->frames * 0.04, 0.96, 0.04 + 1e-9) << input;  // within one frame
    EXPECT_NEAR(OutputAudioSeconds(dir), 0.96, 0.03) << input;
  }
}

// A range that starts between two pictures (620–1600 ms on 25 fps: its
// pictures are 0.64 … 1.56 s, lasting to 1.6 s) lasts as long at every output
// rate: at 50 fps its 0.96 s are 48 frames. Cut at the range's length (0.98 s), the
// converter's output had held the last picture one frame longer.
TEST(TranscodeTest, ARangeBetweenPicturesLastsAsLongAtEveryRate) {
  test::TempDir dir;
  TranscodeSpec spec = Base();
  spec.has_range = true;
  spec.start_ms = 620;
  spec.end_ms = 1600;
  ExpectFramesAndSoundAtEachRate(spec, Inputs::Get().progressive, {{25, 24}, {50, 48}}, 0.96, 0.01,
                                 dir);
}

// A variable-rate source (phones, screen recordings; here 61 pictures over 3 s
// in Matroska, nominally 30 fps) keeps its duration and its sync with the
// audio: each picture is shown at its instant of the constant-rate output,
// repeated over the gaps. Written one after another at 30 fps the pictures
// had lasted 2.03 s against 3 s of sound.
TEST(TranscodeTest, AVariableRateSourceKeepsItsDurationAndSync) {
  test::TempDir dir;
  const std::string input = dir.path() + "/vfr.mkv";
  Ffmpeg(
      "-f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 "
      "-t 3 -vf \"select='not(eq(mod(n\\,7)\\,3))*not(eq(mod(n\\,5)\\,1))'\" -fps_mode vfr "
      "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac '" +
      input + "'");
  TranscodeSpec spec = Base();
  spec.fps = spec.source_fps = 30;
  auto probe = RunSpec(spec, input, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_NEAR(probe->frames / 30.0, 3.0, 1 / 30.0 + 1e-9);  // within one frame
  EXPECT_NEAR(OutputAudioSeconds(dir), 3.0, 0.05);

  // Converted to another rate, it still ends where its last picture ends. In
  // MP4 with B-frames (x264's default) the video stream's recorded duration
  // ends where the last picture starts (2.967 s): cut there, the output had
  // lost its last 40 ms, and the sound under them.
  const std::string mp4 = dir.path() + "/vfr.mp4";
  Ffmpeg(
      "-f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 "
      "-t 3 -vf \"select='not(eq(mod(n\\,7)\\,3))'\" -fps_mode vfr "
      "-c:v libx264 -pix_fmt yuv420p -c:a aac '" +
      mp4 + "'");
  ASSERT_EQ(Output("ffprobe -v error -select_streams v -show_entries stream=duration "
                   "-of default=nw=1:nk=1 '" +
                   mp4 + "'"),
            "2.966667");
  // At 50 fps too: the last picture's end, rounded to the stream's ticks,
  // falls 0.3 ms past 3 s, which had added a held frame and 20 ms of silence.
  ExpectFramesAndSoundAtEachRate(spec, mp4, {{25, 75}, {50, 150}}, 3.0, 0.01, dir);
}

// A range that lies inside a gap of a variable-rate source (a picture at
// 0.96 s held until 2 s, as a screen recording holds a still screen) shows
// the picture on screen then, for the range's length, with its sound. No
// picture starts inside it, so the job had failed ("no picture came out").
TEST(TranscodeTest, ARangeInsideAGapShowsThePictureOnScreen) {
  test::TempDir dir;
  const std::string input = dir.path() + "/gap.mp4";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=sample_rate=48000 -t 3 "
             "-vf \"select='not(between(t\\,1\\,1.99))'\" -fps_mode vfr -c:v libx264 "
             "-preset ultrafast -pix_fmt yuv420p -c:a aac '" +
             input + "'"));
  TranscodeSpec spec = Base();
  spec.source_fps = 25;
  spec.has_range = true;
  spec.start_ms = 1200;
  spec.end_ms = 1600;
  ExpectFramesAndSoundAtEachRate(spec, input, {{25, 10}, {50, 20}}, 0.4, 0.03, dir);
  // The picture shown is the one from 0.96 s.
  auto probe = RunSpec(LosslessRange(spec.start_ms, spec.end_ms), input, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(FirstPicture(dir), Output("ffmpeg -nostdin -v error -i '" + input +
                                      "' -vf \"select='eq(n\\,24)'\" -frames:v 1 -f rawvideo -"));

  // A range that ends inside the gap ends there, whether it starts on the
  // held picture (960–1200 ms) or in the gap; one that starts in the gap and
  // reaches the next picture (1200–2040) shows the held picture until it.
  // The first had run on to the held picture's end at 2 s, with its sound
  // (1.04 s), the last had started at the next picture (40 ms; audit 28 F3).
  for (const auto& [start_ms, end_ms, frames] :
       std::vector<std::tuple<int, int, int>>{{960, 1200, 6}, {1000, 1200, 5}, {1200, 2040, 21}}) {
    SCOPED_TRACE(std::to_string(start_ms) + "-" + std::to_string(end_ms));
    TranscodeSpec cut = spec;
    cut.start_ms = start_ms;
    cut.end_ms = end_ms;
    ExpectFramesAndSoundAtEachRate(cut, input, {{25, frames}}, frames * 0.04, 0.03, dir);
  }
  // The same in Matroska, whose packets do not say how long the held picture
  // lasts: the first picture past the range does. It had lasted one period
  // (800-1600 ms gave 0.2 s; audit 29 F1).
  const std::string matroska = dir.path() + "/gap.mkv";
  ASSERT_TRUE(Ffmpeg("-i '" + input + "' -c copy '" + matroska + "'"));
  TranscodeSpec into_gap = spec;
  into_gap.start_ms = 800;
  into_gap.end_ms = 1600;
  ExpectFramesAndSoundAtEachRate(into_gap, matroska, {{25, 20}}, 0.8, 0.03, dir);

  // Further in, where the range is reached by seeking (from 2 s on), and at
  // the last picture (2.48 s, lasting to 2.52) while the sound runs on to
  // 4 s: it is shown as long as it lasts itself, and the sound with it.
  const std::string late = dir.path() + "/late gap.mp4";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=2.5 -f lavfi -i "
             "sine=sample_rate=48000:duration=4 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "
             "-c:a aac '" +
             late + "'"));
  spec.start_ms = 2500;
  spec.end_ms = 3400;
  ExpectFramesAndSoundAtEachRate(spec, late, {{25, 1}, {50, 1}}, 0.02, 0.021, dir);
}

// A range in an MPEG-TS file whose keyframes are 5 s apart, past the 2 s
// from which the transcoder seeks: the seek lands wherever a packet has the
// time, so it is checked and taken back until a keyframe precedes the range.
// It had landed after the keyframe, and nothing decoded until the next one
// ("no picture came out"; audit 29 F3).
TEST(TranscodeTest, ASeekIntoALongGroupOfPicturesStartsAtItsKeyframe) {
  test::TempDir dir;
  const std::string input = dir.path() + "/long gop.ts";
  ASSERT_TRUE(Ffmpeg(
      "-f lavfi -i testsrc2=size=320x240:rate=25:duration=8 -f lavfi -i "
      "sine=sample_rate=48000:duration=8 -c:v libx264 -preset ultrafast -g 125 -keyint_min 125 "
      "-sc_threshold 0 -pix_fmt yuv420p -c:a aac '" +
      input + "'"));
  TranscodeSpec spec = LosslessRange(3000, 4000);
  spec.keep_audio = true;
  auto probe = RunSpec(spec, input, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->frames, 25);
  EXPECT_NEAR(OutputAudioSeconds(dir), 1.0, 0.03);
  // Its first picture is the source's at 3 s.
  EXPECT_EQ(FirstPicture(dir), Output("ffmpeg -nostdin -v error -i '" + input +
                                      "' -vf \"select='eq(n\\,75)'\" -frames:v 1 -f rawvideo -"));
}

// A last picture that really lasts a second (a slide at the end: its MP4
// sample says so, and the file's recorded end agrees) is held that second at
// any output rate, and its sound kept. Cut one period after it started, it
// had lost the second and the sound under it.
TEST(TranscodeTest, ALastPictureThatLastsASecondKeepsItsSecond) {
  test::TempDir dir;
  const std::string made = dir.path() + "/made.mp4";
  const std::string input = dir.path() + "/slide.mp4";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=sample_rate=48000 "
             "-t 2 -frames:v 26 -c:v libx264 -preset ultrafast -bf 0 -c:a aac '" +
             made + "'"));
  ASSERT_TRUE(
      Ffmpeg("-i '" + made +
             "' -c copy -bsf:v \"setts=duration=if(eq(N\\,25)\\,25*DURATION\\,DURATION)\" '" +
             input + "'"));
  ExpectFramesAndSoundAtEachRate(Base(), input, {{25, 50}, {50, 100}}, 2.0, 0.03, dir);
}

// Progressive pictures woven into interlaced frames (a deinterlacer and
// interlaced output): an odd count's last picture fills the last frame's two
// fields. 99 pictures at 50p had given 49 frames at 25i, and sound to match.
TEST(TranscodeTest, WeavingAnOddNumberOfPicturesKeepsTheLast) {
  test::TempDir dir;
  const std::string input = dir.path() + "/p50.mov";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=50 -f lavfi -i sine=sample_rate=48000 "
             "-frames:v 99 -t 1.98 -c:v libx264 -preset ultrafast -c:a pcm_s16le '" +
             input + "'"));
  for (bool odd : {true, false}) {
    SCOPED_TRACE(odd);
    TranscodeSpec spec = Base();
    spec.source_fps = 50;
    spec.fps = 25;
    spec.deinterlacer = "bwdif";
    spec.interlaced_output = true;
    spec.top_field_first = true;
    spec.codec = "mpeg2";
    spec.has_range = !odd;  // 98 pictures
    spec.end_ms = 1960;
    auto probe = RunSpec(spec, input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_EQ(probe->frames, odd ? 50 : 49);
    EXPECT_NEAR(OutputAudioSeconds(dir), odd ? 2.0 : 1.96, 0.01);
  }
}

// A last sample recorded shorter than the rest (an MP4 remuxed from Matroska,
// whose last block has no duration: 19 ms of a 40 ms picture; FFmpeg's
// variable-rate MP4 without B-frames writes 1 ms) still lasts a period of the
// stream's rate: cut at its recorded end, 25 → 50 fps had lost a frame and
// the sound under it. And an end that the millisecond timestamps put a
// fraction of a millisecond past a frame (30 fps: 1.967 s + 1/30) adds no
// held frame. Nor does a packet that says it lasts longer (a Matroska
// default duration of 0.5 s on 25 fps pictures had held the last one for
// two more frames).
TEST(TranscodeTest, TheLastPictureLastsAPeriod) {
  test::TempDir dir;
  const std::string slow = dir.path() + "/slow.mkv";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=sample_rate=48000 "
             "-t 2 -c:v libx264 -preset ultrafast -bf 0 -c:a aac '" +
             slow + "'"));
  ASSERT_EQ(
      std::system(("mkvpropedit -q '" + slow + "' --edit track:v1 --set default-duration=500000000")
                      .c_str()),
      0);
  TranscodeSpec slow_spec = Base();
  slow_spec.fps = 50;
  auto slow_probe = RunSpec(slow_spec, slow, "mov", dir);
  ASSERT_TRUE(slow_probe.ok()) << slow_probe.status().ToString();
  EXPECT_EQ(slow_probe->frames, 100);

  for (int source_rate : {25, 30}) {
    const std::string mkv = dir.path() + "/cut" + std::to_string(source_rate) + ".mkv";
    const std::string mp4 = dir.path() + "/remuxed" + std::to_string(source_rate) + ".mp4";
    ASSERT_TRUE(Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=" + std::to_string(source_rate) +
                       " -f lavfi -i sine=sample_rate=48000 -t 2 -c:v libx264 -preset ultrafast "
                       "-bf 0 -c:a aac '" +
                       mkv + "'"));
    ASSERT_TRUE(Ffmpeg("-i '" + mkv + "' -c copy '" + mp4 + "'"));
    const std::string last = Output(
        "ffprobe -v error -select_streams v -show_entries packet=duration_time -of csv=p=0 '" +
        mp4 + "' | tail -1");
    ASSERT_LT(std::atof(last.c_str()), 0.9 / source_rate) << "the last sample is recorded short";
    SCOPED_TRACE(source_rate);
    TranscodeSpec spec = Base();
    spec.source_fps = source_rate;
    ExpectFramesAndSoundAtEachRate(spec, mp4, {{50, 100}, {60, 120}}, 2.0, 0.01, dir);
  }
}

// A broadcast capture that switches size and format mid-stream (here 1 s of
// 320x240 4:2:0, then 1 s of 640x480 4:2:2 colour bars, one MPEG-TS) comes
// out whole at the size it started with: the later frames are scaled to the
// first ones' size and format before the filters. hqdn3d read past its
// buffers on the larger frames and brought the worker down ("double free or
// corruption"); yadif too is handed frames of one size only.
TEST(TranscodeTest, AFrameSizeChangeMidStreamIsScaledToTheFirstSize) {
  test::TempDir dir;
  const std::string input = dir.path() + "/switch.ts";
  testing::SplicedTs(
      input,
      "-f lavfi -i testsrc2=size=320x240:rate=25 -t 1 -c:v libx264 -preset ultrafast "
      "-pix_fmt yuv420p",
      "-f lavfi -i smptebars=size=640x480:rate=25 -t 1 -c:v libx264 -preset "
      "ultrafast -pix_fmt yuv422p",
      1);
  for (const char* step : {"hqdn3d", "yadif", ""}) {
    SCOPED_TRACE(step);
    TranscodeSpec spec = Base();
    if (std::string(step) == "hqdn3d") spec.denoiser = step;
    if (std::string(step) == "yadif") spec.deinterlacer = step;
    auto probe = RunSpec(spec, input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_EQ(probe->width, 320);
    EXPECT_EQ(probe->height, 240);
    EXPECT_NEAR(probe->frames, 50, 1);
    // The second half is the bars, scaled.
    const std::string psnr =
        Output("ffmpeg -nostdin -v info -i '" + dir.path() +
               "/out.mov' -f lavfi -i smptebars=size=640x480:rate=25:duration=1 -lavfi "
               "\"[0]trim=start=1.4:end=1.9,setpts=PTS-STARTPTS[a];"
               "[1]scale=320:240,format=yuv420p,trim=end=0.5[b];[a][b]psnr\" -f null - 2>&1");
    const size_t at = psnr.find("average:");
    ASSERT_NE(at, std::string::npos) << psnr;
    EXPECT_GT(std::atof(psnr.c_str() + at + 8), 30.0) << psnr.substr(at);
  }
}

// The same for audio: transport streams cut together whose audio changes
// format at the cut (48 kHz stereo, then 44.1 kHz 5.1) keep all of it,
// resampled to the first part's format (the audio graph refused the new
// format: "filtering audio: Invalid argument", retried and failed).
TEST(TranscodeTest, AudioThatChangesFormatMidStreamIsResampledToTheFirst) {
  test::TempDir dir;
  const std::string input = dir.path() + "/cut.ts";
  testing::SplicedTs(input, testing::kTwoSecondsOfStereo, testing::kTwoSecondsOf51, 2);
  auto probe = RunSpec(Base(), input, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_NEAR(probe->frames, 100, 1);
  const std::string audio = Output(
      "ffprobe -v error -select_streams a:0 -show_entries stream=channels,duration -of csv=p=0 '" +
      dir.path() + "/out.mov'");
  EXPECT_EQ(audio.substr(0, 2), "2,") << audio;
  EXPECT_NEAR(std::atof(audio.c_str() + 2), 4.0, 0.1) << audio;
}

// A raw elementary stream carries no timestamps: each frame follows on from
// the one before by a frame period (the fps step dropped every frame after
// the first, and the job failed with "the file has no video stream").
TEST(TranscodeTest, FramesWithoutTimestampsFollowOnByTheFrameRate) {
  test::TempDir dir;
  const std::string input = dir.path() + "/raw.h264";
  Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -t 2 -c:v libx264 -preset ultrafast -f h264 '" +
         input + "'");
  for (const char* deinterlacer : {"", "yadif"}) {
    SCOPED_TRACE(deinterlacer);
    TranscodeSpec spec = Base();
    spec.deinterlacer = deinterlacer;
    auto probe = RunSpec(spec, input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_EQ(probe->frames, 50);
  }
}

// A raw MPEG-2 stream with B-pictures has no presentation times; the
// decoder's guess is a frame late. A range counts from the first picture, as
// the metadata does: [0, 3000] of 75 pictures had given 74, and [0, 40]
// ended with none ("no picture came out"). A range past 2 s is read from the
// start too (a seek gave it one picture early, and its last was lost).
TEST(TranscodeTest, ARangeOfARawStreamStartsAtItsFirstPicture) {
  test::TempDir dir;
  const std::string input = dir.path() + "/raw.m2v";
  ASSERT_TRUE(Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -t 3 -c:v mpeg2video -bf 2 '" +
                     input + "'"));
  const std::string source_pictures =
      Output("ffmpeg -nostdin -v error -i '" + input + "' -f rawvideo -");
  const size_t picture = 320 * 240 * 3 / 2;
  ASSERT_EQ(source_pictures.size(), 75 * picture);
  struct Case {
    int start_ms, end_ms;
    int64_t frames;
    int first;  // the source picture the output starts with
  };
  for (const Case& c :
       {Case{0, 3000, 75, 0}, Case{0, 40, 1, 0}, Case{40, 120, 2, 1}, Case{2960, 3000, 1, 74}}) {
    SCOPED_TRACE(std::to_string(c.start_ms) + ".." + std::to_string(c.end_ms));
    auto probe = RunSpec(LosslessRange(c.start_ms, c.end_ms), input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_EQ(probe->frames, c.frames);
    EXPECT_TRUE(FirstPicture(dir) == source_pictures.substr(c.first * picture, picture));
  }
}

// Raw H.264 and HEVC carry no timestamps at all, so a seek fails: a range
// past 2 s had failed three attempts ("seeking input: Operation not
// permitted"). A raw stream cut mid-stream (an off-air capture) whose first
// packet is an undecodable B-picture is raw all the same: [0, 40] had ended
// with no picture, and its last pictures were out of every range's reach.
TEST(TranscodeTest, RawStreamsAreReadFromTheirStart) {
  test::TempDir dir;
  const std::string h264 = dir.path() + "/raw.h264";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -t 3 -c:v libx264 -bf 2 '" + h264 + "'"));
  const std::string whole = dir.path() + "/whole.m2v";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -t 4 -c:v mpeg2video -bf 2 -g 12 "
             "-b:v 1M '" +
             whole + "'"));
  const std::string cut = dir.path() + "/cut.m2v";
  const std::string bytes = ReadBytes(whole);
  WriteFile(cut, bytes.substr(bytes.size() * 37 / 100));
  const int64_t decoded = std::stoll(FfprobeVideo(cut, "nb_read_frames", "-count_frames"));
  ASSERT_GT(decoded, 50);
  struct Case {
    std::string input;
    int start_ms, end_ms;
    int64_t frames;
  };
  for (const Case& c : {Case{h264, 2500, 3000, 12}, Case{cut, 0, 40, 1},
                        Case{cut, 0, 4000, decoded}, Case{cut, 1000, 4000, decoded - 25}}) {
    SCOPED_TRACE(c.input + " " + std::to_string(c.start_ms) + ".." + std::to_string(c.end_ms));
    auto probe = RunSpec(LosslessRange(c.start_ms, c.end_ms), c.input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_EQ(probe->frames, c.frames);
  }
}

// The output carries the pixel shape the plan gives it (an anamorphic 16:9
// PAL frame: 64:45), in the stream and on every frame; by default square.
TEST(TranscodeTest, TheOutputCarriesThePlansPixelShape) {
  test::TempDir dir;
  for (double sample_aspect : {64.0 / 45.0, 1.0}) {
    TranscodeSpec spec = Base();
    spec.sample_aspect = sample_aspect;
    for (const char* container : {"mov", "mxf"}) {
      spec.container = container;
      auto probe = RunSpec(spec, Inputs::Get().progressive, container, dir);
      ASSERT_TRUE(probe.ok()) << probe.status().ToString();
      EXPECT_EQ(FfprobeVideo(dir.path() + "/out." + container, "sample_aspect_ratio"),
                sample_aspect == 1.0 ? "1:1" : "64:45")
          << container;
    }
  }
  // DNxHR in MXF: FFmpeg's muxer records the frame's shape as the display
  // aspect (720x576 at 64:45 showed 5:4); the written file is corrected.
  for (const char* profile : {"dnxhr_hq", "dnxhr_444"}) {
    TranscodeSpec spec = Base();
    spec.width = 720;
    spec.height = 576;
    spec.sample_aspect = 64.0 / 45.0;
    spec.container = "mxf";
    spec.codec = "dnxhd";
    spec.profile = profile;
    spec.pixel_format = std::string(profile) == "dnxhr_444" ? "yuv444p10le" : "yuv422p";
    spec.keep_audio = false;
    auto probe = RunSpec(spec, Inputs::Get().progressive, "mxf", dir);
    ASSERT_TRUE(probe.ok()) << profile << ": " << probe.status().ToString();
    EXPECT_EQ(FfprobeVideo(dir.path() + "/out.mxf", "display_aspect_ratio"), "16:9") << profile;
    EXPECT_EQ(FfprobeVideo(dir.path() + "/out.mxf", "sample_aspect_ratio"), "64:45") << profile;
    EXPECT_EQ(Output("ffmpeg -v error -i '" + dir.path() + "/out.mxf' -f null - 2>&1"), "")
        << profile;
  }
}

// A picture of another shape than the frame sits in it at its own aspect,
// centred, with black around it (a 4:3 source at hd_1080p had been stretched
// to 16:9): white 4:3 pictures in a 16:9 frame leave black columns at both
// sides; kept fields letterboxed keep their parity (red top fields, blue
// bottom ones, from the picture's first line on).
TEST(TranscodeTest, APictureOfAnotherShapeSitsInTheFrameAtItsAspect) {
  test::TempDir dir;
  const std::string white = dir.path() + "/white.mkv";
  ASSERT_TRUE(Ffmpeg("-f lavfi -i color=c=white:s=320x240:r=25:d=0.4 -c:v ffv1 '" + white + "'"));
  TranscodeSpec spec = Boxed(640, 360, 80, 0, 480, 360);
  auto probe = RunSpec(spec, white, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->width, 640);
  EXPECT_EQ(probe->height, 360);
  // The Y plane as coded (format=gray would stretch it to full range).
  const std::string luma = FirstPicture(dir);
  ASSERT_EQ(luma.size(), 640u * 360 * 3 / 2);
  for (int row : {0, 180, 359}) {
    for (int x : {0, 79, 560, 639}) {
      EXPECT_EQ(static_cast<unsigned char>(luma[row * 640 + x]), 16) << row << "," << x;
    }
    for (int x : {80, 320, 559}) {
      EXPECT_GE(static_cast<unsigned char>(luma[row * 640 + x]), 230) << row << "," << x;
    }
  }

  const std::string fields = dir.path() + "/fields.mkv";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i color=c=red:s=320x240:r=25:d=0.4 -f lavfi -i "
             "color=c=blue:s=320x240:r=25:d=0.4 -filter_complex "
             "\"[0][1]interleave,format=yuv420p[v];[v]tinterlace=interleave_top,setfield=tff,"
             "fps=25[o]\" -map \"[o]\" -c:v ffv1 -field_order tt '" +
             fields + "'"));
  spec = Boxed(320, 400, 0, 80, 320, 240);
  spec.source_interlaced = spec.interlaced_output = true;
  probe = RunSpec(spec, fields, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  const std::string picture = FirstPicture(dir);
  ASSERT_EQ(picture.size(), 320u * 400 * 3 / 2);
  auto row_luma = [&](int row) { return static_cast<unsigned char>(picture[row * 320 + 160]); };
  EXPECT_EQ(row_luma(0), 16);
  EXPECT_EQ(row_luma(79), 16);
  EXPECT_EQ(row_luma(320), 16);
  EXPECT_EQ(row_luma(399), 16);
  for (int row = 82; row < 318; row += 2) {  // red Y 81, blue Y 41
    ASSERT_GT(row_luma(row), row_luma(row + 1) + 20) << row;
  }

  // At 10 bits the bars are exactly black too: Y 64, Cb and Cr 512 (pad's
  // own black has chroma 514).
  spec = Boxed(640, 360, 80, 0, 480, 360);
  spec.pixel_format = "yuv422p10le";
  probe = RunSpec(spec, white, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  const std::string deep = FirstPicture(dir);
  ASSERT_EQ(deep.size(), 2u * (640 * 360 + 2 * 320 * 360));
  auto sample = [&](size_t index) {
    return static_cast<unsigned char>(deep[2 * index]) |
           static_cast<unsigned char>(deep[2 * index + 1]) << 8;
  };
  const size_t cb = 640 * 360, cr = cb + 320 * 360;
  for (int row : {0, 359}) {
    EXPECT_EQ(sample(row * 640 + 5), 64) << row;
    EXPECT_EQ(sample(cb + row * 320 + 5), 512) << row;
    EXPECT_EQ(sample(cr + row * 320 + 300), 512) << row;
    EXPECT_EQ(sample(cb + row * 320 + 160), 512) << row;  // the white picture's own chroma
  }
}

// Phone video stored landscape with a display matrix that turns it upright
// comes out upright in every container, as the ffmpeg command line shows it,
// without a matrix (it came out sideways; then the matrix was kept in mov and
// mp4 only, and mxf and mts stayed sideways). A plan without a rotation (a
// video ingested before it was recorded) keeps the matrix instead.
TEST(TranscodeTest, ThePicturesAreTurnedUpright) {
  test::TempDir dir;
  const std::string input = dir.path() + "/phone.mp4";
  testing::RotatedCopy(Inputs::Get().progressive, input);
  ASSERT_EQ(testing::Rotation(input), "90");
  MediaLimits limits;
  auto opened = MediaInput::Open(input, limits, nullptr);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const int rotation = UprightRotation((*opened)->video_stream());
  EXPECT_EQ(rotation, 270);  // ffprobe: 90 counter-clockwise
  for (const char* container : {"mov", "mp4", "mxf", "mts"}) {
    SCOPED_TRACE(container);
    TranscodeSpec spec = Base();
    spec.container = container;
    spec.codec = std::string(container) == "mxf" ? "mpeg2" : "h264";
    spec.bitrate_mbps = 4;
    spec.width = spec.source_width = 240;  // upright, as ingestion reports it
    spec.height = spec.source_height = 320;
    spec.source_rotation = rotation;
    auto probe = RunSpec(spec, input, container, dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    const std::string out = dir.path() + "/out." + container;
    EXPECT_EQ(probe->width, 240);
    EXPECT_EQ(probe->height, 320);
    EXPECT_EQ(testing::Rotation(out), "");
    EXPECT_GT(testing::UprightPsnr(out, input), 30.0);
  }
  TranscodeSpec unknown = Base();
  unknown.source_rotation = -1;
  auto probe = RunSpec(unknown, input, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->width, 320);
  EXPECT_EQ(testing::Rotation(dir.path() + "/out.mov"), "90");
}

// Seconds from the start of `path` to its first white video frame and to the
// onset of its first beep.
std::pair<double, double> FlashAndBeep(const std::string& path) {
  std::string luma = Output("ffmpeg -nostdin -v error -i '" + path +
                            "' -map 0:v:0 -vf extractplanes=y,scale=1:1 -f rawvideo -");
  double flash = -1;
  for (size_t frame_idx = 0; frame_idx < luma.size(); ++frame_idx) {
    if (static_cast<unsigned char>(luma[frame_idx]) > 128) {
      flash = frame_idx / 25.0;
      break;
    }
  }
  std::string pcm =
      Output("ffmpeg -nostdin -v error -i '" + path + "' -map 0:a:0 -ac 1 -ar 48000 -f s16le -");
  double beep = -1;
  for (size_t sample_idx = 0; sample_idx + 1 < pcm.size() / 2; ++sample_idx) {
    int16_t v;
    std::memcpy(&v, pcm.data() + 2 * sample_idx, 2);
    if (std::abs(v) > 3000) {
      beep = sample_idx / 48000.0;
      break;
    }
  }
  return {flash, beep};
}

TEST(TranscodeTest, AudioStaysInSyncWhenTheStreamsStartApart) {
  // MPEG-TS sources whose audio starts 0.4 s after / before the video, with a
  // white frame and a beep at the same instant of the timeline.
  test::TempDir dir;
  auto make = [&](const std::string& name, double video_offset, double audio_offset) {
    std::string out = dir.path() + "/" + name + ".ts";
    char args[1024];
    std::snprintf(
        args, sizeof(args),
        "-itsoffset %.1f -f lavfi -i color=c=black:s=160x120:r=25:d=3,"
        "drawbox=c=white:t=fill:enable='between(t\\,%.2f\\,%.2f)' "
        "-itsoffset %.1f -f lavfi -i aevalsrc='0.5*sin(2*PI*1000*t)*between(t\\,%.2f\\,%.2f)'"
        ":s=48000:d=3 -c:v mpeg2video -q:v 2 -c:a mp2 -b:a 192k '%s'",
        video_offset, 1.0 - video_offset - 0.01, 1.0 - video_offset + 0.01, audio_offset,
        1.0 - audio_offset, 1.0 - audio_offset + 0.1, out.c_str());
    Ffmpeg(args);
    return out;
  };
  std::string audio_late = make("audio-late", 0, 0.4);
  std::string audio_early = make("audio-early", 0.4, 0);
  struct Case {
    std::string label, input, container;
    bool range;
    double flash;  // where the white frame lands in the output
  };
  const std::vector<Case> cases = {
      {"audio starts late (silence fills the gap)", audio_late, "mov", false, 1.0},
      {"audio starts early (cut at the first frame)", audio_early, "mov", false, 0.6},
      {"audio starts late, AAC", audio_late, "mp4", false, 1.0},
      {"range", audio_late, "mov", true, 0.5},
  };
  for (const Case& c : cases) {
    TranscodeSpec spec = Base();
    spec.container = c.container;
    spec.width = spec.source_width = 160;
    spec.height = spec.source_height = 120;
    spec.has_range = c.range;
    spec.start_ms = 500;
    spec.end_ms = 2500;
    auto probe = RunSpec(spec, c.input, c.container, dir);
    ASSERT_TRUE(probe.ok()) << c.label << ": " << probe.status().ToString();
    auto [flash, beep] = FlashAndBeep(dir.path() + "/out." + c.container);
    EXPECT_NEAR(flash, c.flash, 0.041) << c.label;
    // The same instant: the range starts between two pictures (0.48, 0.52),
    // and had put the picture 20 ms before the sound.
    EXPECT_NEAR(beep, flash, 0.005) << c.label;
  }
}

// Interlaced material kept interlaced, from a capture that dropped a second
// of pictures (frames 1-2 s missing from an MPEG-TS; a flash and a beep at
// 3 s): the gap is filled by repeating whole frames, so the output lasts as
// long as the source and the flash stays on the beep. The frames had been
// written one after another: 2.0 s for the flash, 1 s ahead of its beep.
TEST(TranscodeTest, KeptFieldsKeepTheirSyncAcrossAGapInThePictures) {
  test::TempDir dir;
  const std::string input = dir.path() + "/gap.ts";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i color=c=black:s=320x240:r=25:d=4,"
             "drawbox=c=white:t=fill:enable='between(t\\,2.99\\,3.01)' "
             "-f lavfi -i aevalsrc='0.5*sin(2*PI*1000*t)*between(t\\,3\\,3.1)':s=48000:d=4 "
             "-vf \"select='not(between(t\\,1\\,1.99))',setfield=tff\" -fps_mode passthrough "
             "-c:v mpeg2video -q:v 2 -flags +ilme+ildct -top 1 -c:a mp2 -b:a 192k '" +
             input + "'"));
  for (const std::string container : {"mxf", "mov"}) {
    SCOPED_TRACE(container);
    TranscodeSpec spec = Base();
    spec.container = container;
    spec.codec = "mpeg2";
    spec.bitrate_mbps = 4;
    spec.pixel_format = container == "mxf" ? "yuv422p" : "yuv420p";
    spec.source_interlaced = spec.interlaced_output = true;
    spec.source_top_field_first = spec.top_field_first = true;
    auto probe = RunSpec(spec, input, container, dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_NEAR(probe->frames, 100, 1);
    auto [flash, beep] = FlashAndBeep(dir.path() + "/out." + container);
    EXPECT_NEAR(flash, 3.0, 0.041);
    EXPECT_NEAR(beep, flash, 0.041);
  }
}

// Progress counts pictures coded, not pictures handed to the encoder: x264
// holds dozens back for its look-ahead, and a 1080p job had sat at "99 %,
// 0 s left" for 8 s while it coded them. The stop check runs once per packet
// read and once per picture handed over; just before the last picture goes
// in, most of them are still to be coded.
TEST(TranscodeTest, ProgressCountsPicturesCoded) {
  test::TempDir dir;
  TranscodeSpec spec = Base();
  spec.keep_audio = false;
  auto run = [&](int64_t watch_call, double* seen) {
    int64_t calls = 0;
    double last = 0;
    const TranscodeProgressFn progress = [&](const TranscodeProgress& report) {
      last = report.fraction;
    };
    const CancelFn count = [&] {
      if (++calls == watch_call) *seen = last;
      return false;
    };
    auto result = Transcode(Inputs::Get().progressive, dir.path() + "/out.mov", spec, MediaLimits{},
                            progress, count);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_NEAR(last, 1.0, 1e-9);
    return calls;
  };
  double unused = 0;
  const int64_t calls = run(-1, &unused);
  ASSERT_GT(calls, 50);
  double near_the_end = -1;
  run(calls - 2, &near_the_end);
  EXPECT_GE(near_the_end, 0);
  EXPECT_LT(near_the_end, 0.8);
}

// A range of an MXF source (its time base one frame) starting in the first
// half of a frame: trim keeps that frame, so the sound starts there too. It
// had started a frame later (40 ms behind the pictures at 1010 ms).
TEST(TranscodeTest, AnMxfRangeStartingWithinAFrameStaysInSync) {
  test::TempDir dir;
  const std::string input = dir.path() + "/flash.mxf";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i color=c=black:s=320x240:r=25:d=4,"
             "drawbox=c=white:t=fill:enable='between(t\\,1.99\\,2.01)' "
             "-f lavfi -i aevalsrc='0.5*sin(2*PI*1000*t)*between(t\\,2\\,2.1)':s=48000:d=4 "
             "-c:v mpeg2video -q:v 2 -c:a pcm_s16le '" +
             input + "'"));
  for (int64_t start_ms : {1000, 1010, 1019, 1020}) {
    SCOPED_TRACE(start_ms);
    TranscodeSpec spec = Base();
    spec.has_range = true;
    spec.start_ms = start_ms;
    spec.end_ms = 3500;
    auto probe = RunSpec(spec, input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    auto [flash, beep] = FlashAndBeep(dir.path() + "/out.mov");
    EXPECT_NEAR(beep, flash, 0.005);
  }
}

// Two transport streams joined with cat (each starts its clock again): both
// parts come out, one after the other, with their sound. The second part's
// pictures had been dropped as going back in time (100 of 200 frames).
TEST(TranscodeTest, TransportStreamsJoinedTogetherComeOutWhole) {
  test::TempDir dir;
  const std::string part = dir.path() + "/part.ts", joined = dir.path() + "/joined.ts";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -f lavfi -i sine=duration=2 "
             "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac '" +
             part + "'"));
  ASSERT_EQ(std::system(("cat '" + part + "' '" + part + "' > '" + joined + "'").c_str()), 0);
  for (const char* container : {"mov", "mts"}) {
    SCOPED_TRACE(container);
    TranscodeSpec spec = Base();
    spec.container = container;
    // The sound decoded from the output (in mts with AAC's priming), of one
    // part alone and of the two joined.
    auto seconds_of_sound = [&](const std::string& input) {
      EXPECT_TRUE(RunSpec(spec, input, container, dir).ok());
      return Output("ffmpeg -nostdin -v error -i '" + dir.path() + "/out." + container +
                    "' -map 0:a:0 -ac 1 -ar 48000 -f s16le -")
                 .size() /
             2 / 48000.0;
    };
    const double one = seconds_of_sound(part);
    const double two = seconds_of_sound(joined);
    auto probe = RunSpec(spec, joined, container, dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_NEAR(probe->frames, 100, 1);
    // Within a picture and an AAC frame: the join leaves no overlap, at most
    // a picture repeated.
    EXPECT_NEAR(two - one, 2.0, 0.04 + 1024 / 48000.0);
  }
  // A range in the second part (ingestion says the source has joins): read
  // from the start, as a seek by timestamp would land in the first part.
  TranscodeSpec range = Base();
  range.source_timestamp_joins = true;
  range.has_range = true;
  range.start_ms = 2500;
  range.end_ms = 3500;
  auto clip = RunSpec(range, joined, "mov", dir);
  ASSERT_TRUE(clip.ok()) << clip.status().ToString();
  EXPECT_NEAR(clip->frames, 25, 1);
  EXPECT_NEAR(clip->duration, 1.0, 0.05);
}

// HDR10's static metadata (mastering display, content light level) of a PQ
// source is carried to HEVC output, whose pictures carry it (SEI), whether
// the source has it in its pictures (HEVC SEI) or in its container
// (Matroska; mov's mdcv box is read the same way).
// ProRes has nowhere to put it with FFmpeg 5.1's mov muxer: not carried.
TEST(TranscodeTest, Hdr10StaticMetadataGoesToHevcOutput) {
  test::TempDir dir;
  const std::string hevc_source = dir.path() + "/hdr10.mp4";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -t 0.4 -pix_fmt yuv420p10le "
             "-color_primaries bt2020 -color_trc smpte2084 -colorspace bt2020nc -c:v libx265 "
             "-x265-params 'log-level=error:hdr10=1:master-display=G(13250,34500)B(7500,3000)"
             "R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400' '" +
             hevc_source + "'"));
  // What the first picture of `path` carries: its side data, as ffprobe prints it.
  auto first_picture = [](const std::string& path) {
    return Output("ffprobe -v error -select_streams v:0 -read_intervals %+#1 -show_frames '" +
                  path + "'");
  };
  // HEVC coded without it, in Matroska: the metadata in the container only
  // (mkvpropedit), as a mastering tool or a camera's Matroska would carry it.
  const std::string mkv_source = dir.path() + "/hdr10.mkv";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -t 0.4 -pix_fmt yuv420p10le "
             "-color_primaries bt2020 -color_trc smpte2084 -colorspace bt2020nc -c:v libx265 "
             "-x265-params log-level=error '" +
             mkv_source + "'"));
  ASSERT_EQ(
      std::system(("mkvpropedit -q '" + mkv_source +
                   "' --edit track:v1 --set max-content-light=1000 --set max-frame-light=400 "
                   "--set chromaticity-coordinates-red-x=0.68 "
                   "--set chromaticity-coordinates-red-y=0.32 "
                   "--set chromaticity-coordinates-green-x=0.265 "
                   "--set chromaticity-coordinates-green-y=0.69 "
                   "--set chromaticity-coordinates-blue-x=0.15 "
                   "--set chromaticity-coordinates-blue-y=0.06 --set white-coordinates-x=0.3127 "
                   "--set white-coordinates-y=0.329 --set max-luminance=1000 "
                   "--set min-luminance=0.0001")
                      .c_str()),
      0);
  ASSERT_EQ(first_picture(mkv_source).find("Mastering display metadata"), std::string::npos);
  ASSERT_NE(first_picture(hevc_source).find("max_content=1000"), std::string::npos);
  for (const std::string& source : {hevc_source, mkv_source}) {
    SCOPED_TRACE(source);
    TranscodeSpec spec = Base();
    spec.container = "mp4";
    spec.codec = "hevc";
    spec.pixel_format = "yuv420p10le";
    const std::string out = dir.path() + "/out.mp4";
    Result<TranscodeResult> result = Transcode(source, out, spec, MediaLimits{}, nullptr, nullptr);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    const std::string side_data = first_picture(out);
    EXPECT_NE(side_data.find("Mastering display metadata"), std::string::npos) << side_data;
    EXPECT_NE(side_data.find("red_x=34000/50000"), std::string::npos) << side_data;
    EXPECT_NE(side_data.find("green_y=34500/50000"), std::string::npos) << side_data;
    EXPECT_NE(side_data.find("max_luminance=10000000/10000"), std::string::npos) << side_data;
    EXPECT_NE(side_data.find("max_content=1000"), std::string::npos) << side_data;
    EXPECT_NE(side_data.find("max_average=400"), std::string::npos) << side_data;
    EXPECT_EQ(ProbeFile(out).frames, 10);  // the peek at the first picture lost none
  }
  // An SDR source gets none.
  TranscodeSpec spec = Base();
  spec.container = "mp4";
  spec.codec = "hevc";
  const std::string out = dir.path() + "/sdr.mp4";
  ASSERT_TRUE(
      Transcode(Inputs::Get().progressive, out, spec, MediaLimits{}, nullptr, nullptr).ok());
  EXPECT_EQ(first_picture(out).find("Mastering display metadata"), std::string::npos);
}

// The output's colour is converted and tagged (colour.h): an SD BT.601
// picture upscaled to HD becomes BT.709 (it kept BT.601's values, untagged,
// and showed green as (-14, 161, -7) in HD players), HD goes to SD the other
// way, an RGB source takes the HD matrix, a full-range 10-bit source becomes
// limited range (it passed through untagged and was clipped), and an HLG
// source keeps its BT.2020 tags. The mov files carry them in a colr atom.
TEST(TranscodeTest, ColourIsConvertedToTheOutputsStandardAndTagged) {
  test::TempDir dir;
  struct Case {
    std::string label, make, container, codec, pix_fmt;
    int width, height;
    std::string tags;    // ffprobe: color_range,color_space,color_transfer,color_primaries
    std::string matrix;  // the output decoded by it shows the green field
  };
  const std::string green = "-f lavfi -i color=c=0x00BF00:rate=25:duration=0.4:size=";
  const std::vector<Case> cases = {
      {"SD BT.601 to HD",
       green + "720x576 -vf format=rgb24,scale=out_color_matrix=bt601:out_range=tv,"
               "format=yuv420p -colorspace bt470bg -color_primaries bt470bg "
               "-color_trc smpte170m -c:v libx264 -qp 0",
       "mov", "h264", "yuv420p", 1280, 720, "tv,bt709,bt709,bt709", "bt709"},
      {"HD BT.709 to SD",
       green + "1280x720 -vf format=rgb24,scale=out_color_matrix=bt709:out_range=tv,"
               "format=yuv420p -colorspace bt709 -c:v libx264 -qp 0",
       "mxf", "mpeg2", "yuv420p", 720, 576, "tv,bt470bg,smpte170m,bt470bg", "bt601"},
      {"RGB at HD", green + "1280x720 -pix_fmt rgb24 -c:v qtrle", "mov", "h264", "yuv420p", 1280,
       720, "tv,bt709,bt709,bt709", "bt709"},
      {"full-range 10-bit",
       green + "320x240 -vf format=rgb24,scale=out_color_matrix=bt601:out_range=pc,"
               "format=yuv420p10le -color_range pc -colorspace smpte170m -c:v libx264 -qp 0",
       "mov", "h264", "yuv420p10le", 320, 240, "tv,smpte170m,smpte170m,smpte170m", "bt601"},
      // Both at once, after a resize (which makes the range limited itself:
      // the step after had expanded it again, green came out (11, 180, 11)).
      {"full-range 10-bit HD to SD",
       green + "1280x720 -vf format=rgb24,scale=out_color_matrix=bt709:out_range=pc,"
               "format=yuv420p10le -color_range pc -colorspace bt709 -c:v libx264 -crf 5",
       "mov", "h264", "yuv420p10le", 720, 576, "tv,bt470bg,smpte170m,bt470bg", "bt601"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string input = dir.path() + "/source.mov";
    ASSERT_TRUE(Ffmpeg(c.make + " '" + input + "'"));
    TranscodeSpec spec = Base();
    spec.container = c.container;
    spec.codec = c.codec;
    spec.pixel_format = c.pix_fmt;
    spec.bitrate_mbps = 8;
    spec.width = c.width;
    spec.height = c.height;
    auto probe = RunSpec(spec, input, c.container, dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    const std::string out = dir.path() + "/out." + c.container;
    EXPECT_EQ(FfprobeVideo(out, "color_range,color_space,color_transfer,color_primaries"),
              Output("echo '" + c.tags + "' | tr , '\\n'"));
    const std::string rgb = testing::MeanRgb(out, c.matrix);
    ASSERT_EQ(rgb.size(), 3u);
    // Within rounding: the wrong matrix is 20 or more off in green, a range
    // expanded twice 11 in red and blue.
    EXPECT_NEAR(static_cast<unsigned char>(rgb[0]), 0, 6);
    EXPECT_NEAR(static_cast<unsigned char>(rgb[1]), 191, 8);
    EXPECT_NEAR(static_cast<unsigned char>(rgb[2]), 0, 6);
  }
  // HLG keeps its BT.2020 tags (and its values).
  const std::string hlg = dir.path() + "/hlg.mov";
  ASSERT_TRUE(Ffmpeg(
      "-f lavfi -i testsrc2=size=320x240:rate=25:duration=0.4 -vf format=yuv420p10le -c:v libx265 "
      "-x265-params log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc "
      "-color_primaries bt2020 -color_trc arib-std-b67 -colorspace bt2020nc '" +
      hlg + "'"));
  TranscodeSpec spec = Base();
  spec.codec = "hevc";
  spec.pixel_format = "yuv420p10le";
  auto probe = RunSpec(spec, hlg, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(FfprobeVideo(dir.path() + "/out.mov",
                         "color_range,color_space,color_transfer,color_primaries"),
            "tv\nbt2020nc\narib-std-b67\nbt2020");
}

// Interlaced kept interlaced at twice its size: the plan makes it
// progressive at field rate (bwdif), scales and weaves it again, so each
// output field is sampled where it lies. On still horizontal stripes the
// output then matches the source scaled as one picture; scaled field by
// field (the kept-fields path), the fields land ±0.4 lines off and the
// stripes comb.
TEST(TranscodeTest, InterlacedScaledKeepsEachFieldInItsPlace) {
  test::TempDir dir;
  const std::string input = dir.path() + "/stripes.mkv";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i \"color=c=gray:s=320x240:r=25:d=0.4,format=yuv420p,"
             "geq=lum='128+90*sin(Y/3)':cb=128:cr=128,setfield=tff\" -c:v ffv1 -field_order tt '" +
             input + "'"));
  auto psnr_against_progressive_scale = [&](bool through_progressive) {
    TranscodeSpec spec = Lossless();
    spec.source_interlaced = spec.interlaced_output = true;
    spec.width = 640;
    spec.height = 480;
    spec.scaler = "scale";
    if (through_progressive) {
      spec.deinterlacer = "bwdif";
      spec.deinterlace_field_rate = true;
    }
    auto probe = RunSpec(spec, input, "mov", dir);
    EXPECT_TRUE(probe.ok()) << probe.status().ToString();
    const std::string report =
        Output("ffmpeg -nostdin -v info -i '" + dir.path() + "/out.mov' -i '" + input +
               "' -lavfi \"[0:v]select=eq(n\\,4),format=yuv420p[a];[1:v]select=eq(n\\,4),"
               "scale=640:480:flags=bicubic,format=yuv420p[b];[a][b]psnr\" -f null - 2>&1");
    const size_t at = report.find(" y:");
    return at == std::string::npos ? 0.0 : std::atof(report.c_str() + at + 3);
  };
  const double through_progressive = psnr_against_progressive_scale(true);
  const double field_by_field = psnr_against_progressive_scale(false);
  EXPECT_GT(through_progressive, 40.0) << field_by_field;
  EXPECT_GT(through_progressive, field_by_field + 10) << field_by_field;
}

// A matrix conversion keeps the neutral axis exactly: white and grey stay
// at their code values with Cb and Cr at the middle, whether the conversion
// rides in a resize (SD to HD), runs on its own (HD 960x540 written at its
// size is SD's BT.601), or goes to 10 bits. libswscale's default rounding
// had put 8-bit Cb and Cr at 127 (a green cast) and 10-bit white at 937.
TEST(TranscodeTest, NeutralGreysStayNeutralThroughAMatrixConversion) {
  test::TempDir dir;
  struct Case {
    std::string label, matrix_args;
    int source_width, source_height, width, height;
    std::string pixel_format;
  };
  const std::vector<Case> cases = {
      {"SD BT.601 to HD, in the resize",
       "-colorspace bt470bg -color_primaries bt470bg "
       "-color_trc smpte170m",
       720, 576, 1280, 720, "yuv420p"},
      {"HD BT.709 at its size to BT.601",
       "-colorspace bt709 -color_primaries bt709 "
       "-color_trc bt709",
       960, 540, 960, 540, "yuv420p"},
      {"SD BT.601 to 10-bit HD",
       "-colorspace bt470bg -color_primaries bt470bg "
       "-color_trc smpte170m",
       720, 576, 1280, 720, "yuv422p10le"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string size =
        std::to_string(c.source_width) + "x" + std::to_string(c.source_height / 2);
    const std::string input = dir.path() + "/neutral.mkv";
    // White over 70 % grey (Y 235 and 171, Cb = Cr = 128).
    ASSERT_TRUE(Ffmpeg("-f lavfi -i color=c=white:s=" + size + ":r=25:d=0.2 -f lavfi -i " +
                       "color=c=0xb4b4b4:s=" + size + ":r=25:d=0.2 -filter_complex " +
                       "\"[0][1]vstack,format=yuv420p\" " + c.matrix_args + " -c:v ffv1 '" + input +
                       "'"));
    TranscodeSpec spec = Lossless();
    spec.pixel_format = c.pixel_format;
    spec.source_width = c.source_width;
    spec.source_height = c.source_height;
    spec.width = c.width;
    spec.height = c.height;
    auto probe = RunSpec(spec, input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    // The first picture in its own format: Y, then Cb and Cr.
    const bool deep = c.pixel_format != "yuv420p";
    const std::string raw = FirstPicture(dir);
    const int chroma_width = c.width / 2;
    const int chroma_height = deep ? c.height : c.height / 2;
    const size_t sample = deep ? 2 : 1;
    ASSERT_EQ(raw.size(),
              sample * (size_t{1} * c.width * c.height + 2 * chroma_width * chroma_height));
    auto at = [&](size_t index) {
      const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
      return deep ? bytes[2 * index] | bytes[2 * index + 1] << 8 : bytes[index];
    };
    const int scale = deep ? 4 : 1;
    for (const auto& [row_fraction, luma] : {std::pair{0.25, 235}, std::pair{0.75, 171}}) {
      const int row = static_cast<int>(c.height * row_fraction);
      const int chroma_row = static_cast<int>(chroma_height * row_fraction);
      const size_t cb =
          size_t{1} * c.width * c.height + chroma_row * chroma_width + chroma_width / 2;
      const size_t cr = cb + size_t{1} * chroma_width * chroma_height;
      EXPECT_EQ(at(size_t{1} * row * c.width + c.width / 2), luma * scale) << luma;
      EXPECT_EQ(at(cb), 128 * scale) << luma;
      EXPECT_EQ(at(cr), 128 * scale) << luma;
    }
  }
}

// A 10-bit full-range source resized (or not) comes out limited exactly:
// white 1023 → 940, black 0 → 64, Cb = Cr = 512. The resize had converted
// the range itself, taking white as 1020, and 1023 came out 943.
TEST(TranscodeTest, FullRangeTenBitComesOutLimitedExactly) {
  test::TempDir dir;
  const std::string input = dir.path() + "/full10.mkv";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i \"color=c=black:s=320x240:r=25:d=0.2,format=yuv422p10le,"
             "geq=lum='if(lt(Y,H/2),1023,0)':cb=512:cr=512\" -color_range pc -colorspace bt709 "
             "-color_primaries bt709 -color_trc bt709 -c:v ffv1 '" +
             input + "'"));
  for (const auto& [width, height] : {std::pair{320, 240}, std::pair{640, 480}}) {
    SCOPED_TRACE(std::to_string(width) + "x" + std::to_string(height));
    TranscodeSpec spec = Lossless();
    spec.pixel_format = "yuv422p10le";
    spec.width = width;
    spec.height = height;
    auto probe = RunSpec(spec, input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    const std::string raw = FirstPicture(dir);
    ASSERT_EQ(raw.size(), 2u * (width * height + 2 * (width / 2) * height));
    auto sample = [&](size_t index) {
      return static_cast<unsigned char>(raw[2 * index]) |
             static_cast<unsigned char>(raw[2 * index + 1]) << 8;
    };
    const size_t cb = static_cast<size_t>(width) * height;
    EXPECT_EQ(sample(width * (height / 4) + width / 2), 940);
    EXPECT_EQ(sample(width * (height * 3 / 4) + width / 2), 64);
    EXPECT_EQ(sample(cb + (width / 2) * (height / 4) + width / 4), 512);
  }
}

// Interlaced pictures kept interlaced change chroma format field by field: a
// red top field over a blue bottom one stays red over blue from 4:2:2 and
// 4:1:1 (NTSC DV) to 4:2:0, and from 4:2:0 to 4:2:2 (both fields had come out
// purple: U 165, V 175 in each).
TEST(TranscodeTest, ChromaIsConvertedFieldByFieldWhenTheFieldsAreKept) {
  test::TempDir dir;
  struct Case {
    std::string from, to;
  };
  for (const Case& c :
       {Case{"yuv422p", "yuv420p"}, Case{"yuv411p", "yuv420p"}, Case{"yuv420p", "yuv422p"}}) {
    SCOPED_TRACE(c.from + " to " + c.to);
    const std::string input = dir.path() + "/fields.mkv";
    ASSERT_TRUE(
        Ffmpeg("-f lavfi -i color=c=red:s=320x240:r=25:d=0.4 -f lavfi -i "
               "color=c=blue:s=320x240:r=25:d=0.4 -filter_complex "
               "\"[0][1]interleave,format=" +
               c.from +
               "[v];[v]tinterlace=interleave_top,setfield=tff,fps=25[o]\" -map \"[o]\" "
               "-c:v ffv1 -field_order tt '" +
               input + "'"));
    TranscodeSpec spec = Lossless();
    spec.pixel_format = c.to;
    spec.source_interlaced = spec.interlaced_output = true;
    auto probe = RunSpec(spec, input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    // The first picture as 4:2:2, whose chroma rows alternate between the
    // fields like its luma rows.
    const std::string raw = Output("ffmpeg -nostdin -v error -i '" + dir.path() +
                                   "/out.mov' -frames:v 1 -vf scale=interl=1,format=yuv422p "
                                   "-f rawvideo -");
    ASSERT_EQ(raw.size(), 320u * 240 * 2);
    const size_t chroma_width = 160, u_plane = 320 * 240;
    double u_top = 0, u_bottom = 0;
    for (size_t row = 0; row < 240; ++row) {
      for (size_t x = 0; x < chroma_width; ++x) {
        const double u = static_cast<unsigned char>(raw[u_plane + row * chroma_width + x]);
        (row % 2 == 0 ? u_top : u_bottom) += u / (120 * chroma_width);
      }
    }
    EXPECT_NEAR(u_top, 90, 6);      // red
    EXPECT_NEAR(u_bottom, 240, 6);  // blue
  }
}

// An RGB source written as RGB FFV1 is lossless, picture for picture (it was
// made YUV 4:4:4 and came back off by a code value or more), and tagged RGB.
TEST(TranscodeTest, AnRgbSourceStaysLosslessInRgbFfv1) {
  test::TempDir dir;
  const std::string input = dir.path() + "/rgb.mov";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=0.4 -pix_fmt rgb24 "
             "-c:v qtrle '" +
             input + "'"));
  TranscodeSpec spec = Lossless();
  spec.pixel_format = "bgr0";
  auto probe = RunSpec(spec, input, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  const std::string out = dir.path() + "/out.mov";
  EXPECT_EQ(FfprobeVideo(out, "color_space"), "gbr");
  auto md5 = [](const std::string& path) {
    return Output("ffmpeg -nostdin -v error -i '" + path + "' -map 0:v -pix_fmt rgb24 -f md5 -");
  };
  EXPECT_EQ(md5(out), md5(input));
  // Through a filter that works in YUV (hqdn3d) it comes back to RGB at its
  // levels: a flat green field stays so (black had come back 15, green 183).
  const std::string flat = dir.path() + "/flat.mov";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i color=c=0x00BF00:size=320x240:rate=25:duration=0.4 -pix_fmt "
             "rgb24 -c:v qtrle '" +
             flat + "'"));
  spec.denoiser = "hqdn3d";
  probe = RunSpec(spec, flat, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  auto pixel = [](const std::string& path) {
    return Output("ffmpeg -nostdin -v error -i '" + path +
                  "' -frames:v 1 -vf crop=1:1:100:100 -pix_fmt rgb24 -f rawvideo -");
  };
  const std::string rgb = pixel(out), source = pixel(flat);
  ASSERT_EQ(rgb.size(), 3u);
  ASSERT_EQ(source.size(), 3u);
  for (int channel = 0; channel < 3; ++channel) {
    EXPECT_NEAR(static_cast<unsigned char>(rgb[channel]),
                static_cast<unsigned char>(source[channel]), 2)
        << "channel " << channel;
  }
}

// The source's start timecode is kept, moved on by a range and counted at the
// output's rate: a tmcd track in mov and mp4, the timecode track in mxf (mov
// had none, mxf said 00:00:00:00).
TEST(TranscodeTest, TheStartTimecodeFollowsTheSource) {
  test::TempDir dir;
  const std::string input = dir.path() + "/tc.mov";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -c:v libx264 "
             "-preset ultrafast -timecode 10:00:00:00 '" +
             input + "'"));
  struct Case {
    std::string container, codec;
    int64_t start_ms;  // -1: no range
    double fps;
    std::string timecode;
  };
  for (const Case& c :
       {Case{"mov", "h264", -1, 25, "10:00:00:00"}, Case{"mov", "prores", 1000, 25, "10:00:01:00"},
        Case{"mxf", "mpeg2", 520, 25, "10:00:00:13"},
        Case{"mp4", "h264", 1000, 50, "10:00:01:00"}}) {
    SCOPED_TRACE(c.container + " from " + std::to_string(c.start_ms));
    TranscodeSpec spec = Base();
    spec.container = c.container;
    spec.codec = c.codec;
    spec.fps = c.fps;
    if (c.codec == "prores") {
      spec.pixel_format = "yuv422p10le";
      spec.profile = "hq";
      spec.bitrate_mbps.reset();
    }
    spec.has_range = c.start_ms >= 0;
    spec.start_ms = std::max<int64_t>(0, c.start_ms);
    spec.end_ms = 2000;
    auto probe = RunSpec(spec, input, c.container, dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    const std::string out = dir.path() + "/out." + c.container;
    EXPECT_EQ(Output("ffprobe -v error -show_entries format_tags=timecode:stream_tags=timecode "
                     "-of default=nw=1:nk=1 '" +
                     out + "' | head -1"),
              c.timecode);
  }
  // Drop-frame 29.97 keeps its label at another rate (to 25 it had been 3.6 s
  // early: 00:59:56:10), and a day's end wraps to 00 (it said 24:00:00:20).
  struct Labelled {
    std::string rate, timecode;
    double fps;
    int64_t start_ms;
    std::string expected;
  };
  for (const Labelled& c :
       {Labelled{"30000/1001", "01:00:00;00", 25, 0, "01:00:00:00"},
        Labelled{"30000/1001", "01:00:00;00", 25, 1000, "01:00:01:00"},
        Labelled{"30000/1001", "01:00:00;00", 30000.0 / 1001, 1000, "01:00:01;00"},
        Labelled{"25", "23:59:59:20", 25, 1000, "00:00:00:20"}}) {
    SCOPED_TRACE(c.timecode + " at " + std::to_string(c.fps) + " from " +
                 std::to_string(c.start_ms));
    const std::string labelled = dir.path() + "/labelled.mov";
    ASSERT_TRUE(Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=" + c.rate +
                       ":duration=2 -c:v libx264 -preset ultrafast -timecode '" + c.timecode +
                       "' '" + labelled + "'"));
    TranscodeSpec spec = Base();
    spec.fps = c.fps;
    spec.source_fps = c.rate == "25" ? 25 : 30000.0 / 1001;
    spec.has_range = c.start_ms > 0;
    spec.start_ms = c.start_ms;
    spec.end_ms = 2000;
    auto probe = RunSpec(spec, labelled, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_EQ(Output("ffprobe -v error -show_entries stream_tags=timecode -of default=nw=1:nk=1 '" +
                     dir.path() + "/out.mov' | head -1"),
              c.expected);
  }
  // A source without one gets none (mxf: its muxer's 00:00:00:00).
  TranscodeSpec spec = Base();
  auto probe = RunSpec(spec, Inputs::Get().progressive, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(Output("ffprobe -v error -show_entries stream_tags=timecode -of default=nw=1:nk=1 '" +
                   dir.path() + "/out.mov'"),
            "");
}

// The root mean square of `path`'s audio stream `index`, mixed to mono, as a
// fraction of full scale.
double AudioRms(const std::string& path, int index) {
  const std::string pcm = Output("ffmpeg -nostdin -v error -i '" + path +
                                 "' -map 0:a:" + std::to_string(index) + " -ac 1 -f s16le -");
  double sum = 0;
  const size_t samples = pcm.size() / 2;
  for (size_t i = 0; i < samples; ++i) {
    int16_t v;
    std::memcpy(&v, pcm.data() + 2 * i, 2);
    sum += static_cast<double>(v) * v;
  }
  return samples == 0 ? 0 : std::sqrt(sum / samples) / 32768.0;
}

// The bit rate and the VBV buffer an MPEG-2 stream's sequence header
// declares (with its extension's high bits), from the first sequence header
// in `path`.
std::pair<int64_t, int64_t> Mpeg2DeclaredRateAndBuffer(const std::string& path) {
  const std::string data = ReadBytes(path);
  const size_t header = data.find(std::string("\x00\x00\x01\xB3", 4));
  if (header == std::string::npos || header + 12 > data.size()) return {-1, -1};
  auto byte = [&](size_t i) { return static_cast<uint8_t>(data[i]); };
  const size_t b = header + 4;  // width 12, height 12, aspect 4, rate 4, then these
  int64_t rate = (int64_t{byte(b + 4)} << 10) | (byte(b + 5) << 2) | (byte(b + 6) >> 6);
  int64_t vbv = ((byte(b + 6) & 0x1F) << 5) | (byte(b + 7) >> 3);
  // The sequence extension: bit_rate_extension (12 bits after profile and
  // level 8, progressive 1, chroma 2, sizes 2 + 2), vbv_buffer_size_extension.
  const size_t extension = data.find(std::string("\x00\x00\x01\xB5", 4), header);
  if (extension != std::string::npos && (byte(extension + 4) >> 4) == 1) {
    const size_t e = extension + 4;
    const int64_t rate_high = ((byte(e + 2) & 0x1F) << 7) | (byte(e + 3) >> 1);
    const int64_t vbv_high = byte(e + 4);
    rate |= rate_high << 18;
    vbv |= vbv_high << 10;
  }
  return {rate * 400, vbv * 16384};
}

// MPEG-2 declares no more than the level FFmpeg's encoder writes allows: its
// peak rate had been 1.5 × the average and its buffer a second of it (SD at
// 15 Mb/s declared 22.5 Mb/s and 15 Mbit at Main Level: 15 and 1.8; audit 34
// F1).
TEST(TranscodeTest, AnMpeg2StreamDeclaresNoMoreThanItsLevel) {
  test::TempDir dir;
  struct Case {
    int width, height;
    std::string pixel_format;
    double mbps;
    int64_t rate_limit, buffer_limit;
  };
  for (const Case& c : {Case{720, 576, "yuv420p", 15, 15'000'000, 1'835'008},
                        Case{720, 576, "yuv422p", 45, 50'000'000, 9'437'184},
                        Case{1920, 1080, "yuv420p", 70, 80'000'000, 9'781'248}}) {
    SCOPED_TRACE(std::to_string(c.width) + "x" + std::to_string(c.height) + " " + c.pixel_format);
    const std::string input = dir.path() + "/in.mov";
    ASSERT_TRUE(Ffmpeg("-f lavfi -i testsrc2=size=" + std::to_string(c.width) + "x" +
                       std::to_string(c.height) +
                       ":rate=25:duration=0.5 -c:v libx264 -preset ultrafast '" + input + "'"));
    TranscodeSpec spec = Base();
    spec.container = "mxf";
    spec.codec = "mpeg2";
    spec.pixel_format = c.pixel_format;
    spec.bitrate_mbps = c.mbps;
    spec.width = spec.source_width = c.width;
    spec.height = spec.source_height = c.height;
    auto probe = RunSpec(spec, input, "mxf", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    const auto [rate, buffer] = Mpeg2DeclaredRateAndBuffer(dir.path() + "/out.mxf");
    EXPECT_GE(rate, static_cast<int64_t>(c.mbps * 1e6));
    EXPECT_LE(rate, c.rate_limit);
    EXPECT_GT(buffer, 0);
    EXPECT_LE(buffer, c.buffer_limit);
  }
}

// Every audio stream is kept, in order, each as it was: a broadcast MXF's 8
// mono tracks (only the first was kept), in mxf and in mp4; and PCM keeps any
// channel layout (quad had been mixed to 4.0, 16 channels into 7.1).
TEST(TranscodeTest, EveryAudioStreamAndItsLayoutIsKept) {
  test::TempDir dir;
  const std::string tracks = dir.path() + "/tracks.mxf";
  std::string args = "-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 ";
  std::string maps = "-map 0:v ";
  for (int k = 0; k < 8; ++k) {
    char source[160];
    std::snprintf(source, sizeof(source), "-f lavfi -i aevalsrc='%.2f*sin(2*PI*%d*t)':s=48000:d=1 ",
                  0.05 * (k + 1), 300 + 100 * k);
    args += source;
    maps += "-map " + std::to_string(k + 1) + ":a ";
  }
  ASSERT_TRUE(Ffmpeg(args + maps + "-c:v mpeg2video -q:v 3 -c:a pcm_s24le '" + tracks + "'"));
  // More than 16 tracks too (only 16 had been kept; audit 31 F2).
  const std::string twenty = dir.path() + "/twenty.mov";
  std::string more = "-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 ";
  std::string more_maps = "-map 0:v ";
  for (int k = 1; k <= 20; ++k) {
    more += "-f lavfi -i sine=frequency=" + std::to_string(200 + 50 * k) + ":duration=1 ";
    more_maps += "-map " + std::to_string(k) + ":a ";
  }
  ASSERT_TRUE(
      Ffmpeg(more + more_maps + "-c:v libx264 -preset ultrafast -c:a pcm_s16le '" + twenty + "'"));
  {
    TranscodeSpec spec = Base();
    spec.container = "mov";
    spec.codec = "h264";
    auto probe = RunSpec(spec, twenty, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_EQ(Output("ffprobe -v error -select_streams a -show_entries stream=index -of csv=p=0 '" +
                     dir.path() + "/out.mov' | wc -l"),
              "20");
  }
  for (const char* container : {"mxf", "mp4"}) {
    SCOPED_TRACE(container);
    TranscodeSpec spec = Base();
    spec.container = container;
    spec.codec = "h264";
    auto probe = RunSpec(spec, tracks, container, dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    const std::string out = dir.path() + "/out." + container;
    EXPECT_EQ(
        Output("ffprobe -v error -select_streams a -show_entries stream=channels -of csv=p=0 '" +
               out + "' | tr '\\n' ' '"),
        "1 1 1 1 1 1 1 1 ");
    for (int k = 0; k < 8; ++k) {
      EXPECT_NEAR(AudioRms(out, k), 0.05 * (k + 1) / std::sqrt(2.0), 0.005) << "track " << k;
    }
  }
  struct Layout {
    std::string name, container, kept;
  };
  // (MXF stores no layout, only the channels.)
  for (const Layout& l :
       {Layout{"quad", "mov", "4,quad"}, Layout{"hexadecagonal", "mxf", "16,unknown"},
        Layout{"quad", "mp4", "4,quad"},
        // AC-3's 5.1(side) is AAC's 5.1 (it had come out with no layout).
        Layout{"5.1(side)", "mp4", "6,5.1"}}) {
    SCOPED_TRACE(l.name + " in " + l.container);
    const std::string input = dir.path() + "/layout.mov";
    ASSERT_TRUE(
        Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -f lavfi -i "
               "sine=frequency=440:duration=1 -af 'aformat=channel_layouts=" +
               l.name + "' -c:v libx264 -preset ultrafast -c:a pcm_s24le '" + input + "'"));
    TranscodeSpec spec = Base();
    spec.container = l.container;
    spec.codec = l.container == "mxf" ? "mpeg2" : "h264";
    auto probe = RunSpec(spec, input, l.container, dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_EQ(
        Output("ffprobe -v error -select_streams a -show_entries stream=channels,channel_layout "
               "-of csv=p=0 '" +
               dir.path() + "/out." + l.container + "'"),
        l.kept);
  }
}

// Every audio track lasts as long as the pictures: sound that runs on past
// the last picture is cut (it ran on for a second in mov), sound that stops
// early is padded with silence (in AAC too, whose frames have one size), a
// range that starts between two pictures ends its sound with its pictures (it
// stopped 20 ms short), and so do a range that ends between two pictures and
// one that reaches past the last picture (cut to the range's length, the
// sound ran a second past its one picture).
TEST(TranscodeTest, EveryTrackLastsAsLongAsThePictures) {
  test::TempDir dir;
  struct Case {
    std::string label, container;
    double video_seconds, audio_seconds;
    int64_t start_ms, end_ms;  // start -1: the whole file
    int frames;                // pictures out
  };
  for (const Case& c : {Case{"longer sound", "mov", 2, 3, -1, 0, 50},
                        Case{"shorter sound", "mov", 2, 1.5, -1, 0, 50},
                        Case{"shorter sound, AAC", "mp4", 2, 1.5, -1, 0, 50},
                        Case{"range between pictures", "mov", 3, 3, 500, 2500, 50},
                        Case{"range ending between pictures", "mov", 3, 3, 0, 500, 13},
                        Case{"range past the last picture", "mov", 3, 4, 2950, 4000, 1}}) {
    SCOPED_TRACE(c.label);
    const std::string input = dir.path() + "/source.mov";
    char args[512];
    std::snprintf(args, sizeof(args),
                  "-f lavfi -i testsrc2=size=320x240:rate=25:duration=%g -f lavfi -i "
                  "sine=duration=%g -c:v libx264 -preset ultrafast -c:a pcm_s16le '%s'",
                  c.video_seconds, c.audio_seconds, input.c_str());
    ASSERT_TRUE(Ffmpeg(args));
    TranscodeSpec spec = Base();
    spec.container = c.container;
    spec.has_range = c.start_ms >= 0;
    spec.start_ms = std::max<int64_t>(0, c.start_ms);
    spec.end_ms = c.end_ms;
    auto probe = RunSpec(spec, input, c.container, dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_EQ(probe->frames, c.frames);
    const double video = probe->frames / 25.0;
    // Decoded samples (AAC's stream duration counts its priming; decoded,
    // AAC ends on a whole frame of 1024 samples).
    const std::string pcm = Output("ffmpeg -nostdin -v error -i '" + dir.path() + "/out." +
                                   c.container + "' -map 0:a:0 -ac 1 -ar 48000 -f s16le -");
    EXPECT_NEAR(pcm.size() / 2 / 48000.0, video, c.container == "mp4" ? 1024 / 48000.0 : 0.001);
    // Where the source sounds under the last picture, so does the output, to
    // its last 10 ms (a range starting between pictures had ended in silence).
    const double start = std::max<int64_t>(0, c.start_ms) / 1000.0;
    if (start + video <= c.audio_seconds && pcm.size() >= 960) {
      const auto* samples = reinterpret_cast<const int16_t*>(pcm.data());
      const size_t count = pcm.size() / 2;
      double energy = 0;
      for (size_t i = count - 480; i < count; ++i) energy += double(samples[i]) * samples[i];
      EXPECT_GT(std::sqrt(energy / 480), 1000) << "the last 10 ms are silent";
    }
  }
}

TEST(TranscodeTest, AnAudioStreamThatCannotBeDecodedIsLeftOut) {
  test::TempDir dir;
  const std::string good = dir.path() + "/good.mkv", bad = dir.path() + "/bad.mkv";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -f lavfi -i "
             "sine=frequency=500:duration=1 -f lavfi -i sine=frequency=900:duration=1 "
             "-map 0 -map 1 -map 2 -c:v libx264 -preset ultrafast -c:a aac '" +
             good + "'"));
  std::string bytes = ReadBytes(good);
  // The CodecPrivate of the first audio track (the second track's).
  const size_t config = bytes.find("\x63\xA2", bytes.find("\x63\xA2") + 2);
  ASSERT_NE(config, std::string::npos);
  bytes[config + 3] = '\xFF';  // its sampling frequency index: 15, which AAC has not
  bytes[config + 4] = '\xFF';
  WriteFile(bad, bytes);
  TranscodeSpec spec = Base();
  auto probe = RunSpec(spec, bad, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->frames, 25);
  EXPECT_EQ(Output("ffprobe -v error -select_streams a -show_entries stream=index -of csv=p=0 '" +
                   dir.path() + "/out.mov' | wc -l"),
            "1");
}

// Whether decoding the first audio stream of `path` meets an error other
// than AVERROR_INVALIDDATA (from avcodec_send_packet or
// avcodec_receive_frame) on some packet.
bool AudioDecodingMeetsAnotherError(const std::string& path) {
  AVFormatContext* opened = nullptr;
  if (avformat_open_input(&opened, path.c_str(), nullptr, nullptr) < 0) return false;
  FormatInputPtr format(opened);
  if (avformat_find_stream_info(format.get(), nullptr) < 0) return false;
  const AVCodec* codec = nullptr;
  const int stream = av_find_best_stream(format.get(), AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
  if (stream < 0) return false;
  CodecContextPtr decoder(avcodec_alloc_context3(codec));
  avcodec_parameters_to_context(decoder.get(), format->streams[stream]->codecpar);
  if (avcodec_open2(decoder.get(), codec, nullptr) < 0) return false;
  PacketPtr packet(av_packet_alloc());
  FramePtr frame(av_frame_alloc());
  auto other = [](int ret) {
    return ret < 0 && ret != AVERROR_INVALIDDATA && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF;
  };
  bool met = false;
  while (!met && av_read_frame(format.get(), packet.get()) >= 0) {
    if (packet->stream_index == stream) {
      met = other(avcodec_send_packet(decoder.get(), packet.get()));
      for (int ret = 0; !met && ret >= 0;) {
        ret = avcodec_receive_frame(decoder.get(), frame.get());
        met = other(ret);
      }
    }
    av_packet_unref(packet.get());
  }
  return met;
}

// A bit error in an AAC frame can make FFmpeg's decoder answer with another
// error than AVERROR_INVALIDDATA: AVERROR_PATCHWELCOME, -1, or the ADTS
// parser's own codes, such as AAC_AC3_PARSE_ERROR_SAMPLE_RATE for a header
// whose sampling index is reserved (made here in one frame). Such a packet
// is skipped, as a damaged one is; the job had failed with "decoding audio:
// Not yet implemented in FFmpeg, patches welcome", or been retried as an
// internal fault, while the file's ingestion succeeded (audit 40 F2).
TEST(TranscodeTest, AnAudioPacketTheDecoderRefusesIsSkipped) {
  test::TempDir dir;
  const std::string sound = dir.path() + "/sound.aac", video = dir.path() + "/video.mp4";
  const std::string damaged = dir.path() + "/damaged.aac", input = dir.path() + "/damaged.ts";
  ASSERT_TRUE(Ffmpeg("-f lavfi -i sine=frequency=440:duration=2 -ac 2 -c:a aac '" + sound + "'"));
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -c:v libx264 "
             "-preset ultrafast '" +
             video + "'"));
  // The 21st ADTS frame's sampling frequency index (bits 2-5 of its third
  // byte) set to 13, which no rate has.
  std::string bytes = ReadBytes(sound);
  size_t offset = 0;
  for (int frame = 0; frame < 20; ++frame) {
    ASSERT_LT(offset + 7, bytes.size());
    ASSERT_EQ(static_cast<uint8_t>(bytes[offset]), 0xFF) << "not an ADTS frame at " << offset;
    const auto at = [&](size_t i) { return static_cast<uint8_t>(bytes[offset + i]); };
    offset += (at(3) & 3) << 11 | at(4) << 3 | at(5) >> 5;
  }
  bytes[offset + 2] = static_cast<char>((bytes[offset + 2] & 0xC3) | 13 << 2);
  WriteFile(damaged, bytes);
  ASSERT_TRUE(
      Ffmpeg("-i '" + video + "' -i '" + damaged + "' -map 0:v -map 1:a -c copy '" + input + "'"));
  ASSERT_TRUE(AudioDecodingMeetsAnotherError(input)) << "the damage no longer reaches the decoder";
  auto probe = RunSpec(Base(), input, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->frames, 50);
  EXPECT_TRUE(probe->audio);
  EXPECT_NEAR(OutputAudioSeconds(dir), 2.0, 0.05);
}

// Sound that runs on far past a video's end is not all held in memory: more
// than 20 s ahead of the pictures it is written (a 1 s video with 30 s of
// sound keeps about 10 s of it past its picture).
TEST(TranscodeTest, SoundFarAheadOfThePicturesIsWrittenNotHeld) {
  test::TempDir dir;
  const std::string input = dir.path() + "/talk.mov";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=25:duration=1 -f lavfi -i "
             "sine=duration=30 -c:v libx264 -preset ultrafast -c:a pcm_s16le '" +
             input + "'"));
  TranscodeSpec spec = Base();
  spec.width = spec.source_width = 160;
  spec.height = spec.source_height = 120;
  auto probe = RunSpec(spec, input, "mov", dir);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->frames, 25);
  const double audio = std::atof(
      Output("ffprobe -v error -select_streams a:0 -show_entries stream=duration -of csv=p=0 '" +
             dir.path() + "/out.mov'")
          .c_str());
  EXPECT_GT(audio, 9.0);
  EXPECT_LT(audio, 11.5);
}

// A run that yields no picture (here a range after the last picture, where
// only sound runs on) fails saying so, and leaves no file (an empty file had
// been written, which the job's probe then refused: "no video stream").
TEST(TranscodeTest, NoPictureIsAnErrorNotAnEmptyFile) {
  test::TempDir dir;
  const std::string input = dir.path() + "/short.mov";
  ASSERT_TRUE(
      Ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -f lavfi -i "
             "sine=duration=2 -c:v libx264 -preset ultrafast -c:a pcm_s16le '" +
             input + "'"));
  TranscodeSpec spec = Base();
  spec.has_range = true;
  spec.start_ms = 1500;
  spec.end_ms = 2000;
  auto probe = RunSpec(spec, input, "mov", dir);
  ASSERT_FALSE(probe.ok());
  EXPECT_EQ(probe.status().code(), Code::kCorruptMedia);
  EXPECT_NE(probe.status().message().find("no picture"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/out.mov"));
}

TEST(TranscodeTest, BitrateIsHonouredWithinAQuarter) {
  test::TempDir dir;
  std::string input = dir.path() + "/noisy.mp4";
  // Noise keeps the encoder at its rate instead of under it.
  Ffmpeg(
      "-f lavfi -i testsrc2=size=320x240:rate=25 -t 6 -vf noise=alls=40:allf=t "
      "-c:v libx264 -preset ultrafast -qp 5 '" +
      input + "'");
  for (double mbps : {0.5, 2.0}) {
    TranscodeSpec spec = Base();
    spec.bitrate_mbps = mbps;
    spec.keep_audio = false;
    auto probe = RunSpec(spec, input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    std::string bytes = FfprobeVideo(dir.path() + "/out.mov", "bit_rate");
    double measured = std::atof(bytes.c_str()) / 1e6;
    EXPECT_NEAR(measured, mbps, mbps * 0.25) << "asked " << mbps;
  }
}

TEST(TranscodeTest, ResizeAndErrors) {
  test::TempDir dir;
  TranscodeSpec spec = Base();
  spec.width = 640;
  spec.height = 360;
  spec.keep_audio = false;
  auto probe = RunSpec(spec, Inputs::Get().progressive, "mov", dir);
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(probe->width, 640);
  EXPECT_EQ(probe->height, 360);
  TranscodeSpec own = Base();
  own.denoiser = "denoise";
  auto refused = Transcode(Inputs::Get().progressive, dir.path() + "/x.mov", own, MediaLimits{},
                           nullptr, nullptr);
  EXPECT_EQ(refused.status().code(), Code::kNotImplemented);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/x.mov"));
  // An encoder refusing its settings in its own words (libx264's 4:2:0 of an
  // odd width: AVERROR_EXTERNAL) is a permanent refusal, not an internal
  // error a job would retry.
  TranscodeSpec odd = Base();
  odd.width = 321;
  odd.keep_audio = false;
  auto unopened = Transcode(Inputs::Get().progressive, dir.path() + "/w.mov", odd, MediaLimits{},
                            nullptr, nullptr);
  EXPECT_EQ(unopened.status().code(), Code::kInvalidArgument) << unopened.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/w.mov"));
  // A truncated input fails cleanly and leaves no output.
  std::string truncated = dir.path() + "/truncated.mp4";
  std::filesystem::copy_file(Inputs::Get().progressive, truncated);
  std::filesystem::resize_file(truncated, 2000);
  auto bad = Transcode(truncated, dir.path() + "/y.mov", Base(), MediaLimits{}, nullptr, nullptr);
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/y.mov"));
  // Cancellation.
  int calls = 0;
  auto cancelled = Transcode(Inputs::Get().progressive, dir.path() + "/z.mov", Base(),
                             MediaLimits{}, nullptr, [&calls] { return ++calls > 5; });
  EXPECT_EQ(cancelled.status().code(), Code::kCancelled);
}

TEST(TranscodeTest, FilterChainIsExplicitAndOrdered) {
  TranscodeSpec spec = Base();
  spec.source_interlaced = true;
  spec.deinterlacer = "bwdif";
  spec.deinterlace_field_rate = true;
  spec.denoiser = "hqdn3d";
  spec.width = 640;
  spec.height = 480;
  spec.scaler = "scale";
  spec.fps = 60;
  spec.frame_rate_converter = "mcinterpolate";
  spec.has_range = true;
  spec.start_ms = 1000;
  spec.end_ms = 2000;
  auto chain = BuildVideoFilters(spec, 0.5);
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ(*chain,
            "trim=start=1.500000:end=2.560000,"
            "bwdif=mode=send_field:parity=tff:deint=all,trim=end=2.500000,setpts=PTS-STARTPTS,"
            "hqdn3d=luma_spatial=4:chroma_spatial=3:luma_tmp=6:chroma_tmp=4.5,"
            "scale=w=640:h=480:flags=bicubic,setsar=1,"
            "tpad=stop_mode=clone:stop_duration=0.040000,"
            "minterpolate=fps=60:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1,"
            "setfield=prog,format=pix_fmts=yuv420p");
  EXPECT_EQ(RateString(24000.0 / 1001), "24000/1001");
  EXPECT_EQ(RateString(25), "25");
}

// A rate change on a Matroska source (no stream duration; here its sound
// runs 1 s past its 2 s of pictures) ends with the pictures: the converters'
// end padding had been cut at the file's length, not the video's, and the
// last picture was held 80 ms too long.
TEST(TranscodeTest, ARateChangeEndsWithThePicturesWhenTheSoundRunsOn) {
  test::TempDir dir;
  const std::string input = dir.path() + "/longer-sound.mkv";
  ASSERT_TRUE(
      Ffmpeg("-t 2 -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=duration=3 "
             "-c:v libx264 -preset ultrafast -c:a pcm_s16le '" +
             input + "'"));
  for (const char* converter : {"fps", "fblend"}) {
    SCOPED_TRACE(converter);
    TranscodeSpec spec = Base();
    spec.frame_rate_converter = converter;
    spec.fps = 50;
    auto probe = RunSpec(spec, input, "mov", dir);
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    EXPECT_EQ(probe->frames, 100);
    EXPECT_NEAR(probe->duration, 2.0, 1e-3);
  }
  // Its progress is measured against the pictures' length, when the caller
  // knows it (the ingestion counted them): it had stopped at two thirds.
  TranscodeSpec spec = Base();
  spec.source_video_seconds = 2;
  double reached = 0;
  const TranscodeProgressFn progress = [&](const TranscodeProgress& report) {
    reached = std::max(reached, report.fraction);
  };
  ASSERT_TRUE(
      Transcode(input, dir.path() + "/out.mov", spec, MediaLimits{}, progress, nullptr).ok());
  EXPECT_NEAR(reached, 1.0, 1e-9);
}

}  // namespace
}  // namespace vidmill::engine
