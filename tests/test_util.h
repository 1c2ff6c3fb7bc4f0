// Shared helpers for the test suites and the helper programs they drive.
//
//   test::TempDir dir;                                  // removed on scope exit
//   LedgerOptions o = test::LedgerAt(dir.Sub("events"));
//   batch.push_back(test::Consent(42, "req-1"));        // a valid ConsentGiven command
//
// Nothing here depends on Catch2, so helper programs (append_child) can use it.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/ledger.h"
#include "events/event.h"

namespace accountable::test {

// A fresh directory under the system temp dir, removed recursively on destruction.
class TempDir {
 public:
  explicit TempDir(std::string_view tag = "accountable-test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(tag) + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string Sub(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// prefix followed by n in decimal ("r" + std::to_string(n) trips a GCC 12
// -Wrestrict false positive at -O2).
// Substring test for messages and CLI output; one copy instead of one per suite.
inline bool Contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// How many events of one type a list of payload types holds.
inline size_t CountOf(const std::vector<fb::Payload>& types, fb::Payload t) {
  return static_cast<size_t>(std::count(types.begin(), types.end(), t));
}

inline std::string Name(std::string_view prefix, uint64_t n) {
  return std::string(prefix).append(std::to_string(n));
}

// Writes a key or token file as the programs require it: mode 0600, since a
// file that group or others may read is refused (crypto::ReadSecretFile).
inline void WriteSecretFile(const std::string& path, std::string_view bytes, mode_t mode = 0600) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  std::filesystem::permissions(path, static_cast<std::filesystem::perms>(mode),
                               std::filesystem::perm_options::replace);
}

inline constexpr int64_t kTestTimeMs = 1'700'000'000'000;  // 2023-11-14

// A valid ConsentGiven envelope (no PII) for account_id with request_id.
inline std::string ConsentEnvelope(uint64_t account_id, const std::string& request_id,
                                   fb::Purpose purpose = fb::Purpose::Surveys) {
  events::EnvelopeBuilder b;
  auto& fbb = b.fbb();
  auto payload = fb::CreateConsentGiven(fbb, purpose, fbb.CreateString("1.01"), false);
  events::Header h{account_id, kTestTimeMs, fb::Actor::Holder, request_id, "1.01"};
  return b.Finish(h, fb::Payload::ConsentGiven, payload.Union());
}

// A valid AccessRequested envelope (no PII) for account_id with request_id.
inline std::string AccessRequestedEnvelope(uint64_t account_id, const std::string& request_id) {
  events::EnvelopeBuilder b;
  auto payload = fb::CreateAccessRequested(b.fbb(), fb::AccessChannel::SelfService);
  events::Header h{account_id, kTestTimeMs, fb::Actor::Holder, request_id, "1.01"};
  return b.Finish(h, fb::Payload::AccessRequested, payload.Union());
}

inline Ledger::Command Consent(uint64_t account_id, const std::string& request_id,
                               std::optional<uint64_t> expected_version = std::nullopt) {
  return Ledger::Command{ConsentEnvelope(account_id, request_id), expected_version};
}

// Ledger options with a deterministic clock: each group gets the next tick.
inline LedgerOptions LedgerAt(const std::string& dir, AppendHook* hook = nullptr) {
  LedgerOptions o;
  o.dir = dir;
  o.hook = hook;
  auto tick = std::make_shared<std::atomic<int64_t>>(kTestTimeMs);
  o.clock_ms = [tick] { return tick->fetch_add(1) + 1; };
  return o;
}

// A child process (fork + exec) whose stdout is a pipe we read.
// Killed with SIGKILL and reaped on destruction if still running.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) std::abort();
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) std::abort();
    if (pid_ == 0) {  // only async-signal-safe calls until exec
      ::dup2(fds[1], STDOUT_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_fd_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      Kill();
      Wait();
    }
    if (out_fd_ >= 0) ::close(out_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int stdout_fd() const { return out_fd_; }
  void Kill() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }
  // Reaps the child; returns its wait status.
  int Wait() {
    int status = 0;
    if (pid_ > 0) {
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
      pid_ = -1;
    }
    return status;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
};

// Splits what a pipe delivers into newline-terminated lines.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  // Waits up to timeout_ms for data and appends every complete line to lines.
  // Returns false once the writer closed the pipe (EOF) or on a read error.
  bool Poll(int timeout_ms, std::vector<std::string>* lines) {
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0) return errno == EINTR;
    if (r == 0) return true;
    char buf[4096];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0) return errno == EINTR;
    if (n == 0) return false;
    partial_.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1)
      lines->push_back(partial_.substr(start, nl - start));
    partial_.erase(0, start);
    return true;
  }
  // Reads until EOF (the writer must be dead or about to close).
  void Drain(std::vector<std::string>* lines) {
    while (Poll(1000, lines)) {}
  }

 private:
  int fd_;
  std::string partial_;  // an incomplete last line
};

inline std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct ExecResult {
  int code = -1;  // exit code, or 128 + signal
  std::string out, err;
};

// Runs argv[0] with stdin from `input`, capturing stdout and stderr through
// files in `scratch` (no pipes, so no deadlock and no SIGPIPE). No Catch2
// assertions: it runs on worker threads too.
inline ExecResult Exec(const std::vector<std::string>& argv, const std::string& input, const std::string& scratch) {
  const std::string in = scratch + "/stdin", out = scratch + "/stdout", err = scratch + "/stderr";
  std::ofstream(in, std::ios::binary | std::ios::trunc) << input;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ExecResult o;
  pid_t pid = ::fork();
  if (pid < 0) return o;
  if (pid == 0) {  // only async-signal-safe calls from here on
    int fi = ::open(in.c_str(), O_RDONLY | O_CLOEXEC);
    int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int fe = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fi < 0 || fo < 0 || fe < 0 || ::dup2(fi, 0) < 0 || ::dup2(fo, 1) < 0 || ::dup2(fe, 2) < 0) ::_exit(126);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return o;
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  o.out = Slurp(out);
  o.err = Slurp(err);
  return o;
}

// Up to 30 s for done() to hold.
inline bool WaitFor(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return done();
}

}  // namespace accountable::test
