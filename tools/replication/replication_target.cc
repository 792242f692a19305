#include "tools/replication/replication_target.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zstd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>

#include <nlohmann/json.hpp>

#include "catalog/time_format.h"
#include "journal/coding.h"
#include "journal/record_format.h"
#include "tools/replication/pairing.h"
#include "tools/passphrase.h"
#include "tools/replication/tls_channel.h"

namespace rpfs::tools {

struct ReplicationServer::Slot {
  std::mutex apply_mu;      // held by the session applying the link's frames
  std::mutex owner_mu;      // guards owner
  TlsChannel* owner = nullptr;
};

struct ReplicationServer::Session {
  int fd = -1;
  std::unique_ptr<TlsChannel> channel;
  std::mutex channel_mu;  // guards channel's existence for Shutdown from elsewhere
  std::atomic<bool> done{false};
  std::thread thread;
};

namespace {

bool IsHex(const std::string& s, size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

Status ParseJson(const std::string& body, nlohmann::json* j) {
  *j = nlohmann::json::parse(body, nullptr, false);
  if (j->is_discarded() || !j->is_object()) return Status::InvalidArgument("malformed JSON frame");
  return Status::OK();
}

// permanent: the client must not retry (it would be refused again).
std::string ErrorBody(const std::string& message, bool permanent = true) {
  return nlohmann::json{{"message", message}, {"permanent", permanent}}.dump();
}

}  // namespace

ReplicationServer::ReplicationServer(catalog::Vault* vault, ServeOptions options)
    : vault_(vault), options_(std::move(options)) {
  if (options_.log == nullptr) options_.log = &std::cerr;
}

ReplicationServer::~ReplicationServer() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  ReapSessions(true);
}

void ReplicationServer::Log(const std::string& line) {
  std::lock_guard<std::mutex> l(log_mu_);
  *options_.log << "rpfs serve: " << catalog::FormatRfc3339(vault_->Now()) << " " << line << std::endl;
}

Status ReplicationServer::Start() {
  RPFS_RETURN_IF_ERROR(MakeServerContext(vault_->dir(), &ctx_));
  std::string host, port;
  RPFS_RETURN_IF_ERROR(ParseAddress(options_.listen, &host, &port));
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return Status::InvalidArgument("cannot resolve " + options_.listen + ": " + gai_strerror(rc));
  std::string why = "no address";
  for (addrinfo* a = res; a != nullptr && listen_fd_ < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      why = std::strerror(errno);
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    char h[NI_MAXHOST], s[NI_MAXSERV];
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl);
    ::getnameinfo(reinterpret_cast<sockaddr*>(&ss), sl, h, sizeof h, s, sizeof s,
                  NI_NUMERICHOST | NI_NUMERICSERV);
    bound_ = ss.ss_family == AF_INET6 ? "[" + std::string(h) + "]:" + s : std::string(h) + ":" + s;
  }
  ::freeaddrinfo(res);
  if (listen_fd_ < 0) return Status::IOError("cannot listen on " + options_.listen + ": " + why);
  return Status::OK();
}

