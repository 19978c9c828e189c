#include "engine/media_input.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "engine/test_media.h"
#include "tests/support/temp_dir.h"

namespace vidmill::engine {
namespace {

using testing::Ffmpeg;
using testing::WriteFile;

class MediaInputTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  // A 1 s 320x180 H.264 + AAC MP4; `faststart` puts the moov atom first.
  std::string MakeMp4(const std::string& name, bool faststart) {
    std::string path = Path(name);
    Ffmpeg(
        "-f lavfi -i testsrc2=size=320x180:rate=25:duration=1 "
        "-f lavfi -i sine=frequency=440:duration=1 -c:v libx264 -preset ultrafast "
        "-c:a aac -shortest " +
        std::string(faststart ? "-movflags +faststart " : "") + path);
    return path;
  }

  test::TempDir dir_;
  MediaLimits limits_;
};

TEST_F(MediaInputTest, OpensAnMp4AndFindsItsStreams) {
  std::string path = MakeMp4("ok.mp4", true);
  auto input = MediaInput::Open(path, limits_);
  ASSERT_TRUE(input.ok()) << input.status().ToString();
  EXPECT_STREQ((*input)->format()->iformat->name, "mov,mp4,m4a,3gp,3g2,mj2");
  EXPECT_EQ((*input)->video_stream()->codecpar->codec_id, AV_CODEC_ID_H264);
  EXPECT_EQ((*input)->video_stream()->codecpar->width, 320);
  ASSERT_NE((*input)->audio_stream(), nullptr);
  EXPECT_EQ((*input)->audio_stream()->codecpar->codec_id, AV_CODEC_ID_AAC);
  EXPECT_EQ((*input)->file_size(), static_cast<int64_t>(std::filesystem::file_size(path)));

  // Every packet reads back; the decoder opens and decodes a frame.
  auto packet = NewPacket();
  ASSERT_TRUE(packet.ok());
  int video_packets = 0;
  bool eof = false;
  while (true) {
    ASSERT_TRUE((*input)->ReadPacket(packet->get(), &eof).ok());
    if (eof) {
      break;
    }
    video_packets += (*packet)->stream_index == (*input)->video_stream_index();
  }
  EXPECT_EQ(video_packets, 25);

  auto decoder = OpenDecoder((*input)->video_stream(), limits_);
  ASSERT_TRUE(decoder.ok()) << decoder.status().ToString();
}

// A poster JPEG muxed as an ordinary (not attached-picture) track, larger
// than the video, is not taken for the video (one frame had come out); an
// MJPEG file on its own still is the video.
TEST_F(MediaInputTest, AStillPictureTrackIsNotTakenForTheVideo) {
  const std::string poster = Path("poster.mkv");
  Ffmpeg(
      "-f lavfi -i color=c=white:s=1280x720:d=0.04 -f lavfi -i "
      "testsrc2=size=320x180:rate=25:duration=1 -map 0 -map 1 -frames:v:0 1 -c:v:0 mjpeg "
      "-c:v:1 libx264 -preset ultrafast '" +
      poster + "'");
  auto input = MediaInput::Open(poster, limits_);
  ASSERT_TRUE(input.ok()) << input.status().ToString();
  EXPECT_EQ((*input)->video_stream()->codecpar->codec_id, AV_CODEC_ID_H264);
  const std::string mjpeg = Path("camera.avi");
  Ffmpeg("-f lavfi -i testsrc2=size=320x180:rate=25:duration=1 -c:v mjpeg '" + mjpeg + "'");
  auto alone = MediaInput::Open(mjpeg, limits_);
  ASSERT_TRUE(alone.ok()) << alone.status().ToString();
  EXPECT_EQ((*alone)->video_stream()->codecpar->codec_id, AV_CODEC_ID_MJPEG);
}

// A transport stream behind 20 kB of junk (a capture that started mid-way)
// is read as one: it had been probed as an MPEG program stream of audio alone
// ("the file has no video stream").
TEST_F(MediaInputTest, ATransportStreamBehindJunkIsReadAsOne) {
  const std::string ts = Path("clean.ts"), padded = Path("padded.ts");
  // (This stream and 20 kB of zeros are what libavformat's probe misreads.)
  Ffmpeg(
      "-f lavfi -i testsrc2=size=720x576:rate=25:duration=2 -f lavfi -i sine=duration=2 "
      "-c:v libx264 -preset veryfast -b:v 1M -c:a aac '" +
      ts + "'");
  std::ifstream in(ts, std::ios::binary);
  WriteFile(padded, std::string(20000, '\0') + std::string(std::istreambuf_iterator<char>(in), {}));
  auto input = MediaInput::Open(padded, limits_);
  ASSERT_TRUE(input.ok()) << input.status().ToString();
  EXPECT_STREQ((*input)->format()->iformat->name, "mpegts");
  EXPECT_EQ((*input)->video_stream()->codecpar->codec_id, AV_CODEC_ID_H264);
}

TEST_F(MediaInputTest, ReportsTheDemuxersReasonForATruncatedMp4) {
  std::string full = MakeMp4("full.mp4", /*faststart=*/false);  // moov at the end
  std::string cut = Path("cut.mp4");
  testing::Truncate(full, cut, std::filesystem::file_size(full) / 2);
  auto input = MediaInput::Open(cut, limits_);
  ASSERT_FALSE(input.ok());
  EXPECT_EQ(input.status().code(), Code::kCorruptMedia);
  EXPECT_EQ(input.status().message(), "cannot open input: moov atom not found");
}

// A faststart MP4 cut inside its header opens with no stream of a codec
// libavformat knows: it is said to be cut short, not to lack a video stream
// (audit 40 F7).
TEST_F(MediaInputTest, AHeaderCutShortSaysTheFileMayBeTruncated) {
  std::string full = MakeMp4("header.mp4", /*faststart=*/true);
  std::string cut = Path("header cut.mp4");
  testing::Truncate(full, cut, 200);
  auto input = MediaInput::Open(cut, limits_);
  ASSERT_FALSE(input.ok());
  EXPECT_EQ(input.status().code(), Code::kCorruptMedia);
  EXPECT_EQ(input.status().message(),
            "the file has no stream it can read: its header is cut short (a truncated file?)");
}

TEST_F(MediaInputTest, RefusesGarbage) {
  std::string path = Path("garbage.mp4");
  std::string bytes;
  for (int byte_idx = 0; byte_idx < 100000; ++byte_idx) {
    bytes += static_cast<char>((byte_idx * 7919 + byte_idx / 13) & 0xff);
  }
  WriteFile(path, bytes);
  auto input = MediaInput::Open(path, limits_);
  ASSERT_FALSE(input.ok());
  EXPECT_EQ(input.status().code(), Code::kCorruptMedia);
  EXPECT_EQ(input.status().message(), "cannot open input: not a recognised media file");
}

TEST_F(MediaInputTest, RefusesTextEmptyAndMissingFiles) {
  WriteFile(Path("text.txt"), "this is not a video, just some words\n");
  auto text = MediaInput::Open(Path("text.txt"), limits_);
  EXPECT_EQ(text.status().code(), Code::kCorruptMedia);
  EXPECT_EQ(text.status().message(), "cannot open input: not a recognised media file");

  // A video extension is not enough: mov's prober claims text with a score of 1.
  WriteFile(Path("text.mp4"), "this is not a video, just some words\n");
  auto named_mp4 = MediaInput::Open(Path("text.mp4"), limits_);
  EXPECT_EQ(named_mp4.status().code(), Code::kCorruptMedia);
  EXPECT_EQ(named_mp4.status().message(), "cannot open input: not a recognised media file");

  WriteFile(Path("empty.mp4"), "");
  auto empty = MediaInput::Open(Path("empty.mp4"), limits_);
  EXPECT_EQ(empty.status().code(), Code::kCorruptMedia);
  EXPECT_EQ(empty.status().message(), "cannot open input: the file is empty");

  auto missing = MediaInput::Open(Path("missing.mp4"), limits_);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  // Messages reach API clients through failed jobs: no server path in them.
  EXPECT_EQ(missing.status().message(), "cannot open input: the file is missing");

  auto directory = MediaInput::Open(dir_.path(), limits_);
  EXPECT_EQ(directory.status().code(), Code::kCorruptMedia);
}

// Playlists and other indirections must be refused before they open anything.
TEST_F(MediaInputTest, RefusesPlaylistsThatReferenceOtherFiles) {
  struct Case {
    const char* name;
    std::string content;
    const char* demuxer;
  };
  const Case cases[] = {
      {"hls.m3u8",
       "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
       "'hls'"},
      {"hls-disguised.mp4",
       "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n/etc/passwd\n#EXT-X-ENDLIST\n", "'hls'"},
      {"concat.txt", "ffconcat version 1.0\nfile /etc/passwd\n", "'concat'"},
      {"concat-disguised.mov", "ffconcat version 1.0\nfile 'file:/etc/passwd'\n", "'concat'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    WriteFile(Path(c.name), c.content);
    auto input = MediaInput::Open(Path(c.name), limits_);
    ASSERT_FALSE(input.ok());
    EXPECT_EQ(input.status().code(), Code::kCorruptMedia);
    EXPECT_NE(input.status().message().find(c.demuxer), std::string::npos)
        << input.status().message();
    EXPECT_NE(input.status().message().find("is not an accepted video container"),
              std::string::npos);
  }
}

TEST_F(MediaInputTest, RefusesStillImages) {
  std::string path = Path("still.jpg");
  Ffmpeg("-f lavfi -i testsrc2=size=320x180 -frames:v 1 " + path);
  auto input = MediaInput::Open(path, limits_);
  ASSERT_FALSE(input.ok());
  EXPECT_EQ(input.status().code(), Code::kCorruptMedia);
  EXPECT_NE(input.status().message().find("is not an accepted video container"), std::string::npos)
      << input.status().message();
}

TEST_F(MediaInputTest, RefusesAFileWithoutVideo) {
  std::string path = Path("audio.mkv");
  Ffmpeg("-f lavfi -i sine=duration=1 -c:a aac " + path);
  auto input = MediaInput::Open(path, limits_);
  ASSERT_FALSE(input.ok());
  EXPECT_EQ(input.status().code(), Code::kCorruptMedia);
  EXPECT_EQ(input.status().message(), "the file has no video stream");
}

TEST_F(MediaInputTest, EnforcesFrameSizeAndDurationLimits) {
  std::string path = MakeMp4("ok.mp4", true);

  MediaLimits small_frames;
  small_frames.max_frame_pixels = 320 * 180 - 1;
  auto too_big = MediaInput::Open(path, small_frames);
  EXPECT_EQ(too_big.status().code(), Code::kCorruptMedia);
  EXPECT_NE(too_big.status().message().find("320x180 exceeds the limit"), std::string::npos)
      << too_big.status().message();

  MediaLimits short_videos;
  short_videos.max_duration_seconds = 0.5;
  auto too_long = MediaInput::Open(path, short_videos);
  EXPECT_EQ(too_long.status().code(), Code::kCorruptMedia);
  EXPECT_NE(too_long.status().message().find("exceeds the limit of"), std::string::npos);

  MediaLimits exact;
  exact.max_frame_pixels = 320 * 180;
  exact.max_duration_seconds = 1.5;
  EXPECT_TRUE(MediaInput::Open(path, exact).ok());
}

// A header that libavformat itself refuses (EINVAL: "Picture size
// 30000x30000 is invalid") is the file's fault, as the limits are: it had
// been an internal error, and ingestion tried it three times (audit 40 F3).
TEST_F(MediaInputTest, AHeaderTheDemuxerRefusesIsCorruptMedia) {
  std::string path = Path("huge.y4m");
  WriteFile(path, "YUV4MPEG2 W30000 H30000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" +
                      std::string(100000, '\x80'));
  auto input = MediaInput::Open(path, limits_);
  ASSERT_FALSE(input.ok());
  EXPECT_EQ(input.status().code(), Code::kCorruptMedia) << input.status().ToString();
  EXPECT_NE(input.status().message().find("30000x30000"), std::string::npos)
      << input.status().message();
}

TEST_F(MediaInputTest, DecoderRefusesFramesOverMaxPixels) {
  std::string path = MakeMp4("ok.mp4", true);
  auto input = MediaInput::Open(path, limits_);
  ASSERT_TRUE(input.ok());
  MediaLimits tiny;
  tiny.max_frame_pixels = 100 * 100;
  auto decoder = OpenDecoder((*input)->video_stream(), tiny);
  ASSERT_FALSE(decoder.ok());
  EXPECT_EQ(decoder.status().code(), Code::kCorruptMedia);
}

TEST_F(MediaInputTest, StopsAtTheDeadlineAndOnCancel) {
  std::string path = MakeMp4("ok.mp4", true);

  MediaLimits past;
  past.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  auto late = MediaInput::Open(path, past);
  EXPECT_EQ(late.status().code(), Code::kTimeout) << late.status().ToString();

  bool cancel = false;
  auto input = MediaInput::Open(path, limits_, [&cancel] { return cancel; });
  ASSERT_TRUE(input.ok());
  cancel = true;
  auto packet = NewPacket();
  ASSERT_TRUE(packet.ok());
  bool eof = false;
  Status status;
  // Packets already buffered may still come out; the read that needs the file stops.
  for (int read_idx = 0; read_idx < 1000 && status.ok() && !eof; ++read_idx) {
    status = (*input)->ReadPacket(packet->get(), &eof);
  }
  EXPECT_EQ(status.code(), Code::kCancelled) << status.ToString();
}

TEST(AllowedDemuxersTest, EveryAllowedNameIsARealDemuxer) {
  for (std::string_view name : AllowedDemuxers()) {
    EXPECT_NE(av_find_input_format(std::string(name).c_str()), nullptr) << name;
  }
  EXPECT_FALSE(IsAllowedDemuxer("hls"));
  EXPECT_FALSE(IsAllowedDemuxer("concat"));
  EXPECT_FALSE(IsAllowedDemuxer("image2"));
  EXPECT_FALSE(IsAllowedDemuxer("data"));
  EXPECT_TRUE(IsAllowedDemuxer("matroska,webm"));
}

}  // namespace
}  // namespace vidmill::engine
