// Vault::RemoveDisk: the row is gone at once and after reopening (it was
// written durably), the name can be used again, the id never is, and the
// removed disk's data never shows through the disk that takes its name.
#include <gtest/gtest.h>

#include "catalog/vault.h"
#include "tests/test_support.h"

namespace rpfs::catalog {
namespace {

using rpfs::testing::TempDir;

TEST(VaultRemoveDisk, RowGoesDurablyAndIdsAreNotReused) {
  TempDir dir;
  const std::string path = dir / "v";
  std::unique_ptr<Vault> v;
  ASSERT_TRUE(Vault::Create(path, VaultOptions(), OpenOptions(), &v).ok());
  Group g;
  g.name = "g";
  ASSERT_TRUE(v->CreateGroup(g).ok());
  Disk keep, gone;
  ASSERT_TRUE(v->CreateDisk("vm/keep", 1 << 20, "g", &keep).ok());
  ASSERT_TRUE(v->CreateDisk("vm/gone", 1 << 20, "g", &gone).ok());
  std::string data(64 << 10, 'x');
  ASSERT_TRUE(v->Write(gone.id, 0, data.data(), data.size()).ok());

  ASSERT_TRUE(v->RemoveDisk("vm/gone").ok());
  Disk d;
  EXPECT_TRUE(v->FindDisk("vm/gone", &d).IsNotFound());
  EXPECT_TRUE(v->GetDisk(gone.id, &d).IsNotFound());
  EXPECT_TRUE(v->Write(gone.id, 0, data.data(), data.size()).IsNotFound());
  EXPECT_TRUE(v->RemoveDisk("vm/gone").IsNotFound());
  EXPECT_TRUE(v->RemoveDisk("vm/never").IsNotFound());
  ASSERT_EQ(v->ListDisks().size(), 1u);

  v.reset();
  ASSERT_TRUE(Vault::Open(path, OpenOptions(), &v).ok());
  ASSERT_EQ(v->ListDisks().size(), 1u);
  EXPECT_EQ(v->ListDisks()[0].name, "vm/keep");
  EXPECT_TRUE(v->FindDisk("vm/gone", &d).IsNotFound());

  // The name again: a new id, and none of the old data.
  Disk again;
  ASSERT_TRUE(v->CreateDisk("vm/gone", 1 << 20, "g", &again).ok());
  EXPECT_GT(again.id, gone.id);
  std::string got(data.size(), 'y');
  ASSERT_TRUE(v->Read(again.id, v->Latest(again), 0, got.size(), got.data()).ok());
  EXPECT_EQ(got, std::string(data.size(), '\0'));
}

}  // namespace
}  // namespace rpfs::catalog
