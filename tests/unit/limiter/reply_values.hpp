// Script replies built by hand, for the limiter's reply readers.
#pragma once

#include <cstdint>
#include <vector>

#include "resp/value.hpp"

namespace celeriac::test {

// An array of integers, as a Lua script's table of numbers arrives.
inline resp::value integers(std::vector<std::int64_t> ns) {
  std::vector<resp::value> items;
  for (auto n : ns) items.push_back(resp::value::make_integer(n));
  return resp::value::make_array(std::move(items));
}

}  // namespace celeriac::test
