#include "server/client/failover_client.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <random>
#include <thread>

namespace accountable {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kWriterAt = "writer at ";
constexpr size_t kAddressBytesMax = 256;

bool Retryable(const Status& s) { return s.Is(Status::Code::kNotWriter) || s.Is(Status::Code::kIOError); }

}  // namespace

std::string RandomRequestId() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 4; ++i) {
    uint32_t v = rd();
    for (int j = 0; j < 8; ++j, v >>= 4) id.push_back(kHex[v & 15]);
  }
  return id;
}

FailoverClient::FailoverClient(FailoverOptions o) : opt_(std::move(o)) {
  assert(!opt_.addresses.empty() && opt_.addresses.size() <= FailoverOptions::kAddressesMax);
  assert(opt_.attempts_max >= 1);
  address_ = opt_.addresses.front();
}

std::string FailoverClient::NamedWriter(const std::string& message) {
  const size_t at = message.find(kWriterAt);
  if (at == std::string::npos) return {};
  const size_t from = at + kWriterAt.size();
  size_t end = message.find_first_of(" ;,)", from);
  if (end == std::string::npos) end = message.size();
  std::string a = message.substr(from, end - from);
  if (a.size() > kAddressBytesMax || a.find(':') == std::string::npos) return {};
  return a;
}

Status FailoverClient::Connect(const std::string& address, int64_t receive_timeout_ms) {
  client_.reset();
  address_ = address;
  return Client::Connect(address, opt_.token, opt_.tls, &client_, opt_.frame_bytes_max, receive_timeout_ms);
}

void FailoverClient::Next(const std::string& named) {
  client_.reset();
  ++reconnects_;
  if (!named.empty() && named != address_) {
    address_ = named;
    return;
  }
  next_index_ = (next_index_ + 1) % opt_.addresses.size();
  address_ = opt_.addresses[next_index_];
}

int64_t FailoverClient::ReceiveTimeoutMs(Clock::time_point deadline) const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  const int64_t budget_ms = std::max<int64_t>(left, 1);
  return opt_.receive_timeout_ms > 0 ? std::min(opt_.receive_timeout_ms, budget_ms) : budget_ms;
}

Status FailoverClient::Call(wire::Body type, const Client::BodyFn& body, Client::Reply* out,
                            const std::string& request_id) {
  const std::string rid = request_id.empty() ? RandomRequestId() : request_id;
  const auto deadline = Clock::now() + std::chrono::milliseconds(opt_.total_timeout_ms);
  Status last;
  for (int attempt = 0; attempt < opt_.attempts_max && Clock::now() < deadline; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(opt_.retry_pause_ms));
    const int64_t wait_ms = ReceiveTimeoutMs(deadline);
    Status s = client_ ? Status::OK() : Connect(address_, wait_ms);
    if (s.ok()) {
      client_->SetReceiveTimeout(wait_ms);
      s = client_->Call(type, body, out, rid);
    }
    if (!s.ok()) {  // refused connection or broken one: the copy may be gone
      last = Status::IOError(address_ + ": " + s.message());
      Next("");
      continue;
    }
    if (!Retryable(out->status)) return Status::OK();
    last = Status::OK();
    // An io_error answer (a publish that timed out, say) is retried on the
    // same copy; a refusal goes where it points.
    if (out->status.Is(Status::Code::kNotWriter)) Next(NamedWriter(out->status.message()));
  }
  return last;
}

}  // namespace accountable
