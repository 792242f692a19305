// A mounted vault with three groups (db, web, app; one 32 MiB disk each,
// DB/d0), a script that appends what a plan script sees to a log, and
// readers of that log, of `plan show --json` and of `rpfs jobs --json`.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"

namespace rpfs::testing {

// One run of the logging script: its tag and environment, and its
// RPFS_DISKS lines.
struct ScriptSeen {
  std::string tag, op, step, phase, groups, branch, mount, plan, vault;
  std::vector<std::string> disks;  // "VM/DISK=PATH"
};

class PlanFixture : public MountedVault {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(InitVault());
    log_ = dir_ / "scripts.log";
    log_sh_ = dir_ / "log.sh";
    for (const char* g : {"db", "web", "app"}) {
      Rpfs({"group", "create", g});
      Rpfs({"disk", "create", std::string(g) + "/d0", "--size", "32M", "--group", g});
    }
    // $1 is the tag; one "tag=" line, then a "disk=" line per RPFS_DISKS line.
    WriteFile(log_sh_,
              "{\n"
              "  echo \"tag=$1|op=$RPFS_OPERATION|step=$RPFS_STEP|phase=$RPFS_PHASE|groups=$RPFS_GROUPS"
              "|branch=$RPFS_BRANCH|mount=$RPFS_MOUNT|plan=$RPFS_PLAN|vault=$RPFS_VAULT\"\n"
              "  printf '%s\\n' \"$RPFS_DISKS\" | while IFS= read -r l; do\n"
              "    [ -n \"$l\" ] && echo \"disk=$l\"\n"
              "  done\n"
              "} >> " + log_ + "\n"
              "exit 0\n");
    Mount();
  }

  std::string Log(const std::string& tag) const { return "sh " + log_sh_ + " " + tag; }

  void CreatePlan(const std::string& name, const std::string& json) {
    const std::string file = dir_ / (name + ".json");
    WriteFile(file, json);
    Rpfs({"plan", "create", name, "--file", file});
  }

  std::vector<ScriptSeen> Seen() const {
    std::vector<ScriptSeen> out;
    std::istringstream in(::access(log_.c_str(), R_OK) == 0 ? ReadFile(log_) : "");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("disk=", 0) == 0) {
        if (!out.empty()) out.back().disks.push_back(line.substr(5));
        continue;
      }
      ScriptSeen s;
      std::istringstream fields(line);
      for (std::string kv; std::getline(fields, kv, '|');) {
        size_t eq = kv.find('=');
        std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
        if (k == "tag") s.tag = v;
        if (k == "op") s.op = v;
        if (k == "step") s.step = v;
        if (k == "phase") s.phase = v;
        if (k == "groups") s.groups = v;
        if (k == "branch") s.branch = v;
        if (k == "mount") s.mount = v;
        if (k == "plan") s.plan = v;
        if (k == "vault") s.vault = v;
      }
      out.push_back(s);
    }
    return out;
  }
  std::vector<std::string> Tags() const {
    std::vector<std::string> tags;
    for (const ScriptSeen& s : Seen()) tags.push_back(s.tag);
    return tags;
  }

  nlohmann::json Show(const std::string& plan) {
    CliResult r = Rpfs({"plan", "show", plan, "--json"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out;
    return j.is_object() ? j : nlohmann::json::object();
  }
  std::string State(const std::string& plan) { return Show(plan).value("display_state", "?"); }

  nlohmann::json Jobs() {
    CliResult r = Rpfs({"jobs", "--json"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_array()) << r.out;
    return j.is_array() ? j : nlohmann::json::array();
  }
  std::vector<nlohmann::json> JobsOfKind(const std::string& prefix) {
    std::vector<nlohmann::json> out;
    for (const auto& j : Jobs()) {
      if (j.value("kind", "").rfind(prefix, 0) == 0) out.push_back(j);
    }
    return out;
  }

  // Directory entries under the mount (without . and ..).
  std::vector<std::string> Ls(const std::string& rel) {
    CliResult r = RunProgram({"ls", "-1", mnt_ + "/" + rel});
    EXPECT_EQ(0, r.exit_code) << r.err;
    std::vector<std::string> names;
    std::istringstream in(r.out);
    for (std::string n; std::getline(in, n);) {
      if (!n.empty()) names.push_back(n);
    }
    return names;
  }

  std::string Sha256(const std::string& path) {
    CliResult r = RunProgram({"sha256sum", path});
    EXPECT_EQ(0, r.exit_code) << r.err;
    return r.out.substr(0, 64);
  }

  std::string log_, log_sh_;
};

}  // namespace rpfs::testing
