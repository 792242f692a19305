// rpfs export VM/DISK --point P --format raw|vmdk-flat|vmdk-sparse|vmdk-stream OUT:
// materialize an image (tools/images/image_export.h).
#include <iostream>

#include "catalog/job_log.h"
#include "tools/commands/commands.h"
#include "tools/images/image_export.h"

namespace rpfs::tools {
namespace {

constexpr const char* kFormatHelp =
    "Image format:\n"
    "  raw          sparse raw image (holes where the disk holds no data)\n"
    "  vmdk-flat    monolithicFlat: OUT is the descriptor, the data goes to\n"
    "               OUT's stem + \"-flat.vmdk\" next to it, a sparse raw extent\n"
    "  vmdk-sparse  monolithicSparse: one file, 64 KiB grains, redundant grain\n"
    "               directory, only grains holding data written\n"
    "  vmdk-stream  streamOptimized (for ESXi, OVF/OVA): deflate-compressed\n"
    "               grains with markers, footer, end-of-stream marker";

}  // namespace

void RegisterExport(CLI::App& app, Context* ctx) {
  struct Args {
    std::string disk, point = "latest", format, out;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Write a disk as of a point to an image file (raw or VMDK); the file appears "
                "only once complete (written as OUT.tmp, then renamed)");
  cmd->add_option("VM/DISK", a->disk, "Disk name")->required();
  cmd->add_option("OUT", a->out, "Output file")->required();
  cmd->add_option("--point", a->point,
                  "Point: id, label, latest, latest-app, latest-crash, @RFC3339 or #seq "
                  "(default latest)");
  cmd->add_option("--format", a->format, kFormatHelp)->required();
  cmd->callback([a, ctx] {
    using ExportFn = Status (*)(catalog::Vault&, const catalog::Disk&, catalog::View,
                                const std::string&, ExportResult*, const ExportProgress&);
    ExportFn fn = nullptr;
    if (a->format == "raw") {
      fn = ExportRaw;
    } else if (a->format == "vmdk-flat") {
      fn = ExportFlatVmdk;
    } else if (a->format == "vmdk-sparse") {
      fn = [](catalog::Vault& v, const catalog::Disk& d, catalog::View w, const std::string& o,
              ExportResult* r, const ExportProgress& p) {
        return ExportSparseVmdk(v, d, w, o, r, p);
      };
    } else if (a->format == "vmdk-stream") {
      fn = [](catalog::Vault& v, const catalog::Disk& d, catalog::View w, const std::string& o,
              ExportResult* r, const ExportProgress& p) {
        return ExportStreamVmdk(v, d, w, o, r, p);
      };
    } else {
      return ctx->Fail(Status::InvalidArgument(
          "unsupported export format '" + a->format +
          "' (supported: raw, vmdk-flat, vmdk-sparse, vmdk-stream)"));
    }
    std::shared_ptr<catalog::Vault> v;
    catalog::Disk d;
    catalog::View view;
    std::string what;
    Status s;
    if (!(s = ctx->OpenVault(&v)).ok() || !(s = v->FindDisk(a->disk, &d)).ok() ||
        !(s = v->ResolveView(d, a->point, &view, &what)).ok()) {
      return ctx->Fail(s);
    }
    catalog::Job job;
    job.kind = "export";
    job.group = d.group;
    job.details = d.name + " at " + what + " to " + ctx->Path(a->out) + " (" + a->format + ")";
    job.progress_total = d.size;
    if (!(s = catalog::JobLog(*v).Start(&job)).ok()) return ctx->Fail(s);
    ExportResult r;
    {
      Progress progress("export " + d.name);
      s = fn(*v, d, view, ctx->Path(a->out), &r,
             [&](uint64_t done, uint64_t total) { progress.Update(done, total); });
    }
    if (s.ok()) job.progress_done = d.size;
    Status js = catalog::JobLog(*v).Finish(&job, s);
    if (s.ok()) s = js;
    if (!s.ok()) return ctx->Fail(s);
    ctx->out() << "exported " << d.name << " at " << what << " to " << a->out << " ("
               << a->format << ", " << FormatBytes(d.size) << " disk, "
               << FormatBytes(r.data_bytes) << " of data, " << FormatBytes(r.file_bytes)
               << " file)\n";
  });
}

}  // namespace rpfs::tools
