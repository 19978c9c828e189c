#pragma once
// PostgreSQL back end (libpq), for several API and worker machines on one
// database.
//
// URL: anything libpq accepts as a URI, "postgresql://user:pass@host:port/db?…",
// plus one Vidmill parameter, `pool_max_conns=N` (default 8), the most
// connections this process keeps open; it is removed before the URL reaches
// libpq. Connections default to connect_timeout=5, client_encoding=UTF8 and TCP
// keepalives; the URL's own parameters win.
//
// Semantics, next to SQLite's:
// * Transaction runs at READ COMMITTED (each statement sees what committed
//   before it started, so a statement that waited for a lock sees the winner's
//   rows). Writers are NOT serialised as on SQLite: a read-then-write must lock
//   what it read (SELECT … FOR UPDATE, dialect() == kPostgres) or write
//   conditionally (UPDATE … WHERE state = ? and check the count).
//   Serialization failures (40001) and deadlocks (40P01) are retried with
//   backoff, as is a connection lost before COMMIT was sent (the server rolled
//   the transaction back). A connection lost during COMMIT is Unavailable with
//   "outcome unknown": it may or may not have committed.
// * Run is autocommit. It is retried once only when its first statement found
//   a pooled connection dead (the server restarted while it sat idle).
// * Parameters: int64 → int8, double → float8, text → text, NULL untyped (the
//   server infers it from context, so `? IS NULL` needs CAST(? AS TEXT)). Text
//   must be valid UTF-8 without NUL bytes (else InvalidArgument).
// * Results: int2/4/8 and oid → int64; float4/8 and numeric → double; bool →
//   0/1; everything else → text.
// * Errors: class 23 (unique, foreign key, not null, check) → Conflict;
//   connection failures, 57P01–57P03 (shutdown, recovery) and class 53 (out of
//   resources) → Unavailable("database unavailable: …"), the connection is
//   discarded and the next call reconnects (a failed connect says only
//   "cannot connect to the database server": libpq's reason, which names host,
//   port and user, goes to the log, at most every 5 s); class 22 (bad data) →
//   InvalidArgument; anything else → Internal.
//
// Statements are prepared once per connection and cached (per SQL text and
// parameter types).

#include <memory>
#include <string>
#include <string_view>

#include "storage/database.h"

namespace vidmill::storage {

// Connects (the server must answer) without applying migrations; OpenDatabase
// applies them.
Result<std::unique_ptr<Database>> OpenPostgresDatabase(const std::string& url);

// Rewrites `?` placeholders to $1, $2, … outside string literals ('…', E'…'),
// quoted identifiers ("…"), dollar-quoted strings ($tag$…$tag$) and comments.
// Sets *placeholder_count to the number rewritten.
std::string RewritePlaceholders(std::string_view sql, int* placeholder_count);

// The URL with `key` removed from its query string, and key's value (empty
// when absent) in *value.
std::string TakeUrlParameter(std::string_view url, std::string_view key, std::string* value);

}  // namespace vidmill::storage
