// What comes out of processing, through the real server and its worker:
// Vidmill's own filters in the chain, frame sizes and shapes, ranges, colour,
// rotation, odd sources (DV, raw streams, variable rate, size changes) and
// each output format's particulars, checked with ffmpeg and ffprobe.
// These run on SQLite only: the job's path through the store is the same for
// every request, and processing_test.cc runs it on both stores.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/processing_fixture.h"

namespace vidmill::test {
namespace {

using boost::json::object;

class LibavLogTest : public ProcessingTest {
 protected:
  ServerHarness::Options ServerOptions() override {
    return {.workers = 1, .env = {{"VIDMILL_LIBAV_LOG", "info"}}};
  }
};

TEST_F(LibavLogTest, VidmillLibavLogBringsLibavsOwnLinesBack) {
  ASSERT_FALSE(ProcessToDone(object{}).video.empty());
  EXPECT_NE(server_->ServerLog().find("using cpu capabilities"), std::string::npos);
}

// Y-PSNR (dB, average over frames) of `test` against `reference`, by ffmpeg.
double LumaPsnr(const std::string& test, const std::string& reference) {
  CommandResult result = RunShell("ffmpeg -nostdin -v info -i '" + test + "' -i '" + reference +
                                  "' -lavfi \"[0:v]format=yuv420p[a];[1:v]format=yuv420p[b];"
                                  "[a][b]psnr\" -f null - 2>&1");
  const size_t at = result.out.find("y:");
  if (at == std::string::npos) return 0;
  return std::atof(result.out.c_str() + at + 2);
}

// Mean absolute luma difference between consecutive frames (8-bit units, over
// the picture's central half), decoded by ffmpeg: what shake adds to a steady
// pan.
double ConsecutiveDifference(const std::string& video, const std::string& scratch, int width,
                             int height) {
  RunShell("ffmpeg -nostdin -v error -y -i '" + video + "' -f rawvideo -pix_fmt gray '" + scratch +
           "'");
  const std::string luma = ReadFile(scratch);
  const size_t frame = static_cast<size_t>(width) * height;
  double sum = 0;
  size_t count = 0;
  for (size_t n = 1; (n + 1) * frame <= luma.size(); ++n) {
    for (int y = height / 4; y < 3 * height / 4; ++y) {
      for (int x = width / 4; x < 3 * width / 4; ++x) {
        const size_t at = static_cast<size_t>(y) * width + x;
        sum += std::abs(static_cast<int>(static_cast<uint8_t>(luma[n * frame + at])) -
                        static_cast<int>(static_cast<uint8_t>(luma[(n - 1) * frame + at])));
        ++count;
      }
    }
  }
  return count ? sum / count : 0;
}

// The ground truth for the deinterlacer tests: a 2 s pan over a photograph at
// 50 progressive pictures/s, kept lossless (`truth`); the source: the same
// pictures woven into 25i TFF, H.264 (`woven`).
struct WovenPan {
  std::string truth, woven;
};
WovenPan MakeWovenPan(const std::string& dir) {
  namespace media = vidmill::engine::testing;
  WovenPan pan{dir + "/pan50.mkv", dir + "/pan25i.mp4"};
  Ffmpeg(media::PhotoSource(media::Photo("Autumn"), 50) + "-vf \"" +
         media::PanFilter(320, 240, 50, 2) + "\" -c:v ffv1 " + pan.truth);
  Ffmpeg("-i " + pan.truth +
         " -vf tinterlace=mode=interleave_top,setfield=tff -c:v libx264 "
         "-preset veryfast -crf 12 -flags +ilme+ildct -x264opts tff=1 " +
         pan.woven);
  return pan;
}

// Vidmill's own deinterlacer on the woven pan, through the API.
class DeintProcessingTest : public ProcessingTest {
 protected:
  // Uploads the woven pan, deinterlaces it with deint into lossless FFV1 (with
  // `request`'s other fields), checks that the filter ran in `output` mode, and
  // downloads the result as `name`: its path, or "" after recording a failure.
  std::string DeinterlacePan(object request, const std::string& output, const std::string& name) {
    pan_ = MakeWovenPan(server_->data_dir());
    const std::string source = UploadAndIngest(*client_, pan_.woven);
    if (source.empty()) return "";
    request["deinterlacer"] = "deint";
    request["mediaContainerCodec"] = object{{"container", "mov"}, {"codec", "ffv1"}};
    Processed processed = ProcessToDone(request, source);
    if (processed.video.empty()) return "";
    boost::json::array filters = VideoFilters(processed.video);
    if (filters.empty()) {
      ADD_FAILURE() << "no filters";
      return "";
    }
    EXPECT_EQ(Str(filters[0].at("name")), "deint");
    EXPECT_EQ(Str(filters[0].at("properties").at("output")), output);
    return Download(processed, name);
  }

