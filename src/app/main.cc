// vidmill: the single binary. `serve` hosts the API, `worker` runs media jobs,
// `user` and `team` administer accounts.

#include <cstdio>
#include <cstring>
#include <string>

#include "app/commands.h"

namespace {

void PrintUsage() {
  std::fputs(
      "usage: vidmill <command> [flags]\n"
      "  serve    run the HTTP API (and --workers N local worker processes)\n"
      "  worker   run media jobs from the shared queue\n"
      "  user     add|ban|unban users\n"
      "  team     add teams, add-member\n"
      "Run `vidmill <command> --help` for the flags of a command.\n",
      stderr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    PrintUsage();
    return 2;
  }
  std::string command = argv[1];
  if (command == "serve") return vidmill::app::RunServe(argc, argv);
  if (command == "worker") return vidmill::app::RunWorker(argc, argv);
  if (command == "user") return vidmill::app::RunUser(argc, argv);
  if (command == "team") return vidmill::app::RunTeam(argc, argv);
  if (command == "--help" || command == "-h" || command == "help") {
    PrintUsage();
    return 0;
  }
  std::fprintf(stderr, "vidmill: unknown command '%s'\n", command.c_str());
  PrintUsage();
  return 2;
}
