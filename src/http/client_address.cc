#include "http/client_address.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <charconv>

#include "http/message.h"

namespace vidmill::http {

namespace ip = boost::asio::ip;

namespace {

// The elements of a comma-separated list, trimmed; empty elements are skipped
// (HTTP list syntax allows them).
std::vector<std::string_view> SplitList(std::string_view list) {
  std::vector<std::string_view> elements;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view element = TrimOws(list.substr(start, comma - start));
    if (!element.empty()) elements.push_back(element);
    start = comma + 1;
  }
  return elements;
}

// Parses exactly an IP address; an IPv4-mapped IPv6 address comes back as
// IPv4. Zone ids are refused: no forwarded address or configured range has one.
std::optional<ip::address> ParseAddress(std::string_view text) {
  if (text.empty() || text.find('%') != std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  ip::address address = ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::address(ip::make_address_v4(ip::v4_mapped, address.to_v6()));
  }
  return address;
}

ip::address AddressOf(bool is_v4, const std::array<uint8_t, 16>& bytes) {
  if (is_v4) {
    return ip::address_v4(ip::address_v4::bytes_type{bytes[0], bytes[1], bytes[2], bytes[3]});
  }
  return ip::address_v6(bytes);
}

std::array<uint8_t, 16> BytesOf(const ip::address& address) {
  std::array<uint8_t, 16> bytes{};
  if (address.is_v4()) {
    ip::address_v4::bytes_type v4 = address.to_v4().to_bytes();
    std::copy(v4.begin(), v4.end(), bytes.begin());
  } else {
    bytes = address.to_v6().to_bytes();
  }
  return bytes;
}

// Whether the first `prefix_bits` bits of `a` and `b` are equal.
bool PrefixEqual(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b,
                 int prefix_bits) {
  int whole = prefix_bits / 8;
  for (int byte_idx = 0; byte_idx < whole; ++byte_idx) {
    if (a[byte_idx] != b[byte_idx]) return false;
  }
  int rest = prefix_bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

Status InvalidEntry(std::string_view entry, const std::string& why) {
  std::string message = "'";
  message.append(entry).append("' ").append(why);
  return Status::InvalidArgument(std::move(message));
}

// Splits `text` on `separator` outside double-quoted strings (RFC 7239's
// quoted values may hold either separator).
std::vector<std::string_view> SplitOutsideQuotes(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"') {
      quoted = !quoted;
    } else if (text[i] == '\\' && quoted) {
      ++i;
    } else if (text[i] == separator && !quoted) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(text.substr(start));
  return parts;
}

// A forwarded node as an address's text: unquoted, without the brackets of
// an IPv6 node or a port. Anything else comes back as it is (no address).
std::string NodeAddressText(std::string_view value) {
  std::string node;
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    for (size_t i = 1; i + 1 < value.size(); ++i) {
      if (value[i] == '\\' && i + 2 < value.size()) ++i;
      node += value[i];
    }
  } else {
    node = std::string(value);
  }
  if (!node.empty() && node.front() == '[') {
    size_t close = node.find(']');
    if (close == std::string::npos) return node;
    std::string_view rest = std::string_view(node).substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return node;
    return node.substr(1, close - 1);
  }
  size_t colon = node.find(':');
  if (colon != std::string::npos && node.find(':', colon + 1) == std::string::npos) {
    return node.substr(0, colon);  // IPv4 with a port
  }
  return node;
}

}  // namespace

