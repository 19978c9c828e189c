#include <cstdio>

#include "app/commands.h"

namespace vidmill::app {

int RunUser(int argc, char** argv) {
  std::fputs("vidmill user: not implemented yet\n", stderr);
  return 2;
}

int RunTeam(int argc, char** argv) {
  std::fputs("vidmill team: not implemented yet\n", stderr);
  return 2;
}

}  // namespace vidmill::app
