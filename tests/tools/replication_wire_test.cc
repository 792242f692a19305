// The replication wire format and pairing proofs (tools/replication/replication_wire.h,
// tools/replication/pairing.h): round trips, every truncation refused with the offset,
// lying counts and lengths refused before use, proofs bound to role,
// nonces and channel.
#include <gtest/gtest.h>

#include "journal/coding.h"
#include "tools/replication/pairing.h"
#include "tools/passphrase.h"
#include "tools/replication/replication_wire.h"

namespace rpfs::tools {
namespace {

std::string SampleBatch() {
  WireBatch b;
  b.applied_seq = 42;
  b.applied_time_ns = 7;
  b.step_to = 50;
  b.step_disk = 1;
  b.step_block = 9;
  std::memset(b.chain, 0xab, kChainSize);
  std::string calls;
  EncodeCallHead(40, 1000, 2, &calls);
  EncodeBlock(0, 5, 0, std::string(4096, 'x'), &calls);
  EncodeBlock(1, 6, 2, "", &calls);
  EncodeCallHead(41, 1001, 1, &calls);
  EncodeBlock(1, 8, 1, "zstd-ish", &calls);
  std::string body;
  EncodeBatchHead(b, 2, &body);
  return body + calls;
}

TEST(ReplicationWire, BatchRoundTrips) {
  const std::string body = SampleBatch();
  WireBatch b;
  ASSERT_TRUE(ParseBatch(body, &b).ok());
  EXPECT_EQ(42u, b.applied_seq);
  EXPECT_EQ(50u, b.step_to);
  EXPECT_EQ(1u, b.step_disk);
  EXPECT_EQ(9u, b.step_block);
  ASSERT_EQ(2u, b.calls.size());
  EXPECT_EQ(40u, b.calls[0].seq);
  ASSERT_EQ(2u, b.calls[0].blocks.size());
  EXPECT_EQ(std::string(4096, 'x'), b.calls[0].blocks[0].payload);
  EXPECT_EQ(2, b.calls[0].blocks[1].flags);
  EXPECT_EQ("zstd-ish", b.calls[1].blocks[0].payload);
  EXPECT_EQ(0xab, b.chain[31]);
}

TEST(ReplicationWire, EveryTruncationIsRefusedWithItsOffset) {
  const std::string body = SampleBatch();
  for (size_t n = 0; n < body.size(); ++n) {
    WireBatch b;
    Status s = ParseBatch(std::string_view(body.data(), n), &b);
    ASSERT_FALSE(s.ok()) << "cut at " << n;
    EXPECT_NE(s.message().find("batch frame offset"), std::string::npos) << s.message();
  }
  WireBatch b;
  Status s = ParseBatch(body + "x", &b);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("after the last call"), std::string::npos) << s.message();
}

TEST(ReplicationWire, LyingCountsAndLengthsAreRefusedBeforeUse) {
  std::string body = SampleBatch();
  WireBatch b;
  std::string lie = body;
  PutLE32(lie.data() + 76, 0xffffffffu);  // call count
  Status s = ParseBatch(lie, &b);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("offset 76"), std::string::npos) << s.message();
  lie = body;
  PutLE32(lie.data() + 80 + 16, 0x7fffffffu);  // first call's block count
  EXPECT_FALSE(ParseBatch(lie, &b).ok());
  lie = body;
  PutLE32(lie.data() + 80 + 20 + 13, 0xfffffff0u);  // first block's payload length
  s = ParseBatch(lie, &b);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("past the frame's end"), std::string::npos) << s.message();
}

