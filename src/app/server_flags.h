#pragma once
// The store flags every subcommand shares (--data-dir, --database,
// --media-dir) and how they resolve: the database defaults to a SQLite file
// in the data dir, media to <data-dir>/media.

#include <string>
#include <vector>

#include "common/flags.h"

namespace vidmill::app {

struct StoreConfig {
  std::string data_dir;
  std::string database_url;
  std::string media_dir;
};

std::vector<FlagSpec> StoreFlags();

// Creates the data and media directories when missing.
Result<StoreConfig> ResolveStore(const Flags& flags);

}  // namespace vidmill::app
