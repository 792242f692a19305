#include "journal/status.h"

#include <cerrno>
#include <cstring>

namespace rpfs {

Status Status::FromErrno(int err, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return NoSpace(std::move(msg));
  return IOError(std::move(msg));
}

std::string Status::ToString() const {
  const char* name = "ok";
  switch (code_) {
    case Code::kOk: return "ok";
    case Code::kNotFound: name = "not found"; break;
    case Code::kInvalidArgument: name = "invalid argument"; break;
    case Code::kAlreadyExists: name = "already exists"; break;
    case Code::kBusy: name = "busy"; break;
    case Code::kNoSpace: name = "no space"; break;
    case Code::kReadOnly: name = "read-only"; break;
    case Code::kCorruption: name = "corruption"; break;
    case Code::kIOError: name = "I/O error"; break;
    case Code::kInternal: name = "internal error"; break;
  }
  return std::string(name) + ": " + msg_;
}

}  // namespace rpfs
