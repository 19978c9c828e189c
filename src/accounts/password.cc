#include "accounts/password.h"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

namespace vidmill::accounts {
namespace {

constexpr unsigned long long kOpsLimit = 2;
constexpr size_t kMemLimit = 19 * 1024 * 1024;

}  // namespace

// Holds one admitted hash for its scope.
class PasswordHasher::Turn {
 public:
  explicit Turn(PasswordHasher& hasher) : hasher_(hasher) {}
  ~Turn() { hasher_.Leave(); }
  Turn(const Turn&) = delete;
  Turn& operator=(const Turn&) = delete;

 private:
  PasswordHasher& hasher_;
};

PasswordHasher::PasswordHasher(int max_concurrent, int max_waiting)
    : max_concurrent_(std::max(1, max_concurrent)), max_waiting_(std::max(0, max_waiting)) {
  if (sodium_init() < 0) {
    throw std::runtime_error("libsodium failed to initialise");
  }
  Result<std::string> dummy = Hash("vidmill-dummy-password-for-timing");
  if (!dummy.ok()) throw std::runtime_error("cannot compute the dummy password hash");
  dummy_hash_ = *dummy;
}

Status PasswordHasher::Enter() {
  std::unique_lock lock(mu_);
  if (running_ >= max_concurrent_) {
    if (waiting_ >= max_waiting_) {
      return Status::Unavailable("too many password checks in progress; retry shortly")
          .WithRetryAfter(1);
    }
    ++waiting_;
    turn_free_.wait(lock, [this] { return running_ < max_concurrent_; });
    --waiting_;
  }
  ++running_;
  return Status::Ok();
}

void PasswordHasher::Leave() {
  {
    std::lock_guard lock(mu_);
    --running_;
  }
  turn_free_.notify_one();
}

Status PasswordHasher::ValidateNew(std::string_view password) {
  if (password.size() < kMinPasswordBytes || password.size() > kMaxPasswordBytes) {
    return Status::InvalidArgument("password must be 8 to 1024 bytes long, got " +
                                   std::to_string(password.size()));
  }
  return Status::Ok();
}

Result<std::string> PasswordHasher::Hash(std::string_view password) {
  RETURN_IF_ERROR(Enter());
  Turn turn(*this);
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), kOpsLimit, kMemLimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::Unavailable("password hashing ran out of memory").WithRetryAfter(1);
  }
  return std::string(out);
}

Result<bool> PasswordHasher::Verify(std::string_view password, const std::string& stored_hash) {
  const std::string& hash = stored_hash.empty() ? dummy_hash_ : stored_hash;
  RETURN_IF_ERROR(Enter());
  Turn turn(*this);
  bool matches = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
  return matches && !stored_hash.empty();
}

}  // namespace vidmill::accounts