void ReplicationServer::ReapSessions(bool all) {
  std::vector<std::unique_ptr<Session>> finished;
  {
    std::lock_guard<std::mutex> l(sessions_mu_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (all) {
        std::lock_guard<std::mutex> cl((*it)->channel_mu);
        if ((*it)->channel) (*it)->channel->Shutdown();
        else if ((*it)->fd >= 0 && !(*it)->done) ::shutdown((*it)->fd, SHUT_RDWR);
      }
      if (all || (*it)->done) {
        finished.push_back(std::move(*it));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& s : finished) {
    if (s->thread.joinable()) s->thread.join();
  }
}

void ReplicationServer::Run(const std::function<bool()>& stop) {
  while (!stop()) {
    pollfd p{listen_fd_, POLLIN, 0};
    int n = ::poll(&p, 1, 500);
    ReapSessions(false);
    if (n != 1) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    size_t active;
    {
      std::lock_guard<std::mutex> l(sessions_mu_);
      active = sessions_.size();
    }
    if (active >= options_.max_sessions) {
      Log("refused a connection: " + std::to_string(active) + " sessions already");
      ::close(fd);
      continue;
    }
    auto s = std::make_unique<Session>();
    s->fd = fd;
    Session* raw = s.get();
    {
      std::lock_guard<std::mutex> l(sessions_mu_);
      sessions_.push_back(std::move(s));
    }
    raw->thread = std::thread([this, raw] {
      Serve(raw);
      raw->done = true;
    });
  }
  ReapSessions(true);
}

void ReplicationServer::Serve(Session* session) {
  std::unique_ptr<TlsChannel> ch;
  Status s = TlsChannel::Accept(ctx_.get(), session->fd, options_.handshake_timeout_ms, &ch);
  if (!s.ok()) {
    Log(s.message());
    return;  // Accept closed the socket with its channel
  }
  TlsChannel* c = ch.get();
  {
    std::lock_guard<std::mutex> l(session->channel_mu);
    session->channel = std::move(ch);
  }
  const std::string peer = c->peer();
  // Pairing.
  PairingKey key;
  s = PairingKeyFromHash(vault_->meta().passphrase_hash, &key);
  if (!s.ok()) {
    (void)c->WriteFrame(FrameType::kError, ErrorBody("target vault cannot pair: " + s.message()));
    Log(peer + ": cannot pair: " + s.message());
    return;
  }
  PassphraseHash hash;
  (void)ParsePassphraseHash(vault_->meta().passphrase_hash, &hash);
  const std::string salt_hex = HexString(hash.salt.data(), hash.salt.size());
  const std::string server_nonce = RandomNonceHex();
  const std::string vault_id = vault_->meta().id.ToHex();
  nlohmann::json hello = {{"protocol", 1}, {"vault", vault_id}, {"salt", salt_hex},
                          {"n", hash.n},   {"r", hash.r},       {"p", hash.p},
                          {"nonce", server_nonce}};
  FrameType type;
  std::string body;
  nlohmann::json j;
  uint8_t exporter[32];
  s = c->WriteFrame(FrameType::kHello, hello.dump());
  if (s.ok()) s = c->ReadFrame(&type, &body);
  if (s.ok() && type != FrameType::kAuth) s = Status::InvalidArgument("expected Auth, got frame type " + std::to_string(static_cast<int>(type)));
  if (s.ok()) s = ParseJson(body, &j);
  if (s.ok()) s = c->Exporter(exporter);
  std::string client_nonce, proof, source_vault, group;
  if (s.ok()) {
    try {
      client_nonce = j.at("nonce").get<std::string>();
      proof = j.at("proof").get<std::string>();
      source_vault = j.at("source_vault").get<std::string>();
      group = j.at("group").get<std::string>();
    } catch (const nlohmann::json::exception&) {
      s = Status::InvalidArgument("malformed Auth frame");
    }
  }
  if (s.ok() && (!IsHex(client_nonce, 64) || !IsHex(source_vault, 32) || group.empty() ||
                 group.find('/') != std::string::npos || group.size() > 200)) {
    s = Status::InvalidArgument("malformed Auth frame");
  }
  if (!s.ok()) {
    (void)c->WriteFrame(FrameType::kError, ErrorBody(s.message()));
    Log(peer + ": " + s.message());
    return;
  }
  if (!ProofsEqual(proof, PairingProof(key, "client", server_nonce, client_nonce, exporter))) {
    (void)c->WriteFrame(FrameType::kError,
                        ErrorBody("wrong passphrase for target vault " + vault_id));
    Log(peer + ": wrong passphrase (group " + group + " of vault " + source_vault + "): refused");
    return;
  }
  if (source_vault == vault_id) {
    (void)c->WriteFrame(FrameType::kError, ErrorBody("source and target are the same vault"));
    return;
  }
  // One session per link: take it over from an older one.
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard<std::mutex> l(slots_mu_);
    auto& sp = slots_[source_vault + "/" + group];
    if (!sp) sp = std::make_shared<Slot>();
    slot = sp;
  }
  {
    std::lock_guard<std::mutex> l(slot->owner_mu);
    if (slot->owner != nullptr) slot->owner->Shutdown();
    slot->owner = c;
  }
  {
    std::lock_guard<std::mutex> apply(slot->apply_mu);
    s = ServePaired(session, source_vault, group,
                    PairingProof(key, "server", server_nonce, client_nonce, exporter));
  }
  {
    std::lock_guard<std::mutex> l(slot->owner_mu);
    if (slot->owner == c) slot->owner = nullptr;
  }
  if (!s.ok() && c->closed_between_frames()) {
    Log(peer + ": group " + group + " of vault " + source_vault + ": session ended");
  } else if (!s.ok()) {
    // The disk or the connection may come back; a refusal will not change.
    const bool permanent = !s.IsNoSpace() && s.code() != Status::Code::kIOError &&
                           s.code() != Status::Code::kInternal && s.code() != Status::Code::kBusy;
    (void)c->WriteFrame(FrameType::kError, ErrorBody(s.message(), permanent));
    Log(peer + ": group " + group + " of vault " + source_vault + ": " + s.message());
  }
}

Status ReplicationServer::ServePaired(Session* session, const std::string& source_vault,
                                      const std::string& group, const std::string& server_proof) {
  TlsChannel* c = session->channel.get();
  const uint64_t bs = vault_->block_size();
  catalog::ReplicaLink link;
  if (!vault_->GetLink(source_vault, group, &link).ok()) {
    link = catalog::ReplicaLink();
    link.source_vault = source_vault;
    link.group = group;
  }
  nlohmann::json welcome = {{"proof", server_proof},
                            {"block_size", bs},
                            {"link", link},
                            {"newest_point", vault_->NewestSourcePoint(group)}};
  RPFS_RETURN_IF_ERROR(c->WriteFrame(FrameType::kWelcome, welcome.dump()));
  c->SetTimeout(options_.idle_timeout_ms);
  Log(c->peer() + ": paired: group " + group + " of vault " + source_vault + ", applied seq " +
      std::to_string(link.applied_seq));
  // The session's disks, by the index Setup gave them.
  std::vector<catalog::Disk> disks;
  bool set_up = false;
  FrameType type;
  std::string body;
  WireBatch batch;
  std::vector<catalog::ReplicaCall> calls;
  for (;;) {
    RPFS_RETURN_IF_ERROR(c->ReadFrame(&type, &body));
    if (type == FrameType::kHeartbeat) {
      RPFS_RETURN_IF_ERROR(c->WriteFrame(FrameType::kHeartbeat, ""));
      continue;
    }
    if (type == FrameType::kSetup) {
      nlohmann::json j;
      RPFS_RETURN_IF_ERROR(ParseJson(body, &j));
      catalog::Group policy;
      std::vector<catalog::Disk> want;
      try {
        policy = j.at("group").get<catalog::Group>();
        want = j.at("disks").get<std::vector<catalog::Disk>>();
      } catch (const nlohmann::json::exception&) {
        return Status::InvalidArgument("malformed Setup frame");
      }
      if (policy.name != group) return Status::InvalidArgument("Setup names another group");
      for (const catalog::Disk& d : want) {
        if (d.group != group) return Status::InvalidArgument("Setup disk " + d.name + " is in another group");
      }
      uint64_t reverse_fork = 0;
      const bool reverse = j.contains("reverse");
      if (reverse) {
        try {
          reverse_fork = j.at("reverse").at("fork_seq").get<uint64_t>();
        } catch (const nlohmann::json::exception&) {
          return Status::InvalidArgument("malformed Setup frame");
        }
      }
      RPFS_RETURN_IF_ERROR(
          vault_->SetUpReplicaGroup(source_vault, policy, want, reverse ? &reverse_fork : nullptr));
      if (reverse) Log(c->peer() + ": group " + group + " comes back from vault " + source_vault +
                       " (failed over there at seq " + std::to_string(reverse_fork) + " of this vault)");
      disks.clear();
      for (const catalog::Disk& d : want) {
        catalog::Disk have;
        RPFS_RETURN_IF_ERROR(vault_->FindDisk(d.name, &have));
        disks.push_back(have);
      }
      set_up = true;
      RPFS_RETURN_IF_ERROR(c->WriteFrame(FrameType::kReady, "{}"));
      continue;
    }
    if (!set_up) return Status::InvalidArgument("frame before Setup");
    if (type == FrameType::kPoint) {
      nlohmann::json j;
      RPFS_RETURN_IF_ERROR(ParseJson(body, &j));
      catalog::Point p;
      try {
        p = j.get<catalog::Point>();
      } catch (const nlohmann::json::exception&) {
        return Status::InvalidArgument("malformed Point frame");
      }
      if (p.group != group || (p.kind != "crash" && p.kind != "app") || p.id == 0) {
        return Status::InvalidArgument("malformed Point frame");
      }
      if (p.seq != link.applied_seq || link.step_to != 0) {
        return Status::InvalidArgument("point " + std::to_string(p.id) + " at source seq " +
                                       std::to_string(p.seq) + " does not follow the applied seq " +
                                       std::to_string(link.applied_seq));
      }
      RPFS_RETURN_IF_ERROR(vault_->AddReplicaPoint(p, nullptr));
      nlohmann::json ack = {{"applied_seq", link.applied_seq}, {"chain", link.chain},
                            {"records", link.records}, {"step_to", link.step_to}, {"point", p.id}};
      RPFS_RETURN_IF_ERROR(c->WriteFrame(FrameType::kAck, ack.dump()));
      continue;
    }
    if (type != FrameType::kBatch) {
      return Status::InvalidArgument("unexpected frame type " + std::to_string(static_cast<int>(type)));
    }
    RPFS_RETURN_IF_ERROR(ParseBatch(body, &batch));
    // Everything is checked before anything is applied.
    uint8_t chain[kChainSize];
    if (!ChainFromHex(link.chain, chain)) return Status::Corruption("link chain malformed here");
    const uint64_t top = std::max(batch.applied_seq, batch.step_to);
    if (batch.applied_seq < link.applied_seq) {
      return Status::InvalidArgument("batch goes back to source seq " + std::to_string(batch.applied_seq));
    }
    calls.clear();
    calls.reserve(batch.calls.size());
    uint64_t prev_seq = link.applied_seq, records = 0, bytes = 0;
    for (const WireCall& wc : batch.calls) {
      const bool step_call = link.step_to != 0 || batch.step_to != 0;
      if (wc.seq > top || (!step_call && wc.seq <= prev_seq) || wc.seq <= link.applied_seq) {
        return Status::InvalidArgument("call at source seq " + std::to_string(wc.seq) +
                                       " out of order (applied " + std::to_string(link.applied_seq) + ")");
      }
      prev_seq = wc.seq;
      catalog::ReplicaCall rc;
      rc.source_seq = wc.seq;
      rc.time_ns = wc.time_ns;
      rc.blocks.reserve(wc.blocks.size());
      for (const WireBlock& wb : wc.blocks) {
        if (wb.disk >= disks.size()) return Status::InvalidArgument("block of unknown disk index " + std::to_string(wb.disk));
        const catalog::Disk& d = disks[wb.disk];
        if (wb.block >= d.size / bs) return Status::InvalidArgument("block past the end of disk " + d.name);
        if (wb.flags & ~(journal::kZstd | journal::kZero)) return Status::InvalidArgument("block with unknown flags");
        bool ok;
        if (wb.flags & journal::kZero) {
          ok = wb.payload.empty() && !(wb.flags & journal::kZstd);
        } else if (wb.flags & journal::kZstd) {
          ok = wb.payload.size() <= journal::kMaxPayload &&
               ZSTD_getFrameContentSize(wb.payload.data(), wb.payload.size()) == bs;
        } else {
          ok = wb.payload.size() == bs;
        }
        if (!ok) return Status::InvalidArgument("block " + std::to_string(wb.block) + " of disk " + d.name + ": payload does not hold one block");
        ExtendChain(chain, wc.seq, d.name, wb.block, wb.flags, wb.payload);
        rc.blocks.push_back(catalog::ReplicaBlock{d.id, wb.block, wb.flags, wb.payload});
        ++records;
        bytes += bs;
      }
      calls.push_back(std::move(rc));
    }
    if (std::memcmp(chain, batch.chain, kChainSize) != 0) {
      return Status::Corruption("replication stream diverged: the chain after source seq " +
                                std::to_string(batch.applied_seq) + " differs from the source's");
    }
    catalog::ReplicaLink after = link;
    after.applied_seq = batch.applied_seq;
    after.applied_time_ns = std::max(link.applied_time_ns, batch.applied_time_ns);
    after.step_to = batch.step_to;
    after.step_time_ns = batch.step_time_ns;
    after.step_disk = batch.step_disk;
    after.step_block = batch.step_block;
    after.records += records;
    after.bytes += bytes;
    after.chain = ChainHex(chain);
    RPFS_RETURN_IF_ERROR(vault_->ApplyReplicaBatch(calls, after));
    link = after;
    nlohmann::json ack = {{"applied_seq", link.applied_seq}, {"chain", link.chain},
                          {"records", link.records}, {"step_to", link.step_to}};
    RPFS_RETURN_IF_ERROR(c->WriteFrame(FrameType::kAck, ack.dump()));
  }
}

}  // namespace rpfs::tools
