#include "csv/error.hpp"

#include <stdexcept>

namespace celeriac::csv {

void throw_exception_from_error(const message_error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

}  // namespace celeriac::csv
