// SHA-256 as the Merkle tree calls it (core/merkle.h): one-shot hashes of
// prefix || a || b for nodes (1 + 32 + 32 = 65 bytes) and leaves (1 + an
// envelope, typically 100-400 bytes; 447 is the audit benchmark's mean),
// side by side in one run:
//   ours        Sha256Of (core/sha256.cc: OpenSSL EVP, thread_local context)
//   sodium      libsodium crypto_hash_sha256 init/update x3/final
//   evp-ctx     OpenSSL EVP, one EVP_MD_CTX and a fetched EVP_MD reused,
//               Init_ex/Update x3/Final_ex per hash: ours without the wrapper
//   evp-digest  OpenSSL EVP_Digest on prefix||a||b copied into one buffer
//   sha256      OpenSSL SHA256() one-shot on the same copy
// Each figure is CPU ns per hash (this thread's CPU time), the median of
// --runs runs of --ms each, the runs interleaved across implementations.
//
//   accountable-sha256-bench [--runs 3] [--ms 300]
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/sha256.h"

namespace acc = accountable;

namespace {

using HashFn = std::function<acc::Digest(uint8_t, std::string_view, std::string_view)>;

acc::Digest Sodium(uint8_t p, std::string_view a, std::string_view b) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, &p, 1);
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(a.data()), a.size());
  crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(b.data()), b.size());
  acc::Digest d;
  crypto_hash_sha256_final(&st, d.data());
  return d;
}

struct Evp {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Evp() {
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
  }
  acc::Digest Ctx(uint8_t p, std::string_view a, std::string_view b) {
    acc::Digest d;
    unsigned n = 0;
    EVP_DigestInit_ex(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, &p, 1);
    EVP_DigestUpdate(ctx, a.data(), a.size());
    EVP_DigestUpdate(ctx, b.data(), b.size());
    EVP_DigestFinal_ex(ctx, d.data(), &n);
    return d;
  }
};

// What a one-shot API needs first: prefix || a || b in one buffer.
const unsigned char* Join(uint8_t p, std::string_view a, std::string_view b, std::string* buf) {
  buf->resize(1 + a.size() + b.size());
  (*buf)[0] = static_cast<char>(p);
  std::memcpy(buf->data() + 1, a.data(), a.size());
  if (!b.empty()) std::memcpy(buf->data() + 1 + a.size(), b.data(), b.size());
  return reinterpret_cast<const unsigned char*>(buf->data());
}

double ThreadCpuNs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

// CPU ns per hash over about ms milliseconds of this thread's CPU time,
// hashing input split as the tree does. CPU time, not wall time: the
// machine is shared, and time spent descheduled is not the hash's.
double Measure(const HashFn& fn, const std::string& input, bool node, int ms) {
  const std::string_view all(input);
  const std::string_view a = node ? all.substr(0, 32) : all, b = node ? all.substr(32) : std::string_view();
  uint8_t sink = 0;
  uint64_t hashes = 0;
  const double start = ThreadCpuNs(), until = start + ms * 1e6;
  double now = start;
  do {
    for (int i = 0; i < 1000; ++i) sink ^= fn(node ? 0x01 : 0x00, a, b)[static_cast<size_t>(i) & 31];
    hashes += 1000;
    now = ThreadCpuNs();
  } while (now < until);
  if (sink == 0x5a) std::fputs("", stderr);  // keeps the hashes from being optimized away
  return (now - start) / static_cast<double>(hashes);
}

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "%s\nusage: accountable-sha256-bench [--runs N] [--ms MS]\n", why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 3, ms = 300;
  for (int i = 1; i < argc; i += 2) {
    const std::string f = argv[i];
    if (i + 1 >= argc) Usage("every flag takes a value");
    if (f == "--runs") runs = std::atoi(argv[i + 1]);
    else if (f == "--ms") ms = std::atoi(argv[i + 1]);
    else Usage("unknown flag " + f);
  }
  if (runs < 1 || ms < 1) Usage("--runs and --ms must be positive");
  if (sodium_init() < 0) return 1;
  Evp evp;
  std::string buf;
  const std::vector<std::pair<std::string, HashFn>> impls = {
      {"ours", acc::Sha256Of},
      {"sodium", Sodium},
      {"evp-ctx", [&](uint8_t p, std::string_view a, std::string_view b) { return evp.Ctx(p, a, b); }},
      {"evp-digest", [&](uint8_t p, std::string_view a, std::string_view b) {
         acc::Digest d;
         const unsigned char* in = Join(p, a, b, &buf);
         EVP_Digest(in, buf.size(), d.data(), nullptr, evp.md, nullptr);
         return d;
       }},
      {"sha256", [&](uint8_t p, std::string_view a, std::string_view b) {
         acc::Digest d;
         const unsigned char* in = Join(p, a, b, &buf);
         SHA256(in, buf.size(), d.data());
         return d;
       }}};
  // Same digest from every implementation, or the comparison means nothing.
  const std::string check(300, 'x');
  for (const auto& [name, fn] : impls)
    if (fn(0x00, check, {}) != acc::Sha256Of(0x00, check, {})) Usage(name + " disagrees with Sha256Of");
  std::printf("CPU ns per hash, median of %d runs of %d ms CPU\n", runs, ms);
  std::printf("%-12s", "input");
  for (const auto& [name, fn] : impls) std::printf(" %11s", name.c_str());
  std::printf("\n");
  struct Case { const char* name; size_t bytes; bool node; };
  for (const Case c : {Case{"node 65", 64, true}, Case{"leaf 101", 100, false}, Case{"leaf 257", 256, false},
                       Case{"leaf 401", 400, false}, Case{"leaf 448", 447, false}}) {
    std::string input(c.bytes, '\0');
    randombytes_buf(input.data(), input.size());
    // Runs interleaved across implementations, so drift in the machine's
    // load (shared cores) falls on all of them alike.
    std::vector<std::vector<double>> ns(impls.size());
    for (int r = 0; r < runs; ++r)
      for (size_t k = 0; k < impls.size(); ++k) ns[k].push_back(Measure(impls[k].second, input, c.node, ms));
    std::printf("%-12s", c.name);
    for (auto& v : ns) {
      std::sort(v.begin(), v.end());
      std::printf(" %11.1f", v[v.size() / 2]);
    }
    std::printf("\n");
  }
  double load[1] = {0};
  if (getloadavg(load, 1) == 1) std::printf("load average (1 min) at the end: %.1f\n", load[0]);
  return 0;
}
