#include "app/server_flags.h"

#include <filesystem>

namespace vidmill::app {

std::vector<FlagSpec> StoreFlags() {
  return {
      {"data-dir", "./vidmill-data", "directory for the SQLite store and media"},
      {"database", "", "database URL: postgresql://… or a SQLite path (default <data-dir>/vidmill.db)"},
      {"media-dir", "", "media storage directory, shared by all nodes (default <data-dir>/media)"},
  };
}

Result<StoreConfig> ResolveStore(const Flags& flags) {
  StoreConfig config;
  config.data_dir = flags.Get("data-dir");
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    return Status::InvalidArgument("cannot create data dir " + config.data_dir + ": " +
                                   ec.message());
  }
  config.database_url = flags.Get("database");
  if (config.database_url.empty()) {
    config.database_url = (std::filesystem::path(config.data_dir) / "vidmill.db").string();
  }
  config.media_dir = flags.Get("media-dir");
  if (config.media_dir.empty()) {
    config.media_dir = (std::filesystem::path(config.data_dir) / "media").string();
  }
  std::filesystem::create_directories(config.media_dir, ec);
  if (ec) {
    return Status::InvalidArgument("cannot create media dir " + config.media_dir + ": " +
                                   ec.message());
  }
  return config;
}

}  // namespace vidmill::app
