#pragma once
// The error type of csv's fallible functions: a message for a person (what
// happened, to what, what to do), carried by boost::system::result.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <string>

namespace celeriac::csv {

struct message_error {
  std::string message;
};

// Called by result<T, message_error>::value() on an error: throws
// std::runtime_error(e.message). Found by argument-dependent lookup.
[[noreturn]] void throw_exception_from_error(const message_error& e, const boost::source_location& loc);

template <typename T>
using result = boost::system::result<T, message_error>;

}  // namespace celeriac::csv