  WovenPan pan_;
};

TEST_F(DeintProcessingTest, VidmillsOwnDeinterlacerRebuildsFieldRateFromAnInterlacedSource) {
  // 50 fps progressive out of 25i: one picture per field.
  const std::string output =
      DeinterlacePan(object{{"frameRate", object{{"fps", 50}}}}, "field_rate", "deint50.mov");
  ASSERT_FALSE(output.empty());
  EXPECT_EQ(ProbeVideo(output, "width,height,r_frame_rate,nb_read_frames"), "320,240,50/1,100\n");
  // Against the progressive truth, the rebuilt pictures must be far closer than
  // the woven frames shown at 50 fps (what no deinterlacing gives: combing on
  // every moving edge).
  const std::string weave = server_->data_dir() + "/weave50.mkv";
  Ffmpeg("-i " + pan_.woven + " -vf fps=50 -c:v ffv1 " + weave);
  const double deinterlaced_psnr = LumaPsnr(output, pan_.truth);
  const double weave_psnr = LumaPsnr(weave, pan_.truth);
  EXPECT_GT(deinterlaced_psnr, weave_psnr + 6) << "weave " << weave_psnr;
  // Measured: 44.8 dB against 29.1 for the weave (41.8 in an earlier deint).
  EXPECT_GT(deinterlaced_psnr, 36) << "weave " << weave_psnr;
}

// With a frame-rate step after it (here `fps` asked for explicitly), each
// field's picture must keep its own instant: the second field half a frame
// after the first, not one tick of the source's time base (the mp4's 1/12800),
// which made fps keep every second-field picture twice and no first-field one.
TEST_F(DeintProcessingTest, FieldRatePicturesKeepTheirInstantsThroughAFrameRateStep) {
  const std::string output =
      DeinterlacePan(object{{"frameRate", object{{"fps", 50}}}, {"frameRateConverter", "fps"}},
                     "field_rate", "deint50fps.mov");
  ASSERT_FALSE(output.empty());
  EXPECT_EQ(ProbeVideo(output, "r_frame_rate,nb_read_frames"), "50/1,100\n");
  // The pan moves in every picture: no two consecutive pictures are the same.
  CommandResult hashes =
      RunShell("ffmpeg -nostdin -v error -i '" + output + "' -map 0:v -f framemd5 -");
  std::vector<std::string> frames;
  std::istringstream lines(hashes.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("0,", 0) == 0) frames.push_back(line.substr(line.rfind(',') + 1));
  }
  ASSERT_EQ(frames.size(), 100u);
  int repeated = 0;
  for (size_t n = 1; n < frames.size(); ++n) repeated += frames[n] == frames[n - 1];
  EXPECT_EQ(repeated, 0);
  EXPECT_GT(LumaPsnr(output, pan_.truth), 36);
}

// At the source's frame rate (25i → 25p) deint emits the first field of each
// frame, compensated like at field rate; against the truth at those instants
// it must beat bwdif's send_frame on the same source.
TEST_F(DeintProcessingTest, VidmillsOwnDeinterlacerAtFrameRateBeatsBwdif) {
  const std::string output = DeinterlacePan(object{}, "frame_rate", "deint25.mov");
  ASSERT_FALSE(output.empty());
  EXPECT_EQ(ProbeVideo(output, "width,height,r_frame_rate,nb_read_frames"), "320,240,25/1,50\n");
  const std::string dir = server_->data_dir();
  Ffmpeg("-i " + pan_.truth + " -vf \"select='not(mod(n,2))',setpts=N/25/TB\" -r 25 -c:v ffv1 " +
         dir + "/truth25.mkv");
  Ffmpeg("-i " + pan_.woven + " -vf bwdif=mode=send_frame:parity=tff -c:v ffv1 " + dir +
         "/bwdif25.mkv");
  const double deint_psnr = LumaPsnr(output, dir + "/truth25.mkv");
  const double bwdif_psnr = LumaPsnr(dir + "/bwdif25.mkv", dir + "/truth25.mkv");
  // Measured: 44.8 dB against 35.9 for bwdif; deint made from each frame
  // alone (before 2026-11-30) 34.8.
  EXPECT_GT(deint_psnr, bwdif_psnr + 3) << "bwdif " << bwdif_psnr;
}

TEST_F(ProcessingTest, VidmillsOwnSuperResolutionScalesWithClarity) {
  Processed processed = ProcessToDone(object{
      {"scaler", "pabsr1"},
      {"resolution", object{{"tag", "2x"}}},
      {"clarityBoost", "low"},
      {"range", object{{"startPositionMilliseconds", 0}, {"endPositionMilliseconds", 400}}}});
  ASSERT_FALSE(processed.video.empty());
  object metadata = processed.video["ingestion"].at("metadata").as_object();
  EXPECT_EQ(metadata.at("frameWidth"), 640);
  EXPECT_EQ(metadata.at("frameHeight"), 480);
  const std::string filters = boost::json::serialize(VideoFilters(processed.video));
  EXPECT_NE(filters.find("pabsr1"), std::string::npos) << filters;
}

TEST_F(ProcessingTest, VidmillsOwnDeepRestorationScalesToAnArbitrarySize) {
  Processed processed = ProcessToDone(object{
      {"scaler", "dvres"},
      {"resolution", object{{"width", 480}, {"height", 360}}},
      {"range", object{{"startPositionMilliseconds", 0}, {"endPositionMilliseconds", 400}}}});
  ASSERT_FALSE(processed.video.empty());
  object metadata = processed.video["ingestion"].at("metadata").as_object();
  EXPECT_EQ(metadata.at("frameWidth"), 480);
  EXPECT_EQ(metadata.at("frameHeight"), 360);
  const std::string filters = boost::json::serialize(VideoFilters(processed.video));
  EXPECT_NE(filters.find("dvres"), std::string::npos) << filters;
}

// The fixture's 4:3 source in a 16:9 frame: super-resolved to a 480x360
// picture in the middle of 640x360, black at both sides, and the film grain
// stays off the bars (the picture had been stretched to fill the frame).
TEST_F(ProcessingTest, AFourThreeSourceInAWideFrameIsPillarboxed) {
  Processed processed = ProcessToDone(object{
      {"mediaContainerCodec", object{{"container", "mov"}, {"codec", "ffv1"}}},
      {"scaler", "pabsr1"},
      {"postProcessor", "filmgrain"},
      {"resolution", object{{"width", 640}, {"height", 360}}},
      {"range", object{{"startPositionMilliseconds", 0}, {"endPositionMilliseconds", 400}}}});
  ASSERT_FALSE(processed.video.empty());
  boost::json::array filters = VideoFilters(processed.video);
  ASSERT_EQ(filters.size(), 3u) << boost::json::serialize(filters);
  EXPECT_EQ(Str(filters[0].at("name")), "pabsr1");
  EXPECT_EQ(filters[0].at("properties").at("width"), 480);
  EXPECT_EQ(filters[0].at("properties").at("height"), 360);
  EXPECT_EQ(Str(filters[2].at("name")), "pad");
  EXPECT_EQ(filters[2].at("properties").at("x"), 80);
  const std::string path = Download(processed, "boxed.mov");
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(ProbeVideo(path, "width,height"), "640,360\n");
  // The first picture's Y plane as coded.
  const std::string raw =
      RunShell("ffmpeg -nostdin -v error -i '" + path + "' -frames:v 1 -f rawvideo -").out;
  ASSERT_GE(raw.size(), 640u * 360);
  int bar_off_black = 0;
  double picture_luma = 0;
  for (int row = 0; row < 360; ++row) {
    for (int x = 0; x < 640; ++x) {
      const int luma = static_cast<unsigned char>(raw[row * 640 + x]);
      if (x < 80 || x >= 560) {
        bar_off_black += luma != 16;
      } else {
        picture_luma += luma / (480.0 * 360);
      }
    }
  }
  EXPECT_EQ(bar_off_black, 0);
  EXPECT_GT(picture_luma, 40);
}

// 16:9 PAL converted to NTSC's 720x480 (a standards conversion archives ask
// for) is written with 32:27 pixels, so it shows 16:9; it had square pixels
// and showed 3:2 (audit 23 F8).
TEST_F(ProcessingTest, WidePalToNtscDefinitionStaysWide) {
  const std::string id =
      IngestClip("wide pal.mov",
                 "-f lavfi -i testsrc2=size=720x576:rate=25:duration=0.4,setsar=64/45 -c:v ffv1");
  ASSERT_FALSE(id.empty());
  const std::string path = ProcessAndDownload(
      object{{"mediaContainerCodec", object{{"container", "mov"}, {"codec", "mpeg2"}}},
             {"resolution", object{{"width", 720}, {"height", 480}}},
             {"frameRate", object{{"tag", "video_ntsc"}}}},
      id, "wide ntsc.mov");
  ASSERT_FALSE(path.empty());
  // MPEG-2's side data follows on the line: the stream's own fields lead it.
  const std::string shape =
      ProbeVideo(path, "width,height,sample_aspect_ratio,display_aspect_ratio");
  EXPECT_EQ(shape.substr(0, shape.find_first_of("\n")), "720,480,32:27,16:9,");
}

// A range inside a gap of a variable-rate recording (its picture at 0.96 s
// lasts until 2 s) is accepted and shows that picture for the range's length;
// the job had failed with "no picture came out" (audit 18).
TEST_F(ProcessingTest, ARangeInsideAGapOfTheRecordingFinishes) {
  const std::string id =
      IngestClip("gap.mp4",
                 "-f lavfi -i testsrc2=size=320x240:rate=25:duration=3 -f lavfi -i "
                 "sine=sample_rate=48000:duration=3 -vf \"select='not(between(t\\,1\\,1.99))'\" "
                 "-fps_mode vfr -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac");
  ASSERT_FALSE(id.empty());
  const std::string path = ProcessAndDownload(
      object{{"mediaContainerCodec", object{{"container", "mp4"}, {"codec", "h264"}}},
             {"frameRate", object{{"tag", "video_pal"}}},
             {"range",
              object{{"startPositionMilliseconds", 1200}, {"endPositionMilliseconds", 1600}}}},
      id, "gap out.mp4");
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(ProbeVideo(path, "nb_read_frames"), "10\n");
  // With an own filter in the chain too: the picture is passed on once a
  // period, so the graph after the filter does not end its stream a period
  // after it (it had come out 4 frames long; audit 28 F1).
  const std::string own = ProcessAndDownload(
      object{{"mediaContainerCodec", object{{"container", "mp4"}, {"codec", "h264"}}},
             {"frameRate", object{{"tag", "video_pal"}}},
             {"denoiser", "denoise"},
             {"range",
              object{{"startPositionMilliseconds", 1200}, {"endPositionMilliseconds", 1600}}}},
      id, "gap denoised.mp4");
  ASSERT_FALSE(own.empty());
  EXPECT_EQ(ProbeVideo(own, "nb_read_frames"), "10\n");
  // A range that ends inside the gap, in Matroska, through an own filter: the
  // picture at 0.96 s lasts to the range's end in every graph of the chain.
  // The graph after denoise had ended a period after it (audit 29 F2).
  const std::string matroska =
      IngestClip("gap.mkv", "-i '" + server_->data_dir() + "/gap.mp4' -c copy");
  ASSERT_FALSE(matroska.empty());
  const std::string held = ProcessAndDownload(
      object{
          {"mediaContainerCodec", object{{"container", "mp4"}, {"codec", "h264"}}},
          {"frameRate", object{{"tag", "video_pal"}}},
          {"denoiser", "denoise"},
          {"range", object{{"startPositionMilliseconds", 800}, {"endPositionMilliseconds", 1600}}}},
      matroska, "gap held.mp4");
  ASSERT_FALSE(held.empty());
  EXPECT_EQ(ProbeVideo(held, "nb_read_frames"), "20\n");
}

// A closing slide whose MP4 sample lasts a second keeps its second through an
// own filter too: the graph after the filter is closed where the slide ends.
// It had closed a period after the slide's start (30 frames of the 50).
TEST_F(ProcessingTest, ALastPictureKeepsItsLengthThroughAnOwnFilter) {
  const std::string made = server_->data_dir() + "/made.mp4";
  RunShell(
      "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i "
      "sine=sample_rate=48000 -t 2 -frames:v 26 -c:v libx264 -preset ultrafast -bf 0 "
      "-c:a aac '" +
      made + "'");
  const std::string id =
      IngestClip("slide.mp4", "-i '" + made +
                                  "' -c copy -bsf:v \"setts=duration=if(eq(N\\,25)\\,25*DURATION\\,"
                                  "DURATION)\"");
  ASSERT_FALSE(id.empty());
  const std::string path = ProcessAndDownload(
      object{{"mediaContainerCodec", object{{"container", "mp4"}, {"codec", "h264"}}},
             {"frameRate", object{{"tag", "video_pal"}}},
             {"denoiser", "denoise"}},
      id, "slide out.mp4");
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(ProbeVideo(path, "nb_read_frames"), "50\n");
}

// A full-range source (MJPEG) scaled by the stock scaler, with film grain
// after it, comes out limited range like any other: black 16, white 235, and
// black bars at 16. The range conversion rode in the resize and left the
// pictures in the source's full-range format, so the grain stage and the pad
// after it kept black at 0 and white at 255 in a file tagged limited.
TEST_F(ProcessingTest, AFullRangeSourceComesOutLimitedThroughAnOwnStage) {
  const std::string id = IngestClip(
      "full range.mov",
      "-f lavfi -i color=c=black:s=320x120:r=25:d=1 -f lavfi -i color=c=white:s=320x120:r=25:d=1 "
      "-filter_complex \"[0][1]vstack,format=yuvj420p\" -c:v mjpeg -q:v 1 -qmin 1");
  ASSERT_FALSE(id.empty());
  for (const object& resolution :
       {object{{"tag", "no_scaling"}}, object{{"width", 480}, {"height", 240}}}) {
    SCOPED_TRACE(boost::json::serialize(resolution));
    const std::string path = ProcessAndDownload(
        object{
            {"mediaContainerCodec", object{{"container", "mov"}, {"codec", "ffv1"}}},
            {"chromaSubsampling", object{{"yuv", "4:2:0"}}},
            {"scaler", "scale"},
            {"resolution", resolution},
            {"postProcessor", "filmgrain"},
            {"range", object{{"startPositionMilliseconds", 0}, {"endPositionMilliseconds", 200}}}},
        id, "full range out.mov");
    ASSERT_FALSE(path.empty());
    const std::string size = ProbeVideo(path, "width,height");
    const int width = std::atoi(size.c_str());
    const int height = std::atoi(size.c_str() + size.find(',') + 1);
    const std::string raw =
        RunShell("ffmpeg -nostdin -v error -i '" + path + "' -frames:v 1 -f rawvideo -").out;
    ASSERT_GE(raw.size(), static_cast<size_t>(width) * height);
    auto luma = [&](int x, int y) { return static_cast<unsigned char>(raw[y * width + x]); };
    EXPECT_EQ(luma(width / 2, height / 4), 16);       // the black half
    EXPECT_EQ(luma(width / 2, height * 3 / 4), 235);  // the white half
    if (width == 480) {
      EXPECT_EQ(luma(0, height * 3 / 4), 16);  // the pillarbox's bar
    }
  }
}

// SD to HD (a BT.601 → BT.709 conversion) into a format the conversion
// filter does not write (4:1:1), with film grain after the resize: the job
// finishes. (With the conversion in the resize, the grain stage had been
// configured for the format before it and refused 4:1:1.)
TEST_F(ProcessingTest, AMatrixConversionInto411WithGrainFinishes) {
  const std::string path = ProcessAndDownload(
      object{{"mediaContainerCodec", object{{"container", "mov"}, {"codec", "ffv1"}}},
             {"chromaSubsampling", object{{"yuv", "4:1:1"}, {"bits", 8}}},
             {"postProcessor", "filmgrain"},
             {"resolution", object{{"width", 1280}, {"height", 720}}},
             {"range", object{{"startPositionMilliseconds", 0}, {"endPositionMilliseconds", 200}}}},
      source_id_, "grain 411.mov");
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(ProbeVideo(path, "width,height,pix_fmt,color_space"), "1280,720,yuv411p,bt709\n");
}

// The request of the stabiliser tests: dejit, kept lossless (FFV1 in MOV).
object DejitIntoFfv1() {
  return object{{"stabilizer", "dejit"},
                {"mediaContainerCodec", object{{"container", "mov"}, {"codec", "ffv1"}}}};
}

TEST_F(ProcessingTest, VidmillsOwnStabiliserSteadiesAShakenPan) {
  // A slow pan over a photograph with a known shake (3 pixels left and right
  // on alternate frames, 2 up and down every other pair), kept lossless.
  namespace media = vidmill::engine::testing;
  const std::string shaken = server_->data_dir() + "/shaken.mkv";
  Ffmpeg(media::PhotoSource(media::Photo("Autumn"), 25) +
         "-vf \"scale=-2:480,loop=loop=49:size=1:start=0,setpts=N/(25*TB),"
         "crop=320:240:x='100+n+3*mod(n\\,2)':y='80+2*mod(floor(n/2)\\,2)',format=yuv420p\" "
         "-c:v ffv1 " +
         shaken);
  const std::string source = UploadAndIngest(*client_, shaken);
  ASSERT_FALSE(source.empty());

  Processed processed = ProcessToDone(DejitIntoFfv1(), source);
  ASSERT_FALSE(processed.video.empty());
  boost::json::array filters = VideoFilters(processed.video);
  ASSERT_EQ(filters.size(), 1u);
  EXPECT_EQ(Str(filters[0].at("name")), "dejit");
  // The look-ahead is released at the end: every source frame comes out, at
  // its size, and the shake is mostly gone.
  const std::string output = Download(processed, "steadied.mov");
  ASSERT_FALSE(output.empty());
  EXPECT_EQ(ProbeVideo(output, "width,height,nb_read_frames"), "320,240,50\n");
  const std::string scratch = server_->data_dir() + "/luma.gray";
  const double before = ConsecutiveDifference(shaken, scratch, 320, 240);
  const double after = ConsecutiveDifference(output, scratch, 320, 240);
  EXPECT_LT(after, 0.6 * before) << "shaken " << before;
}

// The mean |luma − midpoint of the luma above and below| over the central
// half of every picture: line jitter raises it (each line shifted against
// its neighbours).
double LineRoughness(const std::string& video, const std::string& scratch, int width, int height) {
  RunShell("ffmpeg -nostdin -v error -y -i '" + video + "' -f rawvideo -pix_fmt gray '" + scratch +
           "'");
  const std::string luma = ReadFile(scratch);
  const size_t frame = static_cast<size_t>(width) * height;
  auto at = [&](size_t n, int x, int y) {
    return static_cast<double>(
        static_cast<uint8_t>(luma[n * frame + static_cast<size_t>(y) * width + x]));
  };
  double sum = 0;
  size_t count = 0;
  for (size_t n = 0; (n + 1) * frame <= luma.size(); ++n) {
    for (int y = height / 4; y < 3 * height / 4; ++y) {
      for (int x = width / 4; x < 3 * width / 4; ++x) {
        sum += std::abs(at(n, x, y) - 0.5 * (at(n, x, y - 1) + at(n, x, y + 1)));
        ++count;
      }
    }
  }
  return count ? sum / count : 0;
}

// Line jitter (each line of each picture shifted by its own pseudo-random
// whole-pixel offset, −1, 0 or +1: a tape's time-base error) on a pan over a
// photograph: dejit takes it out. Measured against the same pan without line
// jitter through the same job, by how much line jitter raises the lines'
// roughness. The clip is flagged progressive: to a field detector line
// jitter looks like combing, and the job would keep the fields apart.
TEST_F(ProcessingTest, VidmillsOwnStabiliserStraightensJitteredLines) {
  namespace media = vidmill::engine::testing;
  const std::string pan =
      "scale=-2:480,loop=loop=24:size=1:start=0,setpts=N/(25*TB),"
      "crop=320:240:x='100+n':y=80,format=yuv420p";
  const std::string clean = server_->data_dir() + "/lines clean.mkv";
  const std::string jittered = server_->data_dir() + "/lines jittered.mkv";
  Ffmpeg(media::PhotoSource(media::Photo("FallenLeaf"), 25) + "-vf \"" + pan + "\" -c:v ffv1 '" +
         clean + "'");
  Ffmpeg(media::PhotoSource(media::Photo("FallenLeaf"), 25) + "-vf \"" + pan +
         ",geq=interpolation=nearest:lum='p(X+floor(3*mod(abs(sin(Y*78.233+N*12.9898)*43758.5453),"
         "1))-1,Y)'"
         ":cb='cb(X,Y)':cr='cr(X,Y)'\" -c:v ffv1 -field_order progressive '" +
         jittered + "'");
  const std::string scratch = server_->data_dir() + "/luma.gray";
  std::vector<double> roughness;  // clean in, jittered in, clean out, jittered out
  for (const std::string& file : {clean, jittered}) {
    roughness.push_back(LineRoughness(file, scratch, 320, 240));
  }
  for (const std::string& file : {clean, jittered}) {
    const std::string source = UploadAndIngest(*client_, file);
    ASSERT_FALSE(source.empty());
    Processed processed = ProcessToDone(DejitIntoFfv1(), source);
    ASSERT_FALSE(processed.video.empty());
    const std::string output = Download(processed, "straightened.mov");
    ASSERT_FALSE(output.empty());
    EXPECT_EQ(ProbeVideo(output, "width,height,nb_read_frames"), "320,240,25\n");
    roughness.push_back(LineRoughness(output, scratch, 320, 240));
  }
  const double added_in = roughness[1] - roughness[0], added_out = roughness[3] - roughness[2];
  EXPECT_GT(added_in, 0.5) << "clean " << roughness[0] << " jittered " << roughness[1];
  EXPECT_LT(added_out, 0.4 * added_in)  // measured 0.01
      << "out: clean " << roughness[2] << " jittered " << roughness[3];
}

// Vidmill's denoise holds two pictures of look-ahead: every frame must still
// come out, with the source's size and rate.
TEST_F(ProcessingTest, VidmillsOwnDenoiseRunsInTheChainAndKeepsEveryFrame) {
  Processed processed = ProcessToDone(object{{"denoiser", "denoise"}});
  ASSERT_FALSE(processed.video.empty());
  boost::json::array filters = VideoFilters(processed.video);
  ASSERT_EQ(filters.size(), 1u);
  EXPECT_EQ(Str(filters[0].at("name")), "denoise");
  const std::string output = Download(processed, "denoised.mp4");
  ASSERT_FALSE(output.empty());
  EXPECT_EQ(ProbeVideo(output, "width,height,nb_read_frames"), "320,240,50\n");
}

// Archives bring formats the own filters do not take as they are — DV 525/60
// is 4:1:1 — and the chain converts them (here to 4:2:2) rather than failing
// the job.
TEST_F(ProcessingTest, VidmillsOwnFiltersTakeADvSource) {
  const std::string dv =
      IngestClip("tape.dv",
                 "-f lavfi -i testsrc2=size=720x480:rate=30000/1001 -frames:v 8 -pix_fmt yuv411p "
                 "-c:v dvvideo");
  ASSERT_FALSE(dv.empty());
  ASSERT_EQ(ProbeVideo(server_->data_dir() + "/tape.dv", "pix_fmt"), "yuv411p\n");
  const std::string output = ProcessAndDownload(
      object{{"denoiser", "denoise"}, {"postProcessor", "filmgrain"}}, dv, "from-dv.mov");
  ASSERT_FALSE(output.empty());
  EXPECT_EQ(ProbeVideo(output, "width,height,nb_read_frames"), "720,480,8\n");
}

// A phone's variable-rate clip (shot at 30 fps, 20 of 90 frames dropped:
// average 23.3) processed with no frameRate comes out at the 30 it was shot
// at, every instant filled, 3 s long (it came out at 23.3 fps before).
TEST_F(ProcessingTest, AVariableRatePhoneClipKeepsTheRateItWasShotAt) {
  const std::string phone =
      IngestClip("phone.mp4",
                 "-f lavfi -i testsrc2=size=320x240:rate=30:duration=3 "
                 "-vf \"select='not(eq(mod(n,7),3))*not(eq(mod(n,11),5))'\" -fps_mode vfr "
                 "-c:v libx264 -preset ultrafast");
  ASSERT_FALSE(phone.empty());
  const std::string output = ProcessAndDownload(object{}, phone, "phone-out.mov");
  ASSERT_FALSE(output.empty());
  EXPECT_EQ(ProbeVideo(output, "avg_frame_rate,nb_read_frames"), "30/1,90\n");
}

// Phone video stored landscape with a display matrix that turns it upright
// comes out upright whatever the container: MXF, and pabsr1 2x in mp4 (mxf
// and mts were sideways; mov and mp4 kept the matrix), at the upright sizes
// the metadata gives. An interlaced copy kept interlaced without a
// deinterlacer is refused: its fields cannot be turned.
TEST_F(ProcessingTest, PhoneVideoStoredTurnedComesOutUpright) {
  // The matrix is set on a stream copy (ffmpeg drops it when encoding).
  auto turned = [&](const std::string& name, const std::string& ffmpeg_args) {
    const std::string dir = server_->data_dir();
    RunShell("ffmpeg -nostdin -v error -y " + ffmpeg_args + " '" + dir + "/landscape.mp4'");
    RunShell("ffmpeg -nostdin -v error -y -i '" + dir +
             "/landscape.mp4' -c copy -metadata:s:v:0 rotate=90 '" + dir + "/" + name + "'");
    return UploadAndIngest(*client_, dir + "/" + name, name);
  };
  const std::string phone =
      turned("portrait.mp4",
             "-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -c:v libx264 -preset ultrafast");
  ASSERT_FALSE(phone.empty());
  const std::string mxf = ProcessAndDownload(
      object{{"mediaContainerCodec", object{{"container", "mxf"}, {"codec", "h264"}}}}, phone,
      "portrait.mxf");
  ASSERT_FALSE(mxf.empty());
  EXPECT_EQ(ProbeVideo(mxf, "width,height,nb_read_frames"), "240,320,25\n");
  const std::string upscaled = ProcessAndDownload(
      object{{"mediaContainerCodec", object{{"container", "mp4"}, {"codec", "h264"}}},
             {"scaler", "pabsr1"},
             {"resolution", object{{"tag", "2x"}}}},
      phone, "portrait-2x.mp4");
  ASSERT_FALSE(upscaled.empty());
  EXPECT_EQ(ProbeVideo(upscaled, "width,height"), "480,640\n");
  EXPECT_EQ(RunShell("ffprobe -v error -select_streams v:0 -show_entries "
                     "stream_side_data=rotation -of csv=p=0 '" +
                     upscaled + "'")
                .out,
            "\n");  // no matrix

  const std::string interlaced =
      turned("portrait-interlaced.mp4",
             "-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -vf "
             "tinterlace=mode=interleave_top,setfield=tff -c:v libx264 -preset ultrafast "
             "-flags +ilme+ildct");
  ASSERT_FALSE(interlaced.empty());
  HttpResponse refused =
      Process(object{{"scanning", object{{"tag", "interlaced_tff"}}}}, interlaced);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("needs a deinterlacer"), std::string::npos) << refused.body;
}

