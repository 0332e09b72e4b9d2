#include "http/error.hpp"

namespace celeriac::http {

const char* to_string(error_kind k) noexcept {
  switch (k) {
    case error_kind::connect: return "connect";
    case error_kind::timeout: return "timeout";
    case error_kind::tls: return "tls";
    case error_kind::protocol: return "protocol";
    case error_kind::closed: return "closed";
  }
  return "unknown";
}

}  // namespace celeriac::http
