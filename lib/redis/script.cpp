#include "redis/script.hpp"

#include "redis/error.hpp"

#include <boost/system/system_error.hpp>

#include <boost/uuid/detail/sha1.hpp>

#include <cstdint>
#include <type_traits>

namespace celeriac::redis {

namespace {

// Boost.UUID's SHA-1 rather than OpenSSL's: a worker child computes its
// scripts' names when it starts, and OpenSSL's digest goes through its
// provider machinery, which faulted in about a megabyte of libcrypto into
// every otherwise idle child (docs/benchmarks.md, idle child RSS). Boost's
// is a plain function with no set-up. It lives in a detail namespace;
// Boost 1.86 changed its digest from five 32-bit words to 20 bytes, and
// both forms are handled here, so a Boost upgrade cannot silently change
// the names.
std::string sha1_hex(std::string_view bytes) {
  using boost::uuids::detail::sha1;
  sha1 h;
  h.process_bytes(bytes.data(), bytes.size());
  sha1::digest_type digest;
  h.get_digest(digest);
  static_assert(sizeof(digest) == 20, "SHA-1 digests are 20 bytes");

  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(40);
  auto put = [&](std::uint8_t byte) {
    out += hex[byte >> 4];
    out += hex[byte & 0x0f];
  };
  using word = std::remove_extent_t<sha1::digest_type>;
  for (word w : digest) {
    // Words are big-endian parts of the digest (Boost <= 1.85); bytes are
    // the digest itself (Boost >= 1.86).
    for (int shift = 8 * (static_cast<int>(sizeof(word)) - 1); shift >= 0; shift -= 8) {
      put(static_cast<std::uint8_t>(w >> shift));
    }
  }
  return out;
}

}  // namespace

script::script(std::string source) : source_(std::move(source)), sha1_(sha1_hex(source_)) {}

request& push_evalsha(request& req, const script& s, std::initializer_list<std::string_view> keys,
                      std::initializer_list<std::string_view> args) {
  return req.push("EVALSHA", s.sha1(), keys.size(), keys, args);
}

bool is_noscript(const resp::value& reply) noexcept { return reply.error_kind() == "NOSCRIPT"; }

boost::asio::awaitable<void> async_load(connection& conn, const script& s) {
  request req;
  req.push("SCRIPT", "LOAD", s.source());
  const auto replies = co_await conn.async_exec(req);
  const resp::value& reply = replies.at(0);
  if (reply.is_error()) {
    throw boost::system::system_error(
        resp::error::server_error,
        "Redis refused SCRIPT LOAD of script " + s.sha1() + ": " + std::string(reply.error_message()));
  }
  if (reply.text() != s.sha1()) {
    throw boost::system::system_error(error::unexpected_reply,
                                      "SCRIPT LOAD returned " + reply.to_debug_string() +
                                          ", expected the SHA1 " + s.sha1());
  }
}

namespace detail {

boost::asio::awaitable<resp::value> async_eval_request(connection& conn, const script& s,
                                                       request evalsha) {
  auto replies = co_await conn.async_exec(evalsha);
  if (!is_noscript(replies.at(0))) co_return std::move(replies[0]);
  co_await async_load(conn, s);
  replies = co_await conn.async_exec(evalsha);
  co_return std::move(replies.at(0));
}

}  // namespace detail

boost::asio::awaitable<resp::value> async_eval(connection& conn, const script& s,
                                               std::initializer_list<std::string_view> keys,
                                               std::initializer_list<std::string_view> args) {
  request req;
  push_evalsha(req, s, keys, args);
  return detail::async_eval_request(conn, s, std::move(req));
}

}  // namespace celeriac::redis
