#include "resp/error.hpp"

#include <string>

namespace celeriac::resp {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "celeriac.resp"; }

  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::invalid_type_byte:
        return "RESP value starts with an unknown type byte; the peer is not speaking RESP";
      case error::missing_crlf:
        return "RESP line or bulk payload is not terminated by CRLF";
      case error::bad_integer:
        return "RESP integer, length or count field is not a valid integer";
      case error::bad_length:
        return "RESP bulk length or aggregate count is negative";
      case error::bulk_too_large:
        return "RESP bulk string exceeds the 512 MiB limit";
      case error::aggregate_too_large:
        return "RESP aggregate exceeds the element-count limit";
      case error::nesting_too_deep:
        return "RESP aggregates are nested deeper than the parser allows";
      case error::line_too_long:
        return "RESP header or simple-string line exceeds the line-length limit";
      case error::bad_double:
        return "RESP3 double is not a number";
      case error::bad_boolean:
        return "RESP3 boolean is neither 't' nor 'f'";
      case error::bad_big_number:
        return "RESP3 big number is not an optionally signed run of digits";
      case error::bad_verbatim:
        return "RESP3 verbatim string lacks its 'xxx:' format prefix";
      case error::streamed_unsupported:
        return "RESP3 streamed strings and aggregates are not supported";
      case error::server_error:
        return "Redis replied with an error";
      case error::nil_value:
        return "Redis replied with nil";
      case error::wrong_type:
        return "Redis reply has an unexpected type";
    }
    return "unknown celeriac.resp error " + std::to_string(ev);
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

boost::system::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace celeriac::resp
