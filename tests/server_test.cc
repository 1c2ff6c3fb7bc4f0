// The server over real TCP, in process: handshake, every operation and its
// durability, roles, pipelining, subscriptions, no lost acknowledgements and
// a graceful stop. Misbehaving clients and limits: server_limits_test.cc;
// accountabled as a process: server_daemon_test.cc.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/server_test_util.h"

namespace {

using namespace accountable;
using test::ServerFixture;
using test::RawConn;
using Code = Status::Code;
using Json = nlohmann::json;
using wire::Body;

test::BodyFn ConsentBody(uint64_t id, const std::string& purpose, bool give) {
  return [=](flatbuffers::FlatBufferBuilder& f) { return wire::CreateConsentDirect(f, id, purpose.c_str(), give).Union(); };
}

test::BodyFn LoginBody(const std::string& email, const std::string& password) {
  return [=](flatbuffers::FlatBufferBuilder& f) {
    return wire::CreateLoginDirect(f, email.c_str(), 0, password.c_str(), "192.0.2.11", "ua/2.0").Union();
  };
}

test::BodyFn GetAccountBody(uint64_t id) {
  return [=](flatbuffers::FlatBufferBuilder& f) { return wire::CreateGetAccount(f, id).Union(); };
}

fb::Payload TypeOf(const std::string& envelope) {
  events::EventView v;
  REQUIRE(events::EventView::Parse(envelope, &v).ok());
  return v.type();
}

uint64_t RegisterOne(Client& w, const std::string& email) {
  auto r = test::RoundTrip(w, Body::Register, test::RegisterBody(email));
  INFO(r.status.ToString());
  REQUIRE(r.status.ok());
  REQUIRE(r.account_id != 0);
  return r.account_id;
}

TEST_CASE("server: Hello grants the token's role", "[server]") {
  ServerFixture f;
  CHECK(f.Connect(test::kWriterToken)->role() == wire::Role::Writer);
  CHECK(f.Connect(test::kAuditorToken)->role() == wire::Role::Auditor);
  CHECK(f.Connect(test::kAdminToken)->role() == wire::Role::Admin);

  std::unique_ptr<Client> c;
  Status s = Client::Connect(f.address(), "no-such-token-0123456789", &c);
  CHECK(s.code() == Code::kAuthFailed);
  CHECK(c == nullptr);

  // On the wire: AuthFailed with the Hello's correlation id, then a close.
  RawConn raw(f.port());
  REQUIRE(raw.Send(test::HelloFrame(7, "no-such-token-0123456789")));
  test::RawReply r;
  REQUIRE(raw.ReadFrame(5000, &r) == RawConn::Got::kFrame);
  CHECK(r.correlation_id == 7);
  CHECK(r.code == uint8_t(Code::kAuthFailed));
  CHECK(r.role == wire::Role::None);
  CHECK(raw.WaitClosed(5000));

  // A good token over raw bytes, and the role comes back in the reply.
  RawConn ok(f.port());
  REQUIRE(ok.Send(test::HelloFrame(9, test::kAuditorToken)));
  REQUIRE(ok.ReadFrame(5000, &r) == RawConn::Got::kFrame);
  CHECK(r.correlation_id == 9);
  CHECK(r.code == 0);
  CHECK(r.role == wire::Role::Auditor);
}

TEST_CASE("server: a request before Hello gets code 66 and a close", "[server]") {
  ServerFixture f;
  RawConn raw(f.port());
  REQUIRE(raw.Send(test::StatsFrame(41)));
  test::RawReply r;
  REQUIRE(raw.ReadFrame(5000, &r) == RawConn::Got::kFrame);
  CHECK(r.correlation_id == 41);
  CHECK(r.code == uint8_t(wire::ProtocolCode::kNotAuthenticated));
  CHECK(raw.WaitClosed(5000));
  CHECK(StatusFromCode(r.code, "x").code() == Code::kAuthFailed);
  // Nothing was appended beyond the initial policy.
  CHECK(f.accounts().ledger().LastSeq() == 1);
}

// The lifecycle walk below, in phases: a writer, an admin and every seq the
// server acknowledged with the event type it stands for.
struct Walk {
  ServerFixture f;
  std::unique_ptr<Client> w = f.Connect(test::kWriterToken);
  std::unique_ptr<Client> admin = f.Connect(test::kAdminToken);
  std::map<uint64_t, fb::Payload> acked;