// NTSC DV's 4:1:1 kept interlaced through Vidmill's denoise (which takes
// 4:2:0) into H.264 4:2:0: each conversion works field by field, so a red top
// field over a blue bottom one stays so (both came out purple).
TEST_F(ProcessingTest, InterlacedChromaIsConvertedFieldByField) {
  const std::string fields = IngestClip(
      "fields.mkv",
      "-f lavfi -i color=c=red:s=320x240:r=25:d=0.4 -f lavfi -i color=c=blue:s=320x240:r=25:d=0.4 "
      "-filter_complex \"[0][1]interleave,format=yuv411p[v];[v]tinterlace=interleave_top,"
      "setfield=tff,fps=25[o]\" -map \"[o]\" -c:v ffv1 -field_order tt");
  ASSERT_FALSE(fields.empty());
  const std::string output = ProcessAndDownload(
      object{{"denoiser", "denoise"},
             {"mediaContainerCodec", object{{"container", "mov"}, {"codec", "h264"}}},
             {"chromaSubsampling", object{{"yuv", "4:2:0"}}}},
      fields, "fields-out.mov");
  ASSERT_FALSE(output.empty());
  EXPECT_EQ(ProbeVideo(output, "pix_fmt,field_order"), "yuv420p,tt\n");
  // U of each field (a flat colour: one sample tells).
  for (const char* field : {"top", "bottom"}) {
    const std::string u =
        RunShell("ffmpeg -nostdin -v error -i '" + output + "' -frames:v 1 -vf field=" + field +
                 ",extractplanes=u,crop=1:1:40:20 -f rawvideo - | od -An "
                 "-tu1")
            .out;
    EXPECT_NEAR(std::atoi(u.c_str()), std::string(field) == "top" ? 90 : 240, 8) << field;
  }
}

