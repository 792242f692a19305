// PayloadSealer and a journal that seals: round trips, and every change to
// a sealed record (a bit of its ciphertext, tag or nonce, a field of its
// AAD, another key) is refused, never misread; a tag failure is
// corruption, never a torn tail to cut; nonces never repeat.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>

#include "journal/coding.h"
#include "journal/crc32c.h"
#include "journal/data_key.h"
#include "journal/journal.h"
#include "journal/payload_sealer.h"
#include "journal/segment_reader.h"
#include "tests/test_support.h"

namespace rpfs::journal {
namespace {

using rpfs::testing::FileSize;
using rpfs::testing::ReadFile;
using rpfs::testing::TempDir;

DataKey TestKey(uint8_t seed) {
  DataKey k;
  for (size_t i = 0; i < kDataKeySize; ++i) k.bytes[i] = static_cast<uint8_t>(seed * 31 + i);
  return k;
}

RecordHeader Header(uint32_t len) {
  RecordHeader h;
  h.type = RecordType::kWrite;
  h.flags = kContinued;
  h.payload_len = len;
  h.length = 4096;
  h.seq = 77;
  h.time_ns = 123456789;
  h.disk = 3;
  h.branch = 2;
  h.offset = 4096 * 9;
  return h;
}

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Seals `plain` under a header like Header(); returns the stored header.
RecordHeader SealInto(PayloadSealer& s, const std::string& plain, std::string* sealed) {
  RecordHeader h = Header(static_cast<uint32_t>(plain.size()));
  sealed->resize(plain.size() + kSealOverhead);
  EXPECT_TRUE(s.Seal(h, plain.data(), reinterpret_cast<uint8_t*>(sealed->data())).ok());
  RecordHeader stored = h;
  stored.flags |= kSealed;
  stored.payload_len = static_cast<uint32_t>(sealed->size());
  return stored;
}

bool Opens(const PayloadSealer& s, const RecordHeader& stored, const std::string& sealed,
           std::string* out = nullptr) {
  std::string buf(stored.payload_len >= kSealOverhead ? stored.payload_len - kSealOverhead : 0, 'x');
  bool ok = s.Open(stored, reinterpret_cast<const uint8_t*>(sealed.data()),
                   reinterpret_cast<uint8_t*>(buf.data()));
  if (out) *out = buf;
  return ok;
}

TEST(PayloadSealer, RoundTripsEveryLengthAndInPlace) {
  const DataKey key = TestKey(1);
  PayloadSealer s(key.bytes, 5);
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{4096}, size_t{100000}}) {
    const std::string plain = Random(n, static_cast<uint32_t>(n));
    std::string sealed, got;
    RecordHeader stored = SealInto(s, plain, &sealed);
    ASSERT_TRUE(Opens(s, stored, sealed, &got)) << n;
    EXPECT_EQ(plain, got) << n;
    if (n >= 64) {
      EXPECT_EQ(std::string::npos, sealed.find(plain.substr(0, 64))) << "plaintext in the seal";
    }
    // In place: the plaintext replaces the ciphertext.
    auto* p = reinterpret_cast<uint8_t*>(sealed.data());
    ASSERT_TRUE(s.Open(stored, p, p + kSealNonceSize)) << n;
    EXPECT_EQ(0, std::memcmp(p + kSealNonceSize, plain.data(), n)) << n;
  }
}

TEST(PayloadSealer, EveryFlippedBitIsRefused) {
  const DataKey key = TestKey(2);
  PayloadSealer s(key.bytes, 1);
  const std::string plain = Random(300, 3);
  std::string sealed;
  const RecordHeader stored = SealInto(s, plain, &sealed);
  // Every bit of nonce, ciphertext and tag.
  for (size_t byte = 0; byte < sealed.size(); ++byte) {
    for (int bit = 0; bit < 8; bit += 3) {
      std::string bad = sealed;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      std::string out;
      EXPECT_FALSE(Opens(s, stored, bad, &out)) << "flip at byte " << byte;
      EXPECT_EQ(std::string(out.size(), '\0'), out) << "unauthenticated bytes left at " << byte;
    }
  }
}

