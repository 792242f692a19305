#include "tools/replication/tls_channel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace rpfs::tools {
namespace {

std::string SslError(const char* what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return what;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return std::string(what) + ": " + buf;
}

Status MakeCertificate(const std::string& dir, const std::string& cert, const std::string& key) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "mkdir " + dir);
  }
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  if (pkey == nullptr) return Status::Internal(SslError("cannot make a TLS key"));
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> pk(pkey, EVP_PKEY_free);
  std::unique_ptr<X509, void (*)(X509*)> x(X509_new(), X509_free);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), static_cast<long>(::time(nullptr)));
  X509_set_version(x.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 20L * 365 * 24 * 3600);
  X509_set_pubkey(x.get(), pkey);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("rpfs process server"), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  if (X509_sign(x.get(), pkey, EVP_sha256()) == 0) {
    return Status::Internal(SslError("cannot sign the TLS certificate"));
  }
  // Written aside and renamed: a crash never leaves half a key.
  const std::string key_tmp = key + ".tmp", cert_tmp = cert + ".tmp";
  int kfd = ::open(key_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (kfd < 0) return Status::FromErrno(errno, "create " + key_tmp);
  FILE* kf = ::fdopen(kfd, "w");
  bool ok = kf != nullptr && PEM_write_PrivateKey(kf, pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  ok = kf != nullptr && ::fflush(kf) == 0 && ::fsync(kfd) == 0 && ok;
  if (kf) ::fclose(kf);
  FILE* cf = ::fopen(cert_tmp.c_str(), "w");
  ok = ok && cf != nullptr && PEM_write_X509(cf, x.get()) == 1;
  ok = cf != nullptr && ::fflush(cf) == 0 && ::fsync(::fileno(cf)) == 0 && ok;
  if (cf) ::fclose(cf);
  if (!ok) return Status::IOError("cannot write the TLS certificate in " + dir);
  if (::rename(key_tmp.c_str(), key.c_str()) != 0 || ::rename(cert_tmp.c_str(), cert.c_str()) != 0) {
    return Status::FromErrno(errno, "rename in " + dir);
  }
  return Status::OK();
}

Status SetTimeouts(int fd, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
    return Status::FromErrno(errno, "setsockopt");
  }
  return Status::OK();
}

SSL_CTX* ClientContext() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    if (c != nullptr) {
      SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
      SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);  // pairing authenticates: see the header
    }
    return c;
  }();
  return ctx;
}

}  // namespace

Status ParseAddress(const std::string& addr, std::string* host, std::string* port) {
  if (addr.empty()) return Status::InvalidArgument("empty address");
  if (addr[0] == '[') {
    size_t close = addr.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("bad address '" + addr + "'");
    *host = addr.substr(1, close - 1);
    if (close + 1 == addr.size()) {
      *port = "443";
    } else if (addr[close + 1] == ':' && close + 2 < addr.size()) {
      *port = addr.substr(close + 2);
    } else {
      return Status::InvalidArgument("bad address '" + addr + "'");
    }
  } else {
    size_t colon = addr.rfind(':');
    if (colon == std::string::npos) {
      *host = addr;
      *port = "443";
    } else {
      *host = addr.substr(0, colon);
      *port = addr.substr(colon + 1);
    }
  }
  if (host->empty() || port->empty() || port->find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("bad address '" + addr + "': expected HOST:PORT");
  }
  return Status::OK();
}

Status MakeServerContext(const std::string& vault_dir, std::shared_ptr<SSL_CTX>* out) {
  const std::string dir = vault_dir + "/tls", cert = dir + "/cert.pem", key = dir + "/key.pem";
  static std::mutex make_mu;  // two servers of one vault in one process
  {
    std::lock_guard<std::mutex> l(make_mu);
    if (::access(cert.c_str(), R_OK) != 0 || ::access(key.c_str(), R_OK) != 0) {
      RPFS_RETURN_IF_ERROR(MakeCertificate(dir, cert, key));
    }
  }
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) return Status::Internal(SslError("SSL_CTX_new"));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  if (SSL_CTX_use_certificate_file(ctx.get(), cert.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return Status::Corruption(SslError(("TLS certificate in " + dir + " unusable").c_str()));
  }
  *out = ctx;
  return Status::OK();
}

TlsChannel::~TlsChannel() {
  if (ssl_) {
    SSL_shutdown(ssl_);  // best effort close_notify; the socket timeout bounds it
    SSL_free(ssl_);
  }
  if (fd_ >= 0) ::close(fd_);
}

