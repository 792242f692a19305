#include "tools/plans/plan_file.h"

#include <algorithm>
#include <cctype>
#include <map>

#include <nlohmann/json.hpp>

#include "tools/units.h"

namespace rpfs::tools {
namespace {

// 1-based line and column of byte offset `at` of text.
std::string LineColumn(const std::string& text, size_t at) {
  at = std::min(at, text.size());
  size_t line = 1, column = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

Status StringList(const nlohmann::json& j, const std::string& where, const std::string& key,
                  std::vector<std::string>* out) {
  if (!j.is_array()) return Status::InvalidArgument(where + ": \"" + key + "\" must be a list of strings");
  for (const auto& e : j) {
    if (!e.is_string() || e.get<std::string>().empty()) {
      return Status::InvalidArgument(where + ": \"" + key + "\" must hold non-empty strings");
    }
    out->push_back(e.get<std::string>());
  }
  return Status::OK();
}

Status ParseStep(const nlohmann::json& j, const std::string& where,
                 const std::set<std::string>& known_groups, catalog::PlanStep* step) {
  if (!j.is_object()) return Status::InvalidArgument(where + ": a step must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (key == "groups") {
      RPFS_RETURN_IF_ERROR(StringList(*it, where, key, &step->groups));
    } else if (key == "pre") {
      RPFS_RETURN_IF_ERROR(StringList(*it, where, key, &step->pre));
    } else if (key == "post") {
      RPFS_RETURN_IF_ERROR(StringList(*it, where, key, &step->post));
    } else if (key == "manual") {
      if (!it->is_string()) return Status::InvalidArgument(where + ": \"manual\" must be a string");
      step->manual = it->get<std::string>();
    } else if (key == "timeout") {
      if (!it->is_string()) {
        return Status::InvalidArgument(where + ": \"timeout\" must be a duration such as \"10m\"");
      }
      Status s = ParseDuration(it->get<std::string>(), &step->timeout_s);
      if (!s.ok()) return Status::InvalidArgument(where + ": \"timeout\": " + s.message());
    } else {
      return Status::InvalidArgument(where + ": unknown key \"" + key +
                                     "\" (expected groups, pre, post, manual, timeout)");
    }
  }
  if (step->groups.empty()) return Status::InvalidArgument(where + ": \"groups\" must name a group");
  for (const std::string& g : step->groups) {
    if (!known_groups.count(g)) return Status::InvalidArgument(where + ": unknown group '" + g + "'");
  }
  return Status::OK();
}

}  // namespace

Status ParsePlanFile(const std::string& path, const std::string& text,
                     const std::set<std::string>& known_groups,
                     std::vector<catalog::PlanStep>* steps) {
  steps->clear();
  const std::string file = "plan file " + path;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line
    // 3, column 5: syntax error ..."; keep only the reason.
    std::string why = e.what();
    size_t colon = why.find(": ");
    why = colon == std::string::npos ? why : why.substr(colon + 2);
    return Status::InvalidArgument(file + ": " + LineColumn(text, e.byte == 0 ? 0 : e.byte - 1) +
                                   ": " + why);
  }
  if (!j.is_object()) return Status::InvalidArgument(file + ": expected an object {\"steps\": [...]}");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "steps") {
      return Status::InvalidArgument(file + ": unknown key \"" + it.key() + "\" (expected steps)");
    }
  }
  if (!j.contains("steps") || !j["steps"].is_array() || j["steps"].empty()) {
    return Status::InvalidArgument(file + ": \"steps\" must be a non-empty list");
  }
  std::map<std::string, size_t> step_of;
  for (size_t i = 0; i < j["steps"].size(); ++i) {
    const std::string where = file + ": step " + std::to_string(i + 1);
    catalog::PlanStep step;
    RPFS_RETURN_IF_ERROR(ParseStep(j["steps"][i], where, known_groups, &step));
    for (const std::string& g : step.groups) {
      auto [at, fresh] = step_of.emplace(g, i + 1);
      if (!fresh) {
        return Status::InvalidArgument(
            where + ": group '" + g + "' is already in step " + std::to_string(at->second) +
            (at->second == i + 1 ? " (named twice)" : "") + ": a group belongs to one step");
      }
    }
    steps->push_back(std::move(step));
  }
  return Status::OK();
}

Status CheckPlanName(const std::string& name) {
  bool good = !name.empty() && name.size() <= 100 && name[0] != '.' &&
              std::all_of(name.begin(), name.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                       c == '-';
              });
  if (!good) {
    return Status::InvalidArgument("bad plan name '" + name +
                                   "': use letters, digits, '.', '_' and '-' (at most 100)");
  }
  return Status::OK();
}

}  // namespace rpfs::tools