// A capture that switches size and format mid-stream (320x240 4:2:0, then
// 640x480 4:2:2) through Vidmill's own filters: the later frames are scaled
// to the first size before the filters, and every frame comes out (the job
// failed with "frame format changed mid-stream" before).
TEST_F(ProcessingTest, VidmillsOwnFiltersTakeAStreamThatChangesSize) {
  const std::string dir = server_->data_dir();
  RunShell(
      "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x240:rate=25 -t 1 "
      "-c:v libx264 -preset ultrafast -pix_fmt yuv420p '" +
      dir + "/first.ts'");
  RunShell(
      "ffmpeg -nostdin -v error -y -f lavfi -i smptebars=size=640x480:rate=25 -t 1 "
      "-c:v libx264 -preset ultrafast -pix_fmt yuv422p -output_ts_offset 1 '" +
      dir + "/second.ts'");
  RunShell("cat '" + dir + "/first.ts' '" + dir + "/second.ts' > '" + dir + "/switch.ts'");
  const std::string source = UploadAndIngest(*client_, dir + "/switch.ts", "switch.ts");
  ASSERT_FALSE(source.empty());
  const std::string output = ProcessAndDownload(
      object{{"denoiser", "denoise"}, {"scaler", "pabsr1"}, {"resolution", object{{"tag", "2x"}}}},
      source, "switch-out.ts");
  ASSERT_FALSE(output.empty());
  const std::string probed = ProbeVideo(output, "width,height,nb_read_frames");
  EXPECT_EQ(probed.substr(0, probed.find('\n')), "640,480,50");  // MPEG-TS lists it twice
}

