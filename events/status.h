// Status: the error vocabulary shared by every module.
//
// A Status is either OK or a code plus a one-line message meant for an
// operator. Functions that can fail for operating reasons (bad input, a rule
// refusing, I/O) return a Status; programmer errors are assertions instead.
// Messages never contain PII: callers pass field names, not field values.
//
//   Status s = ledger->Append(...);
//   if (!s.ok()) { std::cerr << s.ToString() << "\n"; return ExitCode(s); }
//
// Status is [[nodiscard]]: a result is handled, or discarded with
// static_cast<void>(...) and a comment saying why that is safe.
//
// Thread safety: a Status is a value; distinct objects need no locking.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace accountable {

class [[nodiscard]] Status {
 public:
  // Stable: codes appear in CLI exit codes and wire responses (docs/protocol.md).
  enum class Code : unsigned char {
    kOk = 0,
    kInvalidArgument = 1,  // malformed input; nothing was done
    kRefused = 2,          // a policy rule said no; nothing was appended
    kConflict = 3,         // expected stream version did not match
    kNotFound = 4,
    kAuthFailed = 5,       // failed authentication (never says why)
    kShredded = 6,         // the key that sealed the data was destroyed
    kCorruption = 7,       // bytes failed verification or authentication
    kBusy = 8,             // resource held by someone else (data dir lock)
    kIOError = 9,          // storage failure
    kRequestReused = 10,   // request id seen before with a different content; nothing appended
    kDiskFull = 11,        // no space left for a write; reads still work, writes resume once space is freed
    kNotWriter = 12,       // this copy may not append (a follower, or a writer fenced off the replicated log)
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status Refused(std::string m) { return Status(Code::kRefused, std::move(m)); }
  static Status Conflict(std::string m) { return Status(Code::kConflict, std::move(m)); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status AuthFailed(std::string m) { return Status(Code::kAuthFailed, std::move(m)); }
  static Status Shredded(std::string m) { return Status(Code::kShredded, std::move(m)); }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status Busy(std::string m) { return Status(Code::kBusy, std::move(m)); }
  static Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
  static Status RequestReused(std::string m) { return Status(Code::kRequestReused, std::move(m)); }
  static Status DiskFull(std::string m) { return Status(Code::kDiskFull, std::move(m)); }
  static Status NotWriter(std::string m) { return Status(Code::kNotWriter, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool Is(Code c) const { return code_ == c; }

  static std::string_view CodeName(Code c) {
    switch (c) {
      case Code::kOk: return "ok";
      case Code::kInvalidArgument: return "invalid_argument";
      case Code::kRefused: return "refused";
      case Code::kConflict: return "conflict";
      case Code::kNotFound: return "not_found";
      case Code::kAuthFailed: return "auth_failed";
      case Code::kShredded: return "shredded";
      case Code::kCorruption: return "corruption";
      case Code::kBusy: return "busy";
      case Code::kIOError: return "io_error";
      case Code::kRequestReused: return "request_reused";
      case Code::kDiskFull: return "disk_full";
      case Code::kNotWriter: return "not_writer";
    }
    return "unknown";
  }
  std::string ToString() const {
    if (ok()) return "ok";
    return std::string(CodeName(code_)) + ": " + message_;
  }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Early return on error, so call sites read as the happy path.
#define ACC_RETURN_IF_ERROR(expr)          \
  do {                                     \
    ::accountable::Status _s = (expr);     \
    if (!_s.ok()) return _s;               \
  } while (0)

}  // namespace accountable
