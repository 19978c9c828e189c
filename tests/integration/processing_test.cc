// The process-video request end to end, on SQLite and again on PostgreSQL:
// the request and its validation, the child video's progress, document and
// download, processing a processed video again, refusals. What the pictures
// and sound look like after each filter and format is processing_media_test.cc.

#include <gtest/gtest.h>

#include <string>

#include "tests/integration/processing_fixture.h"

namespace vidmill::test {
namespace {

using boost::json::object;

TEST_F(ProcessingTest, ProcessesIntoAChildVideoThatCanBeDownloaded) {
  HttpResponse accepted = Process(object{
      {"mediaContainerCodec", object{{"container", "mov"}, {"codec", "prores"}}},
      {"appleProresProfile", "hq"},
      {"resolution", object{{"width", 640}, {"height", 480}}},
      {"range", object{{"startPositionMilliseconds", 0}, {"endPositionMilliseconds", 1000}}}});
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  boost::json::value doc = accepted.Json();
  std::string child = Str(doc.at("processedVideoId"));
  EXPECT_EQ(Str(doc.at("sourceVideoId")), source_id_);
  EXPECT_EQ(Str(doc.at("checkProgressUrl")),
            server_->base_url() + "/videos/v1/check-process-video-progress/" + child);
  EXPECT_EQ(Str(doc.at("downloadMediaUrl")),
            server_->base_url() + "/media/v1/download/processed/" + child);

  object state = WaitForProcessing(child);
  ASSERT_EQ(Str(state["processingStatus"]), "DONE") << boost::json::serialize(state);
  EXPECT_EQ(state["processingProgressPercent"].to_number<double>(), 100.0);

  object video = client_->VideoDocument(child);
  EXPECT_EQ(Str(video["parentId"]), source_id_);
  object parameters = video["processing"].at("processingParameters").as_object();
  EXPECT_EQ(Str(parameters.at("targetVideo").at("codec").at("name")), "prores");
  EXPECT_EQ(parameters.at("targetVideo").at("frameWidth"), 640);
  EXPECT_EQ(parameters.at("sourceVideo").at("endPositionMilliseconds"), 1000);
  object metadata = video["ingestion"].at("metadata").as_object();
  EXPECT_EQ(Str(metadata.at("codecName")), "prores");
  EXPECT_EQ(metadata.at("frameWidth"), 640);

  HttpResponse download =
      client_->http().Get(TargetOf(Str(doc.at("downloadMediaUrl"))), client_->token());
  ASSERT_EQ(download.status, 200) << download.body.substr(0, 200);
  EXPECT_NE(download.Header("Content-Disposition").find("tape 3_processed.mov"), std::string::npos)
      << download.Header("Content-Disposition");
  std::string path = server_->data_dir() + "/downloaded.mov";
  WriteFile(path, download.body);
  CommandResult probe = RunShell(
      "ffprobe -v error -select_streams v:0 -count_packets -show_entries "
      "stream=codec_name,width,height,nb_read_packets -of csv=p=0 " +
      path);
  EXPECT_EQ(probe.out, "prores,640,480,25\n");
  CommandResult audio = RunShell(
      "ffprobe -v error -select_streams a:0 -show_entries stream=codec_name "
      "-of csv=p=0 " +
      path);
  EXPECT_EQ(audio.out, "pcm_s24le\n");

  // Listing the original's processed videos.
  HttpResponse children =
      client_->http().Get("/videos/v1/videos?parent-id=" + source_id_, client_->token());
  ASSERT_EQ(children.status, 200);
  EXPECT_EQ(children.Json().at("_embedded").at("videos").as_array().size(), 1u);
}

TEST_F(ProcessingTest, DefaultsAndStockFiltersRunThroughTheWorker) {
  Processed processed = ProcessToDone(object{{"denoiser", "hqdn3d"},
                                             {"frameRate", object{{"fps", 50}}},
                                             {"frameRateConverter", "fblend"}});
  ASSERT_FALSE(processed.video.empty());
  object metadata = processed.video["ingestion"].at("metadata").as_object();
  EXPECT_EQ(Str(metadata.at("codecName")), "h264");  // the source's pair mp4/h264 is kept
  EXPECT_NEAR(metadata.at("averageFramerate").to_number<double>(), 50.0, 0.01);
  // libav's INFO lines (libx264's statistics …) name no job and no time: they
  // stay out of the log unless asked for (LibavLogTest below).
  EXPECT_EQ(server_->ServerLog().find("using cpu capabilities"), std::string::npos);
}

TEST_F(ProcessingTest, VidmillsOwnFilmGrainRunsInTheChain) {
  Processed processed = ProcessToDone(object{{"postProcessor", "filmgrain"}});
  ASSERT_FALSE(processed.video.empty());
  boost::json::array filters = VideoFilters(processed.video);
  ASSERT_EQ(filters.size(), 1u);
  EXPECT_EQ(Str(filters[0].at("name")), "filmgrain");
  // A processed video gets no previews, and the 404 says so rather than
  // "(yet)", which had kept clients waiting.
  const std::string child = Str(processed.video.at("id"));
  for (const char* kind : {"thumbnail", "web"}) {
    HttpResponse none = client_->http().Get("/media/v1/download/" + std::string(kind) + "/" + child,
                                            client_->token());
    EXPECT_EQ(none.status, 404) << kind;
    EXPECT_NE(none.body.find("a processed video gets none"), std::string::npos) << none.body;
  }
}

// An MPEG-TS whose video starts a second after its sound: a range that ends
// before the first picture is refused with a 400 saying where the pictures
// start (it was accepted, and the job failed: "no picture came out"); a range
// across the first picture runs.
TEST_F(ProcessingTest, ARangeBeforeTheFirstPictureIsRefused) {
  const std::string id =
      IngestClip("late.ts",
                 "-f lavfi -i sine=duration=3 -itsoffset 1 -f lavfi -i "
                 "testsrc2=size=320x240:rate=25:duration=2 -map 1:v -map 0:a -c:v libx264 "
                 "-preset ultrafast -pix_fmt yuv420p -c:a mp2");
  ASSERT_FALSE(id.empty());
  const object range_before{
      {"range", object{{"startPositionMilliseconds", 0}, {"endPositionMilliseconds", 900}}}};
  HttpResponse refused = Process(range_before, id);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("the pictures start at 10"), std::string::npos) << refused.body;
  const std::string path = ProcessAndDownload(
      object{
          {"mediaContainerCodec", object{{"container", "mp4"}, {"codec", "h264"}}},
          {"frameRate", object{{"tag", "video_pal"}}},
          {"range", object{{"startPositionMilliseconds", 500}, {"endPositionMilliseconds", 1600}}}},
      id, "late out.mp4");
  ASSERT_FALSE(path.empty());
  EXPECT_GT(std::stoi(ProbeVideo(path, "nb_read_frames")), 0);
}

TEST_F(ProcessingTest, BadRequestsAreRefusedWithTheFieldNamed) {
  struct Case {
    object request;
    int status;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {object{{"mediaContainerCodec", object{{"container", "mp4"}, {"codec", "prores"}}}}, 400,
       "mp4"},
      {object{{"bitrate", object{{"mbps", 9000}}}}, 400, "bitrate.mbps"},
      {object{{"frameRateConverter", "fps"}}, 400, "frameRate"},
      {object{{"resolution", object{{"width", 2}}}}, 400, "resolution.width"},
      {object{{"range", object{{"startPositionMilliseconds", 5000}}}}, 400,
       "range.startPositionMilliseconds"},
      {object{{"colour", "red"}}, 400, "colour"},
  };
  for (const Case& c : cases) {
    HttpResponse response = Process(c.request);
    EXPECT_EQ(response.status, c.status)
        << boost::json::serialize(c.request) << " → " << response.body;
    EXPECT_NE(response.body.find(c.mentions), std::string::npos) << response.body;
    EXPECT_TRUE(response.Json().as_object().contains("exception")) << response.body;
  }
  HttpResponse malformed = client_->http().Send(
      "POST", "/videos/v1/process-video/" + source_id_,
      {{"Authorization", "Bearer " + client_->token()}, {"Content-Type", "application/json"}},
      "{oops");
  EXPECT_EQ(malformed.status, 400);
}

TEST_F(ProcessingTest, EveryValidationRuleIsA400OverHttpAndCreatesNothing) {
  // One row per rule of the request table (the source: 320x240, 25 fps, 2 s,
  // progressive H.264 in mp4 with sound). The unit tests cover the variants.
  struct Row {
    std::string json;
    std::string mentions;
  };
  const std::vector<Row> rows = {
      {R"({"colour": "red"})", "unknown field 'colour'"},
      {R"({"mediaContainerCodec": {"container": "avi"}})", "mediaContainerCodec.container"},
      {R"({"mediaContainerCodec": {"codec": "vp9"}})", "mediaContainerCodec.codec"},
      {R"({"mediaContainerCodec": {"contaner": "mov"}})", "mediaContainerCodec.contaner"},
      {R"({"mediaContainerCodec": {"container": "mts", "codec": "ffv1"}})",
       "container mts takes codecs"},
      {R"({"mediaContainerCodec": {"container": "mxf", "codec": "hevc"}})",
       "container mxf takes codecs"},
      {R"({"appleProresProfile": "hq", "dnxhdHrProfile": "dnxhr_sq"})", "two codecs"},
      {R"({"mediaContainerCodec": {"codec": "prores"}, "appleProresProfile": "ultra"})",
       "appleProresProfile"},
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhd_sq"})", "1920x1080"},
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "dnxhdHrProfile": "dnxhd_444"})",
       "cannot write DNxHD 444; use dnxhr_444"},
      {R"({"mediaContainerCodec": {"codec": "xdcam"}})", "1920x1080 or 1280x720"},
      {R"({"mediaContainerCodec": {"codec": "dnxhd"}, "scanning": {"tag": "interlaced_tff"}})",
       "DNxHR"},
      {R"({"mediaContainerCodec": {"container": "mts", "codec": "hevc"}, "scanning": {"tag": "interlaced_tff"}})",
       "MPEG-TS"},
      {R"({"scanning": {"tag": "sideways"}})", "scanning.tag"},
      {R"({"scanning": {"scanningType": "interlaced"}})", "interlacedFieldOrder"},
      {R"({"scanning": {"scanningType": "progressive", "interlacedFieldOrder": "top_field"}})",
       "interlacedFieldOrder"},
      {R"({"scanning": {"tag": "progressive", "scanningType": "interlaced", "interlacedFieldOrder": "top_field"}})",
       "conflicts"},
      {R"({"chromaSubsampling": {"yuv": "4:2:1"}})", "chromaSubsampling.yuv"},
      {R"({"chromaSubsampling": {"bits": 9}})", "chromaSubsampling.bits"},
      {R"({"chromaSubsampling": {"bits": 10.5}})", "chromaSubsampling.bits: 10.5 is not allowed"},
      {R"({"chromaSubsampling": {"yuv": "4:1:1"}})", "supports: 4:2:0, 4:2:2, 4:4:4"},
      {R"({"chromaSubsampling": {"bits": 14}})", "supports: 8, 10"},
      {R"({"mediaContainerCodec": {"codec": "prores"}, "chromaSubsampling": {"yuv": "4:2:0"}})",
       "supports: 4:2:2"},
      {R"({"bitrate": {"mbps": 0.001}})", "bitrate.mbps"},
      {R"({"bitrate": {"mbps": 4000.5}})", "bitrate.mbps: 4000.5 is not allowed"},
      {R"({"mediaContainerCodec": {"codec": "prores"}, "bitrate": {"mbps": 50}})", "fixed"},
      {R"({"mediaContainerCodec": {"codec": "ffv1"}, "bitrate": {"mbps": 50}})", "lossless"},
      {R"({"bitrate": {"kbps": 5}})", "bitrate.kbps"},
      {R"({"deinterlacer": "magic"})", "deinterlacer"},
      {R"({"deinterlacer": 3})", "deinterlacer"},
      {R"({"denoiser": "nlmeans"})", "denoiser"},
      {R"({"stabilizer": "vidstab"})", "stabilizer"},
      {R"({"scaler": "lanczos"})", "scaler"},
      {R"({"postProcessor": "sharpen"})", "postProcessor"},
      {R"({"clarityBoost": "low"})", "pabsr1"},
      {R"({"frameRateConverter": "mcinterpolate"})", "frameRate"},
      {R"({"frameRateConverter": "warp", "frameRate": {"fps": 30}})", "frameRateConverter"},
      {R"({"frameRate": {"fps": 0}})", "frameRate.fps"},
      {R"({"frameRate": {"fps": 999.5}})", "frameRate.fps"},
      {R"({"frameRate": {"tag": "cinema"}})", "frameRate.tag"},
      {R"({"frameRate": {"tag": "film", "fps": 25}})", "film is 24 fps"},
      {R"({"range": {"endPositionMilliseconds": 0.5}})", "whole milliseconds"},
      {R"({"mediaContainerCodec": {"container": "mxf"}, "frameRate": {"fps": 15}})",
       "container mxf takes frame rates"},
      {R"({"resolution": {"tag": "5x"}})", "resolution.tag"},
      {R"({"resolution": {"tag": "2x", "width": 100}})", "not both"},
      {R"({"resolution": {"width": 1920, "height": 1080, "aspectRatioTag": "16:9"}})", "together"},
      {R"({"resolution": {"width": 7681}})", "resolution.width"},
      {R"({"resolution": {"height": 4321}})", "resolution.height"},
      {R"({"resolution": {"width": 100.5}})", "resolution.width"},
      {R"({"resolution": {"width": 640, "aspectRatioTag": "21:9"}})", "aspectRatioTag"},
      {R"({"resolution": {"width": 7680, "aspectRatioTag": "4:3"}})", "derived size"},
      {R"({"resolution": {"aspectRatioTag": "4:3"}})", "resolution"},
      {R"({"range": {"startPositionMilliseconds": -1}})", "range.startPositionMilliseconds"},
      {R"({"range": {"endPositionMilliseconds": 2001}})", "range.endPositionMilliseconds"},
      {R"({"range": {"startPositionMilliseconds": 1000, "endPositionMilliseconds": 1000}})",
       "before end"},
      {R"({"range": {"startPositionMilliseconds": "0"}})", "number"},
      // Requests that would make no picture (the job would fail after its attempts).
      {R"({"range": {"startPositionMilliseconds": 1999, "endPositionMilliseconds": 2000}})",
       "shorter than one source frame"},
      {R"({"frameRate": {"fps": 0.2}})", "longer than the 2000 ms processed"},
  };
  for (const Row& row : rows) {
    HttpResponse response = Process(boost::json::parse(row.json).as_object());
    EXPECT_EQ(response.status, 400) << row.json << " → " << response.body;
    EXPECT_NE(response.body.find(row.mentions), std::string::npos)
        << row.json << " → " << response.body;
    EXPECT_EQ(Str(response.Json().at("exception")), "BadRequestException") << response.body;
  }
  // A body that is not an object.
  HttpResponse array = client_->http().Send(
      "POST", "/videos/v1/process-video/" + source_id_,
      {{"Authorization", "Bearer " + client_->token()}, {"Content-Type", "application/json"}},
      "[1]");
  EXPECT_EQ(array.status, 400) << array.body;
  // No refused request created a processed video.
  HttpResponse children =
      client_->http().Get("/videos/v1/videos?parent-id=" + source_id_, client_->token());
  ASSERT_EQ(children.status, 200) << children.body;
  const boost::json::value& listed = children.Json();
  EXPECT_TRUE(!listed.as_object().contains("_embedded") ||
              listed.at("_embedded").at("videos").as_array().empty())
      << children.body;
}

