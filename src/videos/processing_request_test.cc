#include "videos/processing_request.h"

#include <gtest/gtest.h>

#include <tuple>

namespace vidmill::videos {
namespace {

SourceInfo Source() {
  SourceInfo s;
  s.container = "mov";
  s.codec = "h264";
  s.chroma = "4:2:0";
  s.bits = 8;
  s.width = 720;
  s.height = 576;
  s.fps = 25;
  s.duration_ms = 10000;
  s.video_bit_rate = 5'000'000;
  s.has_audio = true;
  return s;
}

SourceInfo Interlaced() {
  SourceInfo s = Source();
  s.interlaced = true;
  s.top_field_first = true;
  return s;
}

Result<ProcessingPlan> Validate(const std::string& json, const SourceInfo& source = Source()) {
  return ValidateProcessingRequest(boost::json::parse(json).as_object(), source);
}

struct BadCase {
  std::string json;
  std::string mentions;  // the message names the field (and often the value)
};

TEST(ProcessingRequestTest, EveryRuleRefusesWithAMessageNamingTheField) {
  const std::vector<BadCase> cases = {
      {R"({"colour": "red"})", "colour"},
      {R"({"mediaContainerCodec": {"container": "avi"}})", "mediaContainerCodec.container"},
      {R"({"mediaContainerCodec": {"codec": "vp9"}})", "mediaContainerCodec.codec"},
      {R"({"mediaContainerCodec": {"container": "mp4", "codec": "prores"}})", "mp4"},
      {R"({"mediaContainerCodec": {"container": "mts", "codec": "ffv1"}})", "mts"},
      {R"({"mediaContainerCodec": {"container": "mxf", "codec": "hevc"}})", "mxf"},
      {R"({"mediaContainerCodec": {"contaner": "mov"}})", "mediaContainerCodec.contaner"},
      {R"({"mediaContainerCodec": {"codec": "prores"}, "appleProresProfile": "ultra"})",
       "appleProresProfile"},
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhd_xx"})",
       "dnxhdHrProfile"},
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhd_sq"})", "1920x1080"},
      {R"({"mediaContainerCodec": {"container": "mxf", "codec": "xdcam"}})",
       "1920x1080 or 1280x720"},
      {R"({"scanning": {"tag": "sideways"}})", "scanning.tag"},
      {R"({"scanning": {"scanningType": "interlaced"}})", "interlacedFieldOrder"},
      {R"({"scanning": {"scanningType": "progressive", "interlacedFieldOrder": "top_field"}})",
       "interlacedFieldOrder"},
      {R"({"scanning": {"tag": "progressive", "scanningType": "interlaced", "interlacedFieldOrder": "top_field"}})",
       "conflicts"},
      {R"({"chromaSubsampling": {"yuv": "4:2:1"}})", "chromaSubsampling.yuv"},
      {R"({"chromaSubsampling": {"bits": 9}})", "chromaSubsampling.bits"},
      {R"({"chromaSubsampling": {"yuv": "4:1:1"}})", "supports: 4:2:0, 4:2:2, 4:4:4"},
      {R"({"mediaContainerCodec": {"codec": "h264"}, "chromaSubsampling": {"bits": 12}})",
       "supports: 8, 10"},
      {R"({"mediaContainerCodec": {"codec": "prores"}, "chromaSubsampling": {"yuv": "4:2:0"}})",
       "4:2:2"},
      {R"({"mediaContainerCodec": {"codec": "ffv1"}, "chromaSubsampling": {"yuv": "4:1:1", "bits": 10}})",
       "supports: 8"},
      {R"({"bitrate": {"mbps": 0}})", "bitrate.mbps"},
      {R"({"bitrate": {"mbps": 4001}})", "bitrate.mbps"},
      {R"({"mediaContainerCodec": {"codec": "prores"}, "bitrate": {"mbps": 50}})", "fixed"},
      {R"({"mediaContainerCodec": {"codec": "ffv1"}, "bitrate": {"mbps": 50}})", "lossless"},
      {R"({"bitrate": {"kbps": 5}})", "bitrate.kbps"},
      {R"({"deinterlacer": "magic"})", "deinterlacer"},
      {R"({"denoiser": "nlmeans"})", "denoiser"},
      {R"({"stabilizer": "vidstab"})", "stabilizer"},
      {R"({"scaler": "lanczos"})", "scaler"},
      {R"({"postProcessor": "sharpen"})", "postProcessor"},
      {R"({"clarityBoost": "low"})", "pabsr1"},
      {R"({"scaler": "pabsr1", "resolution": {"tag": "2x"}, "clarityBoost": "extreme"})",
       "clarityBoost"},
      {R"({"frameRateConverter": "fps"})", "frameRate"},
      {R"({"frameRateConverter": "warp", "frameRate": {"fps": 30}})", "frameRateConverter"},
      {R"({"frameRate": {"fps": 0}})", "frameRate.fps"},
      {R"({"frameRate": {"fps": 1000}})", "frameRate.fps"},
      {R"({"frameRate": {"tag": "cinema"}})", "frameRate.tag"},
      {R"({"frameRate": {"tag": "film", "fps": 25}})", "frameRate.tag film is 24 fps"},
      {R"({"frameRate": {"tag": "film_ntsc", "fps": 24}})", "is 23.976 fps"},
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "appleProresProfile": "ultra"})",
       "appleProresProfile"},
      {R"({"appleProresProfile": "hq", "dnxhdHrProfile": "dnxhr_sq"})", "two codecs"},
      {R"({"resolution": {"tag": "5x"}})", "resolution.tag"},
      {R"({"resolution": {"tag": "2x", "width": 100}})", "not both"},
      {R"({"resolution": {"width": 1920, "height": 1080, "aspectRatioTag": "16:9"}})", "together"},
      {R"({"resolution": {"width": 8}})", "resolution.width"},
      {R"({"resolution": {"height": 5000}})", "resolution.height"},
      {R"({"resolution": {"width": 100.5}})", "resolution.width"},
      {R"({"resolution": {"width": 640, "aspectRatioTag": "21:9"}})", "aspectRatioTag"},
      {R"({"resolution": {"width": 7680, "aspectRatioTag": "4:3"}})", "derived size"},
      {R"({"resolution": {"aspectRatioTag": "16:9"}})", "resolution"},
      {R"({"bitrate": {"mbps": null}})", "bitrate"},
      {R"({"range": {"startPositionMilliseconds": -1}})", "range.startPositionMilliseconds"},
      {R"({"range": {"endPositionMilliseconds": 10001}})", "range.endPositionMilliseconds"},
      {R"({"range": {"startPositionMilliseconds": 5000, "endPositionMilliseconds": 5000}})",
       "before end"},
      {R"({"range": {"startPositionMilliseconds": "0"}})", "number"},
      {R"({"range": {"endPositionMilliseconds": 0.5}})", "whole milliseconds"},
      {R"({"range": {"startPositionMilliseconds": 0.5}})", "whole milliseconds"},
      {R"({"deinterlacer": 3})", "deinterlacer"},
      {R"({"mediaContainerCodec": {"container": "mxf"}, "frameRate": {"fps": 15}})",
       "container mxf takes frame rates 23.976, 24, 25"},
      // SMPTE rates FFmpeg's MXF muxer writes wrongly (read back as 80 and 120).
      {R"({"mediaContainerCodec": {"container": "mxf"}, "frameRate": {"fps": 119.88}})",
       "frameRate: 119.88 is not allowed"},
      {R"({"mediaContainerCodec": {"container": "mxf"}, "frameRate": {"fps": 90}})",
       "(the output would be 90 frames/s)"},
      {R"({"mediaContainerCodec": {"codec": "mpeg2"}, "frameRate": {"fps": 12.34}})",
       "not 12.34; set frameRate"},
      // More than an int of bits a frame: the encoder's buffer cannot hold it.
      {R"({"mediaContainerCodec": {"codec": "mpeg2"}, "frameRate": {"fps": 0.75},
           "bitrate": {"mbps": 2000}})",
       "bitrate.mbps: 2000 is not allowed; codec mpeg2 takes at most 2147483647 bits a frame: at "
       "0.75 frames/s at most 1610.61 Mb/s"},
      {R"({"mediaContainerCodec": {"codec": "mpeg2"}, "resolution": {"tag": "uhd_8k"}})",
       "resolution: {\"tag\":\"uhd_8k\"} is not allowed; codec mpeg2 codes frames up to 4095x4095 "
       "(this gives 7680x4320)"},
      // Numbers inside the value quoted as written, not as Boost's 1E-3.
      {R"({"frameRate": {"fps": 0.001}})", "{\"fps\":0.001}"},
      {R"({"mediaContainerCodec": {"codec": "ffv1"}, "chromaSubsampling": {"yuv": "4:1:1", "bits": 10}})",
       "ffv1 with 4:1:1 supports: 8"},
  };
  for (const BadCase& c : cases) {
    auto plan = Validate(c.json);
    ASSERT_FALSE(plan.ok()) << c.json;
    EXPECT_EQ(plan.status().code(), Code::kInvalidArgument) << c.json;
    EXPECT_NE(plan.status().message().find(c.mentions), std::string::npos)
        << c.json << " → " << plan.status().message();
  }
  // A source at a rate MXF cannot carry, no frameRate given.
  SourceInfo slow = Source();
  slow.fps = 15;
  auto mxf = Validate(R"({"mediaContainerCodec": {"container": "mxf"}})", slow);
  EXPECT_EQ(mxf.status().code(), Code::kInvalidArgument);
  EXPECT_NE(mxf.status().message().find("mediaContainerCodec.container"), std::string::npos);
  EXPECT_TRUE(
      Validate(
          R"({"mediaContainerCodec": {"container": "mxf"}, "frameRate": {"tag": "film_ntsc"}})",
          slow)
          .ok());
  // Frame-rate change of interlaced material kept interlaced, without a deinterlacer.
  auto interlaced = Validate(R"({"scanning": {"tag": "interlaced_tff"}, "frameRate": {"fps": 30}})",
                             Interlaced());
  EXPECT_EQ(interlaced.status().code(), Code::kInvalidArgument);
}