// A raw interlaced H.264 stream has no timestamps. Vidmill's deint at field
// rate times each second field from its frame's; it had got the missing
// timestamp itself, and 2 pictures came out instead of 100 (an MPEG program
// stream whose last frames lack one ran without end).
TEST_F(ProcessingTest, VidmillsOwnDeinterlacerTakesARawStreamWithoutTimestamps) {
  const std::string source =
      IngestClip("tape.h264",
                 "-f lavfi -i testsrc2=size=320x240:rate=25 -t 2 -vf setfield=tff -c:v libx264 "
                 "-preset ultrafast -flags +ilme+ildct -x264opts tff=1 -pix_fmt yuv420p -f h264");
  ASSERT_FALSE(source.empty());
  const std::string output = ProcessAndDownload(
      object{{"deinterlacer", "deint"}, {"frameRate", object{{"fps", 50}}}}, source, "raw-out.mov");
  ASSERT_FALSE(output.empty());
  EXPECT_EQ(ProbeVideo(output, "r_frame_rate,nb_read_frames"), "50/1,100\n");
}

TEST_F(ProcessingTest, Mpeg2AtTheHighestBitrateEncodes) {
  // bitrate.mbps goes to 4000; MPEG-2's one-second VBV buffer of 4e9 bits
  // once overflowed an int and the encoder refused to open (job FAILED).
  Processed processed = ProcessToDone(object{
      {"mediaContainerCodec", object{{"container", "mts"}, {"codec", "mpeg2"}}},
      {"bitrate", object{{"mbps", 4000}}},
      {"range", object{{"startPositionMilliseconds", 0}, {"endPositionMilliseconds", 400}}}});
  ASSERT_FALSE(processed.video.empty());
  const std::string path = Download(processed, "fast.mts");
  ASSERT_FALSE(path.empty());
  EXPECT_NE(ProbeVideo(path, "codec_name").find("mpeg2video"), std::string::npos);
}

