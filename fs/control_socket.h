// The mount daemon's control socket (VAULT/control.sock): while a vault
// is mounted the daemon holds its writer lock, so the CLI sends its
// command line here and the daemon runs it against its open vault.
//
// Wire format, both ways: a 4-byte little-endian length, then that many
// bytes of JSON. Request {"args": [...], "cwd": "/dir"}; then any number of
// partial output frames {"out": "...", "err": "..."} (long commands such
// as replicate and serve print as they go), and last the response
// {"exit": N, "out": "...", "err": "..."}. One request per connection; a
// client that goes away cancels its command (ControlStream::cancelled).
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

// What a running command has of its client.
struct ControlStream {
  std::function<void(const std::string& out, const std::string& err)> write;  // partial output
  std::function<bool()> cancelled;  // the client hung up, or the daemon is stopping
};

using ControlHandler = std::function<ControlResponse(const ControlRequest&, const ControlStream&)>;

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

// Client side. NotFound if nothing listens at path. Partial output goes
// to on_output as it comes (when set; else into the response).
Status SendControlRequest(
    const std::string& path, const ControlRequest& request, ControlResponse* response,
    const std::function<void(const std::string& out, const std::string& err)>& on_output = nullptr);

}  // namespace rpfs::fs