TEST(ProcessingRequestTest, DefaultsFollowTheSource) {
  auto plan = Validate("{}");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->container, "mov");
  EXPECT_EQ(plan->codec, "h264");
  EXPECT_EQ(plan->pixel_format, "yuv420p");
  EXPECT_EQ(plan->width, 720);
  EXPECT_EQ(plan->height, 576);
  EXPECT_FALSE(plan->interlaced_output);
  EXPECT_TRUE(plan->scaler.empty());
  ASSERT_TRUE(plan->bitrate_mbps.has_value());
  EXPECT_NEAR(*plan->bitrate_mbps, 5.0, 0.01);
  EXPECT_EQ(plan->end_ms, 10000);
  // A source whose pair is not allowed (e.g. VP9 in WebM) → mov/h264.
  SourceInfo webm = Source();
  webm.container = "";
  webm.codec = "vp9";
  auto fallback = Validate("{}", webm);
  ASSERT_TRUE(fallback.ok());
  EXPECT_EQ(fallback->container, "mov");
  EXPECT_EQ(fallback->codec, "h264");
  // Only a codec: the source container when it takes it, else the first that does.
  auto xdcam =
      Validate(R"({"mediaContainerCodec": {"codec": "xdcam"}, "resolution": {"tag": "hd_1080p"}})");
  ASSERT_TRUE(xdcam.ok()) << xdcam.status().ToString();
  EXPECT_EQ(xdcam->container, "mxf");
  EXPECT_EQ(xdcam->pixel_format, "yuv422p");
  EXPECT_EQ(*xdcam->bitrate_mbps, 50);
}

TEST(ProcessingRequestTest, EveryEmptyGroupTakesItsDefaults) {
  auto defaults = Validate("{}");
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  for (const char* group : {"mediaContainerCodec", "scanning", "chromaSubsampling", "bitrate",
                            "resolution", "frameRate", "range"}) {
    auto plan = Validate(std::string(R"({")") + group + R"(": {}})");
    ASSERT_TRUE(plan.ok()) << group << ": " << plan.status().ToString();
    EXPECT_EQ(plan->ToProcessingParameters(), defaults->ToProcessingParameters()) << group;
  }
}

// An RGB source stays RGB in FFV1 (lossless) unless a YUV subsampling is
// asked for; other codecs make it YUV.
TEST(ProcessingRequestTest, AnRgbSourceStaysRgbInFfv1) {
  SourceInfo rgb = Source();
  rgb.rgb = true;
  rgb.chroma = "4:4:4";
  auto ffv1 = Validate(R"({"mediaContainerCodec": {"container": "mov", "codec": "ffv1"}})", rgb);
  ASSERT_TRUE(ffv1.ok()) << ffv1.status().ToString();
  EXPECT_EQ(ffv1->pixel_format, "bgr0");
  rgb.bits = 10;
  auto deep = Validate(R"({"mediaContainerCodec": {"container": "mov", "codec": "ffv1"}})", rgb);
  ASSERT_TRUE(deep.ok()) << deep.status().ToString();
  EXPECT_EQ(deep->pixel_format, "gbrp10le");
  auto yuv = Validate(R"({"mediaContainerCodec": {"container": "mov", "codec": "ffv1"},
                         "chromaSubsampling": {"yuv": "4:4:4"}})",
                      rgb);
  ASSERT_TRUE(yuv.ok()) << yuv.status().ToString();
  EXPECT_EQ(yuv->pixel_format, "yuv444p10le");
  auto h264 = Validate(R"({"mediaContainerCodec": {"container": "mov", "codec": "h264"}})", rgb);
  ASSERT_TRUE(h264.ok()) << h264.status().ToString();
  EXPECT_EQ(h264->pixel_format, "yuv444p10le");
}

// FFV1 takes every depth FFmpeg's encoder writes: 14 bits (the reference
// lists it; it had been refused for every codec) and 4:4:0 in 10 and 12.
TEST(ProcessingRequestTest, Ffv1TakesEveryDepthItsEncoderWrites) {
  for (const auto& [yuv, bits, format] :
       std::vector<std::tuple<std::string, int, std::string>>{{"4:2:0", 14, "yuv420p14le"},
                                                              {"4:2:2", 14, "yuv422p14le"},
                                                              {"4:4:4", 14, "yuv444p14le"},
                                                              {"4:4:0", 10, "yuv440p10le"},
                                                              {"4:4:0", 12, "yuv440p12le"}}) {
    auto plan =
        Validate(R"({"mediaContainerCodec": {"codec": "ffv1"}, "chromaSubsampling": {"yuv": ")" +
                 yuv + R"(", "bits": )" + std::to_string(bits) + "}}");
    ASSERT_TRUE(plan.ok()) << yuv << " " << bits << ": " << plan.status().ToString();
    EXPECT_EQ(plan->pixel_format, format);
  }
  auto h264 = Validate(R"({"chromaSubsampling": {"bits": 14}})");
  EXPECT_EQ(h264.status().code(), Code::kInvalidArgument);
}

// An interlaced source stored turned: scanning auto makes it progressive
// with bwdif (a plain {} was a 400); interlaced output asked for is a 400.
TEST(ProcessingRequestTest, AnInterlacedSourceStoredTurnedIsDeinterlacedByDefault) {
  SourceInfo turned = Interlaced();
  turned.rotation = 90;
  auto plan = Validate("{}", turned);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_FALSE(plan->interlaced_output);
  EXPECT_EQ(plan->deinterlacer, "bwdif");
  auto refused = Validate(R"({"scanning": {"tag": "interlaced_tff"}})", turned);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
}

