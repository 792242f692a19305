// rpfs export VM/DISK --point P --format raw OUT: materialize an image.
#include <iostream>

#include "tools/commands/commands.h"
#include "tools/sparse_export.h"

namespace rpfs::tools {

void RegisterExport(CLI::App& app, Context* ctx) {
  struct Args {
    std::string disk, point = "latest", format, out;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("export", "Write a disk as of a point to an image file");
  cmd->add_option("VM/DISK", a->disk, "Disk name")->required();
  cmd->add_option("OUT", a->out, "Output file")->required();
  cmd->add_option("--point", a->point,
                  "Point: id, label, latest, latest-app, latest-crash, @RFC3339 or #seq "
                  "(default latest)");
  cmd->add_option("--format", a->format, "Image format: raw (sparse)")->required();
  cmd->callback([a, ctx] {
    if (a->format != "raw") {
      return ctx->Fail(Status::InvalidArgument("unsupported export format '" + a->format +
                                               "' (supported: raw)"));
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
    Progress progress("export " + d.name);
    ExportResult r;
    s = ExportRaw(*v, d, view, ctx->Path(a->out), &r,
                  [&](uint64_t done, uint64_t total) { progress.Update(done, total); });
    if (!s.ok()) return ctx->Fail(s);
    ctx->out() << "exported " << d.name << " at " << what << " to " << a->out << " (raw, "
              << FormatBytes(d.size) << ", " << FormatBytes(r.data_bytes) << " of data)\n";
  });
}

}  // namespace rpfs::tools
