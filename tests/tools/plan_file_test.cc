// ParsePlanFile (tools/plans/plan_file.h): a full plan, and each malformed
// input refused with one line naming the file and the line and column or
// the step.
#include "tools/plans/plan_file.h"

#include <gtest/gtest.h>

namespace rpfs::tools {
namespace {

const std::set<std::string> kGroups = {"db", "web", "app"};

std::string Refusal(const std::string& text) {
  std::vector<catalog::PlanStep> steps;
  Status s = ParsePlanFile("p.json", text, kGroups, &steps);
  EXPECT_FALSE(s.ok()) << text;
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(std::string::npos, s.message().find('\n')) << s.message();
  EXPECT_EQ(0u, s.message().rfind("plan file p.json: ", 0)) << s.message();
  return s.message();
}

TEST(PlanFile, ParsesEveryKey) {
  std::vector<catalog::PlanStep> steps;
  ASSERT_TRUE(ParsePlanFile("p.json", R"({"steps": [
      {"groups": ["db"], "pre": ["a", "b"], "post": ["c"], "manual": "Check DNS", "timeout": "10m"},
      {"groups": ["web", "app"]}]})",
                            kGroups, &steps)
                  .ok());
  ASSERT_EQ(2u, steps.size());
  EXPECT_EQ((std::vector<std::string>{"db"}), steps[0].groups);
  EXPECT_EQ((std::vector<std::string>{"a", "b"}), steps[0].pre);
  EXPECT_EQ((std::vector<std::string>{"c"}), steps[0].post);
  EXPECT_EQ("Check DNS", steps[0].manual);
  EXPECT_EQ(600u, steps[0].timeout_s);
  EXPECT_EQ((std::vector<std::string>{"web", "app"}), steps[1].groups);
  EXPECT_TRUE(steps[1].pre.empty());
  EXPECT_EQ(0u, steps[1].timeout_s);
}

TEST(PlanFile, SyntaxErrorsNameLineAndColumn) {
  // The second comma is the 24th character of line 3.
  std::string m = Refusal("{\n  \"steps\": [\n    {\"groups\": [\"db\"]},,\n  ]\n}\n");
  EXPECT_NE(std::string::npos, m.find("line 3, column 24")) << m;
  m = Refusal("{\"steps\": [{\"groups\": [\"db\"]}]");  // cut short
  EXPECT_NE(std::string::npos, m.find("line 1, column")) << m;
  m = Refusal("");
  EXPECT_NE(std::string::npos, m.find("line 1, column 1")) << m;
}

TEST(PlanFile, ShapeErrorsNameTheStep) {
  EXPECT_NE(std::string::npos, Refusal("[1]").find("expected an object"));
  EXPECT_NE(std::string::npos, Refusal(R"({"stepz": []})").find("unknown key \"stepz\""));
  EXPECT_NE(std::string::npos, Refusal(R"({"steps": []})").find("non-empty list"));
  EXPECT_NE(std::string::npos, Refusal(R"({"steps": {}})").find("non-empty list"));
  EXPECT_NE(std::string::npos, Refusal(R"({"steps": [3]})").find("step 1: a step must be an object"));
  EXPECT_NE(std::string::npos,
            Refusal(R"({"steps": [{"groups": ["db"]}, {"groups": ["web"], "posts": ["x"]}]})")
                .find("step 2: unknown key \"posts\""));
  EXPECT_NE(std::string::npos, Refusal(R"({"steps": [{"pre": ["x"]}]})").find("step 1: \"groups\" must name a group"));
  EXPECT_NE(std::string::npos, Refusal(R"({"steps": [{"groups": []}]})").find("step 1: \"groups\" must name"));
  EXPECT_NE(std::string::npos, Refusal(R"({"steps": [{"groups": "db"}]})").find("step 1: \"groups\" must be a list"));
  EXPECT_NE(std::string::npos, Refusal(R"({"steps": [{"groups": ["db"], "pre": "echo"}]})")
                                   .find("step 1: \"pre\" must be a list of strings"));
  EXPECT_NE(std::string::npos, Refusal(R"({"steps": [{"groups": ["db"], "post": [""]}]})")
                                   .find("step 1: \"post\" must hold non-empty strings"));
  EXPECT_NE(std::string::npos, Refusal(R"({"steps": [{"groups": ["db"], "manual": 5}]})")
                                   .find("step 1: \"manual\" must be a string"));
  EXPECT_NE(std::string::npos, Refusal(R"({"steps": [{"groups": ["db"], "timeout": "10 minutes"}]})")
                                   .find("step 1: \"timeout\": bad duration"));
  EXPECT_NE(std::string::npos, Refusal(R"({"steps": [{"groups": ["db"], "timeout": 600}]})")
                                   .find("step 1: \"timeout\" must be a duration"));
}

TEST(PlanFile, GroupsMustExistAndBeInOneStep) {
  EXPECT_NE(std::string::npos, Refusal(R"({"steps": [{"groups": ["db"]}, {"groups": ["wbe"]}]})")
                                   .find("step 2: unknown group 'wbe'"));
  EXPECT_NE(std::string::npos, Refusal(R"({"steps": [{"groups": ["db"]}, {"groups": ["web", "db"]}]})")
                                   .find("step 2: group 'db' is already in step 1"));
  EXPECT_NE(std::string::npos,
            Refusal(R"({"steps": [{"groups": ["db", "db"]}]})").find("step 1: group 'db' is already in step 1 (named twice)"));
}

TEST(PlanFile, Names) {
  EXPECT_TRUE(CheckPlanName("shop-1.a_b").ok());
  EXPECT_FALSE(CheckPlanName("").ok());
  EXPECT_FALSE(CheckPlanName("a/b").ok());
  EXPECT_FALSE(CheckPlanName(".hidden").ok());
  EXPECT_FALSE(CheckPlanName(std::string(101, 'a')).ok());
}

}  // namespace
}  // namespace rpfs::tools
