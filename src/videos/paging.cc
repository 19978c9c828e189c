#include "videos/paging.h"

#include <string>
#include <utility>

namespace vidmill::videos {

Status ValidatePageRequest(const PageRequest& request) {
  if (request.page < 1 || request.page > kMaxPage) {
    return Status::InvalidArgument("page must be a whole number from 1 to " +
                                   std::to_string(kMaxPage) + " (pages start at 1)");
  }
  if (request.page_size < 1 || request.page_size > kMaxPageSize) {
    return Status::InvalidArgument("page-size must be a whole number from 1 to " +
                                   std::to_string(kMaxPageSize));
  }
  return Status::Ok();
}

Result<Page<storage::Row>> ListRows(storage::Session& session, const ListQuery& query,
                                    const PageRequest& request) {
  RETURN_IF_ERROR(ValidatePageRequest(request));
  Page<storage::Row> page;
  page.anchor = request.anchor;
  if (!page.anchor) {
    ASSIGN_OR_RETURN(storage::Rows newest,
                     session.Query("SELECT created_at, id FROM " + query.table + " WHERE " +
                                       query.where + " ORDER BY created_at DESC, id DESC LIMIT 1",
                                   query.params));
    if (newest.empty()) return page;
    page.anchor = ListAnchor{newest[0].Int(0), newest[0].Text(1)};
  }

  std::string where = "(" + query.where + ") AND (created_at < ? OR (created_at = ? AND id <= ?))";
  std::vector<storage::Value> params = query.params;
  params.emplace_back(page.anchor->created_at);
  params.emplace_back(page.anchor->created_at);
  params.emplace_back(page.anchor->id);

  ASSIGN_OR_RETURN(
      storage::Rows count,
      session.Query("SELECT COUNT(*) FROM " + query.table + " WHERE " + where, params));
  page.total = count.empty() ? 0 : count[0].Int(0);

  int64_t offset = (request.page - 1) * request.page_size;
  if (offset >= page.total) return page;
  params.emplace_back(request.page_size);
  params.emplace_back(offset);
  ASSIGN_OR_RETURN(page.items,
                   session.Query("SELECT " + query.columns + " FROM " + query.table + " WHERE " +
                                     where + " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                                 params));
  return page;
}

}  // namespace vidmill::videos
