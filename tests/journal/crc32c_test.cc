#include "journal/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace rpfs::crc32c {

TEST(Crc32c, KnownValues) {
  // RFC 3720 B.4 test vectors.
  std::string zeros(32, '\0');
  EXPECT_EQ(0x8a9136aau, Value(zeros.data(), zeros.size()));
  std::string ones(32, '\xff');
  EXPECT_EQ(0x62a8ab43u, Value(ones.data(), ones.size()));
  EXPECT_EQ(0xe3069283u, Value("123456789", 9));
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string s = "hello world, this is a longer string to cross word boundaries";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(Value(s.data(), s.size()), Extend(Value(s.data(), cut), s.data() + cut, s.size() - cut));
  }
}

TEST(Crc32c, LongBuffersMatchByteAtATime) {
  // Long inputs take the three-stream paths (3 x 1 KiB chunks, then
  // 3 x 256 bytes); byte-wise extension never does. Lengths at and
  // around each path's edges, and mixes of both.
  std::string s(20000, '\0');
  uint32_t x = 12345;
  for (auto& c : s) c = static_cast<char>(x = x * 1103515245 + 12345);
  for (size_t n : {0, 1, 767, 768, 769, 1100, 1535, 1536, 2047, 2304, 3071, 3072, 3073, 3840,
                   3841, 4144, 6144, 9216, 9999, 20000}) {
    uint32_t bytewise = 0;
    for (size_t i = 0; i < n; ++i) bytewise = Extend(bytewise, s.data() + i, 1);
    EXPECT_EQ(bytewise, Value(s.data(), n)) << n;
  }
}

TEST(Crc32c, MaskRoundTripsAndDiffers) {
  uint32_t crc = Value("foo", 3);
  EXPECT_NE(crc, Mask(crc));
  EXPECT_NE(crc, Mask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Unmask(Mask(Mask(crc)))));
}

}  // namespace rpfs::crc32c
