// Internal to server/: one client connection. See server.h for the contract.
#pragma once

// Boost 1.74 awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/client/wire.h"
#include "server/daemon/dispatch.h"

namespace accountable {

class ServerImpl;

// What a worker decided about one request; applied back on the session's strand.
struct Outcome {
  std::string frame;             // response to send (may be empty), charged to the budgets
  uint64_t corr = 0;             // of the request
  bool close = false;            // protocol violation: close after sending
  wire::Role granted = wire::Role::None;  // Hello succeeded
  std::string token_digest;      // with granted: whose token, for a later reload
  uint64_t token_generation = 0; // with granted: the token set it was checked against
  wire::Body op = wire::Body::NONE;  // of the request, for the latency metric (NONE: unparsable)
  bool subscribe = false;
  uint64_t subscribe_corr = 0;
  uint64_t subscribe_from = 0;
};

class Session final : public std::enable_shared_from_this<Session> {
 public:
  // tls: the server's context for a TLS listener, null for plain TCP; the
  // session keeps it alive (a reload may replace the server's).
  Session(ServerImpl* server, boost::asio::ip::tcp::socket socket, std::string address,
          std::shared_ptr<boost::asio::ssl::context> tls);
  ~Session();
  void Start();
  void Shutdown();   // stop reading; close once in-flight responses are out
  void Wake();       // new events for a subscription

 private:
  using Timer = boost::asio::steady_timer;
  boost::asio::awaitable<void> ReadLoop();
  boost::asio::awaitable<void> Watchdog();
  boost::asio::awaitable<bool> Handshake();  // TLS only; false: close
  // One read from the transport (TLS or the plain socket) into b.
  boost::asio::awaitable<size_t> ReadSome(boost::asio::mutable_buffer b, boost::system::error_code& ec);
  enum class Read { kDone, kFailed, kOverBudget };
  // Reads a body of body_bytes into *body, charging *charged to the server's
  // budget: first what is buffered, then from the socket.
  boost::asio::awaitable<Read> ReadBody(size_t body_bytes, std::string* body, size_t* charged);
  // One read from the socket into the free end of rbuf_ (compacted first).
  boost::asio::awaitable<bool> FillSome();
  void Execute(std::string body, size_t charged);
  // Called from any thread (the ledger's writer, a worker): queues o for
  // the strand, and wakes the strand if the inbox was empty, so the answers
  // of one group commit reach the strand together.
  void Complete(Outcome o);
  void Drain();  // on the strand: applies the inbox, then writes once
  boost::asio::awaitable<void> WaitForSlot();
  void Apply(Outcome o);
  void Send(std::string frame, bool charged = false);
  void Refuse(std::string frame);  // sends a connection-level error, then stops reading
  void WriteNext();
  void Pump();
  void PumpDone(std::string frame, uint64_t next_cursor);
  void MaybeFinish();
  void Close();
  void Touch(int64_t timeout_ms);

  ServerImpl* server_;
  boost::asio::ip::tcp::socket socket_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;  // before tls_: outlives it
  // Over socket_ when the listener is TLS; reads and writes go through it.
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  // A TLS write takes small frames copied together: one record and one
  // send for many frames, as writev does for plain TCP (OpenSSL writes one
  // buffer at a time). Charged to the server's budget like rbuf_.
  std::string tls_out_;
  // Bytes received and not yet parsed: rbuf_[rpos_, rend_). One read takes
  // every frame a pipelining client has sent, not a header and a body at a
  // time. Charged to the server's budget while the session lives.
  std::string rbuf_;
  size_t rpos_ = 0;
  size_t rend_ = 0;
  const std::string address_;    // the peer's IP, for the per-address limit
  bool promoted_ = false;        // counted as authenticated (ServerImpl::mu_)
  std::chrono::steady_clock::time_point handshake_deadline_;
  // Responses queued (out_bytes_) or being built for this connection.
  MemoryBudget out_budget_;
  Timer watchdog_;
  Timer slot_;                   // wakes ReadLoop when a pipelining slot or queue space frees
  std::chrono::steady_clock::time_point deadline_;
  wire::Role role_ = wire::Role::None;
  std::string token_digest_;      // of the token that granted role_
  uint64_t token_generation_ = 0; // token set role_ was last checked against
  size_t inflight_ = 0;
  std::deque<std::string> out_;
  size_t out_bytes_ = 0;         // of out_, charged to both budgets
  bool writing_ = false;
  size_t writing_frames_ = 0;    // the first frames of out_, in the write in progress
  bool draining_ = false;        // Drain holds writes back until its last answer is queued
  std::mutex inbox_mu_;
  std::vector<Outcome> inbox_;   // guarded by inbox_mu_: answers not yet on the strand
  bool reading_done_ = false;
  bool handshake_pending_ = false;
  bool in_frame_ = false;        // between a frame's header and the end of its body
  bool closed_ = false;
  uint64_t writes_ = 0;          // completed writes: the watchdog's sign of a reading client
  // Subscription state.
  bool subscribed_ = false;
  bool sub_reading_ = false;
  uint64_t sub_corr_ = 0;
  uint64_t sub_cursor_ = 0;
  // sub_cursor_ for a metrics scrape on another thread (ServerImpl::Gauges).
  std::atomic<uint64_t> sub_position_{0};
  friend class ServerImpl;
};

}  // namespace accountable