// NTSC D1 (720x486, 4:3) kept interlaced in 4:2:0 is rounded to 488 lines
// and keeps its 4:3 picture through the pixel shape (it became square: 90:61).
TEST(ProcessingRequestTest, ASizeRoundedToTheChromaGridKeepsTheDisplayAspect) {
  SourceInfo ntsc = Interlaced();
  ntsc.width = 720;
  ntsc.height = 486;
  ntsc.sample_aspect = 0.9;
  ntsc.chroma = "4:2:2";
  ntsc.fps = 30000.0 / 1001;
  auto plan = Validate(R"({"mediaContainerCodec": {"container": "mp4", "codec": "h264"},
                           "chromaSubsampling": {"yuv": "4:2:0"}})",
                       ntsc);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->interlaced_output);
  EXPECT_EQ(plan->width, 720);
  EXPECT_EQ(plan->height, 488);
  EXPECT_NEAR(plan->width * plan->sample_aspect / plan->height, 4.0 / 3.0, 1e-9);
  // A square-pixel source rounded by a line stays square.
  SourceInfo odd = Source();
  odd.width = 719;
  odd.height = 575;
  auto square = Validate("{}", odd);
  ASSERT_TRUE(square.ok()) << square.status().ToString();
  EXPECT_EQ(square->sample_aspect, 1.0);
}

// The reference's own example sends both profiles with codec h264, and a
// frame-rate tag with the fps it names: accepted (both were 400s). A profile
// that does not apply to the codec named is left out; with no codec named, a
// profile names its codec.
TEST(ProcessingRequestTest, TheReferencesExampleFieldsAreAccepted) {
  auto example = Validate(R"({"mediaContainerCodec": {"container": "mov", "codec": "h264"},
                              "appleProresProfile": "standard", "dnxhdHrProfile": "dnxhd_sq",
                              "frameRate": {"tag": "film", "fps": 24.0}})");
  ASSERT_TRUE(example.ok()) << example.status().ToString();
  EXPECT_EQ(example->codec, "h264");
  EXPECT_EQ(example->profile, "");
  EXPECT_EQ(example->fps, 24.0);
  auto ntsc = Validate(R"({"frameRate": {"tag": "film_ntsc", "fps": 23.976}})");
  ASSERT_TRUE(ntsc.ok()) << ntsc.status().ToString();
  EXPECT_DOUBLE_EQ(ntsc->fps, 24000.0 / 1001);
  auto prores = Validate(R"({"appleProresProfile": "hq"})");
  ASSERT_TRUE(prores.ok()) << prores.status().ToString();
  EXPECT_EQ(prores->codec, "prores");
  EXPECT_EQ(prores->container, "mov");
  EXPECT_EQ(prores->profile, "hq");
  auto dnx =
      Validate(R"({"mediaContainerCodec": {"container": "mxf"}, "dnxhdHrProfile": "dnxhr_hq"})");
  ASSERT_TRUE(dnx.ok()) << dnx.status().ToString();
  EXPECT_EQ(dnx->codec, "dnxhd");
  EXPECT_EQ(dnx->profile, "dnxhr_hq");
}

// A range that starts after the last picture (the sound runs on) is refused
// (it was accepted, and the job failed: "no video stream").
TEST(ProcessingRequestTest, ARangeAfterTheLastPictureIsRefused) {
  SourceInfo longer_sound = Source();
  longer_sound.duration_ms = 4000;
  longer_sound.video_duration_ms = 3000;
  auto refused =
      Validate(R"({"range": {"startPositionMilliseconds": 3100, "endPositionMilliseconds": 4000}})",
               longer_sound);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("range.startPositionMilliseconds"), std::string::npos)
      << refused.status().ToString();
  // The pictures' length goes to the job (its progress is measured by it).
  auto whole = Validate("{}", longer_sound);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->source_video_ms, 3000);
  EXPECT_TRUE(Validate(R"({"range": {"startPositionMilliseconds": 2900,
                                     "endPositionMilliseconds": 4000}})",
                       longer_sound)
                  .ok());
}

// A derived MPEG-2 rate stays within the level the encoder writes: DV
// (28.8 Mb/s at 4:1:1) into SD MPEG-2 had been 57.5 Mb/s flagged Main Level
// (limit 15), v210 into 4:2:2 MPEG-2 442 Mb/s flagged 4:2:2 Main Level (limit
// 50; audit 31 F4). An asked rate is written as asked.
TEST(ProcessingRequestTest, ADerivedMpeg2RateStaysWithinItsLevel) {
  SourceInfo dv = Source();
  dv.codec = "dvvideo";
  dv.chroma = "4:1:1";
  dv.width = 720;
  dv.height = 480;
  dv.fps = 30000 / 1001.0;
  dv.video_bit_rate = 28'800'000;
  const std::string mpeg2 = R"({"mediaContainerCodec": {"container": "mxf", "codec": "mpeg2"})";
  auto main_level = Validate(mpeg2 + "}", dv);
  ASSERT_TRUE(main_level.ok()) << main_level.status().ToString();
  EXPECT_EQ(*main_level->bitrate_mbps, 15);
  SourceInfo v210 = Source();
  v210.codec = "v210";
  v210.chroma = "4:2:2";
  v210.bits = 10;
  v210.video_bit_rate = 220'000'000;
  auto four_two_two = Validate(mpeg2 + R"(, "chromaSubsampling": {"yuv": "4:2:2"}})", v210);
  ASSERT_TRUE(four_two_two.ok()) << four_two_two.status().ToString();
  EXPECT_EQ(four_two_two->chroma, "4:2:2");
  EXPECT_EQ(*four_two_two->bitrate_mbps, 50);
  auto hd = Validate(mpeg2 + R"(, "resolution": {"tag": "hd_1080p"}})", v210);
  ASSERT_TRUE(hd.ok()) << hd.status().ToString();
  EXPECT_LE(*hd->bitrate_mbps, 300);
  auto low = Validate(mpeg2 + "}");  // 5 Mb/s H.264 → 10 Mb/s MPEG-2, under the limit
  ASSERT_TRUE(low.ok());
  EXPECT_NEAR(*low->bitrate_mbps, 10, 0.01);
  auto asked = Validate(mpeg2 + R"(, "bitrate": {"mbps": 40}})", dv);
  ASSERT_TRUE(asked.ok());
  EXPECT_EQ(*asked->bitrate_mbps, 40);
}

// Video that starts after its sound (an MPEG-TS): a range that ends before
// the first picture is refused (it was accepted, and the job failed: "no
// picture came out"), and the pictures end their length after their start.
TEST(ProcessingRequestTest, ARangeBeforeTheFirstPictureIsRefused) {
  SourceInfo late_video = Source();
  late_video.duration_ms = 4000;
  late_video.video_start_ms = 1010;
  late_video.video_duration_ms = 2990;
  auto range = [&](int start, int end) {
    return Validate(R"({"range": {"startPositionMilliseconds": )" + std::to_string(start) +
                        R"(, "endPositionMilliseconds": )" + std::to_string(end) + "}}",
                    late_video);
  };
  auto before = range(0, 1010);
  ASSERT_FALSE(before.ok());
  EXPECT_NE(before.status().message().find("range.endPositionMilliseconds"), std::string::npos)
      << before.status().ToString();
  EXPECT_NE(before.status().message().find("the pictures start at 1010 ms"), std::string::npos)
      << before.status().ToString();
  // Why, as far as the metadata tells: a file without sound that starts
  // later is a stream cut at its start (it had said "the sound starts before
  // them" of a file without sound; audit 37 F4).
  ASSERT_TRUE(late_video.has_audio);
  EXPECT_NE(before.status().message().find("the sound starts before them"), std::string::npos)
      << before.status().ToString();
  SourceInfo silent = late_video;
  silent.has_audio = false;
  auto other = Validate(
      R"({"range": {"startPositionMilliseconds": 0, "endPositionMilliseconds": 1000}})", silent);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("the file's first pictures do not decode"),
            std::string::npos)
      << other.status().ToString();
  EXPECT_TRUE(range(0, 1011).ok());
  EXPECT_TRUE(range(3900, 4000).ok());  // the pictures end at 4000, not 2990
  SourceInfo ended = late_video;
  ended.duration_ms = 5000;
  auto after = Validate(
      R"({"range": {"startPositionMilliseconds": 4000, "endPositionMilliseconds": 5000}})", ended);
  ASSERT_FALSE(after.ok());
  EXPECT_NE(after.status().message().find("the pictures end at 4000 ms"), std::string::npos)
      << after.status().ToString();
}

