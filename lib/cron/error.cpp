#include "cron/error.hpp"

#include <stdexcept>

#include <boost/throw_exception.hpp>

namespace celeriac::cron {

void throw_exception_from_error(const error& e, const boost::source_location& loc) {
  boost::throw_exception(std::invalid_argument(e.message), loc);
}

}  // namespace celeriac::cron
