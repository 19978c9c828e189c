#include "app/server_flags.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "common/log.h"

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
  // Before anything is made on disk: `mysql://…` must not make the directories.
  RETURN_IF_ERROR(storage::CheckDatabaseUrlScheme(flags.Get("database")));
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

Result<std::unique_ptr<storage::Database>> OpenDatabaseWhenUp(const std::string& url,
                                                              const std::string& who) {
  std::chrono::seconds pause(1);
  while (true) {
    Result<std::unique_ptr<storage::Database>> db = storage::OpenDatabase(url);
    if (db.ok() || db.status().code() != Code::kUnavailable) return db;
    std::fprintf(stderr, "%s: %s; retrying in %d s\n", who.c_str(), db.status().message().c_str(),
                 static_cast<int>(pause.count()));
    // The pause listens for SIGTERM and SIGINT (blocked by the callers for
    // their own sigwait): a node told to stop while it waits stops (rather
    // than waiting on, then starting and stopping once the database is back).
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    const timespec wait{static_cast<time_t>(pause.count()), 0};
    const int received = sigtimedwait(&stop, nullptr, &wait);
    if (received == SIGTERM || received == SIGINT) {
      return Status::Cancelled("stopped while waiting for the database");
    }
    pause = std::min(pause * 2, std::chrono::seconds(10));
  }
}

int StartFailureExitCode(const Status& status) {
  if (status.code() == Code::kCancelled) return 0;
  return status.code() == Code::kInvalidArgument ? 2 : 1;
}

Status CheckMediaDirMatchesDatabase(storage::Database& db, storage::BlobStore& blobs,
                                    const std::string& media_dir) {
  storage::Rows rows;
  Status queried = db.Run([&](storage::Session& session) -> Status {
    ASSIGN_OR_RETURN(rows, session.Query("SELECT id FROM videos WHERE parent_id IS NULL AND "
                                         "upload_status = 'DONE' "
                                         "ORDER BY upload_updated_at DESC LIMIT 5",
                                         {}));
    return Status::Ok();
  });
  if (queried.code() == Code::kUnavailable) {
    // The database is away for now: a node must still start (and wait for it
    // as it does for everything else), so the check is skipped, not failed.
    // Without its word only a root holding video directories is adopted; an
    // empty one stays unmarked (503s, /readyz not ready) until a restart.
    LogWarning("media-dir check skipped: " + queried.ToString());
    if (Status adopted = blobs.Adopt(/*database_has_media=*/true); !adopted.ok()) {
      LogWarning("media store not in use: " + adopted.ToString());
    }
    return Status::Ok();
  }
  RETURN_IF_ERROR(queried);
  if (Status adopted = blobs.Adopt(/*database_has_media=*/!rows.empty()); !adopted.ok()) {
    return Status::InvalidArgument("--media-dir " + media_dir + ": " + adopted.message());
  }
  if (rows.empty()) return Status::Ok();
  for (const storage::Row& row : rows) {
    ASSIGN_OR_RETURN(bool found, blobs.Exists(row.Text(0), storage::kOriginalBlob));
    if (found) return Status::Ok();
  }
  return Status::InvalidArgument(
      "--media-dir " + media_dir + " does not hold this database's media: none of the " +
      std::to_string(rows.size()) + " most recent uploads (video " + rows[0].Text(0) +
      " …) is there. Every node must use the same shared media directory (is it mounted?)");
}

}  // namespace vidmill::app