// MPEG-2 takes only the rates it can code (0.5 and 7 fps were accepted, and
// the job failed three times on "Invalid argument").
TEST(ProcessingRequestTest, Mpeg2TakesOnlyRatesItCanCode) {
  struct Case {
    std::string rate;
    bool allowed;
  };
  for (const Case& c : {Case{"25", true}, Case{"29.97", true}, Case{"23.976", true},
                        Case{"60", true}, Case{"1", true}, Case{"12.5", true}, Case{"0.5", false},
                        Case{"7", false}, Case{"13", false}, Case{"48", true}}) {
    const std::string json =
        R"({"mediaContainerCodec": {"container": "mts", "codec": "mpeg2"}, "frameRate": {"fps": )" +
        c.rate + "}}";
    auto plan = Validate(json);
    EXPECT_EQ(plan.ok(), c.allowed) << json << " → " << plan.status().ToString();
    if (!plan.ok()) {
      EXPECT_EQ(plan.status().code(), Code::kInvalidArgument);
      EXPECT_NE(plan.status().message().find("frameRate"), std::string::npos);
    }
  }
  SourceInfo slow = Source();
  slow.fps = 0.5;
  auto from_source =
      Validate(R"({"mediaContainerCodec": {"container": "mts", "codec": "mpeg2"}})", slow);
  ASSERT_FALSE(from_source.ok());
  EXPECT_NE(from_source.status().message().find("mediaContainerCodec.codec"), std::string::npos)
      << from_source.status().ToString();
}

// XDCAM HD422's progressive formats: 1080p at 23.98/25/29.97, 720p also at
// 50/59.94. 1080p59.94 was accepted and written as 422P@HL at twice its rate.
TEST(ProcessingRequestTest, XdcamTakesOnlyItsOwnFrameRates) {
  struct Case {
    std::string resolution, rate;
    bool allowed;
  };
  const std::string hd = R"({"tag": "hd_1080p"})";
  const std::string hd720 = R"({"width": 1280, "height": 720})";
  for (const Case& c : {Case{hd, "25", true}, Case{hd, "29.97", true}, Case{hd, "23.976", true},
                        Case{hd, "59.94", false}, Case{hd, "50", false}, Case{hd720, "59.94", true},
                        Case{hd720, "30", false}}) {
    const std::string json =
        R"({"mediaContainerCodec": {"codec": "xdcam"}, "scanning": {"tag": "progressive"},
            "resolution": )" +
        c.resolution + R"(, "frameRate": {"fps": )" + c.rate + "}}";
    auto plan = Validate(json);
    EXPECT_EQ(plan.ok(), c.allowed) << json << " → " << plan.status().ToString();
    if (!plan.ok()) {
      EXPECT_EQ(plan.status().code(), Code::kInvalidArgument);
      EXPECT_NE(plan.status().message().find("frameRate"), std::string::npos);
    }
  }
}

// Each check's idea of one rate: a format's table takes a rate within 0.01 of
// its entry (DNxHD's 24.995 is 25); where the encoder or muxer codes a rate
// exactly, a rate must be within 0.001 of one (29.971 is MPEG-2's 30000/1001,
// 23.98 is none of MXF's); an fps given with a tag must be within 0.0005 of it.
TEST(ProcessingRequestTest, EachCheckHasItsToleranceForOneRate) {
  struct Case {
    std::string format, rate;
    bool allowed;
  };
  const std::string dnxhd = R"("mediaContainerCodec": {"codec": "dnxhd"},
      "dnxhdHrProfile": "dnxhd_sq", "resolution": {"tag": "hd_1080p"})";
  const std::string mpeg2 = R"("mediaContainerCodec": {"container": "mts", "codec": "mpeg2"})";
  const std::string mxf = R"("mediaContainerCodec": {"container": "mxf", "codec": "h264"})";
  const std::string film_ntsc = R"("frameRate": {"tag": "film_ntsc", "fps": )";
  for (const Case& c :
       {Case{dnxhd, "24.995", true}, Case{dnxhd, "24.985", false}, Case{mpeg2, "29.971", true},
        Case{mpeg2, "29.972", false}, Case{mxf, "23.976", true}, Case{mxf, "23.98", false}}) {
    const std::string json = "{" + c.format + R"(, "frameRate": {"fps": )" + c.rate + "}}";
    auto plan = Validate(json);
    EXPECT_EQ(plan.ok(), c.allowed) << json << " → " << plan.status().ToString();
  }
  EXPECT_TRUE(Validate("{" + film_ntsc + "23.9764}}").ok());
  EXPECT_FALSE(Validate("{" + film_ntsc + "23.977}}").ok());
  // A rate taken as one the format codes becomes exactly that rate: passed on
  // as given, 24.0005 reached MPEG-2's encoder as 48001/2000 and 25.0005 the
  // MXF muxer as 50001/2000, and both refused it when the job ran.
  struct Snapped {
    std::string format, rate;
    double fps;
  };
  for (const Snapped& c : {Snapped{mpeg2, "24.0005", 24}, Snapped{mxf, "25.0005", 25},
                           Snapped{mpeg2, "29.971", 30000.0 / 1001},
                           Snapped{mpeg2, "12.4995", 12.5}, Snapped{mpeg2, "0.75", 0.75}}) {
    const std::string json = "{" + c.format + R"(, "frameRate": {"fps": )" + c.rate + "}}";
    auto plan = Validate(json);
    ASSERT_TRUE(plan.ok()) << json << " → " << plan.status().ToString();
    EXPECT_EQ(plan->fps, c.fps) << json;
    EXPECT_EQ(plan->requested_fps, c.fps) << json;  // what processingParameters shows
  }
  // XDCAM, always in MXF, names and takes MXF's rates: 23.98 is refused by
  // XDCAM's own check, which had let it pass for MXF's to refuse.
  auto xdcam = Validate(R"({"mediaContainerCodec": {"codec": "xdcam"},
      "resolution": {"tag": "hd_1080p"}, "frameRate": {"fps": 23.98}})");
  ASSERT_FALSE(xdcam.ok());
  EXPECT_NE(xdcam.status().message().find("xdcam (XDCAM HD422) is 1080p at 23.976"),
            std::string::npos)
      << xdcam.status().ToString();
  // A deinterlacer gives a frame per field only for a rate faster than the
  // source's by more than 0.01; within 0.01 no converter runs.
  auto same = Validate(R"({"deinterlacer": "yadif", "frameRate": {"fps": 25.005}})", Interlaced());
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_FALSE(same->deinterlace_field_rate);
  EXPECT_EQ(same->frame_rate_converter, "");
  auto faster = Validate(R"({"deinterlacer": "yadif", "frameRate": {"fps": 25.02}})", Interlaced());
  ASSERT_TRUE(faster.ok()) << faster.status().ToString();
  EXPECT_TRUE(faster->deinterlace_field_rate);
  EXPECT_EQ(faster->frame_rate_converter, "fps");
}

