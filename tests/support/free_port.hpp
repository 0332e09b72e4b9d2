// free_port(): a TCP port on 127.0.0.1 that nothing listens on right now,
// for test servers. Header-only; include it from any test.
//
// The kernel picks the port (bind to port 0), so two tests running at once
// get different ports. Another process may still grab the port between
// this call and the server's own bind: callers that launch a server retry
// with a fresh port when the launch fails to bind.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace celeriac::test {

// Returns a currently free loopback port (never 6379 or 5432, the default
// ports of servers a developer may run). Throws std::runtime_error if no
// socket can be bound, which means the machine is out of ports or fds.
inline std::uint16_t free_port() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      throw std::runtime_error(std::string("free_port: socket() failed: ") + std::strerror(errno));
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    const int saved_errno = errno;
    ::close(fd);
    if (!ok) {
      throw std::runtime_error(std::string("free_port: cannot bind 127.0.0.1:0: ") +
                               std::strerror(saved_errno));
    }
    const std::uint16_t port = ntohs(addr.sin_port);
    if (port != 6379 && port != 5432) return port;
  }
  throw std::runtime_error("free_port: the kernel kept handing out reserved ports");
}

}  // namespace celeriac::test