  void Ack(const Client::Reply& r, fb::Payload type) {
    INFO(r.status.ToString());
    REQUIRE(r.status.ok());
    REQUIRE(r.seq != 0);
    CHECK_FALSE(r.duplicate);
    CHECK(acked.emplace(r.seq, type).second);
  }
};

// Register (and its retry), good and bad logins; the new account's id.
uint64_t WalkRegisterAndLogin(Walk& k) {
  auto reg = test::RoundTrip(*k.w, Body::Register, test::RegisterBody("ann@example.org", "Ann"), "reg-ann");
  k.Ack(reg, fb::Payload::Registered);
  const uint64_t id = reg.account_id;
  REQUIRE(id != 0);
  // The same request id again: nothing appended, the original seq.
  auto again = test::RoundTrip(*k.w, Body::Register, test::RegisterBody("ann@example.org", "Ann"), "reg-ann");
  REQUIRE(again.status.ok());
  CHECK(again.duplicate);
  CHECK(again.seq == reg.seq);

  auto login = test::RoundTrip(*k.w, Body::Login, LoginBody("ann@example.org", test::kServerPassword));
  k.Ack(login, fb::Payload::LoginSucceeded);
  CHECK(login.account_id == id);
  auto bad = test::RoundTrip(*k.w, Body::Login, LoginBody("ann@example.org", "wrong password!"));
  CHECK(bad.status.code() == Code::kAuthFailed);
  auto nobody = test::RoundTrip(*k.w, Body::Login, LoginBody("nobody@example.org", test::kServerPassword));
  CHECK(nobody.status.code() == Code::kAuthFailed);
  return id;
}

void WalkConsentAndProfile(Walk& k, uint64_t id) {
  auto consent = test::RoundTrip(*k.w, Body::Consent, ConsentBody(id, "surveys", true), "consent-1");
  k.Ack(consent, fb::Payload::ConsentGiven);
  auto consent2 = test::RoundTrip(*k.w, Body::Consent, ConsentBody(id, "surveys", true), "consent-1");
  CHECK(consent2.status.ok());
  CHECK(consent2.duplicate);
  CHECK(consent2.seq == consent.seq);
  k.Ack(test::RoundTrip(*k.w, Body::Consent, ConsentBody(id, "surveys", false)), fb::Payload::ConsentWithdrawn);
  CHECK(test::RoundTrip(*k.w, Body::Consent, ConsentBody(id, "no_such_purpose", true)).status.code() == Code::kInvalidArgument);

  k.Ack(test::RoundTrip(*k.w, Body::Update, [&](flatbuffers::FlatBufferBuilder& fb) {
          return wire::CreateUpdateDirect(fb, id, "Annie").Union();
        }), fb::Payload::ProfileUpdated);
  k.Ack(test::RoundTrip(*k.w, Body::RequestDeletion, [&](flatbuffers::FlatBufferBuilder& fb) {
          return wire::CreateRequestDeletion(fb, id).Union();
        }), fb::Payload::DeletionRequested);
  k.Ack(test::RoundTrip(*k.w, Body::CancelDeletion, [&](flatbuffers::FlatBufferBuilder& fb) {
          return wire::CreateCancelDeletion(fb, id).Union();
        }), fb::Payload::DeletionCancelled);
}

// Disclosure on consent: refused without it, recorded with it.
void WalkDisclosure(Walk& k, uint64_t id) {
  auto recipient = test::RoundTrip(*k.admin, Body::RegisterRecipient, [](flatbuffers::FlatBufferBuilder& fb) {
    return wire::CreateRegisterRecipientDirect(fb, "Acme Analytics Inc", "US").Union();
  });
  k.Ack(recipient, fb::Payload::RecipientRegistered);
  CHECK(test::RoundTrip(*k.w, Body::RegisterRecipient, [](flatbuffers::FlatBufferBuilder& fb) {
          return wire::CreateRegisterRecipientDirect(fb, "Writer Corp", "US").Union();
        }).status.code() == Code::kRefused);  // admin only
  auto disclose = [&](flatbuffers::FlatBufferBuilder& fb) {
    return wire::CreateDiscloseDirect(fb, id, std::to_string(recipient.seq).c_str(), "US", "newsletter analytics",
                                      "consent", "standard_contractual_clauses")
        .Union();
  };
  CHECK(test::RoundTrip(*k.w, Body::Disclose, disclose).status.code() == Code::kRefused);
  k.Ack(test::RoundTrip(*k.w, Body::Consent, ConsentBody(id, "third_party_forwarding", true)), fb::Payload::ConsentGiven);
  k.Ack(test::RoundTrip(*k.w, Body::Disclose, disclose), fb::Payload::DisclosureRecorded);
  k.Ack(test::RoundTrip(*k.w, Body::RecordAccess, test::RecordAccessBody("/home")), fb::Payload::AccessLogged);
}

void WalkPolicyAndExport(Walk& k, uint64_t id) {
  k.Ack(test::RoundTrip(*k.admin, Body::PublishPolicy, [](flatbuffers::FlatBufferBuilder& fb) {
          return wire::CreatePublishPolicyDirect(fb, "1.02", "revised policy text").Union();
        }), fb::Payload::PolicyPublished);
  auto exported = test::RoundTrip(*k.admin, Body::Export, [&](flatbuffers::FlatBufferBuilder& fb) {
    return wire::CreateExport(fb, id).Union();
  });
  REQUIRE(exported.status.ok());
  Json doc = Json::parse(exported.json);
  CHECK(doc["account"]["pii"]["email"] == "ann@example.org");
  CHECK(doc["account"]["pii"]["nickname"] == "Annie");
  const uint64_t access_seq = doc["access_request_seq"].get<uint64_t>();
  CHECK(k.acked.emplace(access_seq, fb::Payload::AccessRequested).second);
}

void WalkSweepAndInactive(Walk& k) {
  auto dry = test::RoundTrip(*k.admin, Body::Sweep, [](flatbuffers::FlatBufferBuilder& fb) {
    return wire::CreateSweep(fb, true, test::kTestTimeMs).Union();
  });
  REQUIRE(dry.status.ok());
  CHECK(Json::parse(dry.json)["dry_run"] == true);
  auto real = test::RoundTrip(*k.admin, Body::Sweep, [](flatbuffers::FlatBufferBuilder& fb) { return wire::CreateSweep(fb).Union(); });
  REQUIRE(real.status.ok());
  CHECK(Json::parse(real.json)["erased"].empty());  // nothing is due
  // A real sweep with a made-up clock is refused.
  CHECK(test::RoundTrip(*k.admin, Body::Sweep, [](flatbuffers::FlatBufferBuilder& fb) {
          return wire::CreateSweep(fb, false, test::kTestTimeMs).Union();
        }).status.code() == Code::kInvalidArgument);
  auto inactive = test::RoundTrip(*k.admin, Body::Inactive, [](flatbuffers::FlatBufferBuilder& fb) {
    return wire::CreateInactive(fb, 0, 36).Union();
  });
  REQUIRE(inactive.status.ok());
  CHECK(Json::parse(inactive.json)["account_ids"].empty());
}

// Durable: every acknowledged seq holds the event type acknowledged.
void WalkCheckDurable(Walk& k, uint64_t id, uint64_t last) {
  Accounts& reopened = k.f.Reopen();
  CHECK(reopened.ledger().LastSeq() == last);
  for (const auto& [seq, type] : k.acked) {
    std::vector<Ledger::Stored> one;
    REQUIRE(reopened.ledger().ReadRange(seq, 1, &one).ok());
    REQUIRE(one.size() == 1);
    CHECK(one[0].seq == seq);
    INFO("seq " << seq);
    CHECK(TypeOf(one[0].envelope) == type);
  }
  AccountView v;
  REQUIRE(reopened.Show(id, &v).ok());
  REQUIRE(v.pii);
  CHECK(v.pii->nickname == "Annie");
}

TEST_CASE("server: every lifecycle operation works over the wire and is durable", "[server]") {
  Walk k;
  const uint64_t id = WalkRegisterAndLogin(k);
  WalkConsentAndProfile(k, id);
  WalkDisclosure(k, id);
  WalkPolicyAndExport(k, id);
  WalkSweepAndInactive(k);
  auto stats = test::RoundTrip(*k.w, Body::Stats, test::StatsBody());
  REQUIRE(stats.status.ok());
  Json sj = Json::parse(stats.json);
  CHECK(sj["policy_version"] == "1.02");
  const uint64_t last = sj["last_seq"].get<uint64_t>();
  CHECK(last == k.acked.rbegin()->first);
  WalkCheckDurable(k, id, last);
}

TEST_CASE("server: roles decide who may do what", "[server]") {
  ServerFixture f;
  auto w = f.Connect(test::kWriterToken);
  auto au = f.Connect(test::kAuditorToken);
  auto admin = f.Connect(test::kAdminToken);
  const uint64_t id = RegisterOne(*w, "roles@example.org");

  auto forbidden = [](const Client::Reply& r) {
    CHECK(r.code == uint8_t(wire::ProtocolCode::kForbidden));
    CHECK(r.status.code() == Code::kRefused);
  };
  const uint64_t before = f.accounts().ledger().LastSeq();
  forbidden(test::RoundTrip(*w, Body::ReadLog, test::ReadLogBody(1)));
  forbidden(test::RoundTrip(*w, Body::ReadStream, [&](flatbuffers::FlatBufferBuilder& fb) {
    return wire::CreateReadStream(fb, id, 1, 10).Union();
  }));
  forbidden(test::RoundTrip(*w, Body::Subscribe, test::SubscribeBody(1)));
  forbidden(test::RoundTrip(*w, Body::Export, [&](flatbuffers::FlatBufferBuilder& fb) { return wire::CreateExport(fb, id).Union(); }));
  forbidden(test::RoundTrip(*w, Body::Sweep, [](flatbuffers::FlatBufferBuilder& fb) { return wire::CreateSweep(fb).Union(); }));
  forbidden(test::RoundTrip(*w, Body::Inactive, [](flatbuffers::FlatBufferBuilder& fb) { return wire::CreateInactive(fb).Union(); }));
  forbidden(test::RoundTrip(*w, Body::PublishPolicy, [](flatbuffers::FlatBufferBuilder& fb) {
    return wire::CreatePublishPolicyDirect(fb, "1.02", "text").Union();
  }));
  forbidden(test::RoundTrip(*au, Body::Register, test::RegisterBody("auditor@example.org")));
  forbidden(test::RoundTrip(*au, Body::RecordAccess, test::RecordAccessBody()));
  forbidden(test::RoundTrip(*au, Body::Export, [&](flatbuffers::FlatBufferBuilder& fb) { return wire::CreateExport(fb, id).Union(); }));
  CHECK(f.accounts().ledger().LastSeq() == before);  // nothing refused was appended (not even an access request)

  // A refusal does not end the connection.
  CHECK(test::RoundTrip(*w, Body::Stats, test::StatsBody()).status.ok());
  auto log = test::RoundTrip(*au, Body::ReadLog, test::ReadLogBody(1));
  REQUIRE(log.status.ok());
  REQUIRE(log.events.size() == before);
  for (size_t i = 0; i < log.events.size(); ++i) CHECK(log.events[i].first == i + 1);
  CHECK(TypeOf(log.events.back().second) == fb::Payload::Registered);
  auto stream = test::RoundTrip(*au, Body::ReadStream, [&](flatbuffers::FlatBufferBuilder& fb) {
    return wire::CreateReadStream(fb, id, 1, 10).Union();
  });
  REQUIRE(stream.status.ok());
  CHECK(stream.events.size() == 1);

  // PII only for admins.
  for (auto* c : {w.get(), au.get()}) {
    auto r = test::RoundTrip(*c, Body::GetAccount, GetAccountBody(id));
    REQUIRE(r.status.ok());
    Json j = Json::parse(r.json);
    CHECK_FALSE(j.contains("pii"));
    CHECK(r.json.find("roles@example.org") == std::string::npos);
  }
  auto r = test::RoundTrip(*admin, Body::GetAccount, GetAccountBody(id));
  REQUIRE(r.status.ok());
  CHECK(Json::parse(r.json)["pii"]["email"] == "roles@example.org");
  CHECK(test::RoundTrip(*au, Body::GetAccount, GetAccountBody(id + 1000)).status.code() == Code::kNotFound);
}

// Sends n requests without reading, then reads n replies: each correlation id
// is answered exactly once and every append succeeded.
void PipelineRound(ServerFixture& f, size_t n) {
  auto w = f.Connect(test::kWriterToken);
  std::set<uint64_t> sent;
  for (size_t i = 0; i < n; ++i) {
    uint64_t corr = 0;
    const bool append = i % 2 == 0;
    Status s = append ? w->Send(Body::RecordAccess, test::RecordAccessBody(test::Name("/p", i)), &corr)
                      : w->Send(Body::Stats, test::StatsBody(), &corr);
    REQUIRE(s.ok());
    REQUIRE(sent.insert(corr).second);
  }
  std::set<uint64_t> answered, seqs;
  for (size_t i = 0; i < n; ++i) {
    Client::Reply r;
    Status s = w->Receive(&r);
    INFO(s.ToString());
    REQUIRE(s.ok());
    INFO(r.status.ToString());
    CHECK(r.status.ok());
    CHECK(sent.count(r.correlation_id) == 1);
    CHECK(answered.insert(r.correlation_id).second);
    if (r.seq) CHECK(seqs.insert(r.seq).second);
  }
  CHECK(answered == sent);
  CHECK(seqs.size() == n / 2);
}

TEST_CASE("server: pipelined requests are all answered exactly once", "[server]") {
  SECTION("default limits") {
    ServerFixture f;
    PipelineRound(f, 200);
  }
  SECTION("inflight limit of 2: backpressure, no drops") {
    ServerFixture f([](ServerOptions& o) { o.inflight_per_connection_max = 2; });
    PipelineRound(f, 200);
  }
}

TEST_CASE("server: a subscriber catches up and then gets live events", "[server]") {
  ServerFixture f;
  auto w = f.Connect(test::kWriterToken);
  for (int i = 0; i < 5; ++i) test::RoundTrip(*w, Body::RecordAccess, test::RecordAccessBody(test::Name("/before", i)));
  const uint64_t before = f.accounts().ledger().LastSeq();

  auto sub = f.Connect(test::kAuditorToken);
  uint64_t corr = 0;
  REQUIRE(sub->Send(Body::Subscribe, test::SubscribeBody(1), &corr).ok());
  Client::Reply r;
  REQUIRE(sub->Receive(&r).ok());
  CHECK(r.correlation_id == corr);
  CHECK(r.status.ok());

  uint64_t expect = 1;
  std::vector<uint64_t> live;
  auto read_until = [&](uint64_t last) {
    while (expect <= last) {
      Client::Reply p;
      Status s = sub->Receive(&p);
      INFO(s.ToString());
      REQUIRE(s.ok());
      CHECK(p.correlation_id == corr);
      REQUIRE(p.status.ok());
      for (auto& [seq, env] : p.events) {
        REQUIRE(seq == expect);  // in order, no gaps, no repeats
        ++expect;
        if (seq > before) live.push_back(seq);
        TypeOf(env);
      }
    }
  };
  read_until(before);

  // Appends by another client are pushed.
  std::vector<uint64_t> appended;
  for (int i = 0; i < 10; ++i) {
    auto a = test::RoundTrip(*w, Body::RecordAccess, test::RecordAccessBody(test::Name("/after", i)));
    REQUIRE(a.status.ok());
    appended.push_back(a.seq);
  }
  read_until(appended.back());
  CHECK(live == appended);

  // The subscription does not stop other requests on the same connection.
  auto stats = test::RoundTrip(*sub, Body::Stats, test::StatsBody());
  CHECK(stats.status.ok());
}

TEST_CASE("server: no acknowledged append is lost", "[server]") {
  ServerFixture f;
  constexpr int kThreads = 4, kPerThread = 60;
  std::vector<std::vector<uint64_t>> acked(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::unique_ptr<Client> c;
      if (!Client::Connect(f.address(), test::kWriterToken, &c).ok()) return void(++failures);
      // Pipelined in windows of 10, so appends of all threads share fsyncs.
      for (int i = 0; i < kPerThread; i += 10) {
        for (int j = i; j < i + 10; ++j) {
          uint64_t corr;
          if (!c->Send(Body::RecordAccess, test::RecordAccessBody(test::Name("/t", t * 1000 + j)), &corr).ok())
            return void(++failures);
        }
        for (int j = i; j < i + 10; ++j) {
          Client::Reply r;
          if (!c->Receive(&r).ok() || !r.status.ok() || r.seq == 0) return void(++failures);
          acked[t].push_back(r.seq);
        }
      }
    });
  for (auto& t : threads) t.join();
  REQUIRE(failures == 0);