TEST_F(ProcessingTest, H264InMxfDecodesEveryFrameInOrder) {
  // FFmpeg's MXF muxer stores no reordering for H.264, so B-frames came back
  // with decode-order timestamps: ffmpeg complained of non-monotonic DTS and
  // the decoded clip lost a frame.
  Processed processed =
      ProcessToDone(object{{"mediaContainerCodec", object{{"container", "mxf"}, {"codec", "h264"}}},
                           {"bitrate", object{{"mbps", 1}}}});
  ASSERT_FALSE(processed.video.empty());
  const std::string path = Download(processed, "h264.mxf");
  ASSERT_FALSE(path.empty());
  // framemd5 lines: stream, dts, pts, duration, size, hash.
  CommandResult decoded = RunShell("ffmpeg -nostdin -v error -i '" + path +
                                   "' -map 0:v -vsync passthrough -f framemd5 -");
  EXPECT_EQ(decoded.err, "");
  std::vector<long> pts;
  std::istringstream lines(decoded.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("0,", 0) != 0) continue;
    std::istringstream fields(line);
    std::string stream, dts, time;
    std::getline(fields, stream, ',');
    std::getline(fields, dts, ',');
    std::getline(fields, time, ',');
    pts.push_back(std::stol(time));
  }
  ASSERT_GE(pts.size(), 25u);
  std::vector<long> in_order(pts.size());
  for (size_t i = 0; i < in_order.size(); ++i) in_order[i] = static_cast<long>(i);
  EXPECT_EQ(pts, in_order);  // one frame per tick, in presentation order
}

