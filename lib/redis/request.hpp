// redis::request: a pipeline of commands, serialized as they are pushed,
// that knows how many replies it will get back.
//
//   request req;
//   req.push("SET", key, body)                 // strings...
//      .push("EXPIRE", key, 86400)             // ...and numbers
//      .push("RPUSH", queue, messages)         // ranges expand in place
//      .push("HSET", hash, field_map)          // ranges of pairs: k1 v1 k2 v2
//      .push_range("LPUSH", queue, first, last);
//   auto replies = co_await conn.async_exec(req);  // replies.size() == req.expected_replies()
#pragma once

#include "resp/serializer.hpp"

#include <charconv>
#include <concepts>
#include <cstddef>
#include <iterator>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>

namespace celeriac::redis {
namespace detail {

// One argument: a string (anything convertible to std::string_view) or a
// number (integers other than bool/char, floating point).
template <typename T>
concept scalar_arg =
    std::convertible_to<const T&, std::string_view> ||
    (std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char>) ||
    std::floating_point<T>;

// A pair of scalars (a map entry), expanded to two arguments.
template <typename T>
concept pair_arg = requires(const T& p) {
  requires scalar_arg<std::remove_cvref_t<decltype(p.first)>>;
  requires scalar_arg<std::remove_cvref_t<decltype(p.second)>>;
};

// A forward range of scalars or of pairs, expanded in place.
template <typename T>
concept range_arg = !scalar_arg<T> && std::ranges::forward_range<const T> &&
                    (scalar_arg<std::ranges::range_value_t<const T>> ||
                     pair_arg<std::ranges::range_value_t<const T>>);

// Appends a decimal or the shortest round-trip text of a double.
void append_number(std::string& out, long long n);
void append_number(std::string& out, unsigned long long n);
void append_number(std::string& out, double d);

template <scalar_arg T>
void append_scalar(std::string& out, const T& a) {
  if constexpr (std::convertible_to<const T&, std::string_view>) {
    resp::append_bulk(out, std::string_view{a});
  } else if constexpr (std::floating_point<T>) {
    append_number(out, static_cast<double>(a));
  } else if constexpr (std::is_signed_v<T>) {
    append_number(out, static_cast<long long>(a));
  } else {
    append_number(out, static_cast<unsigned long long>(a));
  }
}

}  // namespace detail

// What push() accepts for each argument.
template <typename T>
concept command_arg = detail::scalar_arg<T> || detail::range_arg<T>;

class request {
 public:
  request() = default;

  // Appends the command `name` with `args`, each a string, a number, or a
  // range of them (expanded in place; a range of pairs gives key, value,
  // key, value...). Returns *this for chaining.
  // SUBSCRIBE-family commands expect one reply per channel; calling
  // UNSUBSCRIBE or PUNSUBSCRIBE with no channel throws
  // std::invalid_argument because its reply count cannot be known.
  template <command_arg... Args>
  request& push(std::string_view name, const Args&... args) {
    const std::size_t nargs = (std::size_t{0} + ... + arg_count(args));
    count_replies(name, nargs);  // first: it may throw, leaving *this unchanged
    resp::append_array_header(payload_, 1 + nargs);
    resp::append_bulk(payload_, name);
    (append_arg(args), ...);
    return *this;
  }

  // Appends `name key *first..last`, e.g. push_range("RPUSH", queue, b, e).
  template <std::forward_iterator It, std::sentinel_for<It> S>
    requires detail::scalar_arg<std::iter_value_t<It>>
  request& push_range(std::string_view name, std::string_view key, It first, S last) {
    return push(name, key, std::ranges::subrange(first, last));
  }

  // Appends `name key elements...` for a range of strings, numbers or pairs.
  template <typename R>
    requires detail::range_arg<R>
  request& push_range(std::string_view name, std::string_view key, const R& range) {
    return push(name, key, range);
  }

  // Replies async_exec will return for this pipeline.
  std::size_t expected_replies() const noexcept { return replies_; }
  // Commands pushed so far.
  std::size_t commands() const noexcept { return commands_; }
  bool empty() const noexcept { return commands_ == 0; }
  // The serialized pipeline, ready to write.
  std::string_view payload() const noexcept { return payload_; }
  // True if the pipeline holds a (P|S)(UN)SUBSCRIBE command, whose replies
  // change the connection's subscription state.
  bool has_pubsub() const noexcept { return pubsub_; }

  // Empties the pipeline, keeping its buffer for reuse.
  void clear() noexcept;
  // Reserves `bytes` of payload to avoid regrowth for large pipelines.
  void reserve(std::size_t bytes) { payload_.reserve(bytes); }

 private:
  template <typename T>
  static std::size_t arg_count(const T& a) {
    if constexpr (detail::scalar_arg<T>) {
      return 1;
    } else {
      const auto n = static_cast<std::size_t>(std::ranges::distance(a));
      return detail::pair_arg<std::ranges::range_value_t<const T>> ? 2 * n : n;
    }
  }

  template <typename T>
  void append_arg(const T& a) {
    if constexpr (detail::scalar_arg<T>) {
      detail::append_scalar(payload_, a);
    } else {
      for (const auto& e : a) {
        if constexpr (detail::pair_arg<std::ranges::range_value_t<const T>>) {
          detail::append_scalar(payload_, e.first);
          detail::append_scalar(payload_, e.second);
        } else {
          detail::append_scalar(payload_, e);
        }
      }
    }
  }

  // Counts the command `name` with `nargs` arguments and the replies it
  // produces. Throws std::invalid_argument (changing nothing) for an
  // UNSUBSCRIBE without channels.
  void count_replies(std::string_view name, std::size_t nargs);

  std::string payload_;
  std::size_t replies_ = 0;
  std::size_t commands_ = 0;
  bool pubsub_ = false;
};

}  // namespace celeriac::redis