TEST(PayloadSealer, AadBindsTheRecordToItsPlace) {
  const DataKey key = TestKey(3);
  PayloadSealer s(key.bytes, 1);
  const std::string plain = Random(4096, 4);
  std::string sealed;
  const RecordHeader stored = SealInto(s, plain, &sealed);
  ASSERT_TRUE(Opens(s, stored, sealed));
  std::vector<std::pair<std::string, std::function<void(RecordHeader*)>>> changes = {
      {"seq", [](RecordHeader* h) { h->seq++; }},
      {"time", [](RecordHeader* h) { h->time_ns++; }},
      {"disk", [](RecordHeader* h) { h->disk++; }},
      {"branch", [](RecordHeader* h) { h->branch++; }},
      {"offset", [](RecordHeader* h) { h->offset += 4096; }},
      {"length", [](RecordHeader* h) { h->length++; }},
      {"type", [](RecordHeader* h) { h->type = RecordType::kPoint; }},
      {"kZstd", [](RecordHeader* h) { h->flags |= kZstd; }},
      {"kZero", [](RecordHeader* h) { h->flags |= kZero; }},
  };
  for (auto& [what, change] : changes) {
    RecordHeader h = stored;
    change(&h);
    EXPECT_FALSE(Opens(s, h, sealed)) << what << " changed, yet the seal opened";
  }
  // What compaction changes, and the journal's own flag, are left out.
  RecordHeader copy = stored;
  copy.flags = static_cast<uint8_t>((copy.flags | kCopy) & ~kContinued);
  EXPECT_TRUE(Opens(s, copy, sealed)) << "a compaction copy must open as it is";
  // Another key, or a sealer of the same key in another epoch, reads it
  // only with the right key.
  const DataKey other = TestKey(4);
  EXPECT_FALSE(Opens(PayloadSealer(other.bytes, 1), stored, sealed));
  EXPECT_TRUE(Opens(PayloadSealer(key.bytes, 9), stored, sealed));
}

TEST(PayloadSealer, NoncesNeverRepeat) {
  const DataKey key = TestKey(5);
  std::set<std::string> nonces;
  const std::string plain = Random(10, 6);
  for (uint32_t epoch : {1u, 2u}) {
    PayloadSealer s(key.bytes, epoch);
    for (int i = 0; i < 1000; ++i) {
      std::string sealed;
      SealInto(s, plain, &sealed);
      EXPECT_EQ(epoch, GetLE32(sealed.data()));
      EXPECT_EQ(static_cast<uint64_t>(i), GetLE64(sealed.data() + 4));
      EXPECT_TRUE(nonces.insert(sealed.substr(0, kSealNonceSize)).second) << "nonce repeated";
    }
  }
}

TEST(DataKey, WrapsUnderAPassphraseOnly) {
  DataKey key;
  ASSERT_TRUE(NewDataKey(&key).ok());
  std::string wrapped, wrapped2;
  ASSERT_TRUE(WrapDataKey(key, "right horse", &wrapped).ok());
  ASSERT_TRUE(WrapDataKey(key, "right horse", &wrapped2).ok());
  EXPECT_NE(wrapped, wrapped2) << "salt and nonce must be fresh per wrap";
  DataKey got;
  ASSERT_TRUE(UnwrapDataKey(wrapped, "right horse", &got).ok());
  EXPECT_EQ(0, std::memcmp(key.bytes, got.bytes, kDataKeySize));
  Status s = UnwrapDataKey(wrapped, "wrong horse", &got);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  std::string damaged = wrapped;
  damaged.back() = damaged.back() == '0' ? '1' : '0';
  EXPECT_FALSE(UnwrapDataKey(damaged, "right horse", &got).ok());
  EXPECT_TRUE(UnwrapDataKey("scrypt-gcm$1$2", "right horse", &got).IsCorruption());
}

