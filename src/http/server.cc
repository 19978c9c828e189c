#include "http/server.h"
// Placeholder until the session code lands (next commit).
namespace vidmill::http {
class Server::Impl {};
Server::Server(ServerOptions, const Router*) {}
Server::~Server() = default;
Result<int> Server::Start() { return Status::NotImplemented("server"); }
void Server::Run() {}
void Server::Stop() {}
Result<std::string> PercentDecode(std::string_view text, bool) { return std::string(text); }
Result<std::map<std::string, std::string>> ParseQuery(std::string_view) {
  return std::map<std::string, std::string>{};
}
}  // namespace vidmill::http
