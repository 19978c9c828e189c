#pragma once
// Test-only helpers: make small media files with the ffmpeg program (the tests
// generate every clip they use; nothing is checked in). Not part of the library.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace vidmill::engine::testing {

// Runs `ffmpeg -nostdin -y -loglevel error <args>`; fails the test (and returns
// false) when it exits non-zero.
inline bool Ffmpeg(const std::string& args) {
  std::string command = "ffmpeg -nostdin -y -hide_banner -loglevel error " + args;
  int rc = std::system(command.c_str());
  EXPECT_EQ(rc, 0) << command;
  return rc == 0;
}

// Runs a shell command and returns its standard output (trailing newline removed).
inline std::string Output(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run " << command;
    return out;
  }
  char buffer[4096];
  size_t got;
  while ((got = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    out.append(buffer, got);
  }
  EXPECT_EQ(pclose(pipe), 0) << command;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
    out.pop_back();
  }
  return out;
}

// One ffprobe value of the first video stream, e.g. FfprobeVideo(path, "nb_read_packets",
// "-count_packets").
// ffmpeg inputs and options for 2 s of 320x240 25 fps H.264 with AAC audio:
// a 440 Hz tone, 48 kHz stereo; and an 880 Hz one, 44.1 kHz 5.1 (audio that
// changes format at a cut, with SplicedTs).
inline constexpr char kTwoSecondsOfStereo[] =
    "-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -f lavfi "
    "-i sine=frequency=440:sample_rate=48000:duration=2 -ac 2 -c:v libx264 -preset ultrafast "
    "-c:a aac -shortest";
inline constexpr char kTwoSecondsOf51[] =
    "-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -f lavfi "
    "-i sine=frequency=880:sample_rate=44100:duration=2 -ac 6 -c:v libx264 -preset ultrafast "
    "-c:a aac -shortest";

// An MPEG-TS at `path` cut together from two clips that ffmpeg makes from
// `first` and `second` (inputs and options), the second timed to follow the
// first at `cut_seconds`: what broadcast captures and edited transport
// streams look like where the format changes at a cut.
inline void SplicedTs(const std::string& path, const std::string& first, const std::string& second,
                      double cut_seconds) {
  Ffmpeg(first + " -f mpegts '" + path + ".1'");
  Ffmpeg(second + " -output_ts_offset " + std::to_string(cut_seconds) + " -f mpegts '" + path +
         ".2'");
  Output("cat '" + path + ".1' '" + path + ".2' > '" + path + "' && rm '" + path + ".1' '" + path +
         ".2'");
}

inline std::string FfprobeVideo(const std::string& path, const std::string& entry,
                                const std::string& extra = "") {
  return Output("ffprobe -v error -select_streams v:0 " + extra + " -show_entries stream=" + entry +
                " -of default=nw=1:nk=1 '" + path + "'");
}

// `from` copied to `to` (MP4/MOV) with a display matrix that turns it 90°,
// as phones store portrait video; Rotation reads it back ("90", or "" when
// there is none). `extra`: ffprobe input options (e.g. "-f mp4").
inline void RotatedCopy(const std::string& from, const std::string& to) {
  Ffmpeg("-i '" + from + "' -c copy -metadata:s:v:0 rotate=90 '" + to + "'");
}
inline std::string Rotation(const std::string& path, const std::string& extra = "") {
  return Output("ffprobe -v error " + extra +
                " -select_streams v:0 -show_entries stream_side_data=rotation "
                "-of default=nw=1:nk=1 '" +
                path + "'");
}

// Y-PSNR in dB of `path`'s first picture against `reference`'s first picture
// as the ffmpeg command line shows it (turned upright by its display matrix,
// scaled to `path`'s size); 0 when the sizes differ or it cannot be measured.
inline double UprightPsnr(const std::string& path, const std::string& reference,
                          const std::string& extra = "") {
  const std::string report =
      Output("ffmpeg -nostdin -v info " + extra + " -i '" + path + "' -i '" + reference +
             "' -lavfi \"[0:v]trim=end_frame=1,format=yuv420p[a];[1:v]trim=end_frame=1,"
             "format=yuv420p[b];[a][b]psnr\" -f null - 2>&1");
  const size_t at = report.find(" y:");
  return at == std::string::npos ? 0 : std::atof(report.c_str() + at + 3);
}

// The mean RGB of `path`'s first picture, three bytes: decoded by `matrix`
// (the scale filter's name) from limited range, or ("") as ffmpeg decodes it
// by default (a JPEG: full-range BT.601). `input`: ffmpeg input options.
inline std::string MeanRgb(const std::string& path, const std::string& matrix = "",
                           const std::string& input = "") {
  const std::string decode =
      matrix.empty() ? "" : "scale=in_color_matrix=" + matrix + ":in_range=tv,format=rgb24,";
  return Output("ffmpeg -nostdin -v error " + input + " -i '" + path + "' -frames:v 1 -vf " +
                decode + "scale=1:1:flags=area -pix_fmt rgb24 -f rawvideo -");
}

// A photograph from the plasma-workspace-wallpapers package (installed by
// scripts/install-deps.sh). Synthetic patterns mislead media analysis (idet
// calls a progressive testsrc2 clip interlaced); pans over photographs do not.
inline std::string Photo(const std::string& name = "Path") {
  return "/usr/share/wallpapers/" + name + "/contents/images/1920x1080.jpg";
}

// ffmpeg input options for a photograph at `rate` frames/s; use with PanFilter.
inline std::string PhotoSource(const std::string& photo, int rate) {
  return "-framerate " + std::to_string(rate) + " -i '" + photo + "' ";
}

// A filter chain that turns the photograph into a smooth camera pan
// (sinusoidal, so any length stays inside the picture): `seconds` at `rate`
// frames/s, `width`x`height`, yuv420p. The photo is decoded and scaled once
// (loop filter), so making a clip costs little more than encoding it.
inline std::string PanFilter(int width, int height, int rate, double seconds) {
  int frames = static_cast<int>(rate * seconds);
  return "scale=-2:" + std::to_string(height * 3) + ",loop=loop=" + std::to_string(frames - 1) +
         ":size=1:start=0,setpts=N/(" + std::to_string(rate) +
         "*TB),crop=" + std::to_string(width) + ":" + std::to_string(height) +
         ":x='(iw-ow)/2*(1+sin(t*0.7))':y='(ih-oh)/2*(1+sin(t*0.5))',format=yuv420p";
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// Copies the first `bytes` bytes of `from` to `to`.
inline void Truncate(const std::string& from, const std::string& to, std::uintmax_t bytes) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(to, bytes);
}

}  // namespace vidmill::engine::testing
