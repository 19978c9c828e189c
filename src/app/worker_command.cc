#include <cstdio>

#include "app/commands.h"

namespace vidmill::app {

int RunWorker(int argc, char** argv) {
  std::fputs("vidmill worker: not implemented yet\n", stderr);
  return 2;
}

}  // namespace vidmill::app