// A journal that seals.
class SealedJournal : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_ / "j";
    opts_.sealer = std::make_shared<PayloadSealer>(key_.bytes, 7);
    opts_.max_segment_bytes = 1 << 20;
    ASSERT_TRUE(Journal::Create(dir_, id_, opts_, &j_).ok());
  }

  RecordLocation Append(uint64_t seq, const std::string& payload, uint8_t flags = 0) {
    RecordHeader h = Header(static_cast<uint32_t>(payload.size()));
    h.flags = flags;
    h.seq = seq;
    h.offset = 4096 * seq;
    RecordLocation loc;
    EXPECT_TRUE(j_->Append(h, payload.data(), &loc).ok());
    return loc;
  }

  Status Reopen(std::vector<std::string>* payloads = nullptr) {
    j_.reset();
    RecoveryReport report;
    auto visit = [&](const RecordHeader& h, const std::string& p, const RecordLocation& loc) {
      EXPECT_EQ(0, h.flags & kSealed);
      EXPECT_EQ(p.size(), h.payload_len);
      EXPECT_EQ(kRecordHeaderSize + p.size() + kSealOverhead, loc.size);
      if (payloads) payloads->push_back(p);
      return Status::OK();
    };
    return Journal::Open(dir_, id_, opts_, JournalPos{1, kSegmentHeaderSize}, 0, {}, visit, &report,
                         &j_);
  }

  // Flips a bit of the ciphertext of the record at loc and stamps a
  // matching crc: only the tag can tell.
  void Tamper(const RecordLocation& loc, size_t at_in_text) {
    const std::string path = dir_ + "/" + SegmentFileName(loc.segment);
    std::string seg = ReadFile(path);
    char* rec = seg.data() + loc.offset;
    rec[kRecordHeaderSize + kSealNonceSize + at_in_text] ^= 0x10;
    const uint32_t len = GetLE32(rec + 8);
    uint32_t crc = crc32c::Value(rec + 4, kRecordHeaderSize - 4);
    crc = crc32c::Extend(crc, rec + kRecordHeaderSize, len);
    PutLE32(rec, crc32c::Mask(crc));
    rpfs::testing::WriteFile(path, seg);
  }

  TempDir tmp_;
  std::string dir_;
  DataKey key_ = TestKey(9);
  VaultId id_;
  JournalOptions opts_;
  std::unique_ptr<Journal> j_;
};

TEST_F(SealedJournal, ReadsPlaintextStoresNone) {
  const std::string a = Random(4096, 1), b = Random(777, 2);
  RecordLocation la = Append(1, a), lb = Append(2, b);
  RecordLocation lz = Append(3, "", kZero);
  EXPECT_EQ(kRecordHeaderSize + a.size() + kSealOverhead, la.size);
  EXPECT_EQ(kRecordHeaderSize + kSealOverhead, lz.size) << "an empty payload is sealed too";
  for (bool synced : {false, true}) {  // from the append buffer, then the file
    if (synced) {
      ASSERT_TRUE(j_->Sync().ok());
    }
    RecordHeader h;
    std::string record;
    ASSERT_TRUE(j_->Read(lb, &h, &record).ok());
    EXPECT_EQ(b, record.substr(kRecordHeaderSize));
    EXPECT_EQ(b.size(), h.payload_len);
    EXPECT_EQ(0, h.flags & kSealed);
    // The record handed up is a plaintext record, crc and all.
    RecordHeader again;
    std::string why;
    ASSERT_TRUE(DecodeRecordHeader(reinterpret_cast<const uint8_t*>(record.data()), &again, &why));
    EXPECT_TRUE(RecordCrcMatches(reinterpret_cast<const uint8_t*>(record.data()),
                                 record.data() + kRecordHeaderSize, again.payload_len));
    std::string block(a.size(), '\0');
    ASSERT_TRUE(j_->ReadInto(la, &h, block.data(), block.size()).ok());
    EXPECT_EQ(a, block);
    // Raw: as stored.
    ASSERT_TRUE(j_->ReadRaw(la, &h, &record).ok());
    EXPECT_TRUE(h.flags & kSealed);
    EXPECT_EQ(a.size() + kSealOverhead, h.payload_len);
  }
  const std::string seg = ReadFile(dir_ + "/" + SegmentFileName(1));
  EXPECT_EQ(std::string::npos, seg.find(a.substr(100, 64)));
  EXPECT_EQ(std::string::npos, seg.find(b.substr(100, 64)));
  std::vector<std::string> replayed;
  ASSERT_TRUE(Reopen(&replayed).ok());
  ASSERT_EQ(3u, replayed.size());
  EXPECT_EQ(a, replayed[0]);
  EXPECT_EQ(b, replayed[1]);
  EXPECT_EQ("", replayed[2]);
}

TEST_F(SealedJournal, AppendRawCopiesTheSealAsItIs) {
  const std::string a = Random(4096, 3);
  RecordLocation la = Append(1, a);
  RecordHeader h;
  std::string raw;
  ASSERT_TRUE(j_->ReadRaw(la, &h, &raw).ok());
  h.flags |= kCopy;
  RecordLocation copy;
  ASSERT_TRUE(j_->AppendRaw(h, raw.data() + kRecordHeaderSize, &copy).ok());
  std::string copied;
  ASSERT_TRUE(j_->ReadRaw(copy, &h, &copied).ok());
  EXPECT_EQ(raw.substr(kRecordHeaderSize), copied.substr(kRecordHeaderSize)) << "re-sealed";
  std::string block(a.size(), '\0');
  ASSERT_TRUE(j_->ReadInto(copy, &h, block.data(), block.size()).ok());
  EXPECT_EQ(a, block);
  EXPECT_TRUE(h.flags & kCopy);
  // An unsealed record cannot be slipped into a sealing journal.
  RecordHeader plain = Header(4);
  EXPECT_FALSE(j_->AppendRaw(plain, "abcd", &copy).ok());
}

