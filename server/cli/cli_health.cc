// `accountable health`: asks accountabled's metrics listener for /readyz
// (or /healthz with --live), the same plain HTTP GET a load balancer makes,
// so a script and the balancer agree on what "ready" means. Exit 0 on 200,
// 1 on anything else (503, unreachable, timeout, not HTTP), 2 on bad usage.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "server/cli/cli_commands.h"

namespace accountable::cli {

namespace {

constexpr size_t kResponseBytesMax = 4096;  // a status line and a short reason; the rest is not read

struct HealthFlags {
  std::string metrics;
  bool live = false;
  int64_t timeout_ms = 2000;
};

// sockaddr for an IPv4 or IPv6 "HOST:PORT" (IPv6 in brackets).
bool ParseAddress(const std::string& text, sockaddr_storage* sa, socklen_t* len) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  const std::string p = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || port == 0 || port > 65535) return false;
  std::memset(sa, 0, sizeof *sa);
  auto* v4 = reinterpret_cast<sockaddr_in*>(sa);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(sa);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// The whole response (at most kResponseBytesMax), or an error naming the step that failed.
Status Get(const sockaddr_storage& sa, socklen_t len, const std::string& path, int64_t timeout_ms, std::string* out) {
  const int fd = ::socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
  timeval tv{static_cast<time_t>(timeout_ms / 1000), static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
  Status s;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
    s = Status::IOError(std::string("connect: ") + std::strerror(errno));
  } else {
    const std::string req = "GET " + path + " HTTP/1.0\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      s = Status::IOError("send: request not sent");
    char buf[512];
    while (s.ok() && out->size() < kResponseBytesMax) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0) break;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) s = Status::IOError(std::string("receive: ") + std::strerror(errno));
      else out->append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return s;
}

int RunHealth(const Globals& g, const HealthFlags& f) {
  sockaddr_storage sa;
  socklen_t len = 0;
  if (!ParseAddress(f.metrics, &sa, &len))
    return PrintUsageError(g, "--metrics: expected IP:PORT of accountabled's --metrics-listen");
  const std::string path = f.live ? "/healthz" : "/readyz";
  std::string response;
  Status s = Get(sa, len, path, f.timeout_ms, &response);
  const bool http = response.rfind("HTTP/1.", 0) == 0 && response.size() >= 12;
  const int status = http ? std::atoi(response.substr(9, 3).c_str()) : 0;
  const auto body_at = response.find("\r\n\r\n");
  std::string reason = body_at == std::string::npos ? "" : response.substr(body_at + 4);
  while (!reason.empty() && (reason.back() == '\n' || reason.back() == '\r')) reason.pop_back();
  if (!s.ok() && !http) reason = s.message();
  else if (!http) reason = "not an HTTP response";
  if (g.json) {
    std::cout << nlohmann::json{{"ok", status == 200}, {"status", status}, {"path", path}, {"reason", reason}}.dump()
              << "\n";
  } else {
    std::cout << (status == 200 ? "ok" : "not ok") << " " << path << " " << status << " " << reason << "\n";
  }
  return status == 200 ? 0 : 1;
}

}  // namespace

void AttachHealthCommand(CLI::App& app, Globals& g, Selected* selected) {
  auto f = std::make_shared<HealthFlags>();
  auto* h = app.add_subcommand("health", "ask accountabled's metrics listener whether it is ready (exit 0) or not (1)");
  h->add_option("--metrics", f->metrics, "IP:PORT given to accountabled --metrics-listen")->required();
  h->add_flag("--live", f->live, "ask /healthz (process alive) instead of /readyz (ready for writes)");
  h->add_option("--timeout-ms", f->timeout_ms, "for connecting and for each read")->check(InRange<int64_t>(1, 60000))
      ->capture_default_str();
  h->callback([&g, selected, f] { *selected = [&g, f] { return RunHealth(g, *f); }; });
}

}  // namespace accountable::cli
