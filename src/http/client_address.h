#pragma once
// Which address a request comes from when it may have passed through reverse
// proxies (--trusted-proxies). The TCP peer is the client, unless the peer is
// a trusted proxy: then the client is read from X-Forwarded-For. Each proxy
// appends the address it received the request from, so only the entries that
// trusted proxies added can be believed — the list is walked from the right,
// skipping addresses that are themselves trusted, and the first other one is
// the client. A client that is not behind a trusted proxy cannot choose its
// address: its X-Forwarded-For is ignored.
//
// Addresses come out in one canonical form, so that the same client always
// gets the same key (rate limiter, access log): an IPv4 address as a dotted
// quad (also when it arrived as IPv4-mapped IPv6, ::ffff:a.b.c.d), an IPv6
// address in RFC 5952 form (lower case, the longest run of zeros as ::).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vidmill::http {

// A set of addresses and CIDR ranges. Immutable once parsed; safe to share
// between threads.
class TrustedProxies {
 public:
  // Trusts nobody: X-Forwarded-For is always ignored.
  TrustedProxies() = default;

  // Parses a comma-separated list of IPv4/IPv6 addresses and CIDR ranges,
  // "127.0.0.1,10.0.0.0/8,::1" (spaces around entries are ignored; an empty
  // list trusts nobody). A range must have no bits set past its prefix
  // ("10.0.0.1/8" is refused, most likely a typo). An IPv4-mapped IPv6 entry
  // (::ffff:10.0.0.0/104) means the IPv4 range. InvalidArgument naming the
  // first invalid entry.
  static Result<TrustedProxies> Parse(std::string_view list);

  bool empty() const { return ranges_.empty(); }
  // Whether `address` (an IP address in any textual form; a zone id such as
  // %eth0 is ignored) is in one of the ranges; false for text that is not an
  // IP address.
  bool Contains(std::string_view address) const;
  // The ranges as "address/prefix", comma-separated, for the log.
  std::string ToString() const;

 private:
  struct Range {
    bool is_v4 = false;
    std::array<uint8_t, 16> network{};  // IPv4 in the first four bytes
    int prefix_bits = 0;
  };
  std::vector<Range> ranges_;
};

// The canonical form of an IP address, or nullopt when `text` is not exactly
// one (surrounding spaces, ports, brackets and zone ids like %eth0 are refused).
std::optional<std::string> CanonicalAddress(std::string_view text);

// The TCP peer's address as the socket reports it, in canonical form (an IPv4
// client of a dual-stack listener as IPv4). A zone id (link-local IPv6) is
// kept, as it tells hosts on different links apart; text that is no address
// is kept as it is.
std::string CanonicalPeer(std::string_view peer);

// The `for=` nodes of RFC 7239 Forwarded field values (every header line, in
// order), one entry per forwarded element, in X-Forwarded-For's form so that
// ClientAddress can take them: quotes, the brackets of an IPv6 node and a
// port are removed (for="[2001:db8::1]:4711" → 2001:db8::1, for=192.0.2.1:80
// → 192.0.2.1). An element without a for= parameter, an obfuscated or
// "unknown" node stays as text that is no address, so the walk stops there.
std::vector<std::string> ForwardedForNodes(const std::vector<std::string>& forwarded);

// The client address of a request that came from the TCP peer `peer` (as
// the socket reports it) with these X-Forwarded-For field values (every
// header line, in order; they form one list). Returns the canonical peer
// when it is not trusted, when the header is absent or empty, or when the
// entry to be taken is not an IP address (a proxy that writes garbage is not
// followed further). When every entry is trusted, the leftmost is the client.
std::string ClientAddress(std::string_view peer, const std::vector<std::string>& forwarded_for,
                          const TrustedProxies& trusted);

}  // namespace vidmill::http
