// Recovery plans without a mount: every refused input of issue 9 exits 1
// with one line naming what and where, and changes nothing (plans, jobs,
// groups compared before and after); a plan run killed with -9 in the
// process that runs it resumes without repeating a group or a finished
// script.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <set>
#include <thread>

#include "tests/test_support.h"

namespace rpfs::testing {
namespace {

class PlanRefusalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vault_ = dir_ / "vault";
    Ok({"init", vault_});
    for (const char* g : {"db", "web", "app"}) {
      Vault({"group", "create", g});
      Vault({"disk", "create", std::string(g) + "/d0", "--size", "4M", "--group", g});
    }
  }
  CliResult Ok(const std::vector<std::string>& args) {
    CliResult r = RunRpfs(args);
    std::string cmd;
    for (const auto& a : args) cmd += " " + a;
    EXPECT_EQ(0, r.exit_code) << "rpfs" << cmd << "\n" << r.out << r.err;
    return r;
  }
  CliResult Vault(std::vector<std::string> args) {
    args.insert(args.begin(), {"--vault", vault_});
    return Ok(args);
  }
  std::string File(const std::string& name, const std::string& text) {
    WriteFile(dir_ / name, text);
    return dir_ / name;
  }
  // What a refused command must leave alone.
  std::string Snapshot() {
    std::string s;
    for (std::vector<std::string> cmd : {std::vector<std::string>{"plan", "list", "--json"},
                                         {"jobs", "--json"}, {"group", "list", "--json"},
                                         {"point", "list", "--json"}}) {
      cmd.insert(cmd.begin(), {"--vault", vault_});
      CliResult r = RunRpfs(cmd);
      EXPECT_EQ(0, r.exit_code) << r.err;
      s += r.out;
    }
    return s;
  }
  // Runs rpfs --vault V args; expects exit 1, one stderr line holding
  // `want`, and nothing changed.
  void Refused(std::vector<std::string> args, const std::string& want) {
    std::string cmd;
    for (const auto& a : args) cmd += " " + a;
    SCOPED_TRACE("rpfs" + cmd);
    const std::string before = Snapshot();
    args.insert(args.begin(), {"--vault", vault_});
    CliResult r = RunRpfs(args);
    EXPECT_EQ(1, r.exit_code) << r.out << r.err;
    EXPECT_EQ(1, std::count(r.err.begin(), r.err.end(), '\n')) << r.err;
    EXPECT_NE(std::string::npos, r.err.find(want)) << r.err;
    EXPECT_EQ(before, Snapshot()) << "a refused command changed the vault";
  }
  std::string State(const std::string& plan) {
    CliResult r = Vault({"plan", "show", plan, "--json"});
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_object() ? j.value("display_state", "?") : "?";
  }

  TempDir dir_;
  std::string vault_;
};

TEST_F(PlanRefusalTest, CreateRefusesBadFilesNamesAndStates) {
  const std::string good = File("good.json", R"({"steps": [{"groups": ["db"]}, {"groups": ["web"]}]})");
  Refused({"plan", "create", "p", "--file", File("syntax.json", "{\n \"steps\": [\n  {\"groups\": [\"db\"]},,\n ]\n}\n")},
          "syntax.json: line 3, column 22: ");
  Refused({"plan", "create", "p", "--file", File("array.json", "[1]")}, "array.json: expected an object");
  Refused({"plan", "create", "p", "--file", File("key.json", R"({"steps": [{"groups": ["db"], "posts": []}]})")},
          "key.json: step 1: unknown key \"posts\"");
  Refused({"plan", "create", "p", "--file", File("nog.json", R"({"steps": [{"groups": ["db"]}, {"pre": ["x"]}]})")},
          "nog.json: step 2: \"groups\" must name a group");
  Refused({"plan", "create", "p", "--file", File("unk.json", R"({"steps": [{"groups": ["db"]}, {"groups": ["wbe"]}]})")},
          "unk.json: step 2: unknown group 'wbe'");
  Refused({"plan", "create", "p", "--file", File("two.json", R"({"steps": [{"groups": ["db"]}, {"groups": ["db"]}]})")},
          "two.json: step 2: group 'db' is already in step 1");
  Refused({"plan", "create", "p", "--file", File("to.json", R"({"steps": [{"groups": ["db"], "timeout": "soon"}]})")},
          "to.json: step 1: \"timeout\": bad duration 'soon'");
  Refused({"plan", "create", "p", "--file", dir_ / "missing.json"}, "missing.json: cannot read it");
  Refused({"plan", "create", "a/b", "--file", good}, "bad plan name 'a/b'");
  Vault({"plan", "create", "p", "--file", good});
  Refused({"plan", "create", "p", "--file", good}, "plan p exists");
  // Groups in conflicting states.
  Vault({"failover", "app", "--point", "latest", "--name", "app-fo"});
  Refused({"plan", "create", "q", "--file", File("mixed.json", R"({"steps": [{"groups": ["web", "app"]}]})")},
          "mixed.json: its groups are in conflicting states: mixed (web protected, app failed-over)");
  // A group held by another plan that is not protected.
  Vault({"plan", "failover", "p", "--test"});
  Refused({"plan", "create", "q", "--file", File("shared.json", R"({"steps": [{"groups": ["db"]}]})")},
          "shared.json: plan q: group db is also in plan p, which is test failover complete");
}

