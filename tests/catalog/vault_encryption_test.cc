// Encrypted vaults (issue 8) through the Vault API: the passphrase is
// checked before the journal is touched, every open seals under a new
// epoch, every read path (block reads, batched scans, verify, recovery)
// gets plaintext and refuses a tampered seal, a passphrase change only
// re-wraps the key, and compaction copies sealed records as they are.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "catalog/vault.h"
#include "catalog/vault_verify.h"
#include "journal/coding.h"
#include "journal/crc32c.h"
#include "journal/segment_reader.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

using rpfs::testing::FileSize;
using rpfs::testing::ReadFile;

constexpr uint32_t kBs = 4096;
constexpr uint64_t kMin = 60ull * 1000000000;

OpenOptions WithPassphrase(const std::string& p) {
  OpenOptions o;
  o.passphrase = [p](std::string* out) {
    *out = p;
    return Status::OK();
  };
  return o;
}

// One record of a segment, as stored.
struct Stored {
  uint32_t segment;
  uint64_t offset;
  journal::RecordHeader h;
  std::string payload;
};

std::vector<Stored> ReadStoredRecords(const std::string& vault_dir) {
  std::vector<Stored> out;
  std::vector<std::string> names;
  DIR* d = ::opendir((vault_dir + "/journal").c_str());
  while (dirent* e = d ? ::readdir(d) : nullptr) {
    std::string n = e->d_name;
    if (n.size() == 12 && n.substr(8) == ".seg") names.push_back(n);
  }
  if (d) ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    const std::string path = vault_dir + "/journal/" + n;
    int fd = ::open(path.c_str(), O_RDONLY);
    journal::SegmentReader r(fd, FileSize(path), journal::kSegmentHeaderSize);  // no sealer: raw
    Stored s;
    s.segment = static_cast<uint32_t>(std::stoul(n.substr(0, 8)));
    std::string why;
    while (r.Next(&s.h, &s.payload, &s.offset, &why) == journal::SegmentReader::Result::kRecord) {
      out.push_back(s);
    }
    ::close(fd);
  }
  return out;
}

// Flips a bit of the sealed payload of a record and stamps a crc that
// matches again: only the GCM tag can tell.
void TamperSealed(const std::string& vault_dir, const Stored& rec, size_t at) {
  const std::string path = vault_dir + "/journal/" + journal::SegmentFileName(rec.segment);
  std::string seg = ReadFile(path);
  char* p = seg.data() + rec.offset;
  p[journal::kRecordHeaderSize + journal::kSealNonceSize + at] ^= 0x04;
  uint32_t crc = crc32c::Value(p + 4, journal::kRecordHeaderSize - 4);
  crc = crc32c::Extend(crc, p + journal::kRecordHeaderSize, rec.h.payload_len);
  PutLE32(p, crc32c::Mask(crc));
  rpfs::testing::WriteFile(path, seg);
}

class EncryptedVault : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_ / "v";
    oo_ = WithPassphrase("correct horse");
    oo_.clock = [this] { return now_.load(); };
    VaultOptions vo;
    vo.encrypt = true;
    vo.passphrase = "correct horse";
    vo.passphrase_hash = "scrypt$test";
    vo.max_segment_bytes = 1 << 20;
    vo.compression_level = 1;
    ASSERT_TRUE(Vault::Create(dir_, vo, oo_, &v_).ok());
    ASSERT_TRUE(v_->encrypted());
    Group g;
    g.name = "g";
    g.retention_s = 3600;
    ASSERT_TRUE(v_->CreateGroup(g).ok());
    ASSERT_TRUE(v_->CreateDisk("vm/d", kBlocks * kBs, "g", &disk_).ok());
  }

  // Writes blocks [b, b + n): random (incompressible) or, if text, a
  // compressible pattern. The model learns it.
  void Write(uint64_t b, uint64_t n, bool text = false) {
    std::string data(n * kBs, '\0');
    for (size_t i = 0; i < data.size(); ++i) {
      data[i] = text ? static_cast<char>('a' + (i * 7 + b) % 26) : static_cast<char>(rng_());
    }
    ASSERT_TRUE(v_->Write(disk_.id, b * kBs, data.data(), data.size()).ok());
    model_.replace(b * kBs, data.size(), data);
  }

  void ExpectLatest(const std::string& what) {
    std::string got(model_.size(), '\0');
    Status s = v_->Read(disk_.id, v_->Latest(disk_), 0, got.size(), got.data());
    ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
    ASSERT_TRUE(got == model_) << what << ": Read differs";
    std::string scanned(model_.size(), '\0');
    s = v_->ScanData(disk_.id, v_->Latest(disk_), [&](uint64_t b, const char* data) {
      std::memcpy(scanned.data() + b * kBs, data, kBs);
      return Status::OK();
    });
    ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
    ASSERT_TRUE(scanned == model_) << what << ": ScanData differs";
  }

  void ExpectVerifyClean() {
    VerifyReport r;
    ASSERT_TRUE(VerifyVault(*v_, true, &r).ok());
    for (const auto& p : r.problems) ADD_FAILURE() << p;
    EXPECT_GT(r.index_entries, 0u);
  }

  Status Reopen(const OpenOptions& o) {
    v_.reset();
    OpenOptions with_clock = o;
    with_clock.clock = [this] { return now_.load(); };
    return Vault::Open(dir_, with_clock, &v_);
  }

  static constexpr uint64_t kBlocks = 1024;  // 4 MiB
  rpfs::testing::TempDir tmp_;
  std::string dir_;
  std::atomic<uint64_t> now_{1000 * kMin};
  OpenOptions oo_;
  std::unique_ptr<Vault> v_;
  Disk disk_;
  std::mt19937 rng_{11};
  std::string model_ = std::string(kBlocks * kBs, '\0');
};

