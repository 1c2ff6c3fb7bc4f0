// accountabled as a child process, for tests that need the real program
// (flags, signals, files it creates). Its stdout and stderr share one pipe,
// read line by line; every line read is kept, so a test can look for what
// the daemon said (or did not say) at any point.
//
//   test::Daemon d({ACCOUNTABLE_SERVER, "--data", dir, "--listen", "127.0.0.1:0"});
//   const uint16_t port = d.WaitListening();   // 0 if it ended first
//   ::kill(d.pid(), SIGHUP);
//   REQUIRE(d.WaitForLine("SIGHUP: reloaded"));
//   CHECK(d.Exit(SIGTERM) == 0);
//
// Not thread-safe; the destructor SIGKILLs a daemon still running.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_util.h"

namespace accountable::test {

class Daemon {
 public:
  // `env` adds NAME=VALUE entries to ours (ACCOUNTABLE_CRASH_AT, say).
  explicit Daemon(std::vector<std::string> args, std::vector<std::string> env = {}) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // Built before fork: the child may make only async-signal-safe calls.
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e)
      if (std::strncmp(*e, "ACCOUNTABLE_CRASH_AT=", 21) != 0) envp.push_back(*e);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::dup2(fds[1], STDERR_FILENO);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
    reader_.emplace(out_);
  }
  ~Daemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  pid_t pid() const { return pid_; }
  // The port from "listening on HOST:PORT"; 0 if the process ended first.
  uint16_t WaitListening() {
    const std::regex re("listening on [0-9.]+:([0-9]+)");
    std::optional<std::string> line = WaitFor([&](const std::string& l) { return std::regex_search(l, re); });
    std::smatch m;
    if (!line || !std::regex_search(*line, m, re)) return 0;
    return static_cast<uint16_t>(std::stoi(m[1]));
  }
  // Waits up to 30 s for a line, read after the last one this returned,
  // that contains text; nullopt if the process ended or time ran out first.
  std::optional<std::string> WaitForLine(const std::string& text) {
    return WaitFor([&](const std::string& l) { return l.find(text) != std::string::npos; });
  }
  // Every line read so far; after Exit or Wait, everything the process wrote.
  const std::vector<std::string>& lines() const { return lines_; }
  // Signals (if sig) and waits up to 30 s; the exit code, or -1.
  int Exit(int sig) {
    if (sig) ::kill(pid_, sig);
    std::optional<int> status = Wait();
    return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
  }
  // Waits up to 30 s for the process to end by itself; its wait status.
  std::optional<int> Wait() {
    int status = 0;
    for (int i = 0; i < 3000; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        reader_->Drain(&lines_);
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

 private:
  template <typename Match>
  std::optional<std::string> WaitFor(const Match& match) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      for (; seen_ < lines_.size(); ++seen_)
        if (match(lines_[seen_])) return lines_[seen_++];
      if (std::chrono::steady_clock::now() >= deadline || !reader_->Poll(100, &lines_)) return std::nullopt;
    }
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::optional<LineReader> reader_;
  std::vector<std::string> lines_;
  size_t seen_ = 0;  // lines_ before this were looked at by WaitFor
};

}  // namespace accountable::test