TEST(ProcessingRequestTest, ChromaIsInheritedAndMovedToTheNearestSupported) {
  auto prores =
      Validate(R"({"mediaContainerCodec": {"codec": "prores"}, "appleProresProfile": "hq"})");
  ASSERT_TRUE(prores.ok());
  EXPECT_EQ(prores->pixel_format, "yuv422p10le");
  EXPECT_FALSE(prores->bitrate_mbps.has_value());
  auto p4444 =
      Validate(R"({"mediaContainerCodec": {"codec": "prores"}, "appleProresProfile": "4444"})");
  EXPECT_EQ(p4444->pixel_format, "yuv444p10le");
  SourceInfo s411 = Source();
  s411.chroma = "4:1:1";
  auto mpeg2 = Validate(R"({"mediaContainerCodec": {"codec": "mpeg2"}})", s411);
  ASSERT_TRUE(mpeg2.ok());
  EXPECT_EQ(mpeg2->chroma, "4:2:0");  // same chroma resolution, supported
  SourceInfo s10 = Source();
  s10.bits = 10;
  s10.chroma = "4:2:2";
  auto hevc = Validate(R"({"mediaContainerCodec": {"codec": "hevc"}})", s10);
  EXPECT_EQ(hevc->pixel_format, "yuv422p10le");
  auto ffv1 = Validate(
      R"({"mediaContainerCodec": {"codec": "ffv1"}, "chromaSubsampling": {"yuv": "4:4:4", "bits": 16}})");
  ASSERT_TRUE(ffv1.ok());
  EXPECT_EQ(ffv1->pixel_format, "yuv444p16le");
}

TEST(ProcessingRequestTest, ResolutionFormsAndRounding) {
  auto tag = Validate(R"({"resolution": {"tag": "hd_1080p"}})");
  EXPECT_EQ(tag->width, 1920);
  EXPECT_EQ(tag->scaler, "scale");
  auto twice = Validate(R"({"resolution": {"tag": "2x"}})");
  EXPECT_EQ(twice->width, 1440);
  EXPECT_EQ(twice->height, 1152);
  auto wide = Validate(R"({"resolution": {"width": 1024, "aspectRatioTag": "16:9"}})");
  EXPECT_EQ(wide->height, 576);
  SourceInfo anamorphic = Source();
  anamorphic.sample_aspect = 64.0 / 45.0;  // 720x576 shown at 16:9
  auto display =
      Validate(R"({"resolution": {"height": 576, "aspectRatioTag": "display"}})", anamorphic);
  EXPECT_EQ(display->width, 1024);
  auto storage =
      Validate(R"({"resolution": {"height": 576, "aspectRatioTag": "storage"}})", anamorphic);
  EXPECT_EQ(storage->width, 720);
  auto odd = Validate(R"({"resolution": {"width": 641, "height": 361}})");
  EXPECT_EQ(odd->width % 2, 0);
  EXPECT_EQ(odd->height % 2, 0);
  auto odd_interlaced = Validate(
      R"({"resolution": {"width": 640, "height": 362}, "scanning": {"tag": "interlaced_tff"}})");
  EXPECT_EQ(odd_interlaced->height % 4, 0);
  auto none = Validate(R"({"resolution": {"tag": "no_scaling"}})");
  EXPECT_EQ(none->width, 720);
  EXPECT_TRUE(none->scaler.empty());
  // pabsr1 and dvres at the source's size: dvres restores at 1x, pabsr1
  // applies its clarityBoost (they were refused, against docs/processing.md).
  for (const char* request :
       {R"({"scaler": "dvres"})", R"({"scaler": "pabsr1", "clarityBoost": "high"})",
        R"({"scaler": "dvres", "resolution": {"tag": "no_scaling"}})"}) {
    auto same_size = Validate(request);
    ASSERT_TRUE(same_size.ok()) << request << ": " << same_size.status().ToString();
    EXPECT_EQ(same_size->width, 720) << request;
    EXPECT_EQ(same_size->height, 576) << request;
    EXPECT_NE(same_size->scaler, "scale") << request;
    EXPECT_FALSE(same_size->scaler.empty()) << request;
  }
}

// An anamorphic 16:9 PAL source (720x576, pixels 64:45) keeps its pixel
// shape wherever the frame keeps its shape, so it stays 16:9 on screen (it
// came out with square pixels: 5:4, squeezed by 29 %); other sizes are
// filled with square pixels.
TEST(ProcessingRequestTest, TheFrameKeepsItsPixelShapeWhenItKeepsItsShape) {
  SourceInfo anamorphic = Source();
  anamorphic.sample_aspect = 64.0 / 45.0;
  for (const char* request :
       {R"({})", R"({"resolution": {"tag": "2x"}})", R"({"resolution": {"tag": "no_scaling"}})",
        R"({"scaler": "pabsr1", "resolution": {"tag": "2x"}})"}) {
    auto plan = Validate(request, anamorphic);
    ASSERT_TRUE(plan.ok()) << request;
    EXPECT_DOUBLE_EQ(plan->sample_aspect, 64.0 / 45.0) << request;
  }
  for (const char* request :
       {R"({"resolution": {"tag": "hd_1080p"}})", R"({"resolution": {"width": 1024}})"}) {
    auto plan = Validate(request, anamorphic);
    ASSERT_TRUE(plan.ok()) << request;
    EXPECT_DOUBLE_EQ(plan->sample_aspect, 1.0) << request;
  }
  EXPECT_EQ(Validate(R"({"resolution": {"width": 1024}})", anamorphic)->height, 576);
  EXPECT_DOUBLE_EQ(Validate(R"({})")->sample_aspect, 1.0);
  // A side derived at the storage shape and rounded (502 lines: 627.5 → 628
  // columns), or a size a pixel off it, still keeps the picture 16:9 on
  // screen, by adjusting the pixel shape; it had fallen back to square pixels
  // and showed 1.25:1 (audit 14).
  for (const char* request : {R"({"resolution": {"height": 502, "aspectRatioTag": "storage"}})",
                              R"({"resolution": {"width": 361, "height": 288}})",
                              R"({"scanning": {"tag": "interlaced_tff"},
                                  "resolution": {"height": 502, "aspectRatioTag": "storage"}})"}) {
    auto plan = Validate(request, anamorphic);
    ASSERT_TRUE(plan.ok()) << request << ": " << plan.status().ToString();
    EXPECT_NEAR(plan->width * plan->sample_aspect / plan->height, 16.0 / 9.0, 1e-9) << request;
    EXPECT_NE(plan->sample_aspect, 1.0) << request;
  }
  // A square-pixel source a pixel off its shape stays square.
  EXPECT_DOUBLE_EQ(Validate(R"({"resolution": {"width": 361, "height": 288}})")->sample_aspect,
                   1.0);
}

