#include "redis/script.hpp"

#include "redis/error.hpp"

#include <boost/system/system_error.hpp>

#include <openssl/sha.h>

namespace celeriac::redis {

script::script(std::string source) : source_(std::move(source)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  ::SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), digest);
  static constexpr char hex[] = "0123456789abcdef";
  sha1_.reserve(2 * SHA_DIGEST_LENGTH);
  for (unsigned char byte : digest) {
    sha1_ += hex[byte >> 4];
    sha1_ += hex[byte & 0x0f];
  }
}

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
