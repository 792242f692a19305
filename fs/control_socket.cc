#include "fs/control_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "journal/coding.h"

namespace rpfs::fs {
namespace {

constexpr uint32_t kMaxFrame = 256u << 20;

bool WriteAll(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, void* p, size_t n) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    ssize_t r = ::recv(fd, c, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool WriteFrame(int fd, const std::string& body) {
  uint8_t len[4];
  PutLE32(len, static_cast<uint32_t>(body.size()));
  return WriteAll(fd, len, 4) && WriteAll(fd, body.data(), body.size());
}

bool ReadFrame(int fd, std::string* body) {
  uint8_t len[4];
  if (!ReadAll(fd, len, 4)) return false;
  uint32_t n = GetLE32(len);
  if (n > kMaxFrame) return false;
  body->resize(n);
  return ReadAll(fd, body->data(), n);
}

bool UnixAddress(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof addr->sun_path) return false;
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return true;
}

}  // namespace

std::string ControlSocketPath(const std::string& vault_dir) { return vault_dir + "/control.sock"; }

ControlServer::~ControlServer() { Stop(); }

Status ControlServer::Start(const std::string& path, ControlHandler handler) {
  path_ = path;
  handler_ = std::move(handler);
  sockaddr_un addr;
  if (!UnixAddress(path, &addr)) return Status::InvalidArgument("control socket path too long: " + path);
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Status::FromErrno(errno, "socket");
  ::unlink(path.c_str());  // a stale socket of a killed daemon; we hold the vault lock
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(path.c_str(), 0600) != 0 || ::listen(listen_fd_, 16) != 0) {
    Status s = Status::FromErrno(errno, "listen on " + path);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return s;
  }
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return Status::OK();
}

void ControlServer::Stop() {
  if (listen_fd_ < 0) return;
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  ::unlink(path_.c_str());
  std::lock_guard<std::mutex> l(workers_mu_);
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

void ControlServer::AcceptLoop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return;  // shut down
    }
    std::lock_guard<std::mutex> l(workers_mu_);
    workers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void ControlServer::Serve(int fd) {
  std::string body;
  ControlResponse resp;
  if (ReadFrame(fd, &body)) {
    nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    ControlRequest req;
    if (!j.is_discarded() && j.is_object() && j.contains("args") && j["args"].is_array()) {
      for (const auto& a : j["args"]) {
        if (a.is_string()) req.args.push_back(a.get<std::string>());
      }
      req.cwd = j.value("cwd", std::string("/"));
      std::mutex write_mu;
      ControlStream stream;
      stream.write = [&](const std::string& out, const std::string& err) {
        nlohmann::json part = {{"out", out}, {"err", err}};
        std::lock_guard<std::mutex> l(write_mu);
        WriteFrame(fd, part.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      };
      stream.cancelled = [&]() {
        if (stopping_) return true;
        pollfd p{fd, POLLIN | POLLRDHUP, 0};
        if (::poll(&p, 1, 0) != 1) return false;
        return (p.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
      };
      resp = handler_(req, stream);
    } else {
      resp.exit_code = 1;
      resp.err = "rpfs: malformed control request\n";
    }
    nlohmann::json r = {{"exit", resp.exit_code}, {"out", resp.out}, {"err", resp.err}};
    WriteFrame(fd, r.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  ::close(fd);
}

Status SendControlRequest(
    const std::string& path, const ControlRequest& request, ControlResponse* response,
    const std::function<void(const std::string& out, const std::string& err)>& on_output) {
  sockaddr_un addr;
  if (!UnixAddress(path, &addr)) return Status::InvalidArgument("control socket path too long: " + path);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno(errno, "socket");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED) return Status::NotFound("no daemon listens on " + path);
    return Status::FromErrno(err, "connect " + path);
  }
  nlohmann::json j = {{"args", request.args}, {"cwd", request.cwd}};
  std::string body;
  bool ok = WriteFrame(fd, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  std::string out, err;
  nlohmann::json r;
  while (ok && (ok = ReadFrame(fd, &body))) {
    r = nlohmann::json::parse(body, nullptr, false);
    if (r.is_discarded() || !r.is_object()) break;
    if (r.contains("exit")) break;
    const std::string o = r.value("out", std::string()), e = r.value("err", std::string());
    if (on_output) {
      on_output(o, e);
    } else {
      out += o;
      err += e;
    }
  }
  ::close(fd);
  if (!ok) return Status::IOError("the mount daemon closed the control connection on " + path);
  if (r.is_discarded() || !r.is_object()) return Status::Internal("malformed control response");
  response->exit_code = r.value("exit", 3);
  response->out = out + r.value("out", std::string());
  response->err = err + r.value("err", std::string());
  return Status::OK();
}

}  // namespace rpfs::fs
