#pragma once
// PostgreSQL back end (libpq), for several API and worker machines on one
// database.

#include <memory>
#include <string>

#include "storage/database.h"

namespace vidmill::storage {

Result<std::unique_ptr<Database>> OpenPostgresDatabase(const std::string& url);

}  // namespace vidmill::storage