  f.Reopen();
  auto all = f.AllEvents();
  REQUIRE(all.size() == 1 + kThreads * kPerThread);  // the initial policy and every append
  for (size_t i = 0; i < all.size(); ++i) REQUIRE(all[i].seq == i + 1);
  for (auto& v : acked)
    for (uint64_t seq : v) {
      REQUIRE(seq <= all.size());
      CHECK(TypeOf(all[seq - 1].envelope) == fb::Payload::AccessLogged);
    }
}

// What one client thread saw while the server stopped under it.
struct Tally {
  std::vector<uint64_t> acked;
  int sent = 0, answered = 0, errors = 0;
  bool connected = false;
};

// Keeps up to 16 requests in flight until the server goes away. No Catch2
// assertions: it runs off the main thread.
void PipelineUntilClosed(const std::string& address, int t, const std::atomic<bool>& stop_sending, Tally* out) {
  std::unique_ptr<Client> c;
  if (!Client::Connect(address, test::kWriterToken, &c).ok()) return void(++out->errors);
  out->connected = true;
  std::set<uint64_t> pending;
  for (;;) {
    while (!stop_sending && pending.size() < 16) {
      uint64_t corr;
      const bool reg = out->sent % 8 == 0;  // some Argon2id work too
      Status s = reg ? c->Send(Body::Register,
                               test::RegisterBody(test::Name("stop", t * 100000 + out->sent) + "@example.org"), &corr)
                     : c->Send(Body::RecordAccess, test::RecordAccessBody(test::Name("/s", out->sent)), &corr);
      if (!s.ok()) break;
      ++out->sent;
      pending.insert(corr);
    }
    if (pending.empty()) return;
    Client::Reply r;
    if (!c->Receive(&r).ok()) return;  // closed: the rest were never answered
    if (pending.erase(r.correlation_id) != 1) return void(++out->errors);
    ++out->answered;
    if (r.status.ok() && r.seq) out->acked.push_back(r.seq);
    else if (r.code != uint8_t(wire::ProtocolCode::kShuttingDown)) ++out->errors;
  }
}

