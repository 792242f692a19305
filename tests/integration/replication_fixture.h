// Two vaults and a process server for replication tests: `src` (group g,
// disk vm/d0) and `dst`, each with its own passphrase; `rpfs serve` on
// dst runs in the background on a port picked here. Everything goes
// through the real CLI, TLS and TCP.
#pragma once

#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/test_support.h"

namespace rpfs::testing {

// A port free right now on 127.0.0.1 (serve sets SO_REUSEADDR).
inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t l = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A plain TCP connection to 127.0.0.1:port (-1 if refused).
inline int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

class ReplicationFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = dir_ / "src";
    dst_ = dir_ / "dst";
    src_pw_ = dir_ / "src.pw";
    dst_pw_ = dir_ / "dst.pw";
    WriteFile(src_pw_, "source passphrase\n");
    WriteFile(dst_pw_, "target passphrase\n");
    Expect({"init", src_, "--passphrase-file", src_pw_});
    Expect({"init", dst_, "--passphrase-file", dst_pw_});
    Expect({"--vault", src_, "group", "create", "g", "--crash-every", "0", "--app-every", "0"});
    Expect({"--vault", src_, "disk", "create", "vm/d0", "--size", "64M", "--group", "g"});
    port_ = FreePort();
  }

  void TearDown() override {
    UnmountSource();
    StopServe();
  }

  CliResult Expect(const std::vector<std::string>& args) {
    CliResult r = RunRpfs(args);
    EXPECT_EQ(0, r.exit_code) << r.err;
    return r;
  }

  // Waits until no process holds the vault (a daemon after umount).
  static void WaitUnlocked(const std::string& vault) {
    for (int i = 0; i < 400; ++i) {
      int fd = ::open((vault + "/LOCK").c_str(), O_RDONLY | O_CLOEXEC);
      const bool free = fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0;
      if (fd >= 0) ::close(fd);
      if (free) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "vault " << vault << " is still locked";
  }

  // Mounts src at dir/mnt (FUSE; fails loudly, never skips, without it).
  void MountSource() {
    ASSERT_EQ(0, ::access("/dev/fuse", R_OK | W_OK))
        << "/dev/fuse is not usable: FUSE tests cannot run here (they must not be skipped)";
    mnt_ = dir_ / "mnt";
    ASSERT_EQ(0, ::mkdir(mnt_.c_str(), 0755));
    CliResult r = RunRpfs({"mount", src_, mnt_});
    ASSERT_EQ(0, r.exit_code) << r.err;
    mounted_ = true;
  }
  // Unmounts src (if mounted) and waits until the daemon let go of it.
  void UnmountSource() {
    if (!mounted_) return;
    EXPECT_EQ(0, RunRpfs({"umount", mnt_}).exit_code);
    mounted_ = false;
    WaitUnlocked(src_);
  }

  std::string Addr() const { return "127.0.0.1:" + std::to_string(port_); }

  // Starts `rpfs serve` on dst and waits until it listens.
  void StartServe() {
    ASSERT_LT(serve_pid_, 0);
    serve_out_ = dir_ / ("serve" + std::to_string(++serves_) + ".out");
    serve_err_ = dir_ / ("serve" + std::to_string(serves_) + ".err");
    serve_pid_ = SpawnProgram({RPFS_BINARY, "--vault", dst_, "serve", "--listen", Addr()}, serve_out_,
                              serve_err_);
    ASSERT_GT(serve_pid_, 0);
    for (int i = 0; i < 200; ++i) {
      if (ReadFile(serve_out_).find("serving vault") != std::string::npos) return;
      int status;
      if (::waitpid(serve_pid_, &status, WNOHANG) == serve_pid_) {
        serve_pid_ = -1;
        FAIL() << "serve exited: " << ReadFile(serve_err_);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "serve did not start: " << ReadFile(serve_err_);
  }

  // SIGTERM (a clean stop) or SIGKILL; returns the exit status.
  int StopServe(int sig = SIGTERM) {
    if (serve_pid_ < 0) return 0;
    ::kill(serve_pid_, sig);
    int status = 0;
    ::waitpid(serve_pid_, &status, 0);
    serve_pid_ = -1;
    return status;
  }

  bool ServeAlive() {
    int status;
    return serve_pid_ > 0 && ::waitpid(serve_pid_, &status, WNOHANG) == 0;
  }

  std::vector<std::string> ReplicateArgs() {
    return {"--vault", src_, "replicate", "g", "--to", Addr(), "--target-passphrase-file", dst_pw_};
  }

  // (kind, label, time) of every point of g, oldest first.
  std::vector<std::string> Points(const std::string& vault) {
    CliResult r = RunRpfs({"--vault", vault, "point", "list", "g", "--json"});
    EXPECT_EQ(0, r.exit_code) << r.err;
    std::vector<std::string> out;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    if (!j.is_array()) return {"unparsable: " + r.out};
    for (const auto& p : j) {
      out.push_back(p.value("kind", "") + "/" + p.value("label", "") + "/" +
                    std::to_string(p.value("time_ns", uint64_t{0})));
    }
    return out;
  }

  // sha256 of a raw export of vm/d0 at point P.
  std::string ExportSha(const std::string& vault, const std::string& point, const std::string& disk = "vm/d0") {
    const std::string out = dir_ / ("export-" + std::to_string(++exports_) + ".raw");
    CliResult r = RunRpfs({"--vault", vault, "export", disk, "--point", point, "--format", "raw", out});
    EXPECT_EQ(0, r.exit_code) << r.err;
    CliResult sum = RunProgram({"sha256sum", out});
    EXPECT_EQ(0, sum.exit_code) << sum.err;
    ::unlink(out.c_str());
    return sum.out.substr(0, 64);
  }

  TempDir dir_;
  std::string src_, dst_, src_pw_, dst_pw_;
  int port_ = 0;
  std::string mnt_;
  bool mounted_ = false;
  pid_t serve_pid_ = -1;
  std::string serve_out_, serve_err_;
  int serves_ = 0, exports_ = 0;
};

}  // namespace rpfs::testing
