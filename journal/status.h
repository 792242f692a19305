// Status: the error value every rpfs layer returns instead of throwing.
//
// A Status is ok, or a code plus one human-readable line that names what
// failed and where ("segment 00000003.seg offset 8192: checksum mismatch").
// The CLI maps codes to exit codes (tools/exit_code.h); FUSE maps them to
// errno values. Cheap to copy when ok (no allocation).
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace rpfs {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,         // unknown disk, group, point, branch
    kInvalidArgument,  // bad size, bad time, out-of-range offset
    kAlreadyExists,
    kBusy,             // vault locked by another process
    kNoSpace,          // backing file system full
    kReadOnly,         // write to a read-only view
    kCorruption,       // checksum mismatch, torn or malformed on-disk data
    kIOError,          // the OS refused an operation
    kInternal,         // a bug or an unexpected library failure
  };

  Status() = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status AlreadyExists(std::string msg) {
    return Status(Code::kAlreadyExists, std::move(msg));
  }
  static Status Busy(std::string msg) { return Status(Code::kBusy, std::move(msg)); }
  static Status NoSpace(std::string msg) { return Status(Code::kNoSpace, std::move(msg)); }
  static Status ReadOnly(std::string msg) { return Status(Code::kReadOnly, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }
  // An IOError (or NoSpace for ENOSPC/EDQUOT) from an errno value.
  static Status FromErrno(int err, std::string_view what);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }
  bool IsReadOnly() const { return code_ == Code::kReadOnly; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsAlreadyExists() const { return code_ == Code::kAlreadyExists; }
  const std::string& message() const { return msg_; }
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), msg_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string msg_;
};

// Propagates a non-ok Status to the caller.
#define RPFS_RETURN_IF_ERROR(expr)        \
  do {                                    \
    ::rpfs::Status _st = (expr);          \
    if (!_st.ok()) return _st;            \
  } while (0)

}  // namespace rpfs
