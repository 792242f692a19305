// The mount daemon's control socket (VAULT/control.sock): while a vault
// is mounted the daemon holds its writer lock, so the CLI sends its
// command line here and the daemon runs it against its open vault.
//
// Wire format, both ways: a 4-byte little-endian length, then that many
// bytes of JSON. Request {"args": [...], "cwd": "/dir"}; response
// {"exit": N, "out": "...", "err": "..."}. One request per connection.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "journal/status.h"

namespace rpfs::fs {

struct ControlRequest {
  std::vector<std::string> args;
  std::string cwd;
};

struct ControlResponse {
  int exit_code = 0;
  std::string out;
  std::string err;
};

using ControlHandler = std::function<ControlResponse(const ControlRequest&)>;

std::string ControlSocketPath(const std::string& vault_dir);

// Serves requests on a thread per connection until Stop().
class ControlServer {
 public:
  ~ControlServer();
  Status Start(const std::string& path, ControlHandler handler);
  void Stop();

 private:
  void AcceptLoop();
  void Serve(int fd);

  std::string path_;
  ControlHandler handler_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex workers_mu_;
  std::vector<std::thread> workers_;
};

// Client side. NotFound if nothing listens at path.
Status SendControlRequest(const std::string& path, const ControlRequest& request,
                          ControlResponse* response);

}  // namespace rpfs::fs
