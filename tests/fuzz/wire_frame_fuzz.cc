// libFuzzer target: the replication wire protocol's frame parser
// (tools/replication/replication_wire.h), as the process server meets it from an
// authenticated but buggy or hostile client. Input: a frame (5-byte head,
// then the body). Promises checked beyond "no crash, no sanitizer
// report": a head that parses names a known type and a length within
// bounds; a Batch body that parses lies wholly inside the input (every
// payload view), and encoding what was parsed gives back the same bytes.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tools/replication/replication_wire.h"

using namespace rpfs::tools;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  FrameType type;
  uint32_t len;
  if (!ParseFrameHead(data, &type, &len).ok()) return 0;
  if (len > kMaxFrameBody) std::abort();
  const std::string_view body(reinterpret_cast<const char*>(data) + 5, size - 5);
  WireBatch b;
  if (!ParseBatch(body, &b).ok()) return 0;
  std::string again;
  EncodeBatchHead(b, static_cast<uint32_t>(b.calls.size()), &again);
  for (const WireCall& c : b.calls) {
    EncodeCallHead(c.seq, c.time_ns, static_cast<uint32_t>(c.blocks.size()), &again);
    for (const WireBlock& w : c.blocks) {
      if (w.payload.data() < body.data() || w.payload.data() + w.payload.size() > body.data() + body.size()) {
        std::abort();  // a payload outside the frame
      }
      EncodeBlock(w.disk, w.block, w.flags, w.payload, &again);
    }
  }
  if (again != body) std::abort();  // the parse lost or invented something
  return 0;
}
