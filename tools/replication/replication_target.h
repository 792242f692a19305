// ReplicationServer: the process server (`rpfs serve`). Listens on TCP,
// speaks TLS 1.3, pairs each client by the vault's passphrase
// (tools/replication/pairing.h) and applies its group's batches to the vault
// (Vault::ApplyReplicaBatch), acknowledging each once durable.
//
// A thread per connection, at most max_sessions at once. Whatever a
// client sends — garbage, plaintext, a frame cut in half, nothing at all
// — costs that client its connection (after the handshake or idle
// timeout at worst) and is logged; the server and the other clients go
// on. One session per link (source vault, group): a newer one takes over
// from an older one still hanging (a cut the server never saw), after the
// older one's batch in flight is done, so no batch is applied twice.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <openssl/ssl.h>

#include "catalog/vault.h"
#include "tools/replication/replication_wire.h"

namespace rpfs::tools {

struct ServeOptions {
  std::string listen = "0.0.0.0:443";
  int handshake_timeout_ms = 10000;  // TLS handshake and pairing
  int idle_timeout_ms = 60000;       // a paired client sends at least a heartbeat this often
  size_t max_sessions = 64;
  std::ostream* log = nullptr;       // one line per event (stderr by default)
};

class ReplicationServer {
 public:
  ReplicationServer(catalog::Vault* vault, ServeOptions options);
  ~ReplicationServer();

  // Binds and listens; the address actually bound is address() after.
  Status Start();
  std::string address() const { return bound_; }
  // Accepts until stop() says so (checked at least twice a second).
  void Run(const std::function<bool()>& stop);

 private:
  struct Slot;  // one per link: who holds it, and its apply lock
  struct Session;
  void Serve(Session* session);
  Status ServePaired(Session* session, const std::string& source_vault, const std::string& group,
                     const std::string& server_proof);
  void Log(const std::string& line);
  void ReapSessions(bool all);

  catalog::Vault* vault_;
  ServeOptions options_;
  std::shared_ptr<SSL_CTX> ctx_;
  int listen_fd_ = -1;
  std::string bound_;
  std::mutex log_mu_;
  std::mutex sessions_mu_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::mutex slots_mu_;
  std::map<std::string, std::shared_ptr<Slot>> slots_;
};

}  // namespace rpfs::tools