Result<TrustedProxies> TrustedProxies::Parse(std::string_view list) {
  TrustedProxies trusted;
  for (std::string_view entry : SplitList(list)) {
    size_t slash = entry.find('/');
    std::string_view address_text = entry.substr(0, slash);
    if (address_text.find('%') != std::string_view::npos) {
      return InvalidEntry(entry, "has a zone id; give the address or range without it");
    }
    // Parsed without unmapping first: the prefix of a mapped entry counts
    // IPv6 bits.
    boost::system::error_code ec;
    ip::address address = ip::make_address(std::string(address_text), ec);
    if (ec) {
      return InvalidEntry(entry, "is not an IP address or CIDR range (like 10.0.0.0/8 or ::1)");
    }
    int max_bits = address.is_v4() ? 32 : 128;
    int prefix_bits = max_bits;
    if (slash != std::string_view::npos) {
      std::string_view digits = entry.substr(slash + 1);
      bool numeric = !digits.empty() && digits.size() <= 3 &&
                     digits.find_first_not_of("0123456789") == std::string_view::npos;
      if (!numeric) {
        return InvalidEntry(entry, "has no valid prefix length after '/'");
      }
      std::from_chars(digits.data(), digits.data() + digits.size(), prefix_bits);
      if (prefix_bits > max_bits) {
        return InvalidEntry(entry,
                            "has a prefix longer than " + std::to_string(max_bits) + " bits");
      }
    }
    Range range;
    range.is_v4 = address.is_v4();
    range.network = BytesOf(address);
    range.prefix_bits = prefix_bits;
    std::array<uint8_t, 16> masked{};
    for (int bit = 0; bit < prefix_bits; ++bit) {
      masked[bit / 8] |= range.network[bit / 8] & static_cast<uint8_t>(0x80 >> (bit % 8));
    }
    if (masked != range.network) {
      return InvalidEntry(entry, "has bits set past its prefix; the range is " +
                                     AddressOf(range.is_v4, masked).to_string() + "/" +
                                     std::to_string(prefix_bits));
    }
    if (address.is_v6() && address.to_v6().is_v4_mapped() && prefix_bits >= 96) {
      ip::address_v4 v4 = ip::make_address_v4(ip::v4_mapped, address.to_v6());
      range.is_v4 = true;
      range.network = BytesOf(v4);
      range.prefix_bits = prefix_bits - 96;
    }
    trusted.ranges_.push_back(range);
  }
  return trusted;
}

bool TrustedProxies::Contains(std::string_view text) const {
  std::optional<ip::address> address = ParseAddress(text.substr(0, text.find('%')));
  if (!address) return false;
  std::array<uint8_t, 16> bytes = BytesOf(*address);
  for (const Range& range : ranges_) {
    if (range.is_v4 == address->is_v4() && PrefixEqual(range.network, bytes, range.prefix_bits)) {
      return true;
    }
  }
  return false;
}

std::string TrustedProxies::ToString() const {
  std::string out;
  for (const Range& range : ranges_) {
    if (!out.empty()) out += ",";
    out +=
        AddressOf(range.is_v4, range.network).to_string() + "/" + std::to_string(range.prefix_bits);
  }
  return out;
}

std::optional<std::string> CanonicalAddress(std::string_view text) {
  std::optional<ip::address> address = ParseAddress(text);
  if (!address) return std::nullopt;
  return address->to_string();
}

std::string CanonicalPeer(std::string_view peer) {
  size_t percent = peer.find('%');
  std::optional<std::string> address = CanonicalAddress(peer.substr(0, percent));
  if (!address) return std::string(peer);
  if (percent != std::string_view::npos) address->append(peer.substr(percent));
  return *address;
}

std::vector<std::string> ForwardedForNodes(const std::vector<std::string>& forwarded) {
  std::vector<std::string> nodes;
  for (const std::string& line : forwarded) {
    for (std::string_view element : SplitOutsideQuotes(line, ',')) {
      if (TrimOws(element).empty()) continue;  // list syntax allows empty elements
      std::string node = "unknown";
      for (std::string_view pair : SplitOutsideQuotes(element, ';')) {
        pair = TrimOws(pair);
        size_t equals = pair.find('=');
        if (equals == std::string_view::npos) continue;
        std::string name(TrimOws(pair.substr(0, equals)));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (name == "for") node = NodeAddressText(TrimOws(pair.substr(equals + 1)));
      }
      // ClientAddress splits its entries on commas and skips empty ones; a
      // node must stay one entry, and an empty one must stop the walk.
      if (node.empty() || node.find(',') != std::string::npos) node = "unknown";
      nodes.push_back(node);
    }
  }
  return nodes;
}

std::string ClientAddress(std::string_view peer, const std::vector<std::string>& forwarded_for,
                          const TrustedProxies& trusted) {
  std::string client = CanonicalPeer(peer);
  if (trusted.empty() || !trusted.Contains(peer)) return client;

  std::vector<std::string_view> entries;
  for (const std::string& line : forwarded_for) {
    std::vector<std::string_view> more = SplitList(line);
    entries.insert(entries.end(), more.begin(), more.end());
  }
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    std::optional<std::string> address = CanonicalAddress(*it);
    if (!address) return client;
    if (!trusted.Contains(*address)) return *address;
  }
  // Every hop is trusted: the leftmost, added by a trusted proxy, is the
  // furthest known.
  if (!entries.empty()) return *CanonicalAddress(entries.front());
  return client;
}

}  // namespace vidmill::http
