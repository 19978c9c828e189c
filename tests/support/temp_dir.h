#pragma once
// A temporary directory for one test, removed with everything in it when the
// object goes out of scope (set VIDMILL_KEEP_TEMP=1 to keep it for debugging).

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/flags.h"

namespace vidmill::test {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "vidmill-test-XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    if (made == nullptr) {
      std::abort();
    }
    path_ = made;
  }
  ~TempDir() {
    if (!EnvironmentSwitchOn("VIDMILL_KEEP_TEMP")) {
      std::error_code ignored;
      std::filesystem::remove_all(path_, ignored);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace vidmill::test
