// Replication through a hostile network (issue 8, acceptance 2): a TCP
// proxy written here sits between `rpfs replicate` and `rpfs serve` and
// cuts every connection after a random number of bytes, sometimes after
// stalling it first, at least 100 times. The target must converge to the
// source: every record applied once, in order, none missing — the
// target's link chain (a hash over every applied record) equals one
// computed here from the source's journal — and the same bytes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <mutex>
#include <random>

#include "catalog/vault.h"
#include "journal/journal_tail.h"
#include "tests/integration/replication_fixture.h"
#include "tools/replication/replication_wire.h"

namespace rpfs::testing {
namespace {

int Listen(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) return -1;
  socklen_t l = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
  *port = ntohs(a.sin_port);
  return fd;
}

// Forwards connections to 127.0.0.1:target, each until a random byte
// budget (both directions together) is spent; then cuts it, a fifth of
// the time after stalling it (forwarding nothing) for a while.
class FaultProxy {
 public:
  FaultProxy(int target, uint32_t seed, uint64_t max_budget)
      : target_(target), rng_(seed), max_budget_(max_budget) {
    listen_fd_ = Listen(&port_);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FaultProxy() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }
  int cuts() const { return cuts_; }
  int stalls() const { return stalls_; }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      int server = ConnectLoopback(target_);
      if (server < 0) {
        ::close(client);
        continue;
      }
      uint64_t budget = std::uniform_int_distribution<uint64_t>(1, max_budget_)(rng_);
      bool stall = std::uniform_int_distribution<int>(0, 4)(rng_) == 0;
      Pump(client, server, budget, stall);
      ::close(client);
      ::close(server);
      ++cuts_;
    }
  }

  // One connection at a time: replicate makes one at a time anyway.
  void Pump(int a, int b, uint64_t budget, bool stall) {
    char buf[16384];
    while (!stop_ && budget > 0) {
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (::poll(p, 2, 100) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const int from = i == 0 ? a : b, to = i == 0 ? b : a;
        ssize_t n = ::read(from, buf, std::min<uint64_t>(sizeof buf, budget));
        if (n <= 0) return;  // one side hung up: so does the other
        budget -= static_cast<uint64_t>(n);
        for (ssize_t off = 0; off < n;) {
          ssize_t w = ::send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
          if (w <= 0) return;
          off += w;
        }
      }
    }
    if (stall && !stop_) {
      ++stalls_;
      std::this_thread::sleep_for(std::chrono::milliseconds(
          std::uniform_int_distribution<int>(100, 600)(rng_)));
    }
  }

  int target_;
  std::mt19937 rng_;
  uint64_t max_budget_;
  int listen_fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> cuts_{0}, stalls_{0};
  std::thread thread_;
};

// The chain and record count the target must have for group g: every
// whole write call of g's disks on the primary branch, in journal order.
void ExpectedChain(const std::string& vault_dir, std::string* chain_hex, uint64_t* records) {
  std::unique_ptr<catalog::Vault> v;
  ASSERT_TRUE(catalog::Vault::Open(vault_dir, catalog::OpenOptions(), &v).ok());
  std::map<uint32_t, std::string> names;
  for (const catalog::Disk& d : v->ListDisks()) {
    if (d.group == "g") names[d.id] = d.name;
  }
  uint8_t chain[tools::kChainSize] = {};
  *records = 0;
  std::vector<uint32_t> segs = v->journal().Segments();
  journal::JournalTail tail(&v->journal(), {segs.front(), journal::kSegmentHeaderSize});
  journal::RecordHeader h;
  std::string payload;
  std::vector<std::pair<journal::RecordHeader, std::string>> call;
  bool got = true;
  while (got) {
    ASSERT_TRUE(tail.Next(v->journal().end(), &h, &payload, &got).ok());
    if (!got || h.type != journal::RecordType::kWrite || (h.flags & journal::kCopy) ||
        !names.count(h.disk) || h.branch != 1) {
      continue;
    }
    call.emplace_back(h, payload);
    if (h.flags & journal::kContinued) continue;
    for (const auto& [rh, rp] : call) {
      tools::ExtendChain(chain, rh.seq, names[rh.disk], rh.offset / v->block_size(),
                         rh.flags & (journal::kZstd | journal::kZero), rp);
      ++*records;
    }
    call.clear();
  }
  *chain_hex = tools::ChainHex(chain);
}

class ReplicationFaultTest : public ReplicationFixture {};