TEST_F(PlanRefusalTest, RunsRefuseWrongStatesPointsAndTargets) {
  Vault({"plan", "create", "p", "--file", File("p.json", R"({"steps": [{"groups": ["db"]}, {"groups": ["web"]}]})")});
  Refused({"plan", "failover", "nope"}, "unknown plan 'nope'");
  Refused({"plan", "show", "nope"}, "unknown plan 'nope'");
  Refused({"plan", "delete", "nope"}, "unknown plan 'nope'");
  Refused({"plan", "failover", "p", "--test", "--fence-source"}, "--fence-source applies to a failover");
  Refused({"plan", "failover", "p", "--point", "no-such-label"}, "plan p: group db: ");
  Refused({"plan", "failover", "p", "--point", "latest-crash"}, "none of its groups has a crash-consistent point");
  Refused({"plan", "failover", "p", "--point", "#999999"}, "past the newest write");
  Refused({"plan", "reprotect", "p"}, "plan p is protected: reprotect needs it failed over");
  Refused({"plan", "failback", "p", "--target", "db/d0=/x"}, "failback needs it reprotected");
  Refused({"plan", "cleanup", "p"}, "cleanup needs it after a test failover");
  Refused({"plan", "resume", "p"}, "plan p has no run to resume (never run)");
  Refused({"plan", "cancel", "p"}, "plan p has no unfinished run to cancel");
  Vault({"failover", "db", "--test", "--point", "latest", "--name", "x-db"});
  Refused({"plan", "failover", "p", "--test", "--name", "x"}, "branch x-db exists already");
  Refused({"plan", "failover", "p", "--test", "--name", "bad/name"}, "bad plan name");

  Vault({"plan", "failover", "p", "--test"});
  Refused({"plan", "failover", "p"}, "run plan cleanup p first");
  Refused({"plan", "failover", "p", "--test"}, "run plan cleanup p first");
  Vault({"plan", "cleanup", "p"});
  Vault({"plan", "failover", "p", "--point", "latest"});
  Refused({"plan", "failover", "p"}, "plan p is failed over: failover needs it protected");
  Refused({"plan", "failback", "p", "--target", "db/d0=/x"}, "failback needs it reprotected");
  Vault({"plan", "reprotect", "p"});
  const std::string db = File("db.raw", std::string(4 << 20, '\0'));
  const std::string web = File("web.raw", std::string(4 << 20, '\0'));
  Refused({"plan", "failback", "p", "--target", "db/d0=" + db}, "disk web/d0 of group web has no --target web/d0=PATH");
  Refused({"plan", "failback", "p", "--target", "db/d0=" + db, "--target", "web/d0=" + web, "--target",
           "app/d0=" + web},
          "app/d0 is not a disk of plan p");
  Refused({"plan", "failback", "p", "--target", "db/d0"}, "expected VM/DISK=PATH");
  Refused({"plan", "failback", "p", "--target", "db/d0=" + db, "--target", "web/d0=" + (dir_ / "none.raw")},
          "cannot open the file");
  Vault({"plan", "failback", "p", "--target", "db/d0=" + db, "--target", "web/d0=" + web});
  EXPECT_EQ("failback complete", State("p"));
}

