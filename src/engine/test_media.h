#pragma once
// Test-only helpers: make small media files with the ffmpeg program (the tests
// generate every clip they use; nothing is checked in). Not part of the library.

#include <gtest/gtest.h>

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
