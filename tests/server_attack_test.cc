// The server's resource limits under attack: each test breaks one limit over
// TCP and checks that it held (docs/protocol.md, "Limits and timeouts").
// Before Hello: the frame limit, the handshake deadline, the caps on
// unauthenticated connections. For everyone: body buffers that grow only
// with bytes received, the server's buffer budget, the response budget per
// frame and per Batch, and the output limit of a connection that does not read.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/server_test_util.h"

namespace {

using namespace accountable;
using test::RawConn;
using test::RawReply;
using test::ServerFixture;
using wire::Body;
using Code = Status::Code;

constexpr int kWaitMs = 20'000;  // "eventually": generous, never a timing assertion
constexpr uint8_t kFrameTooLarge = uint8_t(wire::ProtocolCode::kFrameTooLarge);
constexpr uint8_t kResponseOverBudget = uint8_t(wire::ProtocolCode::kResponseOverBudget);
constexpr uint8_t kRequestOverBudget = uint8_t(wire::ProtocolCode::kRequestOverBudget);

std::string Header(uint32_t len) {
  std::string h(wire::kFrameHeaderBytes, '\0');
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  return h;
}

std::unique_ptr<RawConn> Hello(ServerFixture& f, const std::string& token, int rcvbuf = 0) {
  auto raw = std::make_unique<RawConn>(f.port(), rcvbuf);
  REQUIRE(raw->connected());
  REQUIRE(raw->Send(test::HelloFrame(1, token)));
  RawReply r;
  REQUIRE(raw->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
  REQUIRE(r.code == 0);
  return raw;
}

void StatsOk(Client& c) {
  Client::Reply r = test::CallOk(c, Body::Stats, test::StatsBody());
  CHECK(r.status.ok());
}

// count events of about 3 KB each, pipelined.
void Fill(ServerFixture& f, int count) {
  auto w = f.Connect(test::kWriterToken);
  const std::string filler(1000, 'f');
  for (int i = 0; i < count; i += 50) {
    for (int j = i; j < std::min(count, i + 50); ++j) {
      uint64_t corr;
      REQUIRE(w->Send(Body::RecordAccess, test::RecordAccessBody(test::Name("/", uint64_t(j)), filler), &corr).ok());
    }
    for (int j = i; j < std::min(count, i + 50); ++j) {
      Client::Reply r;
      REQUIRE(w->Receive(&r).ok());
      REQUIRE(r.status.ok());
    }
  }
}

TEST_CASE("attack: before Hello only a Hello-sized frame is read", "[server][limits][attack]") {
  ServerFixture f([](ServerOptions& o) { o.hello_frame_bytes_max = 256; });
  RawConn raw(f.port());
  REQUIRE(raw.Send(Header(257) + std::string(100, 'x')));
  RawReply r;
  REQUIRE(raw.ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
  CHECK(r.code == kFrameTooLarge);
  CHECK(r.correlation_id == 0);
  CHECK(raw.WaitClosed(kWaitMs));
  // Once authenticated, the same frame is within frame_bytes_max: padded Stats.
  auto ok = Hello(f, test::kWriterToken);
  const std::string stats = test::StatsFrame(3).substr(wire::kFrameHeaderBytes);
  REQUIRE(ok->Send(Header(257) + stats + std::string(257 - stats.size(), '\0')));
  REQUIRE(ok->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
  CHECK(r.correlation_id == 3);
  CHECK(r.code == 0);
}

TEST_CASE("attack: a connection that does not complete Hello in time is closed", "[server][limits][attack]") {
  ServerFixture f([](ServerOptions& o) { o.handshake_timeout_ms = 300; });
  auto authenticated = Hello(f, test::kWriterToken);
  RawConn silent(f.port()), partial_header(f.port()), partial_body(f.port()), trickle(f.port());
  REQUIRE(partial_header.Send(std::string("\x10\x00\x00", 3)));
  REQUIRE(partial_body.Send(Header(100) + "0123456789"));
  // One byte of a Hello at a time, each well within the frame timeout.
  const std::string hello = test::HelloFrame(1, test::kWriterToken);
  for (size_t i = 0; i < 8 && trickle.Send(hello.substr(i, 1)); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  for (RawConn* c : {&silent, &partial_header, &partial_body, &trickle}) CHECK(c->WaitClosed(kWaitMs));
  // The deadline is for the handshake only: the authenticated one stays.
  REQUIRE(authenticated->Send(test::StatsFrame(2)));
  RawReply r;
  REQUIRE(authenticated->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
  CHECK(r.correlation_id == 2);
  CHECK(r.code == 0);
}

TEST_CASE("attack: 300 silent sockets keep no authenticated client out", "[server][limits][attack]") {
  ServerFixture f([](ServerOptions& o) {
    o.connections_max = 4;
    o.handshake_timeout_ms = 1000;
  });
  auto before = f.Connect(test::kWriterToken);
  std::vector<std::unique_ptr<RawConn>> silent;
  for (int i = 0; i < 300; ++i) silent.push_back(std::make_unique<RawConn>(f.port()));
  // Connected before the flood: still served, its slot untouched.
  StatsOk(*before);
  // A new client gets in once the handshake deadline has cleared the
  // silent ones (they stay open on our side the whole time).
  auto after = test::ConnectRetry(f, test::kAuditorToken, kWaitMs);
  StatsOk(*after);
  for (auto& s : silent) CHECK(s->WaitClosed(kWaitMs));
}

TEST_CASE("attack: unauthenticated connections are capped per address and in all", "[server][limits][attack]") {
  ServerFixture f([](ServerOptions& o) {
    o.unauthenticated_per_address_max = 8;
    o.unauthenticated_max = 12;
    o.handshake_timeout_ms = 600'000;  // the flood stays for the whole test
  });
  auto busy_or_closed = [](RawConn& c) {
    RawReply r;
    RawConn::Got g = c.ReadFrame(kWaitMs, &r);
    if (g == RawConn::Got::kFrame) {
      CHECK(r.code == uint8_t(Code::kBusy));
      CHECK(r.correlation_id == 0);
      return c.WaitClosed(kWaitMs);
    }
    return g == RawConn::Got::kClosed;
  };
  std::vector<std::unique_ptr<RawConn>> from2;
  for (int i = 0; i < 10; ++i) {
    from2.push_back(std::make_unique<RawConn>(f.port(), 0, "127.0.0.2"));
    REQUIRE(from2.back()->connected());
  }
  // The two over the per-address cap are turned away; the first eight wait.
  for (int i = 8; i < 10; ++i) CHECK(busy_or_closed(*from2[i]));
  RawReply r;
  for (int i = 0; i < 8; ++i) CHECK(from2[i]->ReadFrame(200, &r) == RawConn::Got::kTimeout);
  // Another address still gets in, and authenticated it no longer counts.
  auto c = f.Connect(test::kWriterToken);
  StatsOk(*c);
  std::vector<std::unique_ptr<RawConn>> from3;
  for (int i = 0; i < 4; ++i) from3.push_back(std::make_unique<RawConn>(f.port(), 0, "127.0.0.3"));
  for (int i = 0; i < 4; ++i) CHECK(from3[i]->ReadFrame(200, &r) == RawConn::Got::kTimeout);
  // 12 unauthenticated now: the total cap turns the next one away, from anywhere.
  RawConn over(f.port(), 0, "127.0.0.4");
  CHECK(busy_or_closed(over));
  StatsOk(*c);
}

TEST_CASE("attack: a claimed length costs nothing until its bytes arrive", "[server][limits][attack]") {
  ServerFixture f([](ServerOptions& o) {
    o.frame_bytes_max = 16 << 20;
    o.buffer_bytes_max = 2 << 20;
  });
  // 40 connections claim 16 MiB each (640 MiB claimed, 320 times the
  // budget) and send 100 bytes: held as 4 KiB buffers, none is refused.
  std::vector<std::unique_ptr<RawConn>> claims;
  for (int i = 0; i < 40; ++i) {
    claims.push_back(Hello(f, test::kWriterToken));
    REQUIRE(claims.back()->Send(Header(16 << 20) + std::string(100, 'x')));
  }
  RawReply r;
  for (auto& c : claims) CHECK(c->ReadFrame(200, &r) == RawConn::Got::kTimeout);
  auto c = f.Connect(test::kWriterToken);
  StatsOk(*c);
  // Bytes that do arrive are charged: 3 MiB of body passes the 2 MiB budget.
  auto big = Hello(f, test::kWriterToken);
  big->Send(Header(16 << 20) + std::string(3 << 20, 'x'));  // may fail once the server closes
  REQUIRE(big->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
  CHECK(r.code == kRequestOverBudget);
  CHECK(r.correlation_id == 0);
  CHECK(big->WaitClosed(kWaitMs));
  StatsOk(*c);
}

// One Batch of count ReadLog(from 1, limit) requests, corr 100, 101, ...
test::BodyFn ReadLogBatch(int count, uint32_t limit) {
  return [=](flatbuffers::FlatBufferBuilder& f) {
    std::vector<flatbuffers::Offset<wire::Request>> reqs;
    for (int i = 0; i < count; ++i)
      reqs.push_back(
          wire::CreateRequest(f, 100 + uint64_t(i), 0, Body::ReadLog, wire::CreateReadLog(f, 1, limit).Union()));
    return wire::CreateBatchDirect(f, &reqs).Union();
  };
}

TEST_CASE("attack: a Batch over the response budget gets code 72 for each result beyond it",
          "[server][limits][attack]") {
  ServerFixture f([](ServerOptions& o) { o.response_bytes_max = 512 << 10; });
  Fill(f, 300);
  auto aud = f.Connect(test::kAuditorToken);
  // 64 reads of 50 events (150 KB or more each): about 10 MB asked, 512 KiB allowed.
  Client::Reply rep = test::CallOk(*aud, Body::Batch, ReadLogBatch(64, 50));
  REQUIRE(rep.status.ok());
  REQUIRE(rep.results.size() == 64);
  size_t kept = 0, refused = 0, kept_bytes = 0;
  for (size_t i = 0; i < rep.results.size(); ++i) {
    const wire::Response* r = nullptr;
    REQUIRE(wire::ParseResponse(rep.results[i], &r).ok());
    CHECK(r->correlation_id() == 100 + i);
    if (r->code() == 0) {
      CHECK(r->events()->size() == 50);
      kept_bytes += rep.results[i].size();
      ++kept;
    } else {
      CHECK(r->code() == kResponseOverBudget);
      ++refused;
    }
  }
  CHECK(kept >= 1);
  CHECK(refused >= 50);
  CHECK(kept_bytes <= (512u << 10));
  // A single response over the budget is refused the same way, with its corr.
  Client::Reply one = test::CallOk(*aud, Body::ReadLog, test::ReadLogBody(1, 1024));
  CHECK(one.code == kResponseOverBudget);
  // Within the budget, a read is answered.
  Client::Reply small = test::CallOk(*aud, Body::ReadLog, test::ReadLogBody(1, 10));
  CHECK(small.status.ok());
  CHECK(small.events.size() == 10);
}

TEST_CASE("attack: a client that does not read is held to its output limit", "[server][limits][attack]") {
  ServerFixture f([](ServerOptions& o) {
    o.out_queue_bytes_max = 256 << 10;
    o.buffer_bytes_max = 4 << 20;
    o.worker_threads = 1;  // one queue: the reader's request runs after the non-reader's
  });
  Fill(f, 100);
  // 100 pipelined reads of ~90 KB or more each (9 MB, twice the server's
  // budget), never read: without the limit they would use up the budget.
  auto stuck = Hello(f, test::kAuditorToken, 4096);
  for (uint64_t i = 0; i < 100; ++i)
    REQUIRE(stuck->Send(test::RequestFrame(10 + i, Body::ReadLog, test::ReadLogBody(1, 30))));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the server read what it will
  auto reader = f.Connect(test::kAuditorToken);
  for (int i = 0; i < 3; ++i) {
    Client::Reply r = test::CallOk(*reader, Body::ReadLog, test::ReadLogBody(1, 30));
    CHECK(r.status.ok());
    CHECK(r.events.size() == 30);
  }
  // Reading now, the stuck client gets an answer to every request: the
  // ones beyond its limit as code 72.
  size_t ok = 0, refused = 0;
  for (int i = 0; i < 100; ++i) {
    RawReply r;
    REQUIRE(stuck->ReadFrame(kWaitMs, &r) == RawConn::Got::kFrame);
    if (r.code == 0) ++ok;
    else if (r.code == kResponseOverBudget) ++refused;
  }
  CHECK(ok + refused == 100);
  CHECK(ok >= 1);
  CHECK(refused >= 1);
}

}  // namespace