TEST_F(PlanRefusalTest, AnUnfinishedRunAllowsOnlyResumeOrCancel) {
  const std::string flag = dir_ / "ok";
  Vault({"plan", "create", "p", "--file",
         File("p.json", R"({"steps": [{"groups": ["db"]}, {"groups": ["web"], "post": ["test -e )" + flag +
                                R"( || exit 5"]}]})")});
  Vault({"plan", "create", "other", "--file", File("o.json", R"({"steps": [{"groups": ["web", "app"]}]})")});
  CliResult r = RunRpfs({"--vault", vault_, "plan", "failover", "p", "--test"});
  EXPECT_EQ(1, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("exited 5")) << r.err;
  Refused({"plan", "failover", "p", "--test"}, "plan p is failed at step 2 (test-failover)");
  Refused({"plan", "cleanup", "p"}, "plan resume p` or `plan cancel p` first");
  Refused({"plan", "delete", "p"}, "plan resume or plan cancel it first");
  Refused({"plan", "failover", "other", "--test"}, "group web is also in plan p, which has an unfinished test-failover run");
  Refused({"plan", "resume", "other"}, "plan other has no run to resume");
  // Cancel ends it where it stands; cleanup removes the branches it made.
  CliResult c = Vault({"plan", "cancel", "p"});
  EXPECT_NE(std::string::npos, c.out.find("test failover cancelled")) << c.out;
  Refused({"plan", "resume", "p"}, "its last test-failover run is cancelled");
  Refused({"plan", "failover", "p", "--test"}, "run plan cleanup p first");
  Vault({"plan", "cleanup", "p"});
  EXPECT_EQ("protected", State("p"));
  Vault({"plan", "delete", "p"});
  Refused({"plan", "show", "p"}, "unknown plan 'p'");
}

TEST_F(PlanRefusalTest, SkipFailedPassesOverTheFailedScript) {
  Vault({"plan", "create", "p", "--file",
         File("p.json", R"({"steps": [{"groups": ["db"], "manual": "look", "post": ["exit 4", "echo second >> )" +
                                (dir_ / "log") + R"("]}]})")});
  Vault({"plan", "failover", "p", "--test"});
  EXPECT_EQ("waiting at step 1 (test-failover): look", State("p"));
  Refused({"plan", "resume", "p", "--skip-failed"}, "nothing failed");
  CliResult r = RunRpfs({"--vault", vault_, "plan", "resume", "p"});
  EXPECT_EQ(1, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("post script 1 `exit 4` exited 4")) << r.err;
  Vault({"plan", "resume", "p", "--skip-failed"});
  EXPECT_EQ("test failover complete", State("p"));
  EXPECT_EQ("second\n", ReadFile(dir_ / "log")) << "the script after the skipped one ran once";
}

TEST_F(PlanRefusalTest, AScriptPastItsTimeoutIsKilledAndFailsTheRun) {
  Vault({"plan", "create", "p", "--file",
         File("p.json", R"({"steps": [{"groups": ["db"], "timeout": "1s", "pre": ["echo waiting; sleep 30"]}]})")});
  const auto t0 = std::chrono::steady_clock::now();
  CliResult r = RunRpfs({"--vault", vault_, "plan", "failover", "p", "--test"});
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(1, r.exit_code);
  EXPECT_NE(std::string::npos, r.err.find("pre script 1 `echo waiting; sleep 30` passed its timeout of 1s"))
      << r.err;
  EXPECT_LT(secs, 10.0);
  CliResult show = Vault({"plan", "show", "p", "--json"});
  auto j = nlohmann::json::parse(show.out);
  EXPECT_EQ(128 + SIGTERM, j["run"].value("script_exit", 0));
  EXPECT_EQ("waiting\n", j["run"].value("script_output", ""));
  EXPECT_FALSE(j["run"]["groups"]["db"].value("done", true)) << "the step's groups must not have started";
}

