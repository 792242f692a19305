#include "tools/replication/replication_source.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "catalog/job_log.h"
#include "catalog/vault_scan.h"
#include "journal/journal_tail.h"
#include "tools/progress.h"
#include "tools/replication/pairing.h"
#include "tools/replication/replication_wire.h"
#include "tools/replication/tls_channel.h"

namespace rpfs::tools {
namespace {

using Clock = std::chrono::steady_clock;

// A status the session cannot retry past (the target refused).
struct Outcome {
  Status status;
  bool permanent = false;
};

// One batch being assembled: calls encoded after a reserved fixed part.
class BatchBuilder {
 public:
  BatchBuilder() { Reset(); }
  void Reset() {
    body_.assign(80, '\0');
    calls_ = 0;
    payload_bytes_ = 0;
    records_ = 0;
  }
  void AddCall(uint64_t seq, uint64_t time_ns, const std::vector<WireBlock>& blocks) {
    EncodeCallHead(seq, time_ns, static_cast<uint32_t>(blocks.size()), &body_);
    for (const WireBlock& b : blocks) {
      EncodeBlock(b.disk, b.block, b.flags, b.payload, &body_);
      payload_bytes_ += b.payload.size();
    }
    records_ += blocks.size();
    ++calls_;
  }
  // The body with its fixed part filled in.
  std::string& Finish(const WireBatch& head) {
    std::string fixed;
    EncodeBatchHead(head, calls_, &fixed);
    body_.replace(0, fixed.size(), fixed);
    return body_;
  }
  size_t payload_bytes() const { return payload_bytes_; }
  uint64_t records() const { return records_; }
  uint32_t calls() const { return calls_; }

 private:
  std::string body_;
  uint32_t calls_ = 0;
  size_t payload_bytes_ = 0;
  uint64_t records_ = 0;
};

struct InFlight {
  uint64_t applied_seq = 0;
  uint64_t applied_time_ns = 0;
  uint64_t step_to = 0;
  journal::JournalPos end;  // follow position after it ({0,0}: a catch-up batch)
  uint64_t records = 0, payload = 0, logical = 0;
  bool point = false;  // a Point frame's ack
};

class Source {
 public:
  Source(catalog::Vault& v, const ReplicateOptions& o, ReplicateReport* r)
      : v_(v), o_(o), report_(r) {}
  Status Run();

 private:
  Outcome Session();
  Status Pair(TlsChannel* c, bool* permanent);
  Status SendSetup();
  Status CatchUp(uint64_t to_seq);
  Status Step(uint64_t to_seq, uint64_t to_time_ns);
  Status Follow(journal::JournalPos from);
  Status SendBatch(BatchBuilder* b, const InFlight& f);
  Status SendPoint(const catalog::Point& p);
  Status HandleFrame(FrameType type, const std::string& body);
  Status DrainAcks(bool wait_one);
  Status WaitAllAcked();
  Status SaveRow(bool force);
  bool Cancelled() const { return o_.cancelled && o_.cancelled(); }
  bool SegmentsFrom(uint32_t segment) const;
  void PrintStatus(const char* state);
  uint32_t DiskIndex(uint32_t disk_id);

