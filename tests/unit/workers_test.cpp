// The daemon's workers: how many, which helper and queue each serves, and their metrics
// (docs/workers.md).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/worker.h"
#include "daemon/worker_rules.h"

namespace ftpalg::daemon {
namespace {

DaemonConfig Parsed(std::vector<std::string> args) {
  args.insert(args.begin(), "ftp-algd");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  DaemonConfig config;
  int code = -1;
  EXPECT_EQ(ParseDaemonConfig(static_cast<int>(argv.size()), argv.data(), &config, &code),
            ParseOutcome::kRun);
  return config;
}

std::vector<std::string> NamesAndQueues(const std::vector<WorkerRegistration>& registrations) {
  std::vector<std::string> out;
  for (const WorkerRegistration& entry : registrations) {
    out.push_back(entry.registration.name + "@" + std::to_string(entry.registration.queue_num) +
                  "/w" + std::to_string(entry.worker));
  }
  return out;
}

TEST(Workers, DefaultIsOnePerUsableCpu) {
  const DaemonConfig config = Parsed({});
  EXPECT_EQ(config.workers, 0u);
  EXPECT_GE(config.WorkerCount(), 1u);
  EXPECT_LE(config.WorkerCount(), kMaxWorkers);
  EXPECT_EQ(Parsed({"--workers", "3"}).WorkerCount(), 3u);
}

TEST(Workers, PayloadOnlyIsOffUnlessAsked) {
  EXPECT_FALSE(Parsed({}).payload_only);
  EXPECT_TRUE(Parsed({"--payload-only"}).payload_only);
}

TEST(Workers, CountOutsideTheBoundIsRefused) {
  std::vector<const char*> argv = {"ftp-algd", "--workers", "65"};
  DaemonConfig config;
  int code = -1;
  EXPECT_EQ(ParseDaemonConfig(static_cast<int>(argv.size()), argv.data(), &config, &code),
            ParseOutcome::kExit);
  EXPECT_EQ(code, 2);
}

TEST(Workers, OneWorkerServesThePlainHelperName) {
  std::string error;
  const auto registrations = Registrations(Parsed({"--workers", "1"}), &error);
  EXPECT_EQ(error, "");
  EXPECT_EQ(NamesAndQueues(registrations), std::vector<std::string>({"ftp-alg@21/w0"}));
}

TEST(Workers, EachWorkerHasItsOwnHelperAndQueueAndTheFirstKeepsThePlainName) {
  std::string error;
  const auto registrations =
      Registrations(Parsed({"--workers", "3", "--queue", "40", "-n", "alg"}), &error);
  EXPECT_EQ(error, "");
  EXPECT_EQ(NamesAndQueues(registrations),
            std::vector<std::string>({"alg@40/w0", "alg-0@40/w0", "alg-1@41/w1", "alg-2@42/w2"}));
  for (const WorkerRegistration& entry : registrations) {
    EXPECT_EQ(entry.registration.policy.name, entry.registration.name);
  }
}

TEST(Workers, NamesAndQueuesThatDoNotFitAreRefused) {
  std::string error;
  // "ftp-alg-abcde-9" has 15 characters and fits; "-10" makes 16.
  EXPECT_EQ(Registrations(Parsed({"--workers", "10", "-n", "ftp-alg-abcde"}), &error).size(), 11u);
  EXPECT_TRUE(Registrations(Parsed({"--workers", "11", "-n", "ftp-alg-abcde"}), &error).empty());
  EXPECT_NE(error.find("longer than 15"), std::string::npos) << error;
  error.clear();
  EXPECT_TRUE(Registrations(Parsed({"--workers", "2", "--queue", "65535"}), &error).empty());
  EXPECT_NE(error.find("65536"), std::string::npos) << error;
}

TEST(WorkerMetrics, TotalsAddUpAndEachWorkerIsLabelled) {
  WorkerFigures first;
  first.counters.Add(Counter::kSessions, 3);
  first.counters.Add(Counter::kSessionsActive, 2);
  first.queue.packets = 10;
  first.queue.overruns = 1;
  WorkerFigures second;
  second.counters.Add(Counter::kSessions, 4);
  second.queue.packets = 5;
  second.seq_adjust_errors = 2;
  const WorkerFigures total = SumFigures({first, second});
  EXPECT_EQ(total.counters.Get(Counter::kSessions), 7u);
  EXPECT_EQ(total.counters.Get(Counter::kSessionsActive), 2u);
  EXPECT_EQ(total.queue.packets, 15u);
  EXPECT_EQ(total.queue.overruns, 1u);
  EXPECT_EQ(total.seq_adjust_errors, 2u);

  const std::string text = RenderPerWorkerMetrics({first, second});
  EXPECT_NE(text.find("ftpalg_worker_queue_packets_total{worker=\"0\"} 10\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ftpalg_worker_queue_packets_total{worker=\"1\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("ftpalg_worker_sessions_total{worker=\"1\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("ftpalg_worker_sessions_active{worker=\"0\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE ftpalg_worker_sessions_active gauge\n"), std::string::npos);
  EXPECT_NE(text.find("ftpalg_worker_queue_overruns_total{worker=\"0\"} 1\n"), std::string::npos);
  // One HELP/TYPE pair per family, not per worker.
  size_t helps = 0;
  for (size_t at = text.find("# HELP"); at != std::string::npos; at = text.find("# HELP", at + 1)) {
    ++helps;
  }
  EXPECT_EQ(helps, 4u);

  bool queue_total_found = false;
  for (const ExtraMetric& metric : WorkerExtraMetrics(total)) {
    if (metric.name == "queue_packets") {
      queue_total_found = true;
      EXPECT_EQ(metric.value, 15);
    }
  }
  EXPECT_TRUE(queue_total_found);
}

TEST(WorkerRules, HelperNamesAreReadFromIptablesSaveAndNftListings) {
  const std::string rules =
      "-A PREROUTING -i lan0 -p tcp -m tcp --dport 21 -m statistic --mode nth --every 2 "
      "--packet 0 -j CT --helper ftp-alg-0\n"
      "-A PREROUTING -i lan0 -p tcp -m tcp --dport 21 -j CT --helper ftp-alg-1\n"
      "table inet ftp_alg {\n\tct helper ftp_worker_0 {\n\t\ttype \"ftp-alg-0\" protocol tcp\n"
      "\t\tl3proto inet\n\t}\n\tct helper k {\n\t\ttype \"ftp\" protocol tcp\n\t}\n}\n";
  EXPECT_EQ(HelperNamesInRules(rules), std::vector<std::string>({"ftp-alg-0", "ftp-alg-1", "ftp"}));
}

TEST(WorkerRules, AgreeingRulesGiveNoFinding) {
  EXPECT_TRUE(CompareRulesWithWorkers({"ftp-alg"}, "ftp-alg", 1).empty());
  EXPECT_TRUE(CompareRulesWithWorkers({"ftp-alg-0", "ftp-alg-1", "ftp"}, "ftp-alg", 2).empty());
}

TEST(WorkerRules, RulesNamingAWorkerTheDaemonDoesNotRunAreReported) {
  auto findings = CompareRulesWithWorkers({"ftp-alg-0", "ftp-alg-1", "ftp-alg-2"}, "ftp-alg", 2);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_NE(findings[0].find("'ftp-alg-2'"), std::string::npos) << findings[0];
  // One worker registers only the plain name.
  findings = CompareRulesWithWorkers({"ftp-alg-0", "ftp-alg-1"}, "ftp-alg", 1);
  EXPECT_EQ(findings.size(), 3u);  // both names, and nothing names the plain helper
}

TEST(WorkerRules, WorkersTheRulesLeaveOutAreReported) {
  auto findings = CompareRulesWithWorkers({"ftp-alg-0", "ftp-alg-1"}, "ftp-alg", 4);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_NE(findings[0].find("worker 2"), std::string::npos) << findings[0];
  EXPECT_NE(findings[1].find("'ftp-alg-3'"), std::string::npos) << findings[1];
  findings = CompareRulesWithWorkers({"ftp-alg"}, "ftp-alg", 2);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_NE(findings[0].find("worker 0 of 2"), std::string::npos) << findings[0];
  findings = CompareRulesWithWorkers({"ftp"}, "ftp-alg", 2);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_NE(findings[0].find("none of ftp-algd's helpers"), std::string::npos) << findings[0];
}

}  // namespace
}  // namespace ftpalg::daemon
