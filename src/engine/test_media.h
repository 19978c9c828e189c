#pragma once
// Test-only helpers: make small media files with the ffmpeg program (the tests
// generate every clip they use; nothing is checked in). Not part of the library.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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
inline std::string FfprobeVideo(const std::string& path, const std::string& entry,
                                const std::string& extra = "") {
  return Output("ffprobe -v error -select_streams v:0 " + extra + " -show_entries stream=" + entry +
                " -of default=nw=1:nk=1 '" + path + "'");
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
