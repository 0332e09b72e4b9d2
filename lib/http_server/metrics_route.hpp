#pragma once
// The routes of a /metrics server: GET /metrics answers the exposition
// (text format 0.0.4), any other method there 405, any other path 404.
// A query string is ignored (Prometheus sends none; a browser may).

#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "http_server/server.hpp"

namespace celeriac::http_server {

// `render` builds the exposition text for one scrape; it may await I/O
// (Redis reads at scrape time). An exception from it becomes a 500 with
// its message (and a warning in the log), so a scrape never takes the
// process down.
using render_metrics = std::function<boost::asio::awaitable<std::string>()>;

handler metrics_handler(render_metrics render);

}  // namespace celeriac::http_server
