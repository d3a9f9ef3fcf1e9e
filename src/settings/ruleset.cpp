#include "settings/ruleset.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>

namespace ftpalg::settings {
namespace {

using nlohmann::json;

// Hook priorities (include/uapi/linux/netfilter_ipv4.h, nft's named priorities).
constexpr int kConntrackPriority = -200;
constexpr int kDstNatPriority = -100;

// Reads without throwing: the ruleset is the kernel's word but arrives as text we do not own.
std::string StringField(const json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<int> IntField(const json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int>();
}

std::optional<uint16_t> PortValue(const json& value) {
  if (!value.is_number_integer()) return std::nullopt;
  int64_t port = value.get<int64_t>();
  if (port < 0 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

// The text of a match's right-hand side, for the operator.
std::string ValueText(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  if (value.is_object() && value.contains("set")) return "{ set }";
  if (value.is_object() && value.contains("range")) {
    const json& range = value["range"];
    if (range.is_array() && range.size() == 2) {
      return ValueText(range[0]) + "-" + ValueText(range[1]);
    }
  }
  return "...";
}

std::string LeftText(const json& left) {
  if (!left.is_object()) return "?";
  if (left.contains("payload")) {
    const json& payload = left["payload"];
    return StringField(payload, "protocol") + " " + StringField(payload, "field");
  }
  for (const char* kind : {"meta", "ct"}) {
    if (left.contains(kind)) {
      return (kind == std::string("ct") ? "ct " : "") + StringField(left[kind], "key");
    }
  }
  return "?";
}

struct NftChain {
  std::string hook;
  std::optional<int> priority;
};

struct NftHelperObject {
  std::string type;
  std::string l3proto;  // "ip", "ip6", "inet"
};

using TableKey = std::tuple<std::string, std::string>;               // family, table
using NamedKey = std::tuple<std::string, std::string, std::string>;  // family, table, name

HelperPlacement NftPlacement(const NftChain* chain) {
  if (chain == nullptr || chain->hook.empty()) return HelperPlacement::kRegularChain;
  if (chain->hook == "output") return HelperPlacement::kLocalOutput;
  if (chain->hook != "prerouting") return HelperPlacement::kAfterDnat;
  const int priority = chain->priority.value_or(0);
  if (priority <= kConntrackPriority) return HelperPlacement::kBeforeConntrack;
  if (priority < kDstNatPriority) return HelperPlacement::kBeforeDnat;
  if (priority == kDstNatPriority) return HelperPlacement::kSameAsDnat;
  return HelperPlacement::kAfterDnat;
}

// The families a rule in a table of `table_family` attaching an object of `l3proto` covers.
// The daemon's own helper: its name, or with --workers N one of NAME-0..NAME-(N-1)
// (docs/workers.md).
bool IsDaemonHelper(std::string_view name, std::string_view helper_name) {
  if (name == helper_name) return true;
  if (name.size() <= helper_name.size() + 1 || name.substr(0, helper_name.size()) != helper_name ||
      name[helper_name.size()] != '-') {
    return false;
  }
  const std::string_view index = name.substr(helper_name.size() + 1);
  return index.size() <= 2 &&
         std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A rule's helpers ("a, b" when a map chooses among several) are all the daemon's.
bool AttachesDaemonHelpers(const HelperRule& rule, std::string_view helper_name) {
  std::string_view rest = rule.helper;
  while (true) {
    const size_t comma = rest.find(", ");
    if (!IsDaemonHelper(rest.substr(0, comma), helper_name)) return false;
    if (comma == std::string_view::npos) return true;
    rest.remove_prefix(comma + 2);
  }
}

void NftFamilies(std::string_view table_family, std::string_view l3proto, HelperRule* rule) {
  if (table_family == "ip") {
    rule->ipv4 = true;
  } else if (table_family == "ip6") {
    rule->ipv6 = true;
  } else if (table_family == "inet") {
    rule->ipv4 = l3proto != "ip6";
    rule->ipv6 = l3proto != "ip";
  }
}

// The tcp dport matches and the text of a rule's match expressions.
void ReadNftMatches(const json& exprs, HelperRule* rule) {
  std::string text;
  for (const json& expr : exprs) {
    if (!expr.is_object() || !expr.contains("match")) continue;
    const json& match = expr["match"];
    if (!match.is_object() || !match.contains("left") || !match.contains("right")) continue;
    const std::string left = LeftText(match["left"]);
    const json& right = match["right"];
    std::string op = StringField(match, "op");
    if (!text.empty()) text += " ";
    text += left;
    text += op == "==" || op == "in" ? " " : " " + op + " ";
    text += ValueText(right);
    if (left != "tcp dport") continue;
    if (auto port = PortValue(right); port.has_value() && op == "==") {
      rule->ports.push_back(*port);
    } else if (right.is_object() && right.contains("set") && right["set"].is_array() &&
               op == "==") {
      for (const json& element : right["set"]) {
        if (auto element_port = PortValue(element); element_port.has_value()) {
          rule->ports.push_back(*element_port);
        } else {
          rule->ports_unread = true;
        }
      }
    } else {
      rule->ports_unread = true;
    }
  }
  rule->matches = text;
}

bool HasStatement(const json& exprs, const char* name) {
  return std::any_of(exprs.begin(), exprs.end(),
                     [&](const json& expr) { return expr.is_object() && expr.contains(name); });
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t start = 0;
  while (start < line.size()) {
    size_t end = line.find(' ', start);
    if (end == std::string_view::npos) end = line.size();
    if (end > start) words.push_back(line.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

std::optional<uint16_t> ParsePort(std::string_view text) {
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > 65535) return {};
  return static_cast<uint16_t>(value);
}

// "--dport 21", "--dports 21,2121", "--dport 21:22" (a range: not read as ports).
void ReadIptablesPorts(const std::vector<std::string_view>& words, HelperRule* rule) {
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] != "--dport" && words[i] != "--dports" && words[i] != "--destination-port") {
      continue;
    }
    std::string_view list = words[i + 1];
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      if (auto port = ParsePort(item); port.has_value()) {
        rule->ports.push_back(*port);
      } else {
        rule->ports_unread = true;
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
}

std::string PortsText(const HelperRule& rule) {
  if (rule.ports.empty() && !rule.ports_unread) return "any tcp port";
  std::string text = rule.ports.size() == 1 ? "tcp port " : "tcp ports ";
  for (size_t i = 0; i < rule.ports.size(); ++i) {
    text += (i > 0 ? "," : "") + std::to_string(rule.ports[i]);
  }
  if (rule.ports_unread) text += rule.ports.empty() ? "(a form not read here)" : " and others";
  return text;
}

std::string FamiliesText(bool ipv4, bool ipv6) {
  if (ipv4 && ipv6) return "IPv4 and IPv6";
  return ipv4 ? "IPv4" : (ipv6 ? "IPv6" : "no family");
}

bool CoversPort(const HelperRule& rule, uint16_t port) {
  if (rule.ports.empty()) return !rule.ports_unread;
  return std::find(rule.ports.begin(), rule.ports.end(), port) != rule.ports.end();
}

// A rule that can attach the helper at all (not before conntrack).
bool Attaches(const HelperRule& rule) {
  return rule.placement != HelperPlacement::kBeforeConntrack &&
         rule.placement != HelperPlacement::kLocalOutput;
}

std::string RuleLine(const HelperRule& rule, bool dnat_present) {
  std::ostringstream line;
  const bool attaches = Attaches(rule);
  line << (attaches ? "ok: " : "warning: ") << rule.tool << ": " << rule.where;
  if (!rule.hook.empty()) line << " (hook " << rule.hook;
  if (rule.priority.has_value()) line << ", priority " << *rule.priority;
  if (!rule.hook.empty()) line << ")";
  line << " attaches helper " << rule.helper;
  if (!rule.object.empty()) line << " (ct helper object " << rule.object << ")";
  line << " for " << FamiliesText(rule.ipv4, rule.ipv6) << ", " << PortsText(rule);
  if (!rule.matches.empty()) line << ", matching: " << rule.matches;
  switch (rule.placement) {
    case HelperPlacement::kAfterDnat:
      line << "; runs after DNAT";
      break;
    case HelperPlacement::kSameAsDnat:
      line << "; runs at DNAT's own priority (-100): its order against DNAT is not defined, "
              "use priority filter (0)";
      break;
    case HelperPlacement::kBeforeDnat:
      line << "; runs before DNAT";
      if (dnat_present) {
        line << ": for a published server it must match the address and port the client "
                "connects to (before translation)";
      }
      break;
    case HelperPlacement::kBeforeConntrack:
      line << "; runs before conntrack (priority -200 and below): there is no conntrack yet, the "
              "statement attaches nothing; use priority filter (0)";
      break;
    case HelperPlacement::kLocalOutput:
      line << "; the output hook sees only the gateway's own connections, not forwarded ones";
      break;
    case HelperPlacement::kRegularChain:
      line << "; a regular chain: it runs wherever it is jumped to";
      break;
  }
  return line.str();
}

}  // namespace

RulesetReading ReadNftRuleset(std::string_view text, std::string_view helper_name) {
  RulesetReading reading;
  json document = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object() || !document.contains("nftables") ||
      !document["nftables"].is_array()) {
    reading.error = "not the JSON of `nft -j list ruleset`";
    return reading;
  }
  const json& items = document["nftables"];
  std::map<NamedKey, NftChain> chains;
  std::map<NamedKey, NftHelperObject> objects;
  for (const json& item : items) {
    if (!item.is_object()) continue;
    if (item.contains("chain")) {
      const json& chain = item["chain"];
      chains[{StringField(chain, "family"), StringField(chain, "table"),
              StringField(chain, "name")}] = {StringField(chain, "hook"), IntField(chain, "prio")};
    } else if (item.contains("ct helper")) {
      const json& object = item["ct helper"];
      objects[{StringField(object, "family"), StringField(object, "table"),
               StringField(object, "name")}] = {StringField(object, "type"),
                                                StringField(object, "l3proto")};
    }
  }
  std::set<NamedKey> used_objects;
  for (const json& item : items) {
    if (!item.is_object() || !item.contains("rule")) continue;
    const json& rule_json = item["rule"];
    const std::string family = StringField(rule_json, "family");
    const std::string table = StringField(rule_json, "table");
    const std::string chain_name = StringField(rule_json, "chain");
    if (!rule_json.is_object() || !rule_json.contains("expr") || !rule_json["expr"].is_array()) {
      continue;
    }
    const json& exprs = rule_json["expr"];
    if (HasStatement(exprs, "dnat")) reading.has_dnat = true;
    for (const json& expr : exprs) {
      if (!expr.is_object() || !expr.contains("ct helper")) continue;
      HelperRule rule;
      rule.tool = "nft";
      rule.where.append("table ").append(family).append(" ").append(table);
      rule.where.append(" chain ").append(chain_name);
      auto chain = chains.find({family, table, chain_name});
      const NftChain* chain_info = chain == chains.end() ? nullptr : &chain->second;
      if (chain_info != nullptr) {
        rule.hook = chain_info->hook;
        if (!rule.hook.empty()) rule.priority = chain_info->priority;
      }
      rule.placement = NftPlacement(chain_info);
      const json& value = expr["ct helper"];
      const json* map_set = nullptr;
      if (value.is_object() && value.contains("map") && value["map"].is_object() &&
          value["map"].contains("data") && value["map"]["data"].is_object() &&
          value["map"]["data"].contains("set") && value["map"]["data"]["set"].is_array()) {
        map_set = &value["map"]["data"]["set"];
      }
      if (map_set != nullptr) {
        // `ct helper set <expr> map { k : "object", ... }` (rules/workers/): one of the objects
        // per new connection; the rule attaches every object's helper.
        std::string helpers;
        std::string names;
        for (const json& pair : *map_set) {
          if (!pair.is_array() || pair.size() != 2 || !pair[1].is_string()) continue;
          const std::string name = pair[1].get<std::string>();
          NamedKey key{family, table, name};
          used_objects.insert(key);
          auto object = objects.find(key);
          helpers +=
              (helpers.empty() ? "" : ", ") +
              (object == objects.end() ? std::string("(unknown object)") : object->second.type);
          names += (names.empty() ? "" : ", ") + name;
          NftFamilies(family, object == objects.end() ? "inet" : object->second.l3proto, &rule);
        }
        rule.helper = helpers.empty() ? "(chosen by a map, not read here)" : helpers;
        if (!names.empty()) rule.object = names + " (chosen by a map)";
      } else if (!value.is_string()) {
        rule.helper = "(chosen by an expression, not read here)";
      } else {
        rule.object = value.get<std::string>();
        NamedKey key{family, table, rule.object};
        used_objects.insert(key);
        auto object = objects.find(key);
        rule.helper = object == objects.end() ? "(unknown object)" : object->second.type;
        NftFamilies(family, object == objects.end() ? "inet" : object->second.l3proto, &rule);
      }
      ReadNftMatches(exprs, &rule);
      reading.rules.push_back(std::move(rule));
    }
  }
  for (const auto& [key, object] : objects) {
    if (IsDaemonHelper(object.type, helper_name) && used_objects.count(key) == 0) {
      reading.unused_helper_objects.push_back("table " + std::get<0>(key) + " " + std::get<1>(key) +
                                              " object " + std::get<2>(key));
    }
  }
  return reading;
}

RulesetReading ReadIptablesSave(std::string_view text, std::string_view tool, bool ipv6) {
  RulesetReading reading;
  std::string table;
  bool saw_table = false;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = Trim(text.substr(start, end - start));
    start = end + 1;
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '*') {
      table = std::string(line.substr(1));
      saw_table = true;
      continue;
    }
    if (line.substr(0, 3) != "-A ") continue;
    std::vector<std::string_view> words = Words(line);
    if (words.size() < 2) continue;
    auto jump = std::find(words.begin(), words.end(), "-j");
    if (jump == words.end() || jump + 1 == words.end()) continue;
    if (table == "nat" && *(jump + 1) == "DNAT") reading.has_dnat = true;
    if (*(jump + 1) != "CT") continue;
    auto helper = std::find(jump, words.end(), "--helper");
    if (helper == words.end() || helper + 1 == words.end()) continue;
    HelperRule rule;
    rule.tool = std::string(tool);
    rule.helper = std::string(*(helper + 1));
    rule.where = "table " + table + " chain " + std::string(words[1]);
    rule.hook = words[1] == "OUTPUT" ? "output" : "prerouting";
    rule.ipv4 = !ipv6;
    rule.ipv6 = ipv6;
    rule.placement = words[1] == "OUTPUT"       ? HelperPlacement::kLocalOutput
                     : words[1] == "PREROUTING" ? HelperPlacement::kBeforeDnat
                                                : HelperPlacement::kRegularChain;
    if (rule.placement == HelperPlacement::kRegularChain) rule.hook.clear();
    for (auto word = words.begin() + 2; word != jump; ++word) {
      if (!rule.matches.empty()) rule.matches += " ";
      rule.matches += *word;
    }
    ReadIptablesPorts(std::vector<std::string_view>(words.begin() + 2, jump), &rule);
    reading.rules.push_back(std::move(rule));
  }
  if (!saw_table && !Trim(text).empty()) reading.error = "not the output of iptables-save";
  return reading;
}

std::string IptablesSaveBackend(std::string_view text) {
  size_t generated = text.find("# Generated by ");
  if (generated == std::string_view::npos) return {};
  std::string_view line = text.substr(generated, text.find('\n', generated) - generated);
  if (line.find("(nf_tables)") != std::string_view::npos) return "nf_tables";
  if (line.find("(legacy)") != std::string_view::npos) return "legacy";
  return {};
}

std::string SuggestedHelperRules(std::string_view helper_name, uint16_t port) {
  const std::string name(helper_name);
  const std::string p = std::to_string(port);
  return "nft: `ct helper ftp_helper { type \"" + name +
         "\" protocol tcp; l3proto inet; }` and, in a chain of type filter hook prerouting "
         "priority filter, `tcp dport " +
         p +
         " ct state new ct helper set \"ftp_helper\"`; "
         "iptables/ip6tables: `-t raw -A PREROUTING -p tcp --dport " +
         p + " -j CT --helper " + name + "`";
}

std::vector<std::string> RulesetCheckLines(const std::vector<RulesetSource>& sources,
                                           std::string_view helper_name,
                                           const std::vector<uint16_t>& watched_ports) {
  std::vector<std::string> lines;
  bool ipv4 = false;
  bool ipv6 = false;
  std::set<uint16_t> ports_v4;
  std::set<uint16_t> ports_v6;
  bool any_port_v4 = false;
  bool any_port_v6 = false;
  for (const RulesetSource& source : sources) {
    if (!source.available) {
      lines.push_back("info: " + source.tool + " is not installed: its rules were not read");
      continue;
    }
    if (!source.failure.empty()) {
      lines.push_back("warning: " + source.tool + " failed: " + source.failure);
      continue;
    }
    if (!source.reading.error.empty()) {
      lines.push_back("warning: " + source.tool + ": " + source.reading.error);
      continue;
    }
    if (source.reading.rules.empty()) {
      lines.push_back("info: " + source.tool + ": no rule attaches a conntrack helper");
    }
    for (const std::string& object : source.reading.unused_helper_objects) {
      lines.push_back("warning: " + source.tool + ": " + object + " (type \"" +
                      std::string(helper_name) + "\") is set by no rule (`ct helper set`)");
    }
    for (const HelperRule& rule : source.reading.rules) {
      if (!AttachesDaemonHelpers(rule, helper_name)) {
        lines.push_back("info: " + source.tool + ": " + rule.where + " attaches helper " +
                        rule.helper + " (not this daemon's \"" + std::string(helper_name) + "\")" +
                        (rule.matches.empty() ? "" : ", matching: " + rule.matches));
        continue;
      }
      lines.push_back(RuleLine(rule, source.reading.has_dnat));
      if (!Attaches(rule)) continue;
      for (uint16_t port : watched_ports) {
        if (!CoversPort(rule, port)) continue;
        (rule.ipv4 ? ports_v4 : ports_v6).insert(port);
        if (rule.ipv4 && rule.ipv6) ports_v6.insert(port);
      }
      if (rule.ports.empty() && !rule.ports_unread) {
        any_port_v4 = any_port_v4 || rule.ipv4;
        any_port_v6 = any_port_v6 || rule.ipv6;
      }
      ipv4 = ipv4 || rule.ipv4;
      ipv6 = ipv6 || rule.ipv6;
    }
  }
  const uint16_t example_port = watched_ports.empty() ? uint16_t{21} : watched_ports.front();
  if (!ipv4 && !ipv6) {
    lines.push_back("warning: no rule attaches helper \"" + std::string(helper_name) +
                    "\": FTP control connections are not helped (" +
                    SuggestedHelperRules(helper_name, example_port) + ")");
    return lines;
  }
  for (auto [covered, family, ports, any_port] :
       {std::tuple{ipv4, "IPv4", &ports_v4, any_port_v4},
        std::tuple{ipv6, "IPv6", &ports_v6, any_port_v6}}) {
    if (!covered) {
      lines.push_back(std::string("warning: no rule attaches helper \"") +
                      std::string(helper_name) + "\" for " + family + ": " + family +
                      " FTP control connections are not helped (" +
                      SuggestedHelperRules(helper_name, example_port) + ")");
      continue;
    }
    for (uint16_t port : watched_ports) {
      if (any_port || ports->count(port) != 0) continue;
      lines.push_back(std::string("warning: no rule attaches helper \"") +
                      std::string(helper_name) + "\" to " + family + " tcp port " +
                      std::to_string(port) + " (a watched control port)");
    }
  }
  return lines;
}

}  // namespace ftpalg::settings