// Acceptance 4 where the plan runs in the CLI process itself (no mount):
// kill -9 of that process while a step-2 script sleeps.
TEST_F(PlanRefusalTest, Kill9OfThePlanProcessThenResume) {
  const std::string pid_file = dir_ / "sleeper.pid", fix = dir_ / "fixed", log = dir_ / "log";
  Vault({"plan", "create", "p", "--file",
         File("p.json", R"({"steps": [{"groups": ["db"], "pre": ["echo pre1 >> )" + log + R"("],
                                       "post": ["echo post1 >> )" + log + R"("]},
                                      {"groups": ["web", "app"], "pre": ["echo pre2 >> )" + log + R"("],
                                       "post": ["echo post2 >> )" + log + " && { test -e " + fix +
                                R"( || { echo $$ > )" + pid_file + R"(; sleep 60; }; }"]}]})")});
  pid_t runner = SpawnProgram({RPFS_BINARY, "--vault", vault_, "plan", "failover", "p"}, dir_ / "run.out",
                              dir_ / "run.err");
  ASSERT_GT(runner, 0);
  ASSERT_TRUE(WaitForFile(pid_file)) << ReadFile(dir_ / "run.err");
  ASSERT_EQ(0, ::kill(runner, SIGKILL));
  int status = 0;
  ASSERT_EQ(runner, ::waitpid(runner, &status, 0));
  // The script outlives its killed parent (nothing can stop it then);
  // the operator's side of this test stops it.
  ::kill(-std::stoi(ReadFile(pid_file)), SIGKILL);

  EXPECT_EQ("interrupted at step 2 (failover)", State("p"));
  CliResult jobs = Vault({"jobs", "--json"});
  auto j = nlohmann::json::parse(jobs.out);
  ASSERT_EQ(1u, j.size());
  EXPECT_EQ("interrupted", j[0].value("state", ""));
  EXPECT_EQ("plan-failover", j[0].value("kind", ""));

  WriteFile(fix, "");
  Vault({"plan", "resume", "p"});
  EXPECT_EQ("failed over", State("p"));
  EXPECT_EQ("pre1\npost1\npre2\npost2\npost2\n", ReadFile(log));
  CliResult groups = Vault({"group", "list", "--json"});
  for (const auto& g : nlohmann::json::parse(groups.out)) EXPECT_EQ("failed-over", g.value("state", ""));
  // Exactly one failover branch per group, the one the plan named.
  CliResult show = Vault({"plan", "show", "p", "--json"});
  auto plan = nlohmann::json::parse(show.out);
  std::set<std::string> named;
  for (auto it = plan["run"]["groups"].begin(); it != plan["run"]["groups"].end(); ++it) {
    named.insert(it.value().value("branch", ""));
  }
  const std::string mnt = dir_ / "mnt";
  ASSERT_EQ(0, ::mkdir(mnt.c_str(), 0755));
  ASSERT_EQ(0, ::access("/dev/fuse", R_OK | W_OK)) << "/dev/fuse is not usable (this test must not be skipped)";
  Ok({"mount", vault_, mnt});
  CliResult ls = RunProgram({"ls", "-1", mnt + "/branches"});
  Ok({"umount", mnt});
  for (int i = 0; i < 200; ++i) {  // until the daemon let go of the vault
    int fd = ::open((vault_ + "/LOCK").c_str(), O_RDONLY);
    bool free = fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (fd >= 0) ::close(fd);
    if (free) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::set<std::string> listed;
  std::istringstream in(ls.out);
  for (std::string n; std::getline(in, n);) {
    if (!n.empty()) listed.insert(n);
  }
  EXPECT_EQ(named, listed);
  EXPECT_EQ(3u, listed.size());
  CliResult verify = Vault({"verify"});
  EXPECT_NE(std::string::npos, verify.out.find("clean")) << verify.out;
  jobs = Vault({"jobs", "--json"});
  j = nlohmann::json::parse(jobs.out);
  ASSERT_EQ(2u, j.size());
  EXPECT_EQ("succeeded", j[1].value("state", ""));
}

}  // namespace
}  // namespace rpfs::testing
