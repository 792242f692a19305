// TlsChannel: one TLS 1.3 connection carrying replication frames
// (tools/replication/replication_wire.h), for both ends. Blocking I/O with socket
// timeouts, so a stalled or half-open peer costs a thread for at most the
// timeout, never the process.
//
// The server's certificate is self-signed, made at first start and kept
// in VAULT/tls/ (key 0600). The client does not check it against a CA:
// pairing (tools/replication/pairing.h) proves both ends know the target vault's
// passphrase with proofs bound to this channel's keying material, which a
// man in the middle (two channels) cannot forge.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "journal/status.h"
#include "tools/replication/replication_wire.h"

namespace rpfs::tools {

// "HOST:PORT", "[V6]:PORT", or "HOST" (port 443).
Status ParseAddress(const std::string& addr, std::string* host, std::string* port);

// The server's TLS context, with the vault's certificate (made if missing).
Status MakeServerContext(const std::string& vault_dir, std::shared_ptr<SSL_CTX>* out);

class TlsChannel {
 public:
  ~TlsChannel();
  // TLS handshake as server on an accepted socket (taken over).
  static Status Accept(SSL_CTX* ctx, int fd, int timeout_ms, std::unique_ptr<TlsChannel>* out);
  // TCP connect and TLS handshake as client.
  static Status Connect(const std::string& addr, int timeout_ms, std::unique_ptr<TlsChannel>* out);

  Status WriteFrame(FrameType type, std::string_view body);
  // Reads one frame; IOError after the timeout. After a failure,
  // closed_between_frames() says whether the peer simply hung up where a
  // frame would have begun (a normal end, not an error).
  Status ReadFrame(FrameType* type, std::string* body);
  bool closed_between_frames() const { return closed_between_frames_; }
  // True if a frame (or part of one) can be read without waiting longer
  // than timeout_ms.
  bool Readable(int timeout_ms);
  void SetTimeout(int timeout_ms);
  // 32 bytes of keying material both ends share (RFC 8446 exporter).
  Status Exporter(uint8_t out[32]);
  // Unblocks a reader in another thread (the session is over).
  void Shutdown();
  std::string peer() const { return peer_; }

 private:
  TlsChannel(SSL* ssl, int fd, std::string peer) : ssl_(ssl), fd_(fd), peer_(std::move(peer)) {}
  Status ReadFully(void* buf, size_t n, size_t* got);
  bool closed_between_frames_ = false;
  bool peer_closed_ = false;

  SSL* ssl_;
  int fd_;
  std::string peer_;
};

}  // namespace rpfs::tools