TEST_F(EncryptedVault, PassphraseIsCheckedBeforeTheJournalIsTouched) {
  Write(0, 16);
  v_.reset();
  // A torn tail that recovery would cut: it must still be there after a
  // refused open.
  const std::string seg = dir_ + "/journal/" + journal::SegmentFileName(1);
  std::string bytes = ReadFile(seg);
  bytes += std::string(20, '\x55');
  rpfs::testing::WriteFile(seg, bytes);
  const uint64_t size = FileSize(seg);
  Status s = Reopen(OpenOptions());
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find("is encrypted")) << s.message();
  s = Reopen(WithPassphrase("wrong horse"));
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ("wrong passphrase for vault " + dir_, s.message());
  EXPECT_EQ(size, FileSize(seg)) << "a refused open touched the journal";
  s = Reopen(oo_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(size - 20, FileSize(seg)) << "the torn tail was not cut";
  ExpectLatest("after reopen");
}

TEST_F(EncryptedVault, EveryOpenSealsUnderANewEpoch) {
  const uint32_t first = v_->meta().seal_epoch;
  EXPECT_EQ(1u, first);
  Write(0, 32);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(Reopen(oo_).ok());
    EXPECT_EQ(first + static_cast<uint32_t>(i), v_->meta().seal_epoch);
    Write(static_cast<uint64_t>(i) * 32, 32, i % 2 == 0);
    Point p;
    ASSERT_TRUE(v_->CreatePoint("g", "crash", "", &p).ok());
  }
  v_.reset();
  std::set<std::string> nonces;
  std::set<uint32_t> epochs;
  for (const Stored& r : ReadStoredRecords(dir_)) {
    ASSERT_TRUE(r.h.flags & journal::kSealed) << "unsealed record at offset " << r.offset;
    ASSERT_GE(r.payload.size(), journal::kSealOverhead);
    EXPECT_TRUE(nonces.insert(r.payload.substr(0, journal::kSealNonceSize)).second)
        << "nonce reused at segment " << r.segment << " offset " << r.offset;
    epochs.insert(GetLE32(r.payload.data()));
  }
  EXPECT_EQ((std::set<uint32_t>{1, 2, 3, 4}), epochs);
  ASSERT_TRUE(Reopen(oo_).ok());
  ExpectLatest("after four opens");
  ExpectVerifyClean();
}

TEST_F(EncryptedVault, ReadsBackEveryWayAndStoresNoPlaintext) {
  Write(0, 100);               // incompressible: stored, sealed
  Write(100, 100, true);       // compressible: zstd, then sealed
  ASSERT_TRUE(v_->Write(disk_.id, 200 * kBs, std::string(8 * kBs, '\0').data(), 8 * kBs).ok());
  Write(300, 1);
  std::string partial = "a partial block write, merged with what the block held";
  ASSERT_TRUE(v_->Write(disk_.id, 300 * kBs + 100, partial.data(), partial.size()).ok());
  model_.replace(300 * kBs + 100, partial.size(), partial);
  Point p;
  ASSERT_TRUE(v_->CreatePoint("g", "app", "before-upgrade", &p).ok());
  ExpectLatest("open");
  ExpectVerifyClean();
  ASSERT_TRUE(Reopen(oo_).ok());  // recovery replays sealed records, points included
  ExpectLatest("reopened");
  EXPECT_EQ(1u, v_->ListPoints("g").size());
  v_.reset();
  // No file of the vault holds a 32-byte piece of the data.
  std::string all;
  for (const char* f : {"/catalog/data.mdb", "/journal/00000001.seg"}) all += ReadFile(dir_ + f);
  for (size_t at = 0; at + 32 <= 101 * kBs; at += 509) {
    ASSERT_EQ(std::string::npos, all.find(model_.substr(at, 32))) << "plaintext at disk byte " << at;
  }
  ASSERT_EQ(std::string::npos, all.find(partial.substr(0, 24)));
}

