#pragma once
// The -Q option of the operator commands: "q1,q2" (pure).

#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "broker/queue_name.hpp"

namespace celeriac::admin {

struct queue_list_error {
  std::string message;  // what is wrong, naming the queue
};

// Splits on commas, drops blanks around names and repeated names; an empty
// item or an invalid name is an error. An empty text gives no queues.
boost::system::result<std::vector<broker::queue_name>, queue_list_error> parse_queue_list(std::string_view text);

}  // namespace celeriac::admin