TEST_F(SealedJournal, TagFailureIsCorruptionNamingThePlace) {
  const std::string a = Random(4096, 4), b = Random(4096, 5);
  RecordLocation la = Append(1, a);
  Append(2, b);
  ASSERT_TRUE(j_->Sync().ok());
  j_.reset();
  Tamper(la, 100);
  // Recovery scans the newest segment: a record whose crc matches but
  // whose seal does not open is damage, not a torn tail to cut.
  const uint64_t size = FileSize(dir_ + "/" + SegmentFileName(1));
  Status s = Reopen();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find("00000001.seg offset " + std::to_string(la.offset)))
      << s.message();
  EXPECT_EQ(size, FileSize(dir_ + "/" + SegmentFileName(1))) << "recovery cut a sealed record";
  // Even as the very last record.
  Tamper(la, 100);  // undo
  ASSERT_TRUE(Reopen().ok());
  RecordLocation lc = Append(3, a);
  ASSERT_TRUE(j_->Sync().ok());
  j_.reset();
  Tamper(lc, 4000);
  s = Reopen();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(lc.offset + lc.size, FileSize(dir_ + "/" + SegmentFileName(1)));
  // Reads of it (random access, scattered, a segment scan) all refuse it.
  Tamper(lc, 4000);  // undo, open, then damage under the open journal
  ASSERT_TRUE(Reopen().ok());
  Tamper(la, 7);
  RecordHeader h;
  std::string record, block(a.size(), '\0');
  s = j_->Read(la, &h, &record);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find("offset " + std::to_string(la.offset)));
  s = j_->ReadInto(la, &h, block.data(), block.size());
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(std::string(a.size(), '\0'), block) << "unauthenticated bytes handed out";
  int fd = ::open((dir_ + "/" + SegmentFileName(1)).c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  SegmentReader reader(fd, FileSize(dir_ + "/" + SegmentFileName(1)), kSegmentHeaderSize,
                       opts_.sealer.get());
  std::string payload, why;
  uint64_t off;
  EXPECT_EQ(SegmentReader::Result::kBad, reader.Next(&h, &payload, &off, &why));
  EXPECT_TRUE(reader.bad_seal()) << why;
  EXPECT_EQ(la.offset, reader.offset());
  ::close(fd);
}

TEST_F(SealedJournal, TornTailIsStillCut) {
  const std::string a = Random(4096, 6);
  Append(1, a);
  RecordLocation lb = Append(2, a);
  ASSERT_TRUE(j_->Sync().ok());
  j_.reset();
  rpfs::testing::TruncateFile(dir_ + "/" + SegmentFileName(1), lb.offset + 100);
  std::vector<std::string> replayed;
  ASSERT_TRUE(Reopen(&replayed).ok());
  EXPECT_EQ(1u, replayed.size());
  EXPECT_EQ(lb.offset, FileSize(dir_ + "/" + SegmentFileName(1)));
}

TEST_F(SealedJournal, AnotherKeyCannotReadIt) {
  const std::string a = Random(4096, 7);
  RecordLocation la = Append(1, a);
  ASSERT_TRUE(j_->Sync().ok());
  j_.reset();
  const DataKey other = TestKey(10);
  opts_.sealer = std::make_shared<PayloadSealer>(other.bytes, 8);
  Status s = Reopen();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  // And a journal that does not seal refuses sealed records on read.
  opts_.sealer = nullptr;
  j_.reset();
  RecoveryReport report;
  ASSERT_TRUE(Journal::Open(dir_, id_, opts_, JournalPos{1, la.offset + la.size}, 1, {},
                            [](const RecordHeader&, const std::string&, const RecordLocation&) {
                              return Status::OK();
                            },
                            &report, &j_)
                  .ok());
  RecordHeader h;
  std::string record;
  EXPECT_TRUE(j_->Read(la, &h, &record).IsCorruption());
}

}  // namespace
}  // namespace rpfs::journal
