// Recovery of the journal tail after a crash, and the segment listing it
// starts from.
//
// The newest segment is always scanned from its start (to learn the last
// surviving seq); older segments only from `replay_from`. Records at or
// after replay_from go to the visitor. A bad record in the newest segment
// with nothing valid after it is a torn tail: the file is cut there and
// the report says how many bytes were dropped and where. The segment
// before the newest may have been sealed without its fdatasync (Journal
// defers it): a torn tail there, with no valid record after it and none
// in the newest segment, is cut the same way and the empty newest segment
// goes. A bad record followed by a valid one, a bad record in any older
// segment, or a sealed segment ending early while the newest holds
// records, is corruption: recovery stops and says where. So is a whole
// record (crc matching) whose seal does not open, wherever it is: only a
// bad crc can be a torn write. The visitor gets plaintext (see Journal).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "journal/journal.h"

namespace rpfs::journal {

// Lists NNNNNNNN.seg files in dir, sorted. A gap in the numbering must be
// a `retired` segment (else: corruption, the segment is missing); a
// retired segment's file still there is deleted.
Status ListSegments(const std::string& dir, const std::vector<uint32_t>& retired,
                    std::vector<uint32_t>* segments);

// replay_seq: the highest seq before replay_from (compaction copies carry
// old seqs, so the records after it may not show the highest one).
// May drop the newest segment from *segments if its header never became
// durable (a crash while rolling) or it is empty after a torn seal.
Status RecoverTail(const std::string& dir, const VaultId& id, std::vector<uint32_t>* segments,
                   JournalPos replay_from, uint64_t replay_seq, const RecordVisitor& visit,
                   RecoveryReport* report, const PayloadSealer* sealer = nullptr);

}  // namespace rpfs::journal
