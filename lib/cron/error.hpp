#pragma once
// The error half of every fallible function in celeriac::cron: a message
// written for the person who typed the schedule, naming what was wrong and
// how to fix it. boost::system::result carries it; error_code cannot.

#include <string>

#include <boost/system/result.hpp>

namespace celeriac::cron {

struct error {
  std::string message;  // e.g. `minute field "61": 61 is out of range 0-59`
};

template <class T>
using result = boost::system::result<T, error>;

// Lets result<T>::value() throw std::invalid_argument(message) on an error,
// for callers at an edge that prefer exceptions. Found by ADL.
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

}  // namespace celeriac::cron
