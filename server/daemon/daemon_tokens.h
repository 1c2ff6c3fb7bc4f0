// accountabled's tokens: the first start (a token per role when there is no
// token file yet) and the signal loop that reloads the token file (and the TLS
// files, Server::ReloadTls) on SIGHUP.
// The file format and its editing: server/daemon/token_file.h.
//
//   std::map<std::string, wire::Role> digests;
//   Status s = FirstStartTokens({data_dir, key_dir, token_file, token_file_given}, &digests);
//   SignalLoop signals(token_file);          // before the server says it listens
//   ... Server::Start(...) ...
//   signals.Run(server.get());               // returns on SIGINT or SIGTERM
//
// Thread safety: call from main's thread only.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "server/daemon/server.h"

namespace accountable {

struct TokenPaths {
  std::string data_dir;
  std::string key_dir;      // holds <role>.token on a first start
  std::string token_file;
  bool token_file_given = false;  // --token-file: a missing file is an error, never created
};

// Loads the token file into *digests. If it does not exist and was not
// given by flag: creates data_dir and key_dir (mode 0700), a fresh token per
// role in key_dir/<role>.token (0600; InvalidArgument, nothing written, if
// one exists already), and the token file holding their digests; names each
// file on stderr, never a token.
Status FirstStartTokens(const TokenPaths& paths, std::map<std::string, wire::Role>* digests);

// SIGINT and SIGTERM end Run; SIGHUP reloads the token file into the server
// (Server::ReplaceTokens). A file that fails to load is logged and the old
// set kept. Construct it early: from then on these signals are handled, not
// fatal.
class SignalLoop {
 public:
  explicit SignalLoop(std::string token_file);
  ~SignalLoop();
  SignalLoop(const SignalLoop&) = delete;
  SignalLoop& operator=(const SignalLoop&) = delete;
  void Run(Server* server);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace accountable
