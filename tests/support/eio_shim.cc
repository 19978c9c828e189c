// An LD_PRELOAD library for tests of I/O faults: while the file that
// VIDMILL_TEST_EIO_TRIGGER names exists, pread of a file named "original"
// (an uploaded video's media) fails with EIO, as a failing disk or a network
// share does. Everything else reads as usual.

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

bool Failing(int fd) {
  const char* trigger = std::getenv("VIDMILL_TEST_EIO_TRIGGER");
  if (trigger == nullptr || ::access(trigger, F_OK) != 0) return false;
  char link[64];
  char path[PATH_MAX];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const ssize_t length = ::readlink(link, path, sizeof(path) - 1);
  if (length <= 0) return false;
  path[length] = '\0';
  const char* name = std::strrchr(path, '/');
  return name != nullptr && std::strcmp(name, "/original") == 0;
}

template <typename Offset>
ssize_t Read(const char* symbol, int fd, void* buffer, size_t count, Offset offset) {
  using Function = ssize_t (*)(int, void*, size_t, Offset);
  static auto real = reinterpret_cast<Function>(::dlsym(RTLD_NEXT, symbol));
  if (Failing(fd)) {
    errno = EIO;
    return -1;
  }
  return real(fd, buffer, count, offset);
}

}  // namespace

extern "C" ssize_t pread(int fd, void* buffer, size_t count, off_t offset) {
  return Read("pread", fd, buffer, count, offset);
}

extern "C" ssize_t pread64(int fd, void* buffer, size_t count, off64_t offset) {
  return Read("pread64", fd, buffer, count, offset);
}
