#include "accounts/password.h"

#include <sodium.h>

#include <stdexcept>

namespace vidmill::accounts {
namespace {

constexpr unsigned long long kOpsLimit = 2;
constexpr size_t kMemLimit = 19 * 1024 * 1024;

// Releases a semaphore slot on scope exit.
class SlotGuard {
 public:
  explicit SlotGuard(std::counting_semaphore<256>& slots) : slots_(slots) { slots_.acquire(); }
  ~SlotGuard() { slots_.release(); }

 private:
  std::counting_semaphore<256>& slots_;
};

}  // namespace

PasswordHasher::PasswordHasher(int max_concurrent) : slots_(max_concurrent) {
  if (sodium_init() < 0) {
    throw std::runtime_error("libsodium failed to initialise");
  }
  Result<std::string> dummy = Hash("vidmill-dummy-password-for-timing");
  if (!dummy.ok()) throw std::runtime_error("cannot compute the dummy password hash");
  dummy_hash_ = *dummy;
}

Status PasswordHasher::ValidateNew(std::string_view password) {
  if (password.size() < kMinPasswordBytes || password.size() > kMaxPasswordBytes) {
    return Status::InvalidArgument("password must be 8 to 1024 bytes long, got " +
                                   std::to_string(password.size()));
  }
  return Status::Ok();
}

Result<std::string> PasswordHasher::Hash(std::string_view password) {
  char out[crypto_pwhash_STRBYTES];
  SlotGuard slot(slots_);
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), kOpsLimit, kMemLimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::Unavailable("password hashing ran out of memory");
  }
  return std::string(out);
}

bool PasswordHasher::Verify(std::string_view password, const std::string& stored_hash) {
  const std::string& hash = stored_hash.empty() ? dummy_hash_ : stored_hash;
  SlotGuard slot(slots_);
  bool matches = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
  return matches && !stored_hash.empty();
}

}  // namespace vidmill::accounts
