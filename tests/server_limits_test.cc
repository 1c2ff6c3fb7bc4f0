// The server against misbehaving clients: truncated, oversized, empty and
// unverifiable frames, unknown operations, stalls, idleness, connection
// floods and subscribers that never read. Each ends in a typed error or a
// close for that client only; the server keeps serving everyone else.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/server_test_util.h"
#include "tests/writer_gate.h"

namespace {

using namespace accountable;
using test::RawConn;
using test::RawReply;
using test::ServerFixture;
using Code = Status::Code;
using wire::Body;

constexpr int kWaitMs = 10'000;  // "eventually": generous, never a timing assertion

std::string Header(uint32_t len) {
  std::string h(wire::kFrameHeaderBytes, '\0');
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  return h;
}

// A raw connection that has said Hello as a writer.
std::unique_ptr<RawConn> Authenticated(ServerFixture& f, const std::string& token = test::kWriterToken) {
  auto raw = std::make_unique<RawConn>(f.port());
  REQUIRE(raw->connected());
  REQUIRE(raw->Send(test::HelloFrame(1, token)));
  RawReply r;
  REQUIRE(raw->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
  REQUIRE(r.code == 0);
  REQUIRE(r.role != wire::Role::None);
  return raw;
}

// The server still serves: a new client and, if given, an existing one.
void StillServing(ServerFixture& f, Client* existing = nullptr) {
  auto c = f.Connect(test::kWriterToken);
  Client::Reply r;
  REQUIRE(c->Call(Body::Stats, test::StatsBody(), &r).ok());
  CHECK(r.status.ok());
  if (existing) {
    REQUIRE(existing->Call(Body::Stats, test::StatsBody(), &r).ok());
    CHECK(r.status.ok());
  }
}

// A request whose body is whatever build() makes of the Request table.
std::string CustomRequest(const std::function<void(flatbuffers::FlatBufferBuilder&, wire::RequestBuilder&)>& fill,
                          const std::function<flatbuffers::Offset<void>(flatbuffers::FlatBufferBuilder&)>& body = {}) {
  flatbuffers::FlatBufferBuilder fbb(128);
  flatbuffers::Offset<void> b = body ? body(fbb) : flatbuffers::Offset<void>();
  wire::RequestBuilder rb(fbb);
  rb.add_correlation_id(77);
  if (!b.IsNull()) rb.add_body(b);
  fill(fbb, rb);
  fbb.Finish(rb.Finish(), wire::RequestIdentifier());
  return wire::Frame(fbb.GetBufferPointer(), fbb.GetSize());
}

TEST_CASE("server: a truncated frame then a close affects only that client", "[server][limits]") {
  ServerFixture f;
  auto other = f.Connect(test::kWriterToken);
  const uint64_t last = f.accounts().ledger().LastSeq();
  {
    auto raw = Authenticated(f);
    std::string frame = test::StatsFrame(5);
    REQUIRE(raw->Send(std::string_view(frame).substr(0, frame.size() - 3)));
  }  // closed mid-frame
  {
    RawConn raw(f.port());  // before Hello, mid-header
    REQUIRE(raw.Send(std::string("\x10\x00", 2)));
  }
  {
    // Through the client library's raw path: a header promising more than follows.
    std::unique_ptr<Client> c = f.Connect(test::kWriterToken);
    REQUIRE(c->SendRaw(Header(100) + "0123456789").ok());
  }
  StillServing(f, other.get());
  CHECK(f.accounts().ledger().LastSeq() == last);
}

TEST_CASE("server: a length above frame_bytes_max gets code 71 and a close", "[server][limits]") {
  ServerFixture f([](ServerOptions& o) { o.frame_bytes_max = 4096; });
  auto other = f.Connect(test::kWriterToken);
  for (bool hello : {true, false}) {
    std::unique_ptr<RawConn> raw = hello ? Authenticated(f) : std::make_unique<RawConn>(f.port());
    REQUIRE(raw->Send(Header(4097) + std::string(100, 'x')));
    RawReply r;
    REQUIRE(raw->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
    CHECK(r.code == uint8_t(wire::ProtocolCode::kFrameTooLarge));
    CHECK(r.correlation_id == 0);
    CHECK(raw->WaitClosed(kWaitMs));
  }
  // Exactly the limit is fine: one Request padded to 4096 bytes is read and answered.
  auto raw = Authenticated(f);
  std::string stats = test::StatsFrame(3);
  std::string padded = stats.substr(wire::kFrameHeaderBytes) + std::string(4096 - (stats.size() - wire::kFrameHeaderBytes), '\0');
  REQUIRE(raw->Send(Header(4096) + padded));
  RawReply r;
  REQUIRE(raw->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
  CHECK(r.correlation_id == 3);
  CHECK(r.code == 0);
  StillServing(f, other.get());
}

TEST_CASE("server: a zero length closes the connection", "[server][limits]") {
  ServerFixture f;
  auto raw = Authenticated(f);
  REQUIRE(raw->Send(Header(0)));
  std::vector<RawReply> frames;
  CHECK(raw->WaitClosed(kWaitMs, &frames));
  for (auto& r : frames) CHECK(r.code == uint8_t(wire::ProtocolCode::kFrameTooLarge));
  StillServing(f);
}

TEST_CASE("server: bytes that fail verification get code 64 and a close", "[server][limits]") {
  ServerFixture f;
  auto other = f.Connect(test::kWriterToken);
  const uint64_t last = f.accounts().ledger().LastSeq();

  std::vector<std::pair<std::string, std::string>> bad;
  bad.emplace_back("garbage", wire::Frame(reinterpret_cast<const uint8_t*>("this is not a flatbuffer at all!"), 32));
  bad.emplace_back("one byte", wire::Frame(reinterpret_cast<const uint8_t*>("x"), 1));
  {
    std::string wrong_id = test::StatsFrame(4);
    wrong_id[wire::kFrameHeaderBytes + 4] = 'X';  // file identifier "ACWP" -> "XCWP"
    bad.emplace_back("wrong identifier", wrong_id);
  }
  {
    std::string cut = test::HelloFrame(4, test::kWriterToken);  // root offset past the end
    cut[wire::kFrameHeaderBytes] = '\xff';
    cut[wire::kFrameHeaderBytes + 1] = '\x7f';
    bad.emplace_back("root offset out of range", cut);
  }
  // A known operation with its body missing: verification alone accepts it.
  for (Body t : {Body::Register, Body::Login, Body::Consent, Body::Update, Body::Disclose, Body::RecordAccess,
                 Body::GetAccount, Body::ReadLog, Body::Subscribe, Body::Stats})
    bad.emplace_back(std::string("no body for ") + std::string(wire::BodyName(t)),
                     CustomRequest([t](auto&, wire::RequestBuilder& rb) { rb.add_body_type(t); }));

  for (auto& [name, frame] : bad) {
    INFO(name);
    auto raw = Authenticated(f);
    REQUIRE(raw->Send(frame));
    RawReply r;
    REQUIRE(raw->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
    CHECK(r.code == uint8_t(wire::ProtocolCode::kBadFrame));
    CHECK(raw->WaitClosed(kWaitMs));
  }
  // Before Hello too: a Hello without its body is a bad frame, not a crash.
  RawConn raw(f.port());
  REQUIRE(raw.Send(CustomRequest([](auto&, wire::RequestBuilder& rb) { rb.add_body_type(Body::Hello); })));
  RawReply r;
  REQUIRE(raw.ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
  CHECK(r.code == uint8_t(wire::ProtocolCode::kBadFrame));
  CHECK(raw.WaitClosed(kWaitMs));

  StillServing(f, other.get());
  CHECK(f.accounts().ledger().LastSeq() == last);
}

TEST_CASE("server: an unknown operation gets code 65 and the connection stays usable", "[server][limits]") {
  ServerFixture f;
  auto raw = Authenticated(f);
  auto stats_table = [](flatbuffers::FlatBufferBuilder& fbb) { return wire::CreateStats(fbb).Union(); };
  const auto beyond = static_cast<Body>(static_cast<uint8_t>(Body::MAX) + 1);
  const std::vector<std::string> frames = {
      CustomRequest([&](auto&, wire::RequestBuilder& rb) { rb.add_body_type(beyond); }, stats_table),
      CustomRequest([](auto&, wire::RequestBuilder& rb) { rb.add_body_type(static_cast<Body>(200)); }, stats_table),
      CustomRequest([](auto&, wire::RequestBuilder&) {}),  // no body at all: NONE
  };
  for (const auto& frame : frames) {
    REQUIRE(raw->Send(frame));
    RawReply r;
    REQUIRE(raw->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
    CHECK(r.code == uint8_t(wire::ProtocolCode::kUnknownOperation));
    CHECK(r.correlation_id == 77);
    // Still open and answering.
    REQUIRE(raw->Send(test::StatsFrame(78)));
    REQUIRE(raw->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
    CHECK(r.correlation_id == 78);
    CHECK(r.code == 0);
  }
  StillServing(f);
}

TEST_CASE("server: a half frame that stalls is closed after frame_timeout_ms", "[server][limits]") {
  ServerFixture f([](ServerOptions& o) {
    o.frame_timeout_ms = 200;
    o.idle_timeout_ms = 600'000;
  });
  auto raw = Authenticated(f);
  REQUIRE(raw->Send(Header(100) + "0123456789"));
  CHECK(raw->WaitClosed(kWaitMs));

  // A stalled frame behind a pipelined request still in flight: the request
  // is not a reason to wait for the rest of the frame forever.
  auto sub = test::RequestFrame(2, Body::Subscribe, [](flatbuffers::FlatBufferBuilder& fbb) {
    return wire::CreateSubscribe(fbb, 1).Union();
  });
  auto admin = Authenticated(f, test::kAdminToken);
  REQUIRE(admin->Send(sub));  // a subscription: never "idle", so only the frame timeout can end it
  RawReply r;
  REQUIRE(admin->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
  CHECK(r.code == 0);
  REQUIRE(admin->Send(Header(100) + "0123456789"));
  CHECK(admin->WaitClosed(kWaitMs));
  StillServing(f);
}

TEST_CASE("server: an idle client is closed after idle_timeout_ms", "[server][limits]") {
  ServerFixture f([](ServerOptions& o) { o.idle_timeout_ms = 300; });
  auto raw = Authenticated(f);
  CHECK(raw->WaitClosed(kWaitMs));
  RawConn silent(f.port());  // never says Hello
  CHECK(silent.WaitClosed(kWaitMs));
  StillServing(f);
}

TEST_CASE("server: a quiet subscriber is not idle and does not spin", "[server][limits]") {
  ServerFixture f([](ServerOptions& o) { o.idle_timeout_ms = 100; });
  auto sub = Authenticated(f, test::kAuditorToken);
  REQUIRE(sub->Send(test::RequestFrame(2, Body::Subscribe, [](flatbuffers::FlatBufferBuilder& fbb) {
    return wire::CreateSubscribe(fbb, 1).Union();
  })));
  RawReply r;
  REQUIRE(sub->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);  // OK
  REQUIRE(sub->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);  // the initial policy event
  CHECK(r.events == 1);

  // Well past the idle timeout, nothing happening: the process sleeps.
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  getrusage(RUSAGE_SELF, &after);
  auto cpu_ms = [](const rusage& u) {
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000.0 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000.0;
  };
  CHECK(cpu_ms(after) - cpu_ms(before) < 400);

  // Still subscribed: a new event arrives.
  auto w = f.Connect(test::kWriterToken);
  Client::Reply a;
  REQUIRE(w->Call(Body::RecordAccess, test::RecordAccessBody("/late"), &a).ok());
  REQUIRE(a.status.ok());
  REQUIRE(sub->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
  CHECK(r.correlation_id == 2);
  CHECK(r.events == 1);
}

TEST_CASE("server: a connection flood is limited and the server recovers", "[server][limits]") {
  constexpr size_t kMax = 16, kConns = 300;
  ServerFixture f([](ServerOptions& o) { o.connections_max = kMax; });
  std::vector<std::unique_ptr<RawConn>> conns;
  for (size_t i = 0; i < kConns; ++i) {
    conns.push_back(std::make_unique<RawConn>(f.port()));
    REQUIRE(conns.back()->connected());  // the kernel accepts; the server decides
  }
  for (auto& c : conns) c->Send(test::HelloFrame(1, test::kWriterToken));  // may fail on a closed one
  size_t granted = 0, busy = 0, closed = 0;
  for (auto& c : conns) {
    RawReply r;
    switch (c->ReadFrame(kWaitMs, &r)) {
      case RawConn::Got::kFrame:
        if (r.code == 0) {
          CHECK(r.role == wire::Role::Writer);
          ++granted;
        } else {
          CHECK(r.code == uint8_t(Code::kBusy));
          CHECK(r.correlation_id == 0);
          CHECK(c->WaitClosed(kWaitMs));
          ++busy;
        }
        break;
      case RawConn::Got::kClosed: ++closed; break;
      case RawConn::Got::kTimeout: FAIL("no answer and no close"); break;
    }
  }
  CHECK(granted == kMax);
  CHECK(busy + closed == kConns - kMax);
  CHECK(busy > 0);

  // While full, a new client is turned away with Busy (or a reset before it could read it).
  std::unique_ptr<Client> c;
  Status s = Client::Connect(f.address(), test::kWriterToken, &c);
  INFO(s.ToString());  // the disjunction alone would not say which code came back
  CHECK((s.code() == Code::kBusy || s.code() == Code::kIOError));

  conns.clear();
  // The server notices the closes on its own time; then every slot is usable again.
  std::vector<std::unique_ptr<Client>> again;
  for (size_t i = 0; i < kMax; ++i) {
    again.push_back(test::ConnectRetry(f, test::kAuditorToken, kWaitMs));
    Client::Reply r;
    REQUIRE(again.back()->Call(Body::Stats, test::StatsBody(), &r).ok());
    CHECK(r.status.ok());
  }
}

TEST_CASE("server: a subscriber that never reads is cut off while appends go on", "[server][limits]") {
  ServerFixture f([](ServerOptions& o) {
    o.subscriber_lag_events_max = 64;
    o.out_queue_bytes_max = 64 << 10;
  });
  RawConn sub(f.port(), 4096);  // a small receive buffer, so the server's queue fills soon
  REQUIRE(sub.Send(test::HelloFrame(1, test::kAuditorToken)));
  REQUIRE(sub.Send(test::RequestFrame(2, Body::Subscribe, [](flatbuffers::FlatBufferBuilder& fbb) {
    return wire::CreateSubscribe(fbb, 1).Union();
  })));

  // ~5 KB events, pipelined in windows of 50 from one writer.
  auto w = f.Connect(test::kWriterToken);
  const std::string filler(1000, 'f');
  constexpr int kEvents = 2000, kWindow = 50;
  std::set<uint64_t> acked;
  for (int i = 0; i < kEvents; i += kWindow) {
    for (int j = 0; j < kWindow; ++j) {
      uint64_t corr;
      REQUIRE(w->Send(Body::RecordAccess, test::RecordAccessBody(test::Name("/", i + j), filler), &corr).ok());
    }
    for (int j = 0; j < kWindow; ++j) {
      Client::Reply r;
      REQUIRE(w->Receive(&r).ok());
      INFO(r.status.ToString());
      REQUIRE(r.status.ok());
      acked.insert(r.seq);
    }
  }
  CHECK(acked.size() == kEvents);

  // Now read what the subscriber was sent: Hello, OK, pushes in order, then 69 and the close.
  RawReply r;
  REQUIRE(sub.ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
  CHECK(r.role == wire::Role::Auditor);
  REQUIRE(sub.ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
  CHECK(r.correlation_id == 2);
  CHECK(r.code == 0);
  std::vector<RawReply> rest;
  REQUIRE(sub.WaitClosed(kWaitMs * 3, &rest));
  REQUIRE_FALSE(rest.empty());
  CHECK(rest.back().code == uint8_t(wire::ProtocolCode::kSubscriberTooSlow));
  CHECK(rest.back().correlation_id == 2);
  size_t pushed = 0;
  for (size_t i = 0; i + 1 < rest.size(); ++i) {
    CHECK(rest[i].code == 0);
    pushed += rest[i].events;
  }
  CHECK(pushed < kEvents + 1);  // cut off before the end
  StillServing(f, w.get());
}

TEST_CASE("server: a cut-off subscriber that never reads is closed", "[server][limits]") {
  ServerFixture f([](ServerOptions& o) {
    o.subscriber_lag_events_max = 64;
    o.out_queue_bytes_max = 64 << 10;
    o.idle_timeout_ms = 1000;
    o.connections_max = 3;
  });
  RawConn sub(f.port(), 4096);
  REQUIRE(sub.Send(test::HelloFrame(1, test::kAuditorToken)));
  REQUIRE(sub.Send(test::RequestFrame(2, Body::Subscribe, [](flatbuffers::FlatBufferBuilder& fbb) {
    return wire::CreateSubscribe(fbb, 1).Union();
  })));
  {
    auto w = f.Connect(test::kWriterToken);
    const std::string filler(1000, 'f');
    for (int i = 0; i < 2000; i += 50) {
      for (int j = 0; j < 50; ++j) {
        uint64_t corr;
        REQUIRE(w->Send(Body::RecordAccess, test::RecordAccessBody(test::Name("/", i + j), filler), &corr).ok());
      }
      for (int j = 0; j < 50; ++j) {
        Client::Reply r;
        REQUIRE(w->Receive(&r).ok());
        REQUIRE(r.status.ok());
      }
    }
  }
  // All three slots come free for subscribers (never idle), which needs the
  // stuck one gone although it never read a byte.
  const uint64_t next = f.accounts().ledger().LastSeq() + 1;
  std::vector<std::unique_ptr<Client>> subs;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(test::ConnectRetry(f, test::kAuditorToken, kWaitMs));
    Client::Reply r;
    REQUIRE(subs.back()->Call(Body::Subscribe, [&](flatbuffers::FlatBufferBuilder& fbb) {
      return wire::CreateSubscribe(fbb, next).Union();
    }, &r).ok());
    CHECK(r.status.ok());
  }
}

TEST_CASE("server: a connection closed with its Subscribe in flight leaves no trace", "[server][limits]") {
  ServerFixture f([](ServerOptions& o) {
    o.worker_threads = 1;  // so the worker queue orders the commands of both connections
    o.connections_max = 3;
  });
  auto aud = Authenticated(f, test::kAuditorToken);
  auto w = f.Connect(test::kWriterToken);
  int n = 0;
  auto registers = [&](int count) {
    for (int i = 0; i < count; ++i, ++n) {
      uint64_t corr;
      REQUIRE(w->Send(Body::Register, test::RegisterBody(test::Name("inflight", n) + "@example.org"), &corr).ok());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  };
  // Worker queue: registers, the auditor's Stats, registers, its Subscribe.
  // The auditor resets the connection early, so the Stats response fails to
  // write and the session closes before the Subscribe comes back.
  registers(15);
  REQUIRE(aud->Send(test::StatsFrame(2)));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  registers(15);
  REQUIRE(aud->Send(test::RequestFrame(3, Body::Subscribe, [](flatbuffers::FlatBufferBuilder& fbb) {
    return wire::CreateSubscribe(fbb, 1).Union();
  })));
  aud->Reset();
  for (int i = 0; i < n; ++i) {
    Client::Reply r;
    REQUIRE(w->Receive(&r).ok());
    CHECK(r.status.ok());
  }
  Client::Reply r;
  REQUIRE(w->Call(Body::RecordAccess, test::RecordAccessBody("/wake"), &r).ok());  // wakes subscribers
  REQUIRE(r.status.ok());
  w.reset();
  // Every slot is usable: no session lingers for the closed subscriber.
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(test::ConnectRetry(f, test::kWriterToken, kWaitMs));
    REQUIRE(clients.back()->Call(Body::Stats, test::StatsBody(), &r).ok());
    CHECK(r.status.ok());
  }
}

TEST_CASE("server: reads and pushes of large events fit the client's frame limit", "[server][limits]") {
  ServerFixture f;
  auto w = f.Connect(test::kWriterToken);
  const std::string filler(1000, 'f');  // ~5 KB events: 1024 of them would be a 5 MB frame
  for (int i = 0; i < 400; i += 100) {
    for (int j = i; j < i + 100; ++j) {
      uint64_t corr;
      REQUIRE(w->Send(Body::RecordAccess, test::RecordAccessBody(test::Name("/big", j), filler), &corr).ok());
    }
    for (int j = i; j < i + 100; ++j) {
      Client::Reply r;
      REQUIRE(w->Receive(&r).ok());
      REQUIRE(r.status.ok());
    }
  }
  const uint64_t last = f.accounts().ledger().LastSeq();
  REQUIRE(last == 401);

  // ReadLog stops early rather than pass the default frame limit; the
  // reader pages on from the last seq it got.
  auto read_all = [&](Client& c, uint32_t limit) {
    uint64_t next = 1;
    size_t pages = 0;
    while (next <= last) {
      REQUIRE(++pages < 100);
      Client::Reply r;
      Status s = c.Call(Body::ReadLog, test::ReadLogBody(next, limit), &r);
      INFO(s.ToString());
      REQUIRE(s.ok());
      REQUIRE(r.status.ok());
      REQUIRE_FALSE(r.events.empty());
      REQUIRE(r.events.size() <= limit);
      for (auto& e : r.events) REQUIRE(e.first == next++);
    }
    return pages;
  };
  auto au = f.Connect(test::kAuditorToken);
  CHECK(read_all(*au, 64) == (last + 63) / 64);  // small pages: exactly as asked
  CHECK(read_all(*au, 1024) > 1);                // 2 MB of events: split

  // Subscription pushes stay under the default limit too.
  Client::Reply r;
  uint64_t corr = 0;
  REQUIRE(au->Send(Body::Subscribe, test::SubscribeBody(1), &corr).ok());
  REQUIRE(au->Receive(&r).ok());
  CHECK(r.status.ok());
  for (uint64_t next = 1; next <= last;) {
    Status s = au->Receive(&r);
    INFO(s.ToString());
    REQUIRE(s.ok());
    REQUIRE(r.status.ok());
    REQUIRE(r.correlation_id == corr);
    for (auto& e : r.events) REQUIRE(e.first == next++);
  }
}

// The ledger's writer destroys a command's completion after it has called
// every completion of the group. A session whose client left and whose last
// answer has come back is closed by then, so Stop used to return, and the
// server be destroyed, while the writer still held that session: ~Session
// then ran on freed memory. Here a slower completion later in the same group
// keeps the writer between the two.
TEST_CASE("server: Stop waits until the ledger lets go of every session", "[server]") {
  // Before f: the completions write here until the writer has stopped.
  std::atomic<int> ok_answers{0};
  std::atomic<bool> slow_done{false};
  auto gate = std::make_shared<test::WriterGate>();
  ServerFixture f({}, [gate](AccountsOptions& o) { o.on_commit = gate->Hook(); });
  test::WriterGate::OpenOnExit open_on_exit{gate.get()};  // after f: opens before f's destructor waits
  RegisterResult ann;
  REQUIRE(f.accounts().Register({"Ann", "ann@example.org", test::kServerPassword, "diverse", "1985-06-07",
                                 "198.51.100.7", "agent", "", "1.01"}, &ann).ok());
  auto client = Authenticated(f);
  gate->Arm();
  // The writer stops in the first group's on_commit, so the client's
  // RecordAccess and then the slow completion queue behind it, in that
  // order. (Completions run on the writer: they only set flags.)
  REQUIRE(f.accounts().GiveConsent(ann.account_id, fb::Purpose::Surveys, {}, [&](Status s, Receipt) {
    if (s.ok()) ++ok_answers;
  }).ok());
  REQUIRE(gate->WaitStopped());
  REQUIRE(client->Send(test::RequestFrame(2, Body::RecordAccess, test::RecordAccessBody("/leaving"))));
  // Queued by the I/O thread as soon as it is read (no worker, no Argon2id).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(f.accounts().WithdrawConsent(ann.account_id, fb::Purpose::Surveys, {}, [&](Status s, Receipt) {
    if (s.ok()) ++ok_answers;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    slow_done = true;
  }).ok());
  client->Reset();  // its session closes once the RecordAccess's answer is back
  gate->Open();
  f.server().Stop();
  CHECK(slow_done);  // Stop returned only after the writer let go of the group
  CHECK(ok_answers == 2);
  f.Reopen();
  std::vector<fb::Payload> types;
  for (const auto& e : f.AllEvents()) {
    events::EventView v;
    REQUIRE(events::EventView::Parse(e.envelope, &v).ok());
    types.push_back(v.type());
  }
  REQUIRE(types.size() >= 4);  // Ann's registration, her consent given and withdrawn, the access
  CHECK(std::count(types.begin(), types.end(), fb::Payload::AccessLogged) == 1);
  CHECK(types.back() == fb::Payload::ConsentWithdrawn);
}

}  // namespace