TEST_F(EncryptedVault, ATamperedSealIsCorruptionNeverWrongBytes) {
  for (uint64_t b = 0; b < kBlocks; b += 64) Write(b, 64);  // several 1 MiB segments
  v_.reset();
  std::vector<Stored> records = ReadStoredRecords(dir_);
  const Stored* victim = nullptr;
  for (const Stored& r : records) {
    if (r.segment == 1 && r.h.type == journal::RecordType::kWrite && !(r.h.flags & journal::kZero)) {
      victim = &r;
      break;
    }
  }
  ASSERT_NE(nullptr, victim);
  const uint64_t block = victim->h.offset / kBs;
  TamperSealed(dir_, *victim, 1000);
  ASSERT_TRUE(Reopen(oo_).ok()) << "segment 1 is indexed: recovery does not read it";
  const std::string where = "segment 00000001.seg offset " + std::to_string(victim->offset);
  std::string buf(kBs, '\0');
  Status s = v_->Read(disk_.id, v_->Latest(disk_), block * kBs, kBs, buf.data());
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find(where)) << s.message();
  s = v_->ScanData(disk_.id, v_->Latest(disk_), [](uint64_t, const char*) { return Status::OK(); });
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find(where)) << s.message();
  for (bool deep : {false, true}) {
    VerifyReport r;
    ASSERT_TRUE(VerifyVault(*v_, deep, &r).ok());
    ASSERT_FALSE(r.problems.empty()) << "verify missed a tampered seal (deep " << deep << ")";
    EXPECT_NE(std::string::npos, r.problems[0].find(where)) << r.problems[0];
  }
  // The neighbours read fine.
  s = v_->Read(disk_.id, v_->Latest(disk_), (block + 1) * kBs, kBs, buf.data());
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(model_.substr((block + 1) * kBs, kBs), buf);
}

TEST_F(EncryptedVault, PassphraseChangeRewrapsTheKeyOnly) {
  Write(0, 64);
  v_.reset();
  std::string journal_before = ReadFile(dir_ + "/journal/00000001.seg");
  ASSERT_TRUE(Reopen(oo_).ok());
  const std::string old_wrap = v_->meta().data_key;
  Status s = v_->ChangePassphrase("not it", "battery staple", "scrypt$new");
  EXPECT_EQ("wrong passphrase for vault " + dir_, s.message());
  s = v_->ChangePassphrase("correct horse", "battery staple", "scrypt$new");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NE(old_wrap, v_->meta().data_key);
  v_.reset();
  EXPECT_TRUE(journal_before == ReadFile(dir_ + "/journal/00000001.seg")) << "data was rewritten";
  s = Reopen(oo_);
  EXPECT_EQ("wrong passphrase for vault " + dir_, s.message());
  ASSERT_TRUE(Reopen(WithPassphrase("battery staple")).ok());
  EXPECT_EQ("scrypt$new", v_->meta().passphrase_hash);
  ExpectLatest("after the change");
}

TEST_F(EncryptedVault, CompactionCopiesSealedRecordsAsTheyAre) {
  // The whole disk, then three quarters of it again and again, an hour
  // apart: the first segments end up a quarter live.
  for (uint64_t b = 0; b < kBlocks; b += 64) Write(b, 64);
  for (int round = 0; round < 3; ++round) {
    now_ += 61 * kMin;
    for (uint64_t b = 0; b < kBlocks; b += 4) Write(b + 1, 3);
  }
  now_ += 120 * kMin;
  v_->FlushIndex();
  std::set<std::string> before;
  for (const Stored& r : ReadStoredRecords(dir_)) {
    before.insert(r.payload.substr(0, journal::kSealNonceSize));
  }
  CompactReport r;
  Status s = v_->Compact(CompactOptions(), &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_GT(r.copied_records, 0u) << "nothing copied: the test proves nothing";
  ASSERT_GT(r.segments_rewritten, 0u);
  ExpectLatest("after compaction");
  ExpectVerifyClean();
  uint64_t copies = 0;
  for (const Stored& rec : ReadStoredRecords(dir_)) {
    if (!(rec.h.flags & journal::kCopy)) continue;
    ++copies;
    EXPECT_TRUE(before.count(rec.payload.substr(0, journal::kSealNonceSize)))
        << "copy at offset " << rec.offset << " was sealed again";
  }
  EXPECT_EQ(r.copied_records, copies);
  ASSERT_TRUE(Reopen(oo_).ok());
  ExpectLatest("reopened after compaction");
  ExpectVerifyClean();
}

}  // namespace
}  // namespace rpfs::catalog
