#pragma once
// Page requests for the newest-first listings of projects and videos.
//
// Listings are ordered by (created_at DESC, id DESC) and cut into pages by
// offset. An offset alone would shift when rows are added while a client
// walks the pages, so every listing is pinned to an anchor: the (created_at,
// id) of the newest row the first page saw. Rows after the anchor are left
// out of every page that carries it, so a client that follows the links it
// was given sees each row that existed when it started exactly once. Creation
// times are strictly increasing within a team (video_store.h,
// NextCreationTime), so a new row never sorts below an existing anchor.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/database.h"

namespace vidmill::videos {

inline constexpr int64_t kDefaultPageSize = 20;
inline constexpr int64_t kMaxPageSize = 100;
// Beyond this a page number is certainly past the end; rejecting it keeps the
// offset arithmetic far from overflow.
inline constexpr int64_t kMaxPage = 1'000'000'000;

struct ListAnchor {
  int64_t created_at = 0;
  std::string id;
};

struct PageRequest {
  int64_t page = 1;  // 1-based
  int64_t page_size = kDefaultPageSize;
  // Absent on a client's first request: the listing then anchors itself at
  // its newest row and reports that anchor in Page::anchor.
  std::optional<ListAnchor> anchor;
};

template <typename T>
struct Page {
  std::vector<T> items;
  int64_t total = 0;  // rows at or below the anchor, over all pages
  // The anchor used; absent only when the listing was empty and unanchored.
  std::optional<ListAnchor> anchor;

  // Pages in the listing: at least 1 (an empty listing has one empty page).
  int64_t page_count(int64_t page_size) const {
    return total == 0 ? 1 : (total + page_size - 1) / page_size;
  }
};

// InvalidArgument unless 1 ≤ page ≤ kMaxPage and 1 ≤ page_size ≤ kMaxPageSize.
Status ValidatePageRequest(const PageRequest& request);

// The SQL side of a listing, for the stores in this folder.
struct ListQuery {
  std::string table;                   // "videos" or "projects"; has id and created_at
  std::string columns;                 // the select list handed back in the rows
  std::string where;                   // a condition with `?` placeholders
  std::vector<storage::Value> params;  // for `where`
};

// One page of `query` under `request` (validated here), newest first. Three
// indexed statements: the anchor (when the request has none), the count, the page.
Result<Page<storage::Row>> ListRows(storage::Session& session, const ListQuery& query,
                                    const PageRequest& request);

}  // namespace vidmill::videos