// A frame whose shape differs from the source's display aspect by more than
// 3 % gets the picture at that aspect, centred, in square pixels: pillarbox
// for 4:3 PAL (pixels 16:15) at hd_1080p, letterbox for 2.39:1 film; it had
// been stretched to fill. Offsets are on the chroma grid, on field pairs for
// interlaced output; a frame within 3 % (12:11 pixels into 768x576) fills.
TEST(ProcessingRequestTest, APictureOfAnotherShapeIsBoxedNotStretched) {
  SourceInfo pal = Source();
  pal.sample_aspect = 16.0 / 15.0;
  auto hd = Validate(R"({"resolution": {"tag": "hd_1080p"}})", pal);
  ASSERT_TRUE(hd.ok()) << hd.status().ToString();
  EXPECT_EQ(hd->width, 1920);
  EXPECT_EQ(hd->height, 1080);
  EXPECT_EQ(hd->picture_width, 1440);
  EXPECT_EQ(hd->picture_height, 1080);
  EXPECT_EQ(hd->picture_x, 240);
  EXPECT_EQ(hd->picture_y, 0);
  EXPECT_DOUBLE_EQ(hd->sample_aspect, 1.0);
  const boost::json::object params = hd->ToProcessingParameters();
  const boost::json::array& filters = params.at("targetVideo").at("videoFilters").as_array();
  EXPECT_EQ(filters.front().at("properties").at("width"), 1440);
  EXPECT_EQ(filters.back().at("name"), "pad");
  EXPECT_EQ(filters.back().at("properties").at("x"), 240);

  SourceInfo film = Source();
  film.width = 1920;
  film.height = 804;  // 2.39:1
  auto letterbox = Validate(R"({"resolution": {"width": 1280, "height": 720}})", film);
  ASSERT_TRUE(letterbox.ok()) << letterbox.status().ToString();
  EXPECT_EQ(letterbox->picture_width, 1280);
  EXPECT_EQ(letterbox->picture_height, 536);
  EXPECT_EQ(letterbox->picture_y, 92);
  auto interlaced = Validate(
      R"({"resolution": {"tag": "hd_1080p"}, "scanning": {"tag": "interlaced_tff"}})", film);
  ASSERT_TRUE(interlaced.ok()) << interlaced.status().ToString();
  EXPECT_EQ(interlaced->picture_height % 4, 0);
  EXPECT_EQ(interlaced->picture_y % 4, 0);
  EXPECT_NEAR(interlaced->picture_y * 2 + interlaced->picture_height, 1080, 4);

  SourceInfo square = Source();  // 720x576, 5:4 on screen
  auto pillar = Validate(R"({"resolution": {"width": 1024, "height": 576}})", square);
  EXPECT_EQ(pillar->picture_width, 720);
  EXPECT_EQ(pillar->picture_x, 152);

  SourceInfo itu = Source();
  itu.sample_aspect = 12.0 / 11.0;
  auto fills = Validate(R"({"resolution": {"width": 768, "height": 576}})", itu);
  EXPECT_EQ(fills->picture_width, 768);
  EXPECT_EQ(fills->picture_height, 576);
  auto same_shape = Validate(R"({"resolution": {"tag": "2x"}})", pal);
  EXPECT_EQ(same_shape->picture_width, same_shape->width);
  EXPECT_EQ(same_shape->picture_height, same_shape->height);
}

// A standard-definition frame (720 or 704 by 480, 486 or 576) is shown at 4:3
// or 16:9, as the source's shape suggests, with the pixels that give it: 16:9
// PAL converted to 720x480 shows 16:9, not 3:2 in square pixels (audit 23
// F8), and an HD downconversion is anamorphic, not letterboxed in a 5:4 frame.
TEST(ProcessingRequestTest, AStandardDefinitionFrameIsShownAtFourThreeOrSixteenNine) {
  SourceInfo wide_pal = Source();
  wide_pal.sample_aspect = 64.0 / 45.0;
  SourceInfo pal = Source();
  pal.sample_aspect = 16.0 / 15.0;
  SourceInfo hd = Source();
  hd.width = 1920;
  hd.height = 1080;
  struct Case {
    const SourceInfo& source;
    const char* request;
    double sample_aspect;
  };
  for (const Case& c :
       {Case{wide_pal, R"({"resolution": {"width": 720, "height": 480}})", 32.0 / 27.0},
        Case{pal, R"({"resolution": {"width": 720, "height": 480}})", 8.0 / 9.0},
        Case{pal, R"({"resolution": {"width": 704, "height": 480}})", 10.0 / 11.0},
        Case{hd, R"({"resolution": {"width": 720, "height": 576}})", 64.0 / 45.0},
        Case{wide_pal, R"({"resolution": {"width": 720, "height": 486},
                           "scanning": {"tag": "interlaced_bff"}})",
             16.0 / 9.0 * 488 / 720}}) {
    auto plan = Validate(c.request, c.source);
    ASSERT_TRUE(plan.ok()) << c.request << ": " << plan.status().ToString();
    EXPECT_NEAR(plan->sample_aspect, c.sample_aspect, 1e-9) << c.request;
    EXPECT_EQ(plan->picture_width, plan->width) << c.request;
    EXPECT_EQ(plan->picture_height, plan->height) << c.request;
  }
  // Film wider than 16:9 is letterboxed in the 16:9 frame, a square picture
  // pillarboxed in the 4:3 one, each at its own shape on screen.
  SourceInfo film = Source();
  film.width = 1920;
  film.height = 804;
  auto letterbox = Validate(R"({"resolution": {"width": 720, "height": 576}})", film);
  ASSERT_TRUE(letterbox.ok()) << letterbox.status().ToString();
  EXPECT_NEAR(letterbox->sample_aspect, 64.0 / 45.0, 1e-9);
  EXPECT_EQ(letterbox->picture_width, 720);
  EXPECT_NEAR(720 * 64.0 / 45.0 / letterbox->picture_height, 1920.0 / 804, 0.02);
  SourceInfo square = Source();
  square.width = 480;
  square.height = 480;
  auto pillar = Validate(R"({"resolution": {"width": 720, "height": 480}})", square);
  ASSERT_TRUE(pillar.ok()) << pillar.status().ToString();
  EXPECT_NEAR(pillar->sample_aspect, 8.0 / 9.0, 1e-9);
  EXPECT_EQ(pillar->picture_width, 540);
  EXPECT_EQ(pillar->picture_x, 90);
  // Other sizes keep square pixels.
  EXPECT_DOUBLE_EQ(Validate(R"({"resolution": {"width": 640, "height": 480}})", pal)->sample_aspect,
                   1.0);
}

// Interlaced kept interlaced at another size goes through progressive at
// field rate (bwdif), so each field is scaled where it lies; at its own size
// the fields are kept as they are, and a deinterlacer asked for is kept.
TEST(ProcessingRequestTest, InterlacedScaledGoesThroughFieldRatePictures) {
  auto scaled = Validate(R"({"resolution": {"tag": "2x"}, "scanning": {"tag": "interlaced_tff"}})",
                         Interlaced());
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  EXPECT_EQ(scaled->deinterlacer, "bwdif");
  EXPECT_TRUE(scaled->deinterlace_field_rate);
  EXPECT_TRUE(scaled->interlaced_output);
  EXPECT_DOUBLE_EQ(scaled->fps, 25);
  auto kept = Validate(R"({"scanning": {"tag": "interlaced_tff"}})", Interlaced());
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_TRUE(kept->deinterlacer.empty());
  auto own = Validate(
      R"({"resolution": {"tag": "2x"}, "deinterlacer": "deint",
          "scanning": {"tag": "interlaced_tff"}})",
      Interlaced());
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(own->deinterlacer, "deint");
}

