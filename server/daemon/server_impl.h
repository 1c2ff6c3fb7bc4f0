// Internal to server/: the server object that sessions call back into.
#pragma once

// Boost 1.74 awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "server/daemon/dispatch.h"
#include "server/daemon/server.h"
#include "server/daemon/session.h"
#include "server/daemon/tls.h"

namespace accountable {

// The completion of every co_spawn in server/. I/O errors reach coroutines as
// error codes, so an exception that ends one is a bug; asio::detached would
// drop it and leave the server running on broken state. Logs the exception's
// type (never its message, which may quote a request) and aborts.
struct CrashOnException {
  const char* what_ran;
  void operator()(std::exception_ptr e) const;
};

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& o, Accounts* a);
  ~ServerImpl() override { Stop(); }
  Status Listen();
  uint16_t port() const override { return port_; }
  void OnCommit(uint64_t last_seq) override;
  Status ReloadTls(bool* reloaded) override;
  size_t ReplaceTokens(std::map<std::string, wire::Role> token_digests) override;
  wire::Role TokenRole(std::string_view token) const override;
  void Stop() override;
  ServerGauges Gauges() override;
  const AtomicHistogram* RequestLatency(wire::Body op) const override;
  using Clock = std::chrono::steady_clock;
  void ObserveRequest(wire::Body op, Clock::time_point started);

  // For sessions.
  const ServerOptions& options() const { return opt_; }
  Accounts& accounts() { return *accounts_; }
  boost::asio::thread_pool& workers() { return workers_; }
  MemoryBudget& budget() { return budget_; }
  // On the session's strand: answers what needs no worker (a bad frame,
  // Hello, a refusal) and starts kInline commands, whose answers reach
  // s->Complete (returns kInline). Otherwise returns where the request
  // belongs on the worker pool: kHashing for StartHashing, kBlocking for
  // Process.
  // started: when the request's frame was read, for the latency metric.
  Route Start(const std::string& body, wire::Role role, const std::shared_ptr<Session>& s, Clock::time_point started);
  // On a worker: starts a kHashing command; its answer reaches s->Complete.
  void StartHashing(const std::string& body, wire::Role role, const std::shared_ptr<Session>& s,
                    Clock::time_point started);
  // Runs on a worker: verify, authorize, execute. The Outcome's frame is
  // charged to budget() and to connection.
  Outcome Process(const std::string& body, wire::Role role, MemoryBudget* connection);
  // Moves s from the unauthenticated connections to the authenticated ones;
  // false if those are at connections_max.
  bool Promote(Session* s);
  void Remove(Session* s);

 private:
  boost::asio::awaitable<void> AcceptLoop();
  // Counts a new unauthenticated connection from address; false if that
  // would pass unauthenticated_max or unauthenticated_per_address_max.
  bool Admit(const std::string& address);
  void ForgetUnauthenticated(const std::string& address);  // mu_ held
  Outcome Decide(const std::string& body, wire::Role role, ResponseBudget* budget);
  // Runs job on a worker every interval_ms until the timer is cancelled.
  boost::asio::awaitable<void> Every(boost::asio::steady_timer& timer, int64_t interval_ms, std::function<void()> job);
  void Sweep();
  void SignIfBehind();
  // (Re)arms the erasure timer on the earliest pending deletion deadline,
  // read afresh on the timer's strand so the latest call wins. fired_ms: the
  // deadline a sweep just ran for (0: none); if that deadline is still the
  // earliest, the sweep failed and the next try waits kDeletionRetryMs.
  void ArmDeletionTimer(int64_t fired_ms = 0);
  void OnDeletionTimer(int64_t deadline_ms);
  using Tokens = std::vector<std::pair<std::string, wire::Role>>;
  // The role of token (None if unknown) and, in *o, its digest and the
  // token set's generation, so the session can tell a later revocation.
  wire::Role Authenticate(std::string_view token, Outcome* o) const;
  // On s's strand, for an authenticated session: false if a reload since its
  // Hello removed its token or changed its role.
  bool StillValid(Session* s, wire::Role role) const;
  // Ends, with code 74 and a close, every subscription whose token is gone.
  void CutRevokedSubscribers();
  // Answers body with code 74 and closes s.
  void RefuseRevoked(const std::string& body, const std::shared_ptr<Session>& s);
  // The verified, authenticated request of body with a route other than
  // kBlocking, or nullptr (Process answers it).
  const wire::Request* AsyncRequest(const std::string& body, wire::Role role) const;
  // Answers corr on s when a command completes: charges the frame to both
  // budgets and re-arms the erasure timer after a deletion request or cancel.
  // Observes the request's latency under op.
  Reply ReplyTo(const std::shared_ptr<Session>& s, const wire::Request* req, Clock::time_point started);
  // A Reply's reference to its session, counted in session_holds_: the
  // ledger's writer destroys a Reply after calling it, possibly after the
  // session has closed, and the session's last reference must not drop
  // after the server is gone (~Session releases into budget_). Copies
  // count; a moved-from hold does not. The session is let go first, then
  // the count.
  class SessionHold {
   public:
    SessionHold(ServerImpl* server, std::shared_ptr<Session> s);
    SessionHold(const SessionHold& o);
    SessionHold(SessionHold&& o) noexcept;
    SessionHold& operator=(const SessionHold&) = delete;
    SessionHold& operator=(SessionHold&&) = delete;
    ~SessionHold();
    Session* get() const { return session_.get(); }

   private:
    ServerImpl* server_;
    std::shared_ptr<Session> session_;
  };
  // In Stop, after the I/O threads and workers have ended: returns once no
  // Reply holds a session. Unbounded, because the ledger answers every
  // command it queued; logs every kShutdownGrace while it waits.
  void WaitForReplies();

  ServerOptions opt_;
  Accounts* accounts_;
  // Null for plain TCP. Replaced by ReloadTls; each session holds the one it
  // was accepted with. Guarded by mu_.
  std::shared_ptr<boost::asio::ssl::context> tls_;
  // Before io_: handlers that ~io_context destroys may end sessions, and
  // ~Session releases its bytes here.
  MemoryBudget budget_;
  boost::asio::io_context io_;
  boost::asio::thread_pool workers_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer sweep_timer_;
  boost::asio::steady_timer sign_timer_;
  boost::asio::strand<boost::asio::io_context::executor_type> deletion_strand_;
  boost::asio::steady_timer deletion_timer_;  // on deletion_strand_ only
  std::vector<std::thread> io_threads_;
  uint16_t port_ = 0;
  // SHA-256 of each token -> role: compared in constant time, never stored
  // raw. Swapped whole by ReplaceTokens; generation counts the swaps.
  mutable std::mutex tokens_mu_;
  std::shared_ptr<const Tokens> tokens_;       // guarded by tokens_mu_
  std::atomic<uint64_t> tokens_generation_{0};  // written under tokens_mu_

  std::mutex mu_;
  std::condition_variable drained_cv_;
  std::map<Session*, std::weak_ptr<Session>> sessions_;
  std::set<Session*> subscribers_;
  size_t authenticated_ = 0;
  size_t unauthenticated_ = 0;
  std::map<std::string, size_t> unauthenticated_by_address_;
  // By wire::Body value: request latency in microseconds.
  std::vector<std::unique_ptr<AtomicHistogram>> request_us_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::atomic<size_t> session_holds_{0};  // SessionHolds alive
  friend class Session;
};

}  // namespace accountable
