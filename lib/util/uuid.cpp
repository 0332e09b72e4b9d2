#include "util/uuid.hpp"

#include <unistd.h>

#include <cstdint>
#include <random>

namespace celeriac::util {
namespace {

struct generator {
  pid_t pid = -1;
  std::mt19937_64 rng;

  std::uint64_t next() {
    // A forked child must not repeat its parent's sequence.
    if (pid != ::getpid()) {
      std::random_device rd;
      std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), static_cast<unsigned>(::getpid())};
      rng.seed(seq);
      pid = ::getpid();
    }
    return rng();
  }
};

}  // namespace

std::string uuid4() {
  thread_local generator gen;
  std::uint64_t hi = gen.next(), lo = gen.next();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string s(36, '-');
  int pos = 0;
  auto put = [&](std::uint64_t v, int nibbles) {
    for (int k = nibbles - 1; k >= 0; --k) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      s[pos++] = hex[(v >> (k * 4)) & 0xF];
    }
  };
  put(hi, 16);
  put(lo, 16);
  return s;
}

bool is_uuid(std::string_view s) noexcept {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace celeriac::util
