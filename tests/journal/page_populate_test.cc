// PopulatePages makes untouched memory present without changing any byte.
#include "journal/page_populate.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace rpfs::journal {
namespace {

// How many of the n bytes' pages at p are resident.
size_t ResidentPages(void* p, size_t n) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v(n / page);
  EXPECT_EQ(0, ::mincore(p, n, v.data())) << std::strerror(errno);
  size_t resident = 0;
  for (unsigned char c : v) resident += c & 1;
  return resident;
}

TEST(PopulatePages, MakesFreshPagesPresentAndKeepsWhatWasWritten) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t n = 256 * page;
  void* m = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(MAP_FAILED, m);
  char* p = static_cast<char*>(m);
  std::memset(p + 10 * page, 'x', 3 * page);  // some pages written before
  ASSERT_EQ(3u, ResidentPages(p, n));

  PopulatePages(p, n);
  EXPECT_EQ(256u, ResidentPages(p, n));
  for (size_t i = 0; i < n; ++i) {
    const char want = i >= 10 * page && i < 13 * page ? 'x' : '\0';
    ASSERT_EQ(want, p[i]) << "byte " << i;
  }
  ::munmap(m, n);
}

TEST(PopulatePages, TouchesOnlyWholePagesInsideTheRange) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t n = 8 * page;
  void* m = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(MAP_FAILED, m);
  char* p = static_cast<char*>(m);
  // From the middle of page 1 to the middle of page 6: pages 2..5.
  PopulatePages(p + page + page / 2, 5 * page);
  std::vector<unsigned char> v(8);
  ASSERT_EQ(0, ::mincore(p, n, v.data()));
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(i >= 2 && i <= 5, (v[i] & 1) != 0) << "page " << i;
  PopulatePages(p + 1, page - 2);  // no whole page: nothing, and no crash
  ASSERT_EQ(0, ::mincore(p, n, v.data()));
  EXPECT_EQ(0, v[0] & 1);
  ::munmap(m, n);
}

}  // namespace
}  // namespace rpfs::journal