TEST_F(ProcessingTest, ResolutionTagsStayWithinTheLargestFrame) {
  // The reference allows output frames up to 7680x4320 (uhd_8k); 4x of a
  // 2000-pixel-wide source would be 8000 wide.
  const std::string wide =
      IngestClip("wide.mp4",
                 "-f lavfi -i testsrc2=size=2000x16:rate=25 -t 1 -c:v libx264 -preset ultrafast "
                 "-pix_fmt yuv420p");
  ASSERT_FALSE(wide.empty());

  HttpResponse too_wide = Process(object{{"resolution", object{{"tag", "4x"}}}}, wide);
  EXPECT_EQ(too_wide.status, 400) << too_wide.body;
  EXPECT_NE(too_wide.body.find("resolution.tag"), std::string::npos) << too_wide.body;
  EXPECT_NE(too_wide.body.find("8000x64"), std::string::npos) << too_wide.body;
  HttpResponse fits = Process(object{{"resolution", object{{"tag", "2x"}}}}, wide);
  EXPECT_EQ(fits.status, 200) << fits.body;
}

TEST_F(ProcessingTest, DnxhrBelowItsSmallestFrameIsRefusedNotFailed) {
  // FFmpeg's DNxHR encoder refuses frames under 256x120: such a request was
  // accepted and its job FAILED after three attempts.
  HttpResponse small = Process(object{{"mediaContainerCodec", object{{"codec", "dnxhd"}}},
                                      {"resolution", object{{"width", 254}, {"height", 120}}}});
  EXPECT_EQ(small.status, 400) << small.body;
  EXPECT_NE(small.body.find("at least 256x120"), std::string::npos) << small.body;
  Processed smallest = ProcessToDone(object{
      {"mediaContainerCodec", object{{"codec", "dnxhd"}}},
      {"resolution", object{{"width", 256}, {"height", 120}}},
      {"range", object{{"startPositionMilliseconds", 0}, {"endPositionMilliseconds", 200}}}});
  EXPECT_FALSE(smallest.video.empty());
}

