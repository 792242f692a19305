// ReadQueue (journal/read_queue.h): many positioned reads issued at once,
// each filled exactly (scattered iovecs, more reads than the ring's depth,
// a short read at the end of the file), and a forked child that reads on
// the thread that forked gets a ring of its own rather than sharing its
// parent's (it used to wait forever for completions its parent reaped).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "journal/read_queue.h"
#include "tests/test_support.h"

namespace rpfs::journal {
namespace {

class ReadQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 rng(7);
    content_.resize(4 << 20);
    for (char& c : content_) c = static_cast<char>(rng());
    path_ = dir_ / "data";
    int fd = ::open(path_.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(static_cast<ssize_t>(content_.size()), ::write(fd, content_.data(), content_.size()));
    ::close(fd);
    fd_ = ::open(path_.c_str(), O_RDONLY);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override { ::close(fd_); }

  // n reads at random places, two iovecs each, the last running past the
  // end of the file; true if every byte and every result is right.
  bool ReadAndCheck(size_t n, uint64_t seed, std::string* why) {
    std::mt19937_64 rng(seed);
    std::vector<std::string> bufs(2 * n);
    std::vector<iovec> iovs(2 * n);
    std::vector<ReadRequest> reqs(n);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t a = 1 + rng() % 70000, b = 1 + rng() % 70000;
      const uint64_t off = i + 1 == n ? content_.size() - a : rng() % (content_.size() - a - b);
      bufs[2 * i].assign(a, '\x55');
      bufs[2 * i + 1].assign(b, '\x55');
      iovs[2 * i] = iovec{bufs[2 * i].data(), a};
      iovs[2 * i + 1] = iovec{bufs[2 * i + 1].data(), b};
      reqs[i] = ReadRequest{fd_, off, &iovs[2 * i], 2, a + b, 0};
    }
    ReadQueue::ReadAll(reqs.data(), n);
    for (size_t i = 0; i < n; ++i) {
      const ReadRequest& r = reqs[i];
      const uint64_t expect = std::min<uint64_t>(r.want, content_.size() - r.offset);
      if (r.result != static_cast<int64_t>(expect)) {
        *why = "read " + std::to_string(i) + ": result " + std::to_string(r.result) + ", want " +
               std::to_string(expect);
        return false;
      }
      const std::string got = (bufs[2 * i] + bufs[2 * i + 1]).substr(0, expect);
      if (got != content_.substr(r.offset, expect)) {
        *why = "read " + std::to_string(i) + ": wrong bytes";
        return false;
      }
    }
    return true;
  }

  rpfs::testing::TempDir dir_;
  std::string path_, content_;
  int fd_ = -1;
};

TEST_F(ReadQueueTest, ManyReadsAtOnceEachGetExactlyItsBytes) {
  std::string why;
  EXPECT_TRUE(ReadAndCheck(1, 1, &why)) << why;
  EXPECT_TRUE(ReadAndCheck(ReadQueue::kDepth * 3 + 5, 2, &why)) << why;
}

TEST_F(ReadQueueTest, AForkedChildReadsOnARingOfItsOwn) {
  std::string why;
  ASSERT_TRUE(ReadAndCheck(100, 3, &why)) << why;  // the parent's ring exists now
  for (int round = 0; round < 3; ++round) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::alarm(20);  // a hang fails the test rather than the suite's timeout
      std::string child_why;
      _exit(ReadAndCheck(500, 10 + round, &child_why) ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(pid, ::waitpid(pid, &status, 0));
    ASSERT_TRUE(WIFEXITED(status)) << "the child was killed (signal "
                                   << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << ")";
    EXPECT_EQ(0, WEXITSTATUS(status));
    EXPECT_TRUE(ReadAndCheck(500, 20 + round, &why)) << why;  // the parent's still works
  }
}

}  // namespace
}  // namespace rpfs::journal
