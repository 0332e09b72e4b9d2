#include "redis/request.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace celeriac::redis {
namespace detail {
namespace {

template <typename N>
void append_via_chars(std::string& out, N n) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  (void)ec;  // 32 bytes hold any integer and any shortest double
  resp::append_bulk(out, std::string_view(buf, static_cast<std::size_t>(end - buf)));
}

}  // namespace

void append_number(std::string& out, long long n) { append_via_chars(out, n); }
void append_number(std::string& out, unsigned long long n) { append_via_chars(out, n); }
void append_number(std::string& out, double d) { append_via_chars(out, d); }

}  // namespace detail

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);  // command names are ASCII letters
         });
}

}  // namespace

void request::count_replies(std::string_view name, std::size_t nargs) {
  // Pub/sub commands answer once per channel instead of once per command.
  constexpr std::array<std::string_view, 3> subscribe = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"};
  constexpr std::array<std::string_view, 3> unsubscribe = {"UNSUBSCRIBE", "PUNSUBSCRIBE",
                                                          "SUNSUBSCRIBE"};
  const auto matches = [name](std::string_view c) { return iequals(name, c); };
  if (std::any_of(subscribe.begin(), subscribe.end(), matches)) {
    pubsub_ = true;
    replies_ += std::max<std::size_t>(nargs, 1);  // no channel: one "wrong number of args" error
  } else if (std::any_of(unsubscribe.begin(), unsubscribe.end(), matches)) {
    if (nargs == 0) {
      throw std::invalid_argument(std::string(name) +
                                  " without channels has an unknown number of replies; name the "
                                  "channels to leave");
    }
    pubsub_ = true;
    replies_ += nargs;
  } else {
    ++replies_;
  }
  ++commands_;
}

void request::clear() noexcept {
  payload_.clear();
  replies_ = 0;
  commands_ = 0;
  pubsub_ = false;
}

}  // namespace celeriac::redis
