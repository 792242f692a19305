// PopulatePages makes untouched memory present without changing any byte.
#include "journal/page_populate.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace rpfs::journal {
namespace {

const size_t kPage = static_cast<size_t>(::sysconf(_SC_PAGESIZE));

// `pages` pages of anonymous memory no one has touched; unmapped on scope
// exit, whatever an assertion does.
struct FreshMapping {
  explicit FreshMapping(size_t pages) : n(pages * kPage) {
    void* m = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p = m == MAP_FAILED ? nullptr : static_cast<char*>(m);
  }
  ~FreshMapping() {
    if (p != nullptr) ::munmap(p, n);
  }
  // Per page: resident or not (mincore).
  std::vector<bool> Resident() const {
    std::vector<unsigned char> v(n / kPage);
    EXPECT_EQ(0, ::mincore(p, n, v.data())) << std::strerror(errno);
    std::vector<bool> r;
    for (unsigned char c : v) r.push_back((c & 1) != 0);
    return r;
  }
  size_t n;
  char* p;
};

TEST(PopulatePages, MakesFreshPagesPresentAndKeepsWhatWasWritten) {
  FreshMapping m(256);
  ASSERT_NE(nullptr, m.p);
  std::memset(m.p + 10 * kPage, 'x', 3 * kPage);  // some pages written before
  auto resident = m.Resident();
  ASSERT_EQ(3, std::count(resident.begin(), resident.end(), true));

  PopulatePages(m.p, m.n);
  resident = m.Resident();
  EXPECT_EQ(256, std::count(resident.begin(), resident.end(), true));
  for (size_t i = 0; i < m.n; ++i) {
    const char want = i >= 10 * kPage && i < 13 * kPage ? 'x' : '\0';
    ASSERT_EQ(want, m.p[i]) << "byte " << i;
  }
}

TEST(PopulatePages, TouchesOnlyWholePagesInsideTheRange) {
  FreshMapping m(8);
  ASSERT_NE(nullptr, m.p);
  // From the middle of page 1 to the middle of page 6: pages 2..5.
  PopulatePages(m.p + kPage + kPage / 2, 5 * kPage);
  std::vector<bool> resident = m.Resident();
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(i >= 2 && i <= 5, resident[i]) << "page " << i;
  PopulatePages(m.p + 1, kPage - 2);  // no whole page: nothing, and no crash
  EXPECT_FALSE(m.Resident()[0]);
}

}  // namespace
}  // namespace rpfs::journal