// processingParameters lists how interlaced output is made: woven again from
// progressive pictures, or the kept fields turned to the other order. Neither
// had been listed, so a client could not tell whether fields were swapped.
TEST(ProcessingRequestTest, TheParametersListTheWeaveAndTheFieldSwap) {
  auto last_filter = [](const ProcessingPlan& plan) {
    const boost::json::object params = plan.ToProcessingParameters();
    const boost::json::array& filters = params.at("targetVideo").at("videoFilters").as_array();
    return filters.empty() ? std::string() : boost::json::serialize(filters.back());
  };
  SourceInfo bottom_first = Interlaced();
  bottom_first.top_field_first = false;
  auto swapped = Validate(R"({"scanning": {"tag": "interlaced_tff"}})", bottom_first);
  ASSERT_TRUE(swapped.ok()) << swapped.status().ToString();
  EXPECT_EQ(last_filter(*swapped),
            R"({"name":"fieldorder","properties":{"fieldOrder":"top_field"}})");
  auto woven = Validate(R"({"resolution": {"tag": "2x"}, "scanning": {"tag": "interlaced_bff"}})",
                        Interlaced());
  ASSERT_TRUE(woven.ok()) << woven.status().ToString();
  EXPECT_EQ(last_filter(*woven),
            R"({"name":"interlace","properties":{"fieldOrder":"bottom_field"}})");
  auto kept = Validate(R"({"scanning": {"tag": "interlaced_tff"}})", Interlaced());
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(last_filter(*kept), "");
}

// A frame smaller than the reference's smallest (16x16) is refused at the
// request, not failed by the encoder when the job runs (a 2x2 source into
// FFV1 was accepted, then failed).
TEST(ProcessingRequestTest, OutputsBelowSixteenPixelsAreRefused) {
  SourceInfo tiny = Source();
  tiny.width = tiny.height = 2;
  for (const char* request : {R"({})", R"({"resolution": {"tag": "2x"}})"}) {
    auto plan = Validate(request, tiny);
    ASSERT_FALSE(plan.ok()) << request;
    EXPECT_EQ(plan.status().code(), Code::kInvalidArgument);
    EXPECT_NE(plan.status().message().find("16x16"), std::string::npos);
  }
  EXPECT_TRUE(Validate(R"({"resolution": {"width": 16, "height": 16}})", tiny).ok());
  tiny.width = tiny.height = 16;
  EXPECT_TRUE(Validate(R"({})", tiny).ok());
}

TEST(ProcessingRequestTest, ScanningAndFrameRate) {
  auto auto_interlaced = Validate("{}", Interlaced());
  EXPECT_TRUE(auto_interlaced->interlaced_output);
  EXPECT_TRUE(auto_interlaced->top_field_first);
  auto deint = Validate(R"({"deinterlacer": "bwdif"})", Interlaced());
  EXPECT_FALSE(deint->interlaced_output);
  EXPECT_FALSE(deint->deinterlace_field_rate);
  EXPECT_EQ(deint->fps, 25);
  auto field_rate = Validate(R"({"deinterlacer": "yadif", "frameRate": {"tag": "video_pal_fast"}})",
                             Interlaced());
  EXPECT_TRUE(field_rate->deinterlace_field_rate);
  EXPECT_TRUE(field_rate->frame_rate_converter.empty());
  EXPECT_EQ(field_rate->fps, 50);
  auto forced = Validate(R"({"scanning": {"tag": "progressive"}})", Interlaced());
  EXPECT_EQ(forced->deinterlacer, "bwdif");
  auto bff = Validate(
      R"({"scanning": {"scanningType": "interlaced", "interlacedFieldOrder": "bottom_field"}})");
  EXPECT_TRUE(bff->interlaced_output);
  EXPECT_FALSE(bff->top_field_first);
  auto implied = Validate(R"({"frameRate": {"fps": 30}})");
  EXPECT_EQ(implied->frame_rate_converter, "fps");
  auto mc = Validate(
      R"({"frameRateConverter": "mcinterpolate", "frameRate": {"tag": "video_pal_fast"}})");
  EXPECT_EQ(mc->frame_rate_converter, "mcinterpolate");
  // 25i → 50p: field-rate deinterlacing makes the frames, unless an
  // interpolating converter was asked to make them from the 25 frames.
  for (const char* converter : {"mcinterpolate", "fblend"}) {
    auto interpolated = Validate(
        std::string(
            R"({"deinterlacer": "bwdif", "frameRate": {"fps": 50}, "frameRateConverter": ")") +
            converter + "\"}",
        Interlaced());
    ASSERT_TRUE(interpolated.ok()) << interpolated.status().ToString();
    EXPECT_FALSE(interpolated->deinterlace_field_rate) << converter;
    EXPECT_EQ(interpolated->frame_rate_converter, converter);
    EXPECT_EQ(interpolated->fps, 50);
  }
  auto by_fields = Validate(
      R"({"deinterlacer": "bwdif", "frameRate": {"fps": 50}, "frameRateConverter": "fps"})",
      Interlaced());
  EXPECT_TRUE(by_fields->deinterlace_field_rate);
}

TEST(ProcessingRequestTest, InterlacedOutputOnlyWhereTheFormatCarriesIt) {
  SourceInfo hd = Interlaced();  // 1080i25, top field first
  hd.width = 1920;
  hd.height = 1080;
  SourceInfo hd_bff = hd;
  hd_bff.top_field_first = false;
  // Asked for explicitly: a 400 that says why.
  const std::vector<BadCase> refused = {
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhr_sq",
           "scanning": {"tag": "interlaced_tff"}})",
       "DNxHR (dnxhr_sq) codes progressive frames only"},
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhd_lb",
           "scanning": {"tag": "interlaced_tff"}})",
       "only as 1080i"},
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhd_sq",
           "resolution": {"width": 1280, "height": 720}, "deinterlacer": "bwdif",
           "scanning": {"tag": "interlaced_tff"}})",
       "only as 1080i"},
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhd_sq",
           "scanning": {"scanningType": "interlaced", "interlacedFieldOrder": "bottom_field"}})",
       "top field first"},
      {R"({"mediaContainerCodec": {"codec": "xdcam"}, "resolution": {"width": 1280, "height": 720},
           "deinterlacer": "bwdif", "scanning": {"tag": "interlaced_tff"}})",
       "720p"},
      {R"({"mediaContainerCodec": {"codec": "xdcam"}, "scanning": {"tag": "interlaced_bff"}})",
       "top field first"},
      {R"({"mediaContainerCodec": {"container": "mts", "codec": "hevc"},
           "scanning": {"tag": "interlaced_tff"}})",
       "MPEG-TS"},
      // FFmpeg's MXF muxer labels bottom-first H.264 "tt" and MPEG-2 "tb".
      {R"({"mediaContainerCodec": {"container": "mxf", "codec": "h264"},
           "scanning": {"tag": "interlaced_bff"}})",
       "MXF output is interlaced top field first only"},
      {R"({"mediaContainerCodec": {"container": "mxf", "codec": "mpeg2"},
           "scanning": {"scanningType": "interlaced", "interlacedFieldOrder": "bottom_field"}})",
       "MXF output is interlaced top field first only"},
  };
  for (const BadCase& c : refused) {
    auto plan = Validate(c.json, hd);
    ASSERT_FALSE(plan.ok()) << c.json;
    EXPECT_EQ(plan.status().code(), Code::kInvalidArgument) << c.json;
    EXPECT_NE(plan.status().message().find("scanning"), std::string::npos)
        << plan.status().message();
    EXPECT_NE(plan.status().message().find(c.mentions), std::string::npos)
        << c.json << " → " << plan.status().message();
  }
  // Scanning auto: kept where the format carries it, else deinterlaced.
  struct AutoCase {
    std::string json;
    SourceInfo source;
    bool interlaced;
    bool top_field_first;
    std::string deinterlacer;
  };
  const std::vector<AutoCase> autos = {
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhr_sq"})", hd, false,
       true, "bwdif"},
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhd_sq"})", hd, true,
       true, ""},
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhd_hq"})", hd_bff, true,
       true, ""},  // fields swapped to top first
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhd_lb"})", hd, false,
       true, "bwdif"},
      {R"({"mediaContainerCodec": {"container": "mts", "codec": "hevc"}})", hd, false, true,
       "bwdif"},
      {R"({"mediaContainerCodec": {"container": "mp4", "codec": "hevc"}})", hd_bff, true, false,
       ""},
      {R"({"mediaContainerCodec": {"codec": "xdcam"}})", hd, true, true, ""},
      {R"({"mediaContainerCodec": {"codec": "xdcam"}})", hd_bff, true, true, ""},
      {R"({"mediaContainerCodec": {"codec": "xdcam"}, "resolution": {"width": 1280, "height": 720}})",
       hd, false, true, "bwdif"},
      {R"({"mediaContainerCodec": {"container": "mxf", "codec": "h264"}})", hd_bff, true, true,
       ""},  // fields swapped to top first
      {R"({"mediaContainerCodec": {"container": "mov", "codec": "h264"}})", hd_bff, true, false,
       ""},
  };
  for (const AutoCase& c : autos) {
    auto plan = Validate(c.json, c.source);
    ASSERT_TRUE(plan.ok()) << c.json << ": " << plan.status().ToString();
    EXPECT_EQ(plan->interlaced_output, c.interlaced) << c.json;
    if (c.interlaced) {
      EXPECT_EQ(plan->top_field_first, c.top_field_first) << c.json;
    }
    EXPECT_EQ(plan->deinterlacer, c.deinterlacer) << c.json;
  }
  // 1080i29.97 DNxHD takes the 29.97 rate of the table.
  SourceInfo ntsc = hd;
  ntsc.fps = 30000.0 / 1001;
  auto sq = Validate(R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhd_sq"})",
                     ntsc);
  ASSERT_TRUE(sq.ok()) << sq.status().ToString();
  EXPECT_TRUE(sq->interlaced_output);
  EXPECT_EQ(*sq->bitrate_mbps, 145);
}