TEST(ReplicationWire, FrameHeadsOutOfBoundsAreRefused) {
  uint8_t head[5];
  FrameType t;
  uint32_t len;
  std::string h = EncodeFrameHead(FrameType::kBatch, 100);
  std::memcpy(head, h.data(), 5);
  ASSERT_TRUE(ParseFrameHead(head, &t, &len).ok());
  EXPECT_EQ(FrameType::kBatch, t);
  EXPECT_EQ(100u, len);
  PutLE32(head, 0);
  EXPECT_FALSE(ParseFrameHead(head, &t, &len).ok());
  PutLE32(head, kMaxFrameBody + 2);
  EXPECT_FALSE(ParseFrameHead(head, &t, &len).ok());
  PutLE32(head, 10);
  head[4] = 0;
  EXPECT_FALSE(ParseFrameHead(head, &t, &len).ok());
  head[4] = 200;
  EXPECT_FALSE(ParseFrameHead(head, &t, &len).ok());
}

TEST(ReplicationWire, ChainDependsOnEveryFieldAndOrder) {
  uint8_t a[kChainSize] = {}, b[kChainSize] = {};
  ExtendChain(a, 1, "vm/d0", 2, 0, "data");
  ExtendChain(a, 2, "vm/d0", 3, 0, "more");
  ExtendChain(b, 2, "vm/d0", 3, 0, "more");
  ExtendChain(b, 1, "vm/d0", 2, 0, "data");
  EXPECT_NE(ChainHex(a), ChainHex(b));  // order counts
  uint8_t c[kChainSize] = {}, d[kChainSize] = {};
  ExtendChain(c, 1, "vm/d0", 2, 0, "data");
  ExtendChain(d, 1, "vm/d0", 2, 0, "datA");
  EXPECT_NE(ChainHex(c), ChainHex(d));
  uint8_t e[kChainSize];
  ASSERT_TRUE(ChainFromHex(ChainHex(c), e));
  EXPECT_EQ(0, std::memcmp(c, e, kChainSize));
  EXPECT_FALSE(ChainFromHex("zz", e));
}

TEST(Pairing, BothEndsDeriveOneKeyAndProofsBindRoleNoncesAndChannel) {
  std::string encoded;
  ASSERT_TRUE(HashPassphrase("right horse battery", &encoded).ok());
  PairingKey server;
  ASSERT_TRUE(PairingKeyFromHash(encoded, &server).ok());
  PassphraseHash h;
  ASSERT_TRUE(ParsePassphraseHash(encoded, &h).ok());
  std::string salt_hex;
  for (unsigned char ch : h.salt) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", ch);
    salt_hex += buf;
  }
  PairingKey client, wrong;
  ASSERT_TRUE(PairingKeyFromPassphrase("right horse battery", salt_hex, h.n, h.r, h.p, &client).ok());
  ASSERT_TRUE(PairingKeyFromPassphrase("wrong horse battery", salt_hex, h.n, h.r, h.p, &wrong).ok());
  uint8_t exporter[32] = {1, 2, 3}, other[32] = {9};
  const std::string sn = RandomNonceHex(), cn = RandomNonceHex();
  const std::string proof = PairingProof(client, "client", sn, cn, exporter);
  EXPECT_TRUE(ProofsEqual(proof, PairingProof(server, "client", sn, cn, exporter)));
  EXPECT_FALSE(ProofsEqual(proof, PairingProof(wrong, "client", sn, cn, exporter)));
  EXPECT_FALSE(ProofsEqual(proof, PairingProof(server, "server", sn, cn, exporter)));
  EXPECT_FALSE(ProofsEqual(proof, PairingProof(server, "client", sn, cn, other)));
  EXPECT_FALSE(ProofsEqual(proof, PairingProof(server, "client", cn, sn, exporter)));
  // A hostile server cannot make the client burn a gigabyte on scrypt.
  EXPECT_FALSE(PairingKeyFromPassphrase("x", salt_hex, 1u << 24, 8, 1, &client).ok());
  EXPECT_FALSE(PairingKeyFromPassphrase("x", salt_hex, 1000, 8, 1, &client).ok());
  EXPECT_FALSE(PairingKeyFromPassphrase("x", "not hex", h.n, h.r, h.p, &client).ok());
  EXPECT_FALSE(PairingKeyFromHash("", &server).ok());
}

}  // namespace
}  // namespace rpfs::tools
