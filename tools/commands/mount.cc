// rpfs mount VAULT MOUNTPOINT / rpfs umount MOUNTPOINT.
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "fs/daemon.h"
#include "tools/cli_support.h"
#include "tools/commands/commands.h"

namespace rpfs::tools {

namespace {

// A stream buffer that hands its text to `sink` at every flush.
class StreamedOutput : public std::stringbuf {
 public:
  explicit StreamedOutput(std::function<void(const std::string&)> sink) : sink_(std::move(sink)) {}
  std::string Take() {
    std::string s = str();
    str("");
    return s;
  }

 protected:
  int sync() override {
    std::string s = Take();
    if (!s.empty()) sink_(s);
    return 0;
  }

 private:
  std::function<void(const std::string&)> sink_;
};

}  // namespace

void RegisterMount(CLI::App& app, Context* ctx) {
  auto o = std::make_shared<fs::MountOptions>();
  CLI::App* mount = app.add_subcommand(
      "mount", "Show a vault through FUSE: disks/ (live, read-write), points/, at/, branches/; "
               "an encrypted vault's passphrase comes from RPFS_PASSPHRASE_FILE or a prompt");
  mount->add_option("VAULT", o->vault_dir, "Vault directory")->required();
  mount->add_option("MOUNTPOINT", o->mountpoint, "An existing directory")->required();
  mount->add_flag("-f,--foreground", o->foreground, "Stay in the foreground");
  mount->add_option("-o", o->fuse_options, "FUSE mount option (e.g. allow_other); repeatable");
  auto every = std::make_shared<std::string>("1m");
  auto rate = std::make_shared<std::string>("64M");
  mount->add_option("--compact-every", *every,
                    "Run a compaction pass this often (default 1m; 0 = never)");
  mount->add_option("--compact-rate", *rate,
                    "Copy live data forward at most this many bytes per second (default 64M; 0 = no cap)");
  auto quiet = std::make_shared<std::string>("10m");
  mount->add_option("--defrag-quiet", *quiet,
                    "After each compaction pass, lay out again in block order the 1 MiB extents of "
                    "each disk's latest state that lie scattered over the journal and were not "
                    "written for this long, at --compact-rate (default 10m; 0 = never)");
  mount->callback([o, ctx, every, rate, quiet] {
    o->vault_dir = ctx->Path(o->vault_dir);
    // An encrypted vault's passphrase is read here, before the daemon
    // forks away from the terminal; others need none.
    catalog::VaultMeta meta;
    if (catalog::Catalog::PeekMeta(o->vault_dir + "/catalog", &meta).ok() && !meta.data_key.empty()) {
      std::string passphrase;
      Status s = ReadVaultPassphrase(o->vault_dir, "is encrypted", &passphrase);
      if (!s.ok()) return ctx->Fail(s);
      o->open.passphrase = [passphrase](std::string* p) {
        *p = passphrase;
        return Status::OK();
      };
    }
    Status ps = ParseDuration(*every, &o->compact_every_s);
    if (!ps.ok()) return ctx->Fail(Status::InvalidArgument("--compact-every: " + ps.message()));
    ps = ParseSize(*rate, &o->compact.rate_bytes_per_s);
    if (!ps.ok()) return ctx->Fail(Status::InvalidArgument("--compact-rate: " + ps.message()));
    ps = ParseDuration(*quiet, &o->defrag_quiet_s);
    if (!ps.ok()) return ctx->Fail(Status::InvalidArgument("--defrag-quiet: " + ps.message()));
    const std::string mountpoint = RealPath(ctx->Path(o->mountpoint));
    const std::string vault_dir = RealPath(o->vault_dir);
    o->control = [mountpoint, vault_dir](std::shared_ptr<catalog::Vault> vault,
                                         const fs::ControlRequest& req,
                                         const fs::ControlStream& stream) {
      // Output goes to the client at every flush (std::endl), so long
      // commands (replicate, serve) report as they go.
      StreamedOutput out([&](const std::string& text) { stream.write(text, ""); });
      StreamedOutput err([&](const std::string& text) { stream.write("", text); });
      std::ostream out_stream(&out), err_stream(&err);
      fs::ControlResponse resp;
      Context c;
      c.vault = std::move(vault);
      c.cwd = req.cwd;
      c.mountpoint = mountpoint;
      c.vault_dir = vault_dir;  // the client may have named it by RPFS_VAULT
      c.out_stream = &out_stream;
      c.err_stream = &err_stream;
      c.cancelled = stream.cancelled;
      resp.exit_code = RunCli(req.args, &c);
      resp.out = out.Take();
      resp.err = err.Take();
      return resp;
    };
    Status s = fs::RunMount(*o);
    if (!s.ok()) return ctx->Fail(s);
  });

  auto target = std::make_shared<std::string>();
  CLI::App* umount = app.add_subcommand("umount", "Unmount an rpfs mount (the daemon syncs and exits)");
  umount->add_option("MOUNTPOINT", *target, "Mount point")->required();
  umount->callback([target, ctx] {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execlp("fusermount3", "fusermount3", "-u", target->c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ctx->Fail(Status::InvalidArgument("cannot unmount " + *target +
                                        (WIFEXITED(status) && WEXITSTATUS(status) == 127
                                             ? " (fusermount3 not found)"
                                             : " (not mounted, or busy)")));
    }
  });
}

}  // namespace rpfs::tools