TEST(ProcessingRequestTest, DnxhdSizesRatesAndBitrates) {
  auto sq = Validate(
      R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhd_sq", "resolution": {"tag": "hd_1080p"}})");
  ASSERT_TRUE(sq.ok()) << sq.status().ToString();
  EXPECT_EQ(*sq->bitrate_mbps, 120);  // 1080p25
  EXPECT_EQ(sq->pixel_format, "yuv422p");
  auto hqx = Validate(
      R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhd_hqx", "resolution": {"width": 1280, "height": 720}})");
  ASSERT_TRUE(hqx.ok()) << hqx.status().ToString();
  EXPECT_EQ(hqx->pixel_format, "yuv422p10le");
  auto hr =
      Validate(R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhr_hq"})");
  ASSERT_TRUE(hr.ok());
  EXPECT_FALSE(hr->bitrate_mbps.has_value());
}

TEST(ProcessingRequestTest, RangeAndParametersDocument) {
  auto plan =
      Validate(R"({"range": {"startPositionMilliseconds": 1000, "endPositionMilliseconds": 3000},
                           "mediaContainerCodec": {"container": "mp4", "codec": "hevc"}, "bitrate": {"mbps": 2.5},
                           "denoiser": "hqdn3d"})");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->DurationSeconds(), 2.0);
  boost::json::object doc = plan->ToProcessingParameters();
  EXPECT_EQ(doc.at("sourceVideo").at("startPositionMilliseconds"), 1000);
  const auto& target = doc.at("targetVideo").as_object();
  EXPECT_EQ(target.at("container").at("name"), "mp4");
  EXPECT_EQ(target.at("codec").at("name"), "hevc");
  EXPECT_EQ(target.at("bitrate"), 2500000);
  EXPECT_EQ(target.at("pixelFormat").at("chromaSubsampling").at("yuv"), "4:2:0");
  EXPECT_EQ(target.at("videoFilters").as_array().size(), 1u);
  EXPECT_EQ(target.at("videoFilters").as_array()[0].at("name"), "hqdn3d");
  EXPECT_TRUE(plan->OwnFilters().empty());
  auto own = Validate(
      R"({"scaler": "pabsr1", "resolution": {"tag": "2x"}, "clarityBoost": "low", "postProcessor": "filmgrain"})");
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->OwnFilters(), (std::vector<std::string>{"pabsr1", "filmgrain", "clarityBoost"}));
}

TEST(ProcessingRequestTest, SourceFromIngestionMetadata) {
  auto meta =
      boost::json::parse(R"({"containerName": "mov,mp4,m4a,3gp,3g2,mj2", "codecName": "mpeg2video",
      "pixelFormat": {"name": "yuv422p", "chromaSubsampling": {"yuv": "4:2:2", "bits": 8}},
      "frameWidth": 720, "frameHeight": 576, "averageFramerate": 25.0, "durationInMillis": 4000,
      "videoStreamSize": 2000000, "sampleAspectRatio": "16:15",
      "scanning": {"metadata": {"scanningType": "progressive"},
                   "heuristics": {"scanningType": "interlaced", "interlacedFieldOrder": "bottom_field"}},
      "audio": {"codecName": "pcm_s16le"}})")
          .as_object();
  auto source = SourceFromMetadata(meta, "tape 3.MOV");
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(source->container, "mov");
  EXPECT_EQ(source->codec, "mpeg2");
  EXPECT_EQ(source->chroma, "4:2:2");
  EXPECT_TRUE(source->interlaced);  // the heuristics win over the flags
  EXPECT_FALSE(source->top_field_first);
  EXPECT_TRUE(source->has_audio);
  EXPECT_EQ(source->video_bit_rate, 4'000'000);
  EXPECT_NEAR(source->sample_aspect, 16.0 / 15.0, 1e-9);
  EXPECT_EQ(SourceFromMetadata(meta, "clip.mp4")->container, "mp4");
  EXPECT_FALSE(SourceFromMetadata(boost::json::object{}, "x").ok());
  // The source's rate: the nominal one (a variable-rate clip's shooting
  // rate) where ingestion recorded it, else the average.
  EXPECT_DOUBLE_EQ(source->fps, 25.0);
  meta["averageFramerate"] = 70 / 3.0;
  meta["nominalFramerate"] = 30.0;
  EXPECT_DOUBLE_EQ(SourceFromMetadata(meta, "vfr.mp4")->fps, 30.0);
  // The pictures' end: the counted span where ingestion recorded one, else
  // (older metadata) frames ÷ average.
  meta["totalFrames"] = 148;
  meta["averageFramerate"] = 25.0;
  EXPECT_EQ(SourceFromMetadata(meta, "drops.ts")->video_duration_ms, 5920);
  meta["videoDurationInMillis"] = 6000;
  EXPECT_EQ(SourceFromMetadata(meta, "drops.ts")->video_duration_ms, 6000);
  // Where the pictures start (0 in metadata recorded before it).
  EXPECT_EQ(SourceFromMetadata(meta, "drops.ts")->video_start_ms, 0);
  meta["videoStartInMillis"] = 1010;
  EXPECT_EQ(SourceFromMetadata(meta, "late.ts")->video_start_ms, 1010);
  // More audio streams than processing keeps: refused, not processed without
  // some of them.
  boost::json::object many = meta;
  many["audio"] = boost::json::object{{"codecName", "pcm_s24le"}, {"streams", 64}};
  EXPECT_TRUE(SourceFromMetadata(many, "64.mov").ok());
  many["audio"].as_object()["streams"] = 65;
  auto refused = SourceFromMetadata(many, "65.mov");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kConflict);
  EXPECT_NE(refused.status().message().find("65 audio streams"), std::string::npos);
  // A transport stream cut together: its ranges are found by reading.
  EXPECT_FALSE(source->timestamp_joins);
  meta["timestampJoins"] = 2;
  auto joined = SourceFromMetadata(meta, "joined.ts");
  ASSERT_TRUE(joined.ok());
  EXPECT_TRUE(joined->timestamp_joins);
  auto plan = ValidateProcessingRequest(boost::json::object{}, *joined);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->source_timestamp_joins);
}

}  // namespace
}  // namespace vidmill::videos
