#pragma once
// The store flags every subcommand shares (--data-dir, --database,
// --media-dir) and how they resolve: the database defaults to a SQLite file
// in the data dir, media to <data-dir>/media.

#include <string>
#include <vector>

#include "common/flags.h"
#include "storage/blob_store.h"
#include "storage/database.h"

namespace vidmill::app {

struct StoreConfig {
  std::string data_dir;
  std::string database_url;
  std::string media_dir;
};

std::vector<FlagSpec> StoreFlags();

// Creates the data and media directories when missing.
Result<StoreConfig> ResolveStore(const Flags& flags);

// Opens the database at `url`, waiting for it while it is unavailable (a
// database host that boots after the API and worker machines): it retries
// every 1, 2, 4 … 10 s and says so on stderr as `who`; other errors (a bad
// URL, refused credentials) return at once. Without the wait the nodes would
// exit 1.
// Cancelled when SIGTERM or SIGINT arrives meanwhile (the caller blocks
// them).
Result<std::unique_ptr<storage::Database>> OpenDatabaseWhenUp(const std::string& url,
                                                              const std::string& who);

// The exit status of a command that could not start for `status`: 0 when it
// was told to stop while it waited (for its database), 2 for what its command
// line got wrong (a flag, a database URL, --listen: InvalidArgument), 1
// otherwise (a database refusing or away, a port in use).
int StartFailureExitCode(const Status& status);

// Checks that `media_dir` is the media directory of `db`: once the store
// holds an uploaded original, at least one of the most recent few must be
// found in `blobs`. A node pointed at another directory by mistake (a typo, the
// shared mount missing) would otherwise accept uploads no other node sees.
// InvalidArgument naming the directory when it is not; an empty store passes,
// and so does a database that is unavailable for now (logged). A directory
// without its marker file is adopted here (BlobStore::Adopt): Unavailable when
// it is empty but the database has media (the share not mounted).
Status CheckMediaDirMatchesDatabase(storage::Database& db, storage::BlobStore& blobs,
                                    const std::string& media_dir);

}  // namespace vidmill::app
