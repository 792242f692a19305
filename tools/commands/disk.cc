// rpfs disk create|import|write|list.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include <nlohmann/json.hpp>

#include "catalog/job_log.h"
#include "fs/vmdk/image_reader.h"
#include "tools/commands/commands.h"
#include "tools/images/image_import.h"

namespace rpfs::tools {
namespace {

// Copies file bytes [0, size) into the disk at `at` (rpfs disk write).
Status CopyIn(catalog::Vault& v, const catalog::Disk& d, int fd, uint64_t size, uint64_t at,
              const std::string& path) {
  const size_t chunk = 1 << 20;
  std::string buf(chunk, '\0');
  Progress progress("write " + d.name);
  uint64_t pos = 0;
  while (pos < size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(chunk, size - pos));
    size_t got = 0;
    while (got < want) {
      ssize_t n = ::pread(fd, buf.data() + got, want - got, static_cast<off_t>(pos + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno(errno, "read " + path);
      if (n == 0) return Status::InvalidArgument(path + " shrank while being read");
      got += static_cast<size_t>(n);
    }
    RPFS_RETURN_IF_ERROR(v.Write(d.id, at + pos, buf.data(), want));
    pos += want;
    progress.Update(pos, size);
  }
  return v.Sync();
}

Status OpenInput(const std::string& path, int* fd, uint64_t* size) {
  *fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (*fd < 0) return Status::InvalidArgument("cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(*fd, &st) != 0) return Status::FromErrno(errno, "stat " + path);
  *size = static_cast<uint64_t>(st.st_size);
  return Status::OK();
}

}  // namespace

void RegisterDisk(CLI::App& app, Context* ctx) {
  CLI::App* disk = app.add_subcommand("disk", "Replicated disks (VM/DISK)");
  disk->require_subcommand(1);

  struct Args {
    std::string name, size, group, file, offset = "0";
    bool json = false;
  };
  auto a = std::make_shared<Args>();

  CLI::App* create = disk->add_subcommand("create", "Create an empty disk");
  create->add_option("VM/DISK", a->name, "Disk name, e.g. iis1/disk0")->required();
  create->add_option("--size", a->size, "Size, e.g. 20G (rounded up to the block size)")->required();
  create->add_option("--group", a->group, "Protection group")->required();
  create->callback([a, ctx] {
    uint64_t size;
    Status s = ParseSize(a->size, &size);
    if (!s.ok()) return ctx->Fail(s);
    std::shared_ptr<catalog::Vault> v;
    catalog::Disk d;
    if (!(s = ctx->OpenVault(&v)).ok() || !(s = v->CreateDisk(a->name, size, a->group, &d)).ok()) {
      return ctx->Fail(s);
    }
    ctx->out() << "created disk " << d.name << " (" << FormatBytes(d.size) << ", group " << d.group
              << ")\n";
  });

  CLI::App* import = disk->add_subcommand(
      "import",
      "Create a disk from an image file (initial replication). Reads raw images and VMDK: "
      "monolithicFlat, twoGbMaxExtentFlat, vmfs, monolithicSparse, twoGbMaxExtentSparse, "
      "streamOptimized. Holes and zero grains are not stored. A malformed file is refused "
      "before anything changes");
  import->add_option("VM/DISK", a->name, "Disk name")->required();
  import->add_option("FILE", a->file,
                     "Raw image, VMDK descriptor (extent files next to it) or sparse/stream VMDK")
      ->required();
  import->add_option("--group", a->group, "Protection group")->required();
  import->callback([a, ctx] {
    // Every piece of metadata is checked here, before the vault changes.
    std::unique_ptr<fs::ImageReader> image;
    Status s = fs::OpenImage(ctx->Path(a->file), a->file, &image);
    if (!s.ok()) return ctx->Fail(AsInputError(s));
    std::shared_ptr<catalog::Vault> v;
    catalog::Disk d;
    if (!(s = ctx->OpenVault(&v)).ok() ||
        !(s = v->CreateDisk(a->name, image->capacity(), a->group, &d)).ok()) {
      return ctx->Fail(s);
    }
    catalog::Job job;
    job.kind = "import";
    job.group = d.group;
    job.details = a->file + " (" + image->format() + ") as " + d.name;
    job.progress_total = d.size;
    if (!(s = catalog::JobLog(*v).Start(&job)).ok()) return ctx->Fail(s);
    Progress progress("import " + d.name);
    ImportResult r;
    s = ImportImage(*v, d, *image, &r, [&](uint64_t done, uint64_t total) {
      progress.Update(done, total);
    });
    if (s.ok()) job.progress_done = d.size;
    Status js = catalog::JobLog(*v).Finish(&job, s);
    if (s.ok()) s = js;
    if (!s.ok()) {
      // Grain data (a bad deflate stream) is only checked while streaming:
      // take the half-imported disk away again.
      Status rm = v->RemoveDisk(d.name);
      if (!rm.ok()) {
        ctx->err() << "rpfs: removing the half-imported disk " << d.name
                   << " failed: " << rm.message() << std::endl;
      }
      return ctx->Fail(s);
    }
    ctx->out() << "imported " << a->file << " (" << image->format() << ") as " << d.name << " ("
              << FormatBytes(d.size) << ", " << FormatBytes(r.data_bytes) << " of data)\n";
  });

  CLI::App* write = disk->add_subcommand("write", "Write a file's bytes into a disk at an offset (journaled)");
  write->add_option("VM/DISK", a->name, "Disk name")->required();
  write->add_option("FILE", a->file, "Data to write")->required();
  write->add_option("--offset", a->offset, "Byte offset in the disk (default 0)");
  write->callback([a, ctx] {
    uint64_t offset;
    Status s = ParseSize(a->offset, &offset);
    if (!s.ok()) return ctx->Fail(s);
    int fd;
    uint64_t size = 0;
    if (!(s = OpenInput(ctx->Path(a->file), &fd, &size)).ok()) return ctx->Fail(s);
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    std::shared_ptr<catalog::Vault> v;
    catalog::Disk d;
    if (!(s = ctx->OpenVault(&v)).ok() || !(s = v->FindDisk(a->name, &d)).ok()) return ctx->Fail(s);
    if (offset > d.size || size > d.size - offset) {
      return ctx->Fail(Status::InvalidArgument(
          "writing " + std::to_string(size) + " bytes at offset " + std::to_string(offset) +
          " would pass the end of disk " + d.name + " (" + std::to_string(d.size) + " bytes)"));
    }
    if (!(s = CopyIn(*v, d, fd, size, offset, a->file)).ok()) return ctx->Fail(s);
    ctx->out() << "wrote " << size << " bytes to " << d.name << " at offset " << offset << "\n";
  });

  CLI::App* list = disk->add_subcommand("list", "List disks");
  list->add_flag("--json", a->json, "Print JSON");
  list->callback([a, ctx] {
    std::shared_ptr<catalog::Vault> v;
    Status s = ctx->OpenVault(&v);
    if (!s.ok()) return ctx->Fail(s);
    auto disks = v->ListDisks();
    if (a->json) {
      ctx->out() << nlohmann::json(disks).dump(2) << "\n";
      return;
    }
    ctx->Printf("%-24s %-12s %-16s %s\n", "DISK", "SIZE", "GROUP", "ID");
    for (auto& d : disks) {
      ctx->Printf("%-24s %-12s %-16s %u\n", d.name.c_str(), FormatBytes(d.size).c_str(),
                  d.group.c_str(), d.id);
    }
  });
}

}  // namespace rpfs::tools
