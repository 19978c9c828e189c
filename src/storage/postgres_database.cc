#include "storage/postgres_database.h"

namespace vidmill::storage {

Result<std::unique_ptr<Database>> OpenPostgresDatabase(const std::string& url) {
  (void)url;
  return Status::NotImplemented("the PostgreSQL back end is not built yet");
}

}  // namespace vidmill::storage