TEST_F(ProcessingTest, RateChangeOfKeptInterlacingNamesTheField) {
  // A 25i source (flagged interlaced; light ingestion reads the flags).
  const std::string woven =
      IngestClip("woven.mp4",
                 "-f lavfi -i testsrc2=size=320x240:rate=25 -t 1 -vf setfield=tff -c:v libx264 "
                 "-preset ultrafast -flags +ilme+ildct -x264opts tff=1 -pix_fmt yuv420p");
  ASSERT_FALSE(woven.empty());

  HttpResponse refused = Process(object{{"frameRate", object{{"fps", 50}}}}, woven);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(Str(refused.Json().at("errorMessage")).find("frameRate: {\"fps\":50} is not allowed"),
            std::string::npos)
      << refused.body;
  EXPECT_NE(refused.body.find("deinterlacer"), std::string::npos) << refused.body;
}

// A processed video can be processed again, from its own file (passes
// chained: here a 2× upscale of a one-second cut). It was accepted, and the
// job always failed: "the source video's media file is missing". While the
// first pass runs, the second is refused with a reason that fits.
TEST_F(ProcessingTest, AProcessedVideoCanBeProcessedAgain) {
  HttpResponse first = Process(object{
      {"range", object{{"startPositionMilliseconds", 0}, {"endPositionMilliseconds", 1000}}}});
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string child = Str(first.Json().at("processedVideoId"));
  // Accepted is IN_PROGRESS at once (it had read INITIAL until a worker took
  // the job, like an original never sent for processing).
  HttpResponse queued =
      client_->http().Get("/videos/v1/check-process-video-progress/" + child, client_->token());
  ASSERT_EQ(queued.status, 200);
  const std::string early = Str(queued.Json().at("processingState").at("processingStatus"));
  EXPECT_TRUE(early == "IN_PROGRESS" || early == "DONE") << queued.body;
  if (early == "IN_PROGRESS") {
    HttpResponse too_soon = Process(object{}, child);
    EXPECT_EQ(too_soon.status, 409) << too_soon.body;
    EXPECT_NE(too_soon.body.find("has not finished"), std::string::npos) << too_soon.body;
  }
  ASSERT_EQ(Str(WaitForProcessing(child)["processingStatus"]), "DONE");

  Processed second = ProcessToDone(object{{"resolution", object{{"tag", "2x"}}}}, child);
  ASSERT_FALSE(second.video.empty());
  EXPECT_EQ(Str(second.video["parentId"]), child);
  const std::string path = Download(second, "second-pass.mov");
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(ProbeVideo(path, "width,height,nb_read_frames"), "640,480,25\n");
}

TEST_F(ProcessingTest, SourcesThatAreNotReadyOrNotYoursAreRefused) {
  std::string empty = client_->CreateVideo();
  HttpResponse not_uploaded = Process(object{}, empty);
  EXPECT_EQ(not_uploaded.status, 409) << not_uploaded.body;

  std::string garbage = client_->CreateVideo();
  ASSERT_EQ(client_->Upload(garbage, std::string(50000, 'x'), true, "junk.mp4").status, 200);
  object failed = client_->WaitForIngestion(garbage);
  ASSERT_EQ(Str(failed["ingestionStatus"]), "FAILED");
  HttpResponse corrupt = Process(object{}, garbage);
  EXPECT_EQ(corrupt.status, 409) << corrupt.body;

  MediaClient other(*server_, "other@example.com");
  HttpResponse foreign = other.http().SendJson("POST", "/videos/v1/process-video/" + source_id_,
                                               object{}, other.token());
  EXPECT_EQ(foreign.status, 404) << foreign.body;
  EXPECT_EQ(Process(object{}, "not-an-id").status, 404);
  EXPECT_EQ(
      client_->http().SendJson("POST", "/videos/v1/process-video/" + source_id_, object{}).status,
      401);
}

}  // namespace
}  // namespace vidmill::test