Status TlsChannel::Accept(SSL_CTX* ctx, int fd, int timeout_ms, std::unique_ptr<TlsChannel>* out) {
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &sl) == 0) {
    ::getnameinfo(reinterpret_cast<sockaddr*>(&ss), sl, host, sizeof host, serv, sizeof serv,
                  NI_NUMERICHOST | NI_NUMERICSERV);
  }
  std::string peer = std::string(host) + ":" + serv;
  Status s = SetTimeouts(fd, timeout_ms);
  SSL* ssl = s.ok() ? SSL_new(ctx) : nullptr;
  std::unique_ptr<TlsChannel> ch(new TlsChannel(ssl, fd, peer));
  if (!s.ok()) return s;
  if (ssl == nullptr) return Status::Internal(SslError("SSL_new"));
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) != 1) {
    ch->ssl_ = nullptr;  // no close_notify on a failed handshake
    SSL_free(ssl);
    return Status::InvalidArgument(SslError(("TLS handshake with " + peer + " failed").c_str()));
  }
  *out = std::move(ch);
  return Status::OK();
}

Status TlsChannel::Connect(const std::string& addr, int timeout_ms, std::unique_ptr<TlsChannel>* out) {
  std::string host, port;
  RPFS_RETURN_IF_ERROR(ParseAddress(addr, &host, &port));
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return Status::InvalidArgument("cannot resolve " + addr + ": " + gai_strerror(rc));
  int fd = -1;
  std::string why = "no address";
  for (addrinfo* a = res; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      why = std::strerror(errno);
      ::close(fd);
      fd = -1;
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t el = sizeof err;
    if (::poll(&p, 1, timeout_ms) != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 ||
        err != 0) {
      why = err != 0 ? std::strerror(err) : "timed out";
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0) return Status::IOError("cannot connect to " + addr + ": " + why);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Status s = SetTimeouts(fd, timeout_ms);
  SSL* ssl = s.ok() ? SSL_new(ClientContext()) : nullptr;
  std::unique_ptr<TlsChannel> ch(new TlsChannel(ssl, fd, addr));
  if (!s.ok()) return s;
  if (ssl == nullptr) return Status::Internal(SslError("SSL_new"));
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, host.c_str());
  if (SSL_connect(ssl) != 1) {
    ch->ssl_ = nullptr;
    SSL_free(ssl);
    return Status::IOError(SslError(("TLS handshake with " + addr + " failed").c_str()));
  }
  *out = std::move(ch);
  return Status::OK();
}

void TlsChannel::SetTimeout(int timeout_ms) { (void)SetTimeouts(fd_, timeout_ms); }

Status TlsChannel::WriteFrame(FrameType type, std::string_view body) {
  std::string head = EncodeFrameHead(type, body.size());
  // Small frames go out as one TLS record with their head.
  if (body.size() < 16384) {
    head.append(body);
    body = {};
  }
  for (std::string_view part : {std::string_view(head), body}) {
    while (!part.empty()) {
      int n = SSL_write(ssl_, part.data(), static_cast<int>(std::min<size_t>(part.size(), 1 << 30)));
      if (n <= 0) {
        return Status::IOError(SslError(("connection to " + peer_ + " lost while sending").c_str()));
      }
      part.remove_prefix(static_cast<size_t>(n));
    }
  }
  return Status::OK();
}

Status TlsChannel::ReadFully(void* buf, size_t n, size_t* got) {
  *got = 0;
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    int r = SSL_read(ssl_, p, static_cast<int>(std::min<size_t>(n, 1 << 30)));
    if (r <= 0) {
      int e = SSL_get_error(ssl_, r);
      const bool eof = e == SSL_ERROR_ZERO_RETURN ||
                       (e == SSL_ERROR_SSL &&
                        ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) ||
                       (e == SSL_ERROR_SYSCALL && errno == 0);
      if (eof) {
        ERR_clear_error();
        peer_closed_ = true;
        return Status::IOError(peer_ + " closed the connection");
      }
      if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return Status::IOError("no data from " + peer_ + " within the timeout");
      }
      return Status::IOError(SslError(("connection to " + peer_ + " lost").c_str()));
    }
    p += r;
    n -= static_cast<size_t>(r);
    *got += static_cast<size_t>(r);
  }
  return Status::OK();
}

Status TlsChannel::ReadFrame(FrameType* type, std::string* body) {
  uint8_t head[5];
  size_t got;
  Status s = ReadFully(head, sizeof head, &got);
  if (!s.ok()) {
    closed_between_frames_ = got == 0 && peer_closed_;
    return s;
  }
  uint32_t len;
  s = ParseFrameHead(head, type, &len);
  if (!s.ok()) return Status::InvalidArgument("from " + peer_ + ": " + s.message());
  body->resize(len);
  return ReadFully(body->data(), len, &got);
}

bool TlsChannel::Readable(int timeout_ms) {
  if (SSL_pending(ssl_) > 0) return true;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

Status TlsChannel::Exporter(uint8_t out[32]) {
  static const char kLabel[] = "EXPORTER-rpfs-pairing";
  if (SSL_export_keying_material(ssl_, out, 32, kLabel, sizeof kLabel - 1, nullptr, 0, 0) != 1) {
    return Status::Internal(SslError("TLS exporter"));
  }
  return Status::OK();
}

void TlsChannel::Shutdown() { ::shutdown(fd_, SHUT_RDWR); }

}  // namespace rpfs::tools
