// accountabled's tokens: LoadTokens, the first start, reload on SIGHUP.
#include "server/daemon/daemon_tokens.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

// Boost 1.74 awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>

#include "core/crypto.h"
#include "server/daemon/token_file.h"

namespace accountable {

namespace {

std::string RoleText(wire::Role r) { return std::string(wire::RoleName(r)); }

constexpr std::array<wire::Role, 3> kRoles = {wire::Role::Writer, wire::Role::Auditor, wire::Role::Admin};

Status MakePrivateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec) std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  if (ec) return Status::IOError("cannot create directory " + dir + " (mode 0700): " + ec.message());
  return Status::OK();
}

// A client's token file: the token and a newline, mode 0600, never replacing one.
Status WriteRoleToken(const std::string& path, const std::string& token) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  const std::string line = token + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  std::string wipe = line;
  crypto::Wipe(&wipe);
  return ok ? Status::OK() : Status::IOError("cannot write " + path);
}

// One token per role: KEY_DIR/<role>.token for clients, their digests in
// the token file. The client files first: a token file without them would
// lock every client out.
Status CreateFirstTokens(const TokenPaths& p, std::vector<tokens::Entry>* entries) {
  ACC_RETURN_IF_ERROR(MakePrivateDir(p.data_dir));
  ACC_RETURN_IF_ERROR(MakePrivateDir(p.key_dir));
  for (wire::Role r : kRoles) {
    const std::string path = p.key_dir + "/" + RoleText(r) + ".token";
    std::error_code ec;
    if (std::filesystem::exists(path, ec) || ec)
      return Status::InvalidArgument(path + " exists but the token file " + p.token_file +
                                     " does not: remove the old <role>.token files, or create the token file "
                                     "with `accountable token add`");
  }
  std::vector<std::string> written;
  for (wire::Role r : kRoles) {
    const std::string path = p.key_dir + "/" + RoleText(r) + ".token";
    std::string token = tokens::NewToken();
    Status s = WriteRoleToken(path, token);
    entries->push_back(tokens::Entry{tokens::Digest(token), r, RoleText(r)});
    crypto::Wipe(&token);
    ACC_RETURN_IF_ERROR(s);
    written.push_back(path);
  }
  ACC_RETURN_IF_ERROR(tokens::Save(p.token_file, *entries));
  std::fprintf(stderr, "first start: created a token per role in %s (the server keeps only their digests, in %s)\n",
               p.key_dir.c_str(), p.token_file.c_str());
  for (const std::string& path : written) std::fprintf(stderr, "  %s\n", path.c_str());
  std::fflush(stderr);
  return Status::OK();
}

std::map<std::string, wire::Role> ToDigests(const std::vector<tokens::Entry>& entries) {
  std::map<std::string, wire::Role> out;
  for (const auto& e : entries) out[e.digest] = e.role;
  return out;
}

}  // namespace

std::string TokenDigest(std::string_view token) { return tokens::Digest(token); }

Status LoadTokens(const std::string& path, std::map<std::string, wire::Role>* out) {
  std::vector<tokens::Entry> entries;
  size_t converted = 0;
  ACC_RETURN_IF_ERROR(tokens::Load(path, &entries, &converted));
  if (converted > 0)
    spdlog::info("token file {}: converted {} plaintext tokens to digests (the file now holds no token)", path,
                 converted);
  *out = ToDigests(entries);
  return Status::OK();
}

Status FirstStartTokens(const TokenPaths& p, std::map<std::string, wire::Role>* digests) {
  Status s = LoadTokens(p.token_file, digests);
  if (!s.Is(Status::Code::kNotFound) || p.token_file_given) return s;
  std::vector<tokens::Entry> entries;
  ACC_RETURN_IF_ERROR(CreateFirstTokens(p, &entries));
  *digests = ToDigests(entries);
  return Status::OK();
}

struct SignalLoop::Impl {
  explicit Impl(std::string path) : token_file(std::move(path)), signals(io, SIGINT, SIGTERM, SIGHUP) {}
  void Wait(Server* server) {
    signals.async_wait([this, server](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig != SIGHUP) {
        spdlog::info("signal {}: stopping", sig);
        return;
      }
      Reload(server);
      ReloadTls(server);
      Wait(server);
    });
  }
  void Reload(Server* server) {
    std::map<std::string, wire::Role> digests;
    Status s = LoadTokens(token_file, &digests);
    if (!s.ok()) {
      spdlog::error("SIGHUP: token file not reloaded, the previous tokens stay in force: {}", s.ToString());
      return;
    }
    const size_t n = digests.size();
    const size_t revoked = server->ReplaceTokens(std::move(digests));
    spdlog::info("SIGHUP: reloaded {} tokens from {} ({} no longer valid)", n, token_file, revoked);
  }
  static void ReloadTls(Server* server) {
    bool reloaded = false;
    Status s = server->ReloadTls(&reloaded);
    if (!s.ok())
      spdlog::error("SIGHUP: TLS files not reloaded, the previous certificate stays in force: {}", s.ToString());
    else if (reloaded)
      spdlog::info("SIGHUP: reloaded the TLS certificate, key and client CA; new connections use them");
  }
  std::string token_file;
  boost::asio::io_context io;
  boost::asio::signal_set signals;
};

SignalLoop::SignalLoop(std::string token_file) : impl_(std::make_unique<Impl>(std::move(token_file))) {}
SignalLoop::~SignalLoop() = default;

void SignalLoop::Run(Server* server) {
  impl_->Wait(server);
  impl_->io.run();
}

}  // namespace accountable