TEST_F(ProcessingTest, HevcInMovAndMp4IsTaggedHvc1) {
  // Apple's players take HEVC in QuickTime/MP4 only as `hvc1`; FFmpeg's
  // default tag is `hev1`.
  for (const std::string container : {"mp4", "mov"}) {
    Processed processed = ProcessToDone(object{
        {"mediaContainerCodec", object{{"container", container}, {"codec", "hevc"}}},
        {"bitrate", object{{"mbps", 1}}},
        {"range", object{{"startPositionMilliseconds", 0}, {"endPositionMilliseconds", 400}}}});
    ASSERT_FALSE(processed.video.empty()) << container;
    const std::string path = Download(processed, "hevc." + container);
    ASSERT_FALSE(path.empty());
    EXPECT_EQ(ProbeVideo(path, "codec_tag_string"), "hvc1\n") << container;
    EXPECT_EQ(RunShell("ffmpeg -nostdin -v error -i '" + path + "' -f null -").err, "")
        << container;
  }
}

TEST_F(ProcessingTest, Prores4444XqCarriesMoreThan4444) {
  // At the same quantiser prores_ks wrote 4444 XQ as the very pictures of 4444
  // under another fourcc.
  std::vector<double> rates;
  for (const std::string profile : {"4444", "4444xq"}) {
    Processed processed = ProcessToDone(object{
        {"mediaContainerCodec", object{{"container", "mov"}, {"codec", "prores"}}},
        {"appleProresProfile", profile},
        {"range", object{{"startPositionMilliseconds", 0}, {"endPositionMilliseconds", 400}}}});
    ASSERT_FALSE(processed.video.empty()) << profile;
    const std::string path = Download(processed, "prores" + profile + ".mov");
    ASSERT_FALSE(path.empty());
    rates.push_back(std::atof(ProbeVideo(path, "bit_rate").c_str()));
  }
  EXPECT_GT(rates[1], rates[0] * 1.1) << rates[0] << " vs " << rates[1];
}

}  // namespace
}  // namespace vidmill::test