  catalog::Vault& v_;
  const ReplicateOptions& o_;
  ReplicateReport* report_;
  std::unique_ptr<TlsChannel> c_;
  std::string target_vault_;
  catalog::Group group_;
  std::vector<catalog::Disk> disks_;  // Setup's order
  catalog::ReplicaLink sent_;         // the link as it will be once all sent batches are in
  catalog::ReplicaLink acked_;        // as the target last acknowledged
  uint8_t chain_[kChainSize] = {};    // sent_'s chain
  std::deque<InFlight> in_flight_;
  catalog::Replication row_;
  Clock::time_point row_saved_{};
  bool row_dirty_ = false;  // row_ moved since it was last saved
  Clock::time_point last_sent_ = Clock::now();
  Clock::time_point status_at_{};
  uint64_t once_seq_ = 0;
  journal::JournalPos once_pos_;
  uint64_t source_seq_ = 0;  // the newest durable seq seen
  std::optional<catalog::Point> pending_point_;
  bool reverse_ = false;            // shipping a failover branch back to its source
  catalog::Branch reverse_branch_;  // that branch
  std::string permanent_error_;  // the target's refusal, if it refused
  bool paired_ = false;          // this session got past pairing
  PairingKey key_;
  std::string key_params_;       // the salt and costs key_ was made with
  const Clock::time_point rate_start_ = Clock::now();
  uint64_t rate_bytes_ = 0;
};

Status Source::Run() {
  RPFS_RETURN_IF_ERROR(v_.GetGroup(o_.group, &group_));
  if (!group_.replica_of.empty() && group_.replica_branch == group_.active_branch) {
    return Status::InvalidArgument("group " + o_.group + " is a replica of vault " + group_.replica_of +
                                   ": replicate it from there");
  }
  if (group_.state == "failed-over") {
    return Status::InvalidArgument("group " + o_.group +
                                   " is failed over: run `rpfs reprotect` before replicating it back");
  }
  // A replica failed over here and reprotected: its failover branch goes
  // back to the vault it came from, from the fork on.
  reverse_ = !group_.replica_of.empty() && group_.state == "reprotected";
  if (reverse_) {
    RPFS_RETURN_IF_ERROR(v_.GetBranch(group_.active_branch, &reverse_branch_));
    if (reverse_branch_.source_seq == 0) {
      return Status::InvalidArgument(
          "group " + o_.group + " failed over at an instant that matches no seq of vault " +
          group_.replica_of + " (fail over at a replicated point or the latest replicated state to "
          "replicate back; `rpfs failback` to the on-premises files works regardless)");
    }
  }
  if (o_.once) RPFS_RETURN_IF_ERROR(v_.DurableMark(&once_seq_, &once_pos_));
  catalog::Job job;
  job.kind = "replicate";
  job.group = o_.group;
  job.details = "to " + o_.target;
  RPFS_RETURN_IF_ERROR(catalog::JobLog(v_).Start(&job));
  int backoff_ms = 50;
  Status result;
  for (;;) {
    if (Cancelled()) {
      result = Status::OK();
      break;
    }
    ++report_->sessions;
    paired_ = false;
    Outcome out = Session();
    c_.reset();
    in_flight_.clear();
    (void)SaveRow(true);
    if (out.status.ok() || out.permanent) {
      result = out.status;
      break;
    }
    if (Cancelled()) break;
    // A connection cut after pairing is retried soon (the network
    // hiccupped); one that never got that far backs off.
    backoff_ms = paired_ ? 100 : std::min(backoff_ms * 2, o_.retry_max_ms);
    if (o_.err) *o_.err << "rpfs: replicate " << o_.group << ": " << out.status.message()
                        << "; retrying in " << backoff_ms << " ms" << std::endl;
    const auto until = Clock::now() + std::chrono::milliseconds(backoff_ms);
    while (Clock::now() < until && !Cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  report_->acked_seq = acked_.applied_seq;
  report_->chain = acked_.chain;
  job.progress_done = report_->logical_bytes;
 if (Cancelled()) job.details += "; stopped on request";
  job.details += "; applied to source seq " + std::to_string(acked_.applied_seq) + ", " +
                 std::to_string(report_->sessions) + " session(s), " +
                 std::to_string(report_->records) + " records";
  (void)catalog::JobLog(v_).Finish(&job, result);
  PrintStatus("done");
  return result;
}

Status Source::Pair(TlsChannel* c, bool* permanent) {
  FrameType type;
  std::string body;
  RPFS_RETURN_IF_ERROR(c->ReadFrame(&type, &body));
  if (type != FrameType::kHello) return Status::IOError("expected Hello from " + o_.target);
  nlohmann::json hello = nlohmann::json::parse(body, nullptr, false);
  std::string salt, server_nonce;
  uint64_t n, r, p;
  try {
    target_vault_ = hello.at("vault").get<std::string>();
    salt = hello.at("salt").get<std::string>();
    server_nonce = hello.at("nonce").get<std::string>();
    n = hello.at("n").get<uint64_t>();
    r = hello.at("r").get<uint64_t>();
    p = hello.at("p").get<uint64_t>();
  } catch (const nlohmann::json::exception&) {
    *permanent = true;
    return Status::InvalidArgument("malformed Hello from " + o_.target);
  }
  // scrypt costs ~0.1 s: once per run, unless the target's hash changed.
  const std::string params = salt + "/" + std::to_string(n) + "/" + std::to_string(r) + "/" + std::to_string(p);
  if (params != key_params_) {
    Status s = PairingKeyFromPassphrase(o_.passphrase, salt, n, r, p, &key_);
    if (!s.ok()) {
      *permanent = true;
      return s;
    }
    key_params_ = params;
  }
  const PairingKey& key = key_;
  uint8_t exporter[32];
  RPFS_RETURN_IF_ERROR(c->Exporter(exporter));
  const std::string client_nonce = RandomNonceHex();
  nlohmann::json auth = {{"nonce", client_nonce},
                         {"proof", PairingProof(key, "client", server_nonce, client_nonce, exporter)},
                         {"source_vault", v_.meta().id.ToHex()},
                         {"group", o_.group}};
  RPFS_RETURN_IF_ERROR(c->WriteFrame(FrameType::kAuth, auth.dump()));
  RPFS_RETURN_IF_ERROR(c->ReadFrame(&type, &body));
  nlohmann::json w = nlohmann::json::parse(body, nullptr, false);
  if (type == FrameType::kError) {
    *permanent = true;
    return Status::InvalidArgument(w.is_object() ? w.value("message", "refused") : "refused");
  }
  if (type != FrameType::kWelcome || !w.is_object()) return Status::IOError("expected Welcome from " + o_.target);
  try {
    if (!ProofsEqual(w.at("proof").get<std::string>(),
                     PairingProof(key, "server", server_nonce, client_nonce, exporter))) {
      *permanent = true;
      return Status::InvalidArgument("the server at " + o_.target +
                                     " could not prove it knows the target passphrase");
    }
    if (w.at("block_size").get<uint64_t>() != v_.block_size()) {
      *permanent = true;
      return Status::InvalidArgument("the target vault's block size (" +
                                     std::to_string(w.at("block_size").get<uint64_t>()) +
                                     ") differs from this vault's (" + std::to_string(v_.block_size()) + ")");
    }
    acked_ = w.at("link").get<catalog::ReplicaLink>();
    paired_ = true;
    if (reverse_ && target_vault_ != group_.replica_of) {
      *permanent = true;
      return Status::InvalidArgument("group " + o_.group + " came from vault " + group_.replica_of +
                                     ": it replicates back there, not to vault " + target_vault_);
    }
    if (reverse_ && acked_.applied_seq == 0 && acked_.step_to == 0) {
      // The target holds this branch's state at its fork: its own history.
      acked_.applied_seq = reverse_branch_.fork_seq;
    }
    const uint64_t newest_point = w.at("newest_point").get<uint64_t>();
    sent_ = acked_;
    if (!ChainFromHex(acked_.chain, chain_)) return Status::Corruption("malformed chain from the target");
    // A point at the applied seq that did not make it (the target went
    // down between the batch and the point).
    if (acked_.step_to == 0 && acked_.applied_seq > 0) {
      for (const catalog::Point& pt : v_.ListPoints(o_.group)) {
        if (pt.seq == acked_.applied_seq && pt.id > newest_point && pt.branch == group_.active_branch) {
          pending_point_ = pt;
        }
      }
    }
  } catch (const nlohmann::json::exception&) {
    return Status::IOError("malformed Welcome from " + o_.target);
  }
  return Status::OK();
}


Outcome Source::Session() {
  Outcome out;
  pending_point_.reset();
  Status s = TlsChannel::Connect(o_.target, o_.timeout_ms, &c_);
  if (s.ok()) s = Pair(c_.get(), &out.permanent);
  if (s.ok()) s = SendSetup();
  if (!s.ok()) {
    out.status = s;
    return out;
  }
  if (pending_point_) s = SendPoint(*pending_point_);
  if (!s.ok()) {
    out.status = s;
    return out;
  }
  (void)v_.GetReplication(o_.group, &row_);
  if (row_.target_vault != target_vault_) {
    row_ = catalog::Replication();  // another target: nothing of the old row holds
  }
  row_.group = o_.group;
  row_.target = o_.target;
  row_.target_vault = target_vault_;
  row_.acked_seq = acked_.applied_seq;
  row_.acked_time_ns = acked_.applied_time_ns;
  // Where to follow the journal from, if it can be followed at all.
  journal::JournalPos from;
  bool follow = false;
  if (acked_.step_to == 0 && row_.follow_segment != 0 && row_.acked_seq <= acked_.applied_seq &&
      SegmentsFrom(row_.follow_segment)) {
    from = {row_.follow_segment, row_.follow_offset};
    follow = true;
  } else if (acked_.step_to == 0 && group_.horizon_seq == 0) {
    // No follow position (a new link, or no ack made it back), but the
    // journal still holds every record: read it from the start, record by
    // record, skipping what the target has.
    std::vector<uint32_t> retired;
    std::vector<uint32_t> segs = v_.journal().Segments();
    (void)v_.catalog().ListRetired(&retired);
    if (retired.empty() && !segs.empty() && SegmentsFrom(segs.front())) {
      from = {segs.front(), journal::kSegmentHeaderSize};
      follow = true;
    }
  }
  if (!follow) {
    // Catch up to a durable mark, then follow from the mark's position.
    const uint64_t reached = std::max(acked_.applied_seq, acked_.step_to);
    if (row_.catchup_segment != 0 && row_.catchup_seq >= reached && SegmentsFrom(row_.catchup_segment)) {
      from = {row_.catchup_segment, row_.catchup_offset};
    } else {
      uint64_t mark;
      s = v_.DurableMark(&mark, &from);
      row_.catchup_seq = mark;
      row_.catchup_segment = from.segment;
      row_.catchup_offset = from.offset;
    }
    row_.follow_segment = 0;
    if (s.ok()) s = SaveRow(true);
    if (s.ok()) s = CatchUp(row_.catchup_seq);
    if (s.ok()) s = WaitAllAcked();
    if (!s.ok()) {
      out.status = s;
      out.permanent = !permanent_error_.empty();
      return out;
    }
    row_.follow_segment = from.segment;
    row_.follow_offset = from.offset;
    row_.catchup_seq = row_.catchup_segment = 0;
    row_.catchup_offset = 0;
    (void)SaveRow(true);
  }
  if (s.ok()) s = Follow(from);
  out.status = s;
  out.permanent = !permanent_error_.empty();
  return out;
}

Status Source::SendSetup() {
  // Setup's disk order is the index batches use: by name, new disks last.
  std::vector<catalog::Disk> all = v_.ListDisks();
  std::vector<catalog::Disk> now;
  for (const catalog::Disk& d : all) {
    if (d.group == o_.group) now.push_back(d);
  }
  std::sort(now.begin(), now.end(), [](const catalog::Disk& a, const catalog::Disk& b) { return a.name < b.name; });
  std::vector<catalog::Disk> ordered;
  for (const catalog::Disk& d : disks_) {
    for (const catalog::Disk& n : now) {
      if (n.id == d.id) ordered.push_back(n);
    }
  }
  for (const catalog::Disk& n : now) {
    if (std::none_of(ordered.begin(), ordered.end(), [&](const catalog::Disk& d) { return d.id == n.id; })) {
      ordered.push_back(n);
    }
  }
  disks_ = ordered;
  RPFS_RETURN_IF_ERROR(v_.GetGroup(o_.group, &group_));
  nlohmann::json setup = {{"group", group_}, {"disks", disks_}};
  if (reverse_) setup["reverse"] = {{"fork_seq", reverse_branch_.source_seq}};
  RPFS_RETURN_IF_ERROR(c_->WriteFrame(FrameType::kSetup, setup.dump()));
  // Acks of batches in flight may come first.
  for (;;) {
    FrameType type;
    std::string body;
    RPFS_RETURN_IF_ERROR(c_->ReadFrame(&type, &body));
    if (type == FrameType::kReady) return Status::OK();
    RPFS_RETURN_IF_ERROR(HandleFrame(type, body));
  }
}

uint32_t Source::DiskIndex(uint32_t disk_id) {
  for (size_t i = 0; i < disks_.size(); ++i) {
    if (disks_[i].id == disk_id) return static_cast<uint32_t>(i);
  }
  return UINT32_MAX;
}

bool Source::SegmentsFrom(uint32_t segment) const {
  std::vector<uint32_t> segs = v_.journal().Segments();
  auto it = std::find(segs.begin(), segs.end(), segment);
  if (it == segs.end()) return false;
  for (auto next = it + 1; next != segs.end(); ++next, ++it) {
    if (*next != *it + 1) return false;
  }
  return true;
}

Status Source::CatchUp(uint64_t to_seq) {
  // Each point in between is a state of its own on the target.
  std::vector<std::pair<uint64_t, std::optional<catalog::Point>>> targets;
  std::vector<catalog::Point> points = v_.ListPoints(o_.group);
  std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  auto point_at = [&](uint64_t seq) -> std::optional<catalog::Point> {
    for (const catalog::Point& p : points) {
      if (p.seq == seq && p.branch == group_.active_branch) return p;
    }
    return std::nullopt;
  };
  if (acked_.step_to != 0) targets.push_back({acked_.step_to, point_at(acked_.step_to)});
  const uint64_t from = std::max(acked_.applied_seq, acked_.step_to);
  for (const catalog::Point& p : points) {
    if (p.seq > from && p.seq <= to_seq && p.branch == group_.active_branch) targets.push_back({p.seq, p});
  }
  if (targets.empty() || targets.back().first < to_seq) targets.push_back({to_seq, std::nullopt});
  for (size_t i = 0; i < targets.size(); ++i) {
    if (targets[i].first <= acked_.applied_seq && acked_.step_to == 0) continue;
    const uint64_t t_ns = targets[i].second ? targets[i].second->time_ns : v_.Now();
    RPFS_RETURN_IF_ERROR(Step(targets[i].first, t_ns));
    if (targets[i].second) RPFS_RETURN_IF_ERROR(SendPoint(*targets[i].second));
  }
  return Status::OK();
}

Status Source::Step(uint64_t to_seq, uint64_t to_time_ns) {
  // The blocks that differ between the target's state and to_seq, in
  // (disk, block) order from the step's cursor.
  const uint32_t branch = group_.active_branch;
  const uint64_t bs = v_.block_size();
  const bool resume = sent_.step_to == to_seq;
  const uint32_t first_disk = resume ? sent_.step_disk : 0;
  const uint64_t first_block = resume ? sent_.step_block : 0;
  RPFS_RETURN_IF_ERROR(v_.FlushIndex());  // the change log must hold everything up to to_seq
  const catalog::View a{branch, sent_.applied_seq}, b{branch, to_seq};
  const catalog::BranchChain chain_b = v_.ChainFor(b);
  BatchBuilder batch;
  std::string record;
  std::vector<std::string> payloads;
  std::vector<WireBlock> blocks;
  uint64_t total = 0, done = 0;
  Progress progress("catch-up " + o_.group);
  for (uint32_t di = first_disk; di < disks_.size(); ++di) {
    std::vector<uint64_t> changed;
    RPFS_RETURN_IF_ERROR(v_.DiffBlocks(disks_[di].id, a, b, &changed));
    total += changed.size();
    size_t i = di == first_disk ? std::lower_bound(changed.begin(), changed.end(), first_block) - changed.begin() : 0;
    while (i < changed.size()) {
      if (Cancelled()) return Status::IOError("cancelled");
      // Up to a batch's worth of blocks, read under one hold of the segments.
      payloads.clear();
      blocks.clear();
      size_t bytes = 0;
      {
        auto hold = v_.HoldSegments();
        RPFS_RETURN_IF_ERROR(v_.catalog().blocks().Read([&](catalog::BlockMap::Reader& r) {
          for (; i < changed.size() && bytes < o_.batch_bytes; ++i) {
            catalog::FoundBlock f;
            RPFS_RETURN_IF_ERROR(r.Find(disks_[di].id, chain_b, changed[i], &f));
            WireBlock wb;
            wb.disk = di;
            wb.block = changed[i];
            if (!f.found || (f.version.flags & journal::kZero)) {
              wb.flags = journal::kZero;
              payloads.emplace_back();
            } else {
              journal::RecordHeader h;
              RPFS_RETURN_IF_ERROR(v_.journal().Read(f.version.loc, &h, &record));
              RPFS_RETURN_IF_ERROR(catalog::CheckBlockRecord(h, disks_[di].id, changed[i], f, bs));
              wb.flags = h.flags & journal::kZstd;
              payloads.emplace_back(record, journal::kRecordHeaderSize, h.payload_len);
            }
            bytes += payloads.back().size();
            blocks.push_back(wb);
          }
          return Status::OK();
        }));
      }
      for (size_t k = 0; k < blocks.size(); ++k) {
        blocks[k].payload = payloads[k];
        ExtendChain(chain_, to_seq, disks_[di].name, blocks[k].block, blocks[k].flags, blocks[k].payload);
      }
      batch.AddCall(to_seq, to_time_ns, blocks);
      done += blocks.size();
      InFlight f;
      const bool last = i == changed.size() && di + 1 == disks_.size();
      f.applied_seq = last ? to_seq : sent_.applied_seq;
      f.applied_time_ns = last ? to_time_ns : sent_.applied_time_ns;
      f.step_to = last ? 0 : to_seq;
      sent_.step_disk = last ? 0 : (i == changed.size() ? di + 1 : di);
      sent_.step_block = last || i == changed.size() ? 0 : changed[i];
      sent_.step_to = f.step_to;
      sent_.step_time_ns = last ? 0 : to_time_ns;
      RPFS_RETURN_IF_ERROR(SendBatch(&batch, f));
      if (o_.progress) progress.Update(done, total);
    }
  }
  if (sent_.applied_seq != to_seq) {  // nothing differed at all
    InFlight f;
    f.applied_seq = to_seq;
    f.applied_time_ns = to_time_ns;
    sent_.step_to = sent_.step_disk = 0;
    sent_.step_block = sent_.step_time_ns = 0;
    RPFS_RETURN_IF_ERROR(SendBatch(&batch, f));
  }
  return Status::OK();
}

Status Source::SendBatch(BatchBuilder* b, const InFlight& flight) {
  WireBatch head;
  head.applied_seq = flight.applied_seq;
  head.applied_time_ns = flight.applied_time_ns;
  head.step_to = sent_.step_to;
  head.step_time_ns = sent_.step_time_ns;
  head.step_disk = sent_.step_disk;
  head.step_block = sent_.step_block;
  std::memcpy(head.chain, chain_, kChainSize);
  // Room in the window first.
  while (in_flight_.size() >= o_.window) RPFS_RETURN_IF_ERROR(DrainAcks(true));
  if (o_.max_rate > 0) {
    // Paced: no faster than max_rate on average since the run began.
    rate_bytes_ += b->payload_bytes();
    const auto due = rate_start_ + std::chrono::microseconds(rate_bytes_ * 1000000 / o_.max_rate);
    while (Clock::now() < due && !Cancelled()) {
      RPFS_RETURN_IF_ERROR(DrainAcks(false));
      std::this_thread::sleep_for(std::min<Clock::duration>(due - Clock::now(), std::chrono::milliseconds(20)));
    }
  }
  RPFS_RETURN_IF_ERROR(c_->WriteFrame(FrameType::kBatch, b->Finish(head)));
  InFlight f = flight;
  f.records = b->records();
  f.payload = b->payload_bytes();
  f.logical = b->records() * v_.block_size();
  in_flight_.push_back(f);
  sent_.applied_seq = flight.applied_seq;
  sent_.applied_time_ns = flight.applied_time_ns;
  sent_.chain = ChainHex(chain_);
  last_sent_ = Clock::now();
  b->Reset();
  return DrainAcks(false);
}

Status Source::SendPoint(const catalog::Point& p) {
  while (in_flight_.size() >= o_.window) RPFS_RETURN_IF_ERROR(DrainAcks(true));
  RPFS_RETURN_IF_ERROR(c_->WriteFrame(FrameType::kPoint, nlohmann::json(p).dump()));
  // Acknowledged like a batch, the link's state unchanged.
  InFlight f;
  f.applied_seq = sent_.applied_seq;
  f.applied_time_ns = sent_.applied_time_ns;
  f.step_to = sent_.step_to;
  f.point = true;
  in_flight_.push_back(f);
  return Status::OK();
}

Status Source::HandleFrame(FrameType type, const std::string& body) {
  if (type == FrameType::kHeartbeat) return Status::OK();
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (type == FrameType::kError) {
    permanent_error_ = j.is_object() ? j.value("message", "refused") : "refused";
    const bool permanent = j.is_object() ? j.value("permanent", true) : true;
    if (!permanent) {
      std::string m = permanent_error_;
      permanent_error_.clear();
      return Status::IOError("target: " + m);
    }
    return Status::InvalidArgument("target refused: " + permanent_error_);
  }
  if (type != FrameType::kAck || !j.is_object()) {
    return Status::IOError("unexpected frame type " + std::to_string(static_cast<int>(type)) + " from the target");
  }
  if (in_flight_.empty()) return Status::IOError("an ack for nothing sent");
  const InFlight f = in_flight_.front();
  in_flight_.pop_front();
  uint64_t applied;
  std::string chain;
  try {
    applied = j.at("applied_seq").get<uint64_t>();
    chain = j.at("chain").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return Status::IOError("malformed ack");
  }
  if (applied != f.applied_seq) {
    return Status::IOError("ack for source seq " + std::to_string(applied) + ", expected " +
                           std::to_string(f.applied_seq));
  }
  acked_.applied_seq = applied;
  acked_.applied_time_ns = f.applied_time_ns;
  acked_.step_to = f.step_to;
  acked_.chain = chain;
  if (f.point) return Status::OK();
  report_->batches++;
  report_->records += f.records;
  report_->payload_bytes += f.payload;
  report_->logical_bytes += f.logical;
  row_.acked_seq = applied;
  row_.acked_time_ns = f.applied_time_ns;
  if (f.end.segment != 0) {
    row_.follow_segment = f.end.segment;
    row_.follow_offset = f.end.offset;
  }
  row_dirty_ = true;  // saved by DrainAcks, after the acks that came with this one
  return Status::OK();
}

Status Source::DrainAcks(bool wait_one) {
  if (wait_one) {
    FrameType type;
    std::string body;
    RPFS_RETURN_IF_ERROR(c_->ReadFrame(&type, &body));
    RPFS_RETURN_IF_ERROR(HandleFrame(type, body));
  }
  while (c_->Readable(0)) {
    FrameType type;
    std::string body;
    RPFS_RETURN_IF_ERROR(c_->ReadFrame(&type, &body));
    RPFS_RETURN_IF_ERROR(HandleFrame(type, body));
  }
  // The newest of a burst of acks (a slow link delivers them in bursts,
  // after each long write): the row is saved once a second at most.
  return row_dirty_ ? SaveRow(false) : Status::OK();
}

Status Source::WaitAllAcked() {
  while (!in_flight_.empty()) RPFS_RETURN_IF_ERROR(DrainAcks(true));
  return Status::OK();
}

Status Source::SaveRow(bool force) {
  const auto now = Clock::now();
  if (!force && now - row_saved_ < std::chrono::seconds(1)) return Status::OK();
  if (row_.group.empty()) return Status::OK();
  row_saved_ = now;
  row_dirty_ = false;
  row_.updated_ns = v_.Now();
  PrintStatus(acked_.step_to != 0 || row_.follow_segment == 0 ? "catch-up" : "following");
  return v_.PutReplication(row_);
}

void Source::PrintStatus(const char* state) {
  if (!o_.json || o_.out == nullptr) return;
  // Lag: how old the newest write the target holds is, while the source
  // has newer ones (0 when caught up).
  const uint64_t now = v_.Now();
  const uint64_t lag_ms = source_seq_ > acked_.applied_seq && now > acked_.applied_time_ns
                              ? (now - acked_.applied_time_ns) / 1000000
                              : 0;
  nlohmann::json j = {{"group", o_.group},
                      {"lag_ms", lag_ms},
                      {"target", o_.target},
                      {"state", state},
                      {"acked_seq", acked_.applied_seq},
                      {"source_seq", std::max(source_seq_, once_seq_)},
                      {"batches", report_->batches},
                      {"records", report_->records},
                      {"bytes", report_->logical_bytes},
                      {"wire_bytes", report_->payload_bytes}};
  *o_.out << j.dump() << std::endl;
}

Status Source::Follow(journal::JournalPos from) {
  journal::JournalTail tail(&v_.journal(), from);
  journal::JournalPos limit = from;
  uint64_t limit_seq = sent_.applied_seq;
  const uint32_t branch = group_.active_branch;
  BatchBuilder batch;
  // The call being read: its records until one without kContinued.
  uint64_t call_seq = 0, call_time = 0;
  std::vector<std::string> call_payloads;
  std::vector<WireBlock> call_blocks;
  bool call_open = false;
  uint64_t scanned_time = sent_.applied_time_ns;  // the newest record time read
  journal::RecordHeader h;
  std::string payload;
  auto heartbeat_at = Clock::now();
  // Sends what the batch holds, the link then standing at `applied`.
  auto flush = [&](uint64_t applied, uint64_t applied_time, journal::JournalPos end) -> Status {
    InFlight f;
    f.applied_seq = applied;
    f.applied_time_ns = applied_time;
    f.end = end;
    return SendBatch(&batch, f);
  };
  for (;;) {
    if (Cancelled()) return WaitAllAcked();
    if (tail.pos() >= limit) {
      // Everything durable is read, and a mark never splits a call: one
      // still open is torn (a crash cut it; recovery left it out too).
      if (call_open) {
        call_open = false;
        call_blocks.clear();
        call_payloads.clear();
      }
      const bool advance = limit_seq > sent_.applied_seq;
      if (batch.calls() > 0 || (advance && (o_.once || Clock::now() - last_sent_ > std::chrono::milliseconds(500)))) {
        RPFS_RETURN_IF_ERROR(flush(limit_seq, scanned_time, tail.pos()));
      }
      if (o_.once && limit >= once_pos_ && sent_.applied_seq >= once_seq_) {
        RPFS_RETURN_IF_ERROR(WaitAllAcked());
        (void)SaveRow(true);
        return Status::OK();
      }
      uint64_t mark;
      journal::JournalPos p;
      RPFS_RETURN_IF_ERROR(v_.DurableMark(&mark, &p));
      source_seq_ = mark;
      if (p == limit) {
        // Saves acks that came within a second of the row's last save
        // once the second is up, or `stat` would show the target behind
        // (and the RPO alert) until the next write.
        RPFS_RETURN_IF_ERROR(DrainAcks(false));
        if (Clock::now() - heartbeat_at > std::chrono::seconds(5)) {
          RPFS_RETURN_IF_ERROR(c_->WriteFrame(FrameType::kHeartbeat, ""));
          heartbeat_at = Clock::now();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      limit = p;
      limit_seq = mark;
      continue;
    }
    const journal::JournalPos at = tail.pos();
    bool got;
    RPFS_RETURN_IF_ERROR(tail.Next(limit, &h, &payload, &got));
    if (!got) continue;
    if (h.flags & journal::kCopy) continue;  // compaction's: an old write seen before
    scanned_time = std::max(scanned_time, h.time_ns);
    if (call_open && h.seq != call_seq) {
      call_open = false;  // never finished: a crash cut it; recovery left it out too
      call_blocks.clear();
      call_payloads.clear();
    }
    if (h.type == journal::RecordType::kPoint) {
      catalog::Point p;
      if (!catalog::Catalog::Parse(payload, &p).ok() || p.group != o_.group || p.seq <= sent_.applied_seq ||
          p.branch != branch) {
        continue;
      }
      RPFS_RETURN_IF_ERROR(flush(p.seq, p.time_ns, tail.pos()));
      RPFS_RETURN_IF_ERROR(SendPoint(p));
      continue;
    }
    if (h.type != journal::RecordType::kWrite || h.seq <= sent_.applied_seq || h.branch != branch) continue;
    uint32_t di = DiskIndex(h.disk);
    if (di == UINT32_MAX) {
      catalog::Disk d;
      if (!v_.GetDisk(h.disk, &d).ok() || d.group != o_.group) continue;
      // A disk added to the group since Setup.
      if (batch.calls() > 0) RPFS_RETURN_IF_ERROR(flush(h.seq - 1, scanned_time, at));
      RPFS_RETURN_IF_ERROR(SendSetup());
      di = DiskIndex(h.disk);
      if (di == UINT32_MAX) return Status::Internal("disk " + d.name + " missing after Setup");
    }
    if (!call_open) {
      // A new call: the batch may go first, ending just before it.
      if (batch.payload_bytes() >= o_.batch_bytes) RPFS_RETURN_IF_ERROR(flush(h.seq - 1, scanned_time, at));
      call_open = true;
      call_seq = h.seq;
      call_time = h.time_ns;
    }
    WireBlock wb;
    wb.disk = di;
    wb.block = h.offset / v_.block_size();
    wb.flags = h.flags & (journal::kZstd | journal::kZero);
    call_payloads.push_back(payload);
    call_blocks.push_back(wb);
    if (h.flags & journal::kContinued) continue;
    for (size_t k = 0; k < call_blocks.size(); ++k) {
      call_blocks[k].payload = call_payloads[k];
      ExtendChain(chain_, call_seq, disks_[call_blocks[k].disk].name, call_blocks[k].block,
                  call_blocks[k].flags, call_blocks[k].payload);
    }
    batch.AddCall(call_seq, call_time, call_blocks);
    call_open = false;
    call_blocks.clear();
    call_payloads.clear();
  }
}

}  // namespace

Status RunReplication(catalog::Vault& vault, const ReplicateOptions& options, ReplicateReport* report) {
  Source s(vault, options, report);
  return s.Run();
}

}  // namespace rpfs::tools
