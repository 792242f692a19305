// Recovery of the journal tail after a crash, and the segment listing it
// starts from.
//
// The newest segment is always scanned from its start (to learn the last
// surviving seq); older segments only from `replay_from`. Records at or
// after replay_from go to the visitor. A bad record in the newest segment
// with nothing valid after it is a torn tail: the file is cut there and
// the report says how many bytes were dropped and where. A bad record
// followed by a valid one, or a bad record in an older segment, is
// corruption: recovery stops and says where.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "journal/journal.h"

namespace rpfs::journal {

// Lists NNNNNNNN.seg files in dir, sorted; fails on gaps in the numbering.
Status ListSegments(const std::string& dir, std::vector<uint32_t>* segments);

// May drop the newest segment from *segments if its header never became
// durable (a crash while rolling).
Status RecoverTail(const std::string& dir, const VaultId& id, std::vector<uint32_t>* segments,
                   JournalPos replay_from, const RecordVisitor& visit, RecoveryReport* report);

}  // namespace rpfs::journal
