#include "tools/dr/failback_plan.h"

namespace rpfs::tools {

Status FailbackViews(catalog::Vault& vault, const std::string& group, uint64_t seq,
                     FailbackSide* side) {
  catalog::Group g;
  RPFS_RETURN_IF_ERROR(vault.GetGroup(group, &g));
  if (g.state != "failed-over" && g.state != "reprotected") {
    return Status::InvalidArgument("group " + group + " is " + g.state +
                                   ": nothing to fail back (failback follows failover and "
                                   "reprotect)");
  }
  catalog::Branch f;
  RPFS_RETURN_IF_ERROR(vault.GetBranch(g.active_branch, &f));
  // The parent is closed since the failover: its newest state is final.
  side->on_prem = catalog::View{f.parent, catalog::kMaxSeq};
  side->target = catalog::View{f.id, seq};
  return Status::OK();
}

Status FailbackBlocks(catalog::Vault& vault, uint32_t disk, const FailbackSide& side,
                      std::vector<uint64_t>* blocks) {
  return vault.DiffBlocks(disk, side.on_prem, side.target, blocks);
}

Status MeasureFailbackPending(catalog::Vault& vault, const std::string& group,
                              FailbackPending* pending) {
  *pending = FailbackPending();
  FailbackSide side;
  RPFS_RETURN_IF_ERROR(FailbackViews(vault, group, catalog::kMaxSeq, &side));
  const catalog::BranchChain chain = vault.ChainFor(side.target);
  for (const catalog::Disk& d : vault.ListDisks()) {
    if (d.group != group) continue;
    pending->disk_bytes += d.size;
    std::vector<uint64_t> blocks;
    RPFS_RETURN_IF_ERROR(FailbackBlocks(vault, d.id, side, &blocks));
    pending->blocks += blocks.size();
    pending->bytes += blocks.size() * vault.block_size();
    RPFS_RETURN_IF_ERROR(vault.catalog().blocks().Read([&](catalog::BlockMap::Reader& r) {
      for (uint64_t b : blocks) {
        catalog::FoundBlock f;
        RPFS_RETURN_IF_ERROR(r.Find(d.id, chain, b, &f));
        if (f.found && !(f.version.flags & journal::kZero)) pending->journal_bytes += f.version.loc.size;
      }
      return Status::OK();
    }));
  }
  return Status::OK();
}

}  // namespace rpfs::tools
