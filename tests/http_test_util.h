// One HTTP/1.1 request over a plain socket, as a scraper, a load balancer or
// an auditor's browser sends it to accountabled's metrics listener; for the
// metrics and live-report tests.
//
//   test::HttpReply r = test::Http(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
//   CHECK(r.status == 200);
//
// Uses Catch2 (REQUIRE), so only the test binary includes it.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <string>

#include "tests/server_test_util.h"

namespace accountable::test {

struct HttpReply {
  int status = 0;
  std::string head, body;  // head: the status line and headers, each ending in \r\n
  bool HasHeader(const std::string& line) const { return head.find("\r\n" + line + "\r\n") != std::string::npos; }
};

// Reads until the server closes (requests say Connection: close) or
// nothing arrives for idle_ms.
inline HttpReply Http(uint16_t port, const std::string& request, int idle_ms = 10000) {
  RawConn c(port);
  REQUIRE(c.connected());
  REQUIRE(c.Send(request));
  std::string all;
  char buf[65536];
  pollfd p{c.fd(), POLLIN, 0};
  while (::poll(&p, 1, idle_ms) == 1) {
    const ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  HttpReply r;
  REQUIRE(all.rfind("HTTP/1.1 ", 0) == 0);
  r.status = std::stoi(all.substr(9, 3));
  const auto at = all.find("\r\n\r\n");
  REQUIRE(at != std::string::npos);
  r.head = all.substr(0, at + 2);
  r.body = all.substr(at + 4);
  return r;
}

}  // namespace accountable::test