TEST_CASE("server: Stop with requests in flight answers or closes and loses nothing acknowledged", "[server]") {
  ServerFixture f;
  constexpr int kThreads = 4;
  std::vector<Tally> tally(kThreads);
  std::atomic<bool> stop_sending{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] { PipelineUntilClosed(f.address(), t, stop_sending, &tally[t]); });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (f.accounts().ledger().LastSeq() < 100 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  f.server().Stop();  // every thread's Receive returns: an answer, or the close
  stop_sending = true;
  for (auto& t : threads) t.join();
  int connected = 0, errors = 0;
  size_t total = 0;
  for (const Tally& y : tally) {
    connected += y.connected;
    errors += y.errors;
    CHECK(y.answered > 0);
    CHECK(y.answered <= y.sent);
    total += y.acked.size();
  }
  CHECK(connected == kThreads);
  CHECK(errors == 0);
  f.Reopen();
  auto all = f.AllEvents();
  for (size_t i = 0; i < all.size(); ++i) REQUIRE(all[i].seq == i + 1);
  std::set<uint64_t> unique;
  for (const Tally& y : tally)
    for (uint64_t seq : y.acked) {
      REQUIRE(seq <= all.size());
      CHECK(unique.insert(seq).second);
      const fb::Payload type = TypeOf(all[seq - 1].envelope);
      INFO("seq " << seq << " is a " << events::PayloadName(type));
      CHECK((type == fb::Payload::AccessLogged || type == fb::Payload::Registered));
    }
  CHECK(total == unique.size());
}

}  // namespace