TEST_F(ReplicationFaultTest, HundredCutsAndStallsThenTheTargetHoldsEveryRecordOnce) {
  // Many small write calls (4 KiB and 16 KiB through a real mount), so
  // that batches stay small enough for the cuts to let some through.
  ASSERT_EQ(0, ::access("/dev/fuse", R_OK | W_OK)) << "/dev/fuse is not usable (never skipped)";
  const std::string mnt = dir_ / "mnt", flat = mnt + "/disks/vm/d0-flat.vmdk";
  ASSERT_EQ(0, ::mkdir(mnt.c_str(), 0755));
  Expect({"mount", src_, mnt});
  CliResult r = RunProgram({"fio", "--name=a", "--filename=" + flat, "--rw=randwrite", "--bs=4k",
                            "--size=32M", "--io_size=3M", "--ioengine=psync", "--end_fsync=1",
                            "--randrepeat=0", "--refill_buffers"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  Expect({"--vault", src_, "point", "create", "g", "--label", "one"});
  r = RunProgram({"fio", "--name=b", "--filename=" + flat, "--rw=randwrite", "--bs=16k",
                  "--size=32M", "--io_size=1M", "--ioengine=psync", "--end_fsync=1", "--randrepeat=0",
                  "--refill_buffers"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  Expect({"--vault", src_, "point", "create", "g", "--app", "--label", "two"});
  Expect({"umount", mnt});
  WaitUnlocked(src_);
  StartServe();
  FaultProxy proxy(port_, 20261126, 128 << 10);
  std::vector<std::string> args = {"--vault", src_, "replicate", "g", "--to",
                                   "127.0.0.1:" + std::to_string(proxy.port()),
                                   "--target-passphrase-file", dst_pw_, "--once", "--batch-size", "16K"};
  r = RunRpfs(args);
  ASSERT_EQ(0, r.exit_code) << r.err.substr(0, 4000);
  const int cuts = proxy.cuts(), stalls = proxy.stalls();
  EXPECT_GE(cuts, 100) << "too few cuts to prove anything";
  EXPECT_GE(stalls, 10);
  EXPECT_EQ(0, StopServe());
  std::cout << "proxy: " << cuts << " cuts, " << stalls << " stalls; " << r.out;

  std::string want_chain;
  uint64_t want_records = 0;
  ExpectedChain(src_, &want_chain, &want_records);
  EXPECT_EQ(want_records, 1024u);  // every 4 KiB block fio wrote (3 MiB + 1 MiB), once
  std::unique_ptr<catalog::Vault> dst;
  ASSERT_TRUE(catalog::Vault::Open(dst_, catalog::OpenOptions(), &dst).ok());
  std::vector<catalog::ReplicaLink> links = dst->ListLinks();
  ASSERT_EQ(1u, links.size());
  EXPECT_EQ(want_records, links[0].records);
  EXPECT_EQ(want_chain, links[0].chain) << "a record missing, doubled or out of order";
  dst.reset();
  for (const char* p : {"latest", "one", "two"}) {
    EXPECT_EQ(ExportSha(src_, p), ExportSha(dst_, p)) << "at " << p;
  }
  EXPECT_EQ(Points(src_), Points(dst_));
  r = RunRpfs({"--vault", dst_, "verify", "--deep"});
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
}

// When compaction has already rewritten the journal's early segments, a
// new link cannot read the group's history record by record: the source
// catches up from the block map (the blocks that differ between each of
// its points in turn), resumably, through the same cuts.
TEST_F(ReplicationFaultTest, CatchUpFromTheBlockMapWhenCompactionRetiredTheEarlyJournal) {
  CliResult r = RunProgram({"rm", "-rf", src_});
  ASSERT_EQ(0, r.exit_code);
  Expect({"init", src_, "--passphrase-file", src_pw_, "--segment-size", "1M"});
  Expect({"--vault", src_, "group", "create", "g", "--crash-every", "0", "--app-every", "0",
          "--retention", "1s"});
  Expect({"--vault", src_, "disk", "create", "vm/d0", "--size", "16M", "--group", "g"});
  ASSERT_EQ(0, ::access("/dev/fuse", R_OK | W_OK)) << "/dev/fuse is not usable (never skipped)";
  const std::string mnt = dir_ / "mnt", flat = mnt + "/disks/vm/d0-flat.vmdk";
  ASSERT_EQ(0, ::mkdir(mnt.c_str(), 0755));
  Expect({"mount", src_, mnt});
  auto fio = [&](const std::string& name, const std::string& io) {
    CliResult f = RunProgram({"fio", "--name=" + name, "--filename=" + flat, "--rw=randwrite",
                              "--bs=4k", "--size=8M", "--io_size=" + io, "--ioengine=psync",
                              "--end_fsync=1", "--randrepeat=0", "--refill_buffers"});
    ASSERT_EQ(0, f.exit_code) << f.err;
  };
  fio("a", "8M");
  fio("b", "8M");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  r = RunRpfs({"--vault", src_, "prune", "--json"});
  ASSERT_EQ(0, r.exit_code) << r.err;
  nlohmann::json pruned = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(pruned.is_object()) << r.out;
  ASSERT_GT(pruned.value("reclaimed_bytes", uint64_t{0}), 0u) << r.out;
  Expect({"--vault", src_, "group", "set", "g", "--retention", "72h"});
  fio("c", "1M");
  Expect({"--vault", src_, "point", "create", "g", "--label", "p1"});
  fio("d", "1M");
  Expect({"--vault", src_, "point", "create", "g", "--app", "--label", "p2"});
  fio("e", "512k");
  Expect({"umount", mnt});
  WaitUnlocked(src_);

  StartServe();
  FaultProxy proxy(port_, 7, 512 << 10);
  r = RunRpfs({"--vault", src_, "replicate", "g", "--to", "127.0.0.1:" + std::to_string(proxy.port()),
               "--target-passphrase-file", dst_pw_, "--once", "--batch-size", "16K", "--json"});
  ASSERT_EQ(0, r.exit_code) << r.err.substr(0, 4000);
  EXPECT_NE(r.out.find("\"catch-up\""), std::string::npos) << "the catch-up path did not run";
  EXPECT_GE(proxy.cuts(), 10);
  EXPECT_EQ(0, StopServe());
  for (const char* p : {"latest", "p1", "p2", "latest-app"}) {
    EXPECT_EQ(ExportSha(src_, p), ExportSha(dst_, p)) << "at " << p;
  }
  EXPECT_EQ(Points(src_), Points(dst_));
  EXPECT_EQ(2u, Points(dst_).size());
  r = RunRpfs({"--vault", dst_, "verify", "--deep"});
  EXPECT_EQ(0, r.exit_code) << r.out << r.err;
}

}  // namespace
}  // namespace rpfs::testing
