#include "server/replica/daemon_replica.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "events/vocabulary.h"

namespace accountable::replica {

// A follower's sink: its own ledger and vault never write (only
// ApplyReplicated does), so every write a request tries is refused before
// anything is stored, with the writer's address when the log named one.
class DaemonReplica::RefuseWrites final : public GroupSink {
 public:
  explicit RefuseWrites(const DaemonReplica* owner) : owner_(owner) {}
  Status Publish(const ReplicatedGroup&) override {
    const std::string w = owner_->follower_ ? owner_->follower_->WriterAddress() : std::string();
    return Status::NotWriter(w.empty() ? "this copy is a follower of the replicated log; the writer's address is not known yet"
                                       : "this copy is a follower of the replicated log; send writes to the writer at " + w);
  }

 private:
  const DaemonReplica* owner_;
};

DaemonReplica::DaemonReplica() = default;
DaemonReplica::~DaemonReplica() { Stop(); }

void AddReplicaFlags(CLI::App& app, ReplicaFlags& f) {
  app.add_option("--replicate", f.replicate,
                 "NATS URLs (nats://HOST:PORT,...): be the writer; publish every group to the JetStream log first");
  app.add_option("--follow", f.follow, "NATS URLs: be a follower; apply the log, serve reads, refuse writes");
  app.add_option("--cluster", f.cluster,
                 "NATS URLs: start as a standby follower and become the writer when this copy takes the lease");
  app.add_option("--lease-ttl-ms", f.lease_ttl_ms,
                 "writer lease TTL when this copy creates the lease bucket; failover takes about this long")
      ->check(CLI::Range(int64_t{300}, int64_t{600000}))->capture_default_str();
  app.add_option("--advertise", f.advertise, "the writer's HOST:PORT named to clients; default the listen address");
  app.add_option("--node-name", f.node_name,
                 "this copy's name in erasure verifications: 1..64 of A-Z a-z 0-9 . _ -; default from --advertise/--listen");
  app.add_option("--replicate-max-age-s", f.max_age_s, "log retention, when this copy creates the stream")
      ->check(CLI::Range(int64_t{60}, int64_t{366} * 24 * 3600))->capture_default_str();
  app.add_option("--replicate-timeout-ms", f.timeout_ms, "NATS connect and publish-ack timeout")
      ->check(CLI::Range(int64_t{100}, int64_t{600000}))->capture_default_str();
}

Status DaemonReplica::Open(const ReplicaFlags& f, AccountsOptions* ao) {
  flags_ = f;
  const int modes = !f.replicate.empty() + !f.follow.empty() + !f.cluster.empty();
  if (modes > 1) return Status::InvalidArgument("--replicate, --follow and --cluster exclude each other");
  if (modes == 0) return Status::OK();
  NatsLogOptions o;
  o.urls = writer() ? f.replicate : follower() ? f.follow : f.cluster;
  o.max_age_ms = f.max_age_s * 1000;
  o.timeout_ms = f.timeout_ms;
  o.writer_address = f.advertise;
  const std::string node = f.node_name.empty() ? DefaultNodeName(f) : f.node_name;
  if (!events::IsNodeName(node))
    return Status::InvalidArgument("--node-name: must be 1..64 characters of A-Z a-z 0-9 . _ -");
  ACC_RETURN_IF_ERROR(NatsLog::Open(o, &log_));
  ACC_RETURN_IF_ERROR(Verification::Open(
      {.urls = o.urls, .node = node, .max_age_ms = o.max_age_ms, .timeout_ms = o.timeout_ms}, &verify_));
  if (writer()) {
    ao->sink = log_.get();
    ao->replica_node = node;
    return Status::OK();
  }
  ao->follower = true;
  if (cluster()) {
    ACC_RETURN_IF_ERROR(Lease::Open({.urls = o.urls, .ttl_ms = f.lease_ttl_ms, .timeout_ms = f.timeout_ms}, &lease_));
    cluster_sink_ = std::make_unique<ClusterSink>(*log_, *lease_);
    ao->sink = cluster_sink_.get();
    ao->replica_node = node;  // the writer's own verification, once this copy writes
    return Status::OK();
  }
  refuse_ = std::make_unique<RefuseWrites>(this);
  ao->sink = refuse_.get();
  return Status::OK();
}

Status DaemonReplica::Start(Accounts& accounts, const std::string& listen_address, std::function<void(Status)> on_stop) {
  if (!log_) return Status::OK();
  const std::string address = flags_.advertise.empty() ? listen_address : flags_.advertise;
  if (flags_.advertise.empty()) log_->SetWriterAddress(listen_address);
  if (writer()) return verify_->StartRecording(accounts);
  ACC_RETURN_IF_ERROR(verify_->Announce());
  follower_ = std::make_unique<Follower>(accounts, *log_, on_stop);
  follower_->SetOnShred([this, &accounts](const Vault::ShredReport& r) {
    // The certificate names this copy as not verified until it is: say why.
    if (Status s = verify_->PublishShred(accounts, r); !s.ok()) spdlog::warn("erasure verification not sent: {}", s.ToString());
  });
  follower_->Start();
  if (cluster()) {
    Standby::Parts parts{accounts, *log_, *lease_, *follower_, *cluster_sink_,
                         [this, &accounts] { return verify_->StartRecording(accounts); }};
    standby_ = std::make_unique<Standby>(std::move(parts), address, std::move(on_stop));
    standby_->Start();
  }
  return Status::OK();
}

void DaemonReplica::Stop() {
  if (standby_) standby_->Stop();
  if (follower_) follower_->Stop();
  if (verify_) verify_->Stop();
}

std::string DefaultNodeName(const ReplicaFlags& f) {
  std::string n = f.advertise.empty() ? f.listen : f.advertise;
  if (n.empty()) {  // embedded use without addresses: the machine's name
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) n = host;
  }
  n = n.substr(0, events::kNodeNameBytesMax);
  for (char& c : n)
    if (!events::IsNodeName(std::string_view(&c, 1))) c = '-';
  return n.empty() ? "copy" : n;
}

}  // namespace accountable::replica
