// Watching a job (controller --http, the progress line): a controller and
// worker processes on loopback, looked at over HTTP and in headless
// Chromium while they run, and checked against what the test knows of them:
// the processes it started, the partitions the parameters make, the worker
// it killed.
#include <doctest/doctest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "browser.h"
#include "run_job.h"
#include "serial_reference.h"
#include "status_client.h"

using namespace canary::testing;
using nlohmann::json;

namespace {

// Waits for `pattern` in a started process's stderr; returns its first group.
std::string await_stderr(const JobProcess& p, const std::string& pattern, double seconds = 20) {
  std::regex re(pattern);
  for (auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
    std::smatch m;
    std::string err = slurp(p.base + ".err");
    if (std::regex_search(err, m, re)) return m[1];
  }
  return "";
}

// The Prometheus text, as {"name{labels}": value}; fails on a malformed line
// or a sample whose family has no HELP and TYPE.
std::map<std::string, double> parse_metrics(const std::string& text) {
  std::map<std::string, double> samples;
  std::set<std::string> helped, typed;
  std::istringstream lines(text);
  std::regex sample(R"(^([a-z_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (-?[0-9.e+-]+)$)");
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (line.rfind("# HELP ", 0) == 0) {
      helped.insert(line.substr(7, line.find(' ', 7) - 7));
    } else if (line.rfind("# TYPE ", 0) == 0) {
      typed.insert(line.substr(7, line.find(' ', 7) - 7));
    } else if (std::regex_match(line, m, sample)) {
      CHECK_MESSAGE(helped.count(m[1]), m[1]);
      CHECK_MESSAGE(typed.count(m[1]), m[1]);
      samples[m[1].str() + m[2].str()] = std::stod(m[4]);
    } else {
      FAIL("not Prometheus text: " << line);
    }
  }
  return samples;
}

// A graph Count as a number, given the job's parameters.
int count_of(const json& count, const std::map<std::string, int>& params) {
  return count.is_number() ? count.get<int>() : params.at(count.get<std::string>());
}

}  // namespace

TEST_CASE("controller --http shows a running job as it is: workers, partitions, stages, a lost worker") {
  const std::string job = CANARY_JOB_logistic_regression;
  const int partitions = 8, iterations = 1500;
  const long samples = 40000;
  json graph = json::parse(finish_job(start_job(job, {"--graph"}, false)).out);
  std::map<std::string, int> params = {{"partitions", partitions}, {"iterations", iterations}};

  std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_port());
  std::string snapshots = "/tmp/canary-status-snapshots-" + std::to_string(getpid());
  JobProcess controller = start_job(
      job, {"controller", "--listen", endpoint, "--expect=2", "--http", "0", "--progress-every=0.5",
            "--snapshot-dir", snapshots, "--snapshot-every=20", "--heartbeat-timeout=2",
            "--partitions=" + std::to_string(partitions), "--iterations=" + std::to_string(iterations),
            "--samples=" + std::to_string(samples), "--rate=0.5"});
  std::string url = await_stderr(controller, "watch the job at (http://127\\.0\\.0\\.1:[0-9]+/)");
  REQUIRE(!url.empty());
  StatusClient http{"127.0.0.1", std::stoi(url.substr(url.rfind(':') + 1))};

  // Before the workers: waiting, nobody registered.
  json waiting = http.await([](const json& s) { return s["state"] == "waiting"; });
  CHECK(waiting["format"] == "canary-status/1");
  CHECK(waiting["job"] == "logistic_regression");
  CHECK(waiting["workers"].empty());
  CHECK(waiting["params"]["iterations"] == std::to_string(iterations));

  std::map<int, int> threads_of;  // pid -> --threads
  std::vector<JobProcess> workers;
  for (int threads : {2, 1}) {
    workers.push_back(start_job(job,
                                {"worker", "--controller", endpoint, "--threads=" + std::to_string(threads),
                                 "--timeout=30", "--slowdown=2"},
                                false));
    threads_of[workers.back().pid] = threads;
  }

  json s = http.await([](const json& s) {
    return s["state"] == "running" && !s["iteration"].is_null() && s["iteration"]["current"].get<int>() >= 2;
  });
  {
    CHECK(s["workers_alive"] == 2);
    REQUIRE(s["workers"].size() == 2);
    std::uint64_t tasks = 0;
    std::multiset<std::pair<int, int>> held;
    for (const json& w : s["workers"]) {
      CAPTURE(w.dump());
      REQUIRE(threads_of.count(w["pid"].get<int>()));  // one of the processes started here
      CHECK(w["threads"] == threads_of[w["pid"].get<int>()]);
      CHECK(w["state"] == "running");
      CHECK(w["busy"].get<double>() >= 0);
      CHECK(w["busy"].get<double>() <= 1);
      tasks += w["tasks"].get<std::uint64_t>();
      for (const json& p : w["partitions"]) held.insert({p[0].get<int>(), p[1].get<int>()});
    }
    CHECK(s["tasks"] == tasks);
    // Every partition of every co-location group, held once.
    std::multiset<std::pair<int, int>> all;
    for (const json& g : graph["placement"]["colocation_groups"])
      for (int i = 0; i < count_of(g["partitions"], params); ++i) all.insert({g["id"].get<int>(), i});
    CHECK(held == all);
    CHECK(s["iteration"]["count"] == iterations);
    CHECK(s["iteration"]["loop"] == 0);
    REQUIRE(s["stages"].size() == graph["stages"].size());
    for (std::size_t i = 0; i < graph["stages"].size(); ++i) {
      const json& st = s["stages"][i];
      CAPTURE(st.dump());
      CHECK(st["name"] == graph["stages"][i]["name"]);
      CHECK(st["partitions"] == count_of(graph["stages"][i]["partitions"], params));
      CHECK(st["completed"].get<int>() <= st["partitions"].get<int>());
    }
  }

  // generate, before the loop, is done: every worker's reports say so soon
  // (each worker reports every 0.1 s; the others may be ahead of its last).
  http.await([&](const json& l) { return l["stages"][0]["completed"] == partitions; }, 5);

  // It moves on, and says how fast.
  json later = http.await([&](const json& l) { return l["tasks"].get<std::uint64_t>() > s["tasks"]; });
  CHECK(later["iteration"]["current"].get<int>() >= s["iteration"]["current"].get<int>());
  later = http.await([](const json& l) { return l["tasks_per_s"].get<double>() > 0; });
  double rates = 0;
  for (const json& w : later["workers"]) rates += w["tasks_per_s"].get<double>();
  CHECK(later["tasks_per_s"].get<double>() == doctest::Approx(rates));

  std::map<std::string, double> metrics = parse_metrics(http.get("/metrics"));
  CHECK(metrics["canary_workers_alive"] == 2);
  CHECK(metrics["canary_iterations"] == iterations);
  CHECK(metrics["canary_job_running{job_name=\"logistic_regression\"}"] == 1);
  CHECK(metrics["canary_worker_partitions{worker=\"0\"}"] +
            metrics["canary_worker_partitions{worker=\"1\"}"] ==
        partitions + 1);
  CHECK(metrics["canary_stage_partitions{stage=\"gradient\"}"] == partitions);
  CHECK(metrics["canary_tasks_total"] >= later["tasks"].get<double>());
  CHECK(json::parse(http.get("/graph.json")) == graph);

  // The page, in a browser: drawn, with the live numbers in it.
  Screenshot shot = screenshot(url);
  REQUIRE(shot.read);
  CHECK(shot.colors > 20);
  CHECK(shot.not_background > 0.05);
  std::string dom = page_dom(url);
  CHECK(dom.find("running · ") != std::string::npos);
  CHECK(std::regex_search(dom, std::regex("iteration [0-9]+/" + std::to_string(iterations))));
  CHECK(std::regex_search(dom, std::regex(R"(it [0-9]+ · [0-9]+/8)")));  // a stage's progress
  for (const json& w : later["workers"])
    CHECK(dom.find("pid " + std::to_string(w["pid"].get<int>())) != std::string::npos);

  // A snapshot, then one worker killed: the status says so.
  http.await([](const json& l) { return !l["snapshot"].is_null(); });
  kill(workers[1].pid, SIGKILL);
  json recovered = http.await([](const json& l) { return l["recoveries"] == 1 && l["state"] == "running"; });
  CHECK(recovered["workers_alive"] == 1);
  CHECK(recovered["epoch"] == 1);
  for (const json& w : recovered["workers"]) {
    bool killed = w["pid"] == workers[1].pid;
    CHECK(w["state"] == (killed ? "lost" : "running"));
    CHECK(w["partitions"].size() == (killed ? 0u : partitions + 1u));
  }
  CHECK(parse_metrics(http.get("/metrics"))["canary_recoveries_total"] == 1);

  JobRun run = finish_job(controller);
  finish_job(workers[0]);
  finish_job(workers[1]);
  CHECK(run.exit_code == 0);
  CHECK(run.results["stats"]["recoveries"] == 1);
  check_close(run.results["outputs"]["weights"],
              serial_logistic_regression(partitions, iterations, samples, 0.5));
  // Not a terminal: plain lines, no escape codes, the loss in them.
  CHECK(run.err.find('\033') == std::string::npos);
  CHECK(std::regex_search(run.err, std::regex("logistic_regression: [0-9]+ s, iteration [0-9]+/1500, [0-9]+ "
                                              "tasks/s, [0-9]+ tasks, workers 2/2, [0-9]+ migrations?")));
  CHECK(run.err.find("workers 1/2") != std::string::npos);
  CHECK(run.err.find("1 recovery") != std::string::npos);
  CHECK(run.results["stats"]["tasks"].get<double>() >= recovered["tasks"].get<double>());
}

TEST_CASE("on a terminal the progress line is redrawn in place, and --quiet turns it off") {
  const std::string job = CANARY_JOB_logistic_regression;
  const std::string args = " --partitions=4 --iterations=300 --samples=20000";
  // script(1) gives the job a terminal.
  JobRun tty = finish_job(start_job("/usr/bin/script", {"-qfec", job + args, "/dev/null"}, false));
  CHECK(tty.exit_code == 0);
  CHECK(tty.out.find("\r\033[Klogistic_regression: ") != std::string::npos);
  CHECK(std::regex_search(tty.out,
                          std::regex("\r\033\\[Klogistic_regression: [0-9]+ s, iteration [0-9]+/300")));
  CHECK(tty.out.find("\r\033[Kcontroller: the job runs on 2 worker(s)") !=
        std::string::npos);  // clears it first

  JobRun quiet = run_ok(job, {"--quiet", "--partitions=4", "--iterations=300", "--samples=20000"});
  CHECK(quiet.err.find("tasks/s") == std::string::npos);
  CHECK(quiet.err.find("done in") != std::string::npos);
}

TEST_CASE("--in-process shows the same progress line, and takes --quiet and --progress-every") {
  const std::string job = CANARY_JOB_logistic_regression;
  std::vector<std::string> args = {"--in-process", "--threads=2", "--iterations=2000", "--samples=20000"};
  args.emplace_back("--progress-every=0.1");
  JobRun shown = run_ok(job, args);
  CHECK(std::regex_search(shown.err,
                          std::regex("logistic_regression: [0-9]+ s, iteration [0-9]+/2000, [1-9][0-9]* "
                                     "tasks/s, [0-9]+ tasks, workers 1/1, 0 migrations\n")));
  args.emplace_back("--quiet");
  JobRun quiet = run_ok(job, args);
  CHECK(quiet.err.find("tasks/s") == std::string::npos);
  CHECK(quiet.err.find("done in") != std::string::npos);
  check_close(quiet.results["outputs"]["weights"], serial_logistic_regression(8, 2000, 20000, 0.1));
}

TEST_CASE("bad --http, --quiet and --progress-every flags are refused with a reason") {
  const std::string job = CANARY_JOB_logistic_regression;
  JobRun bad = finish_job(start_job(job, {"--http", "eighty"}, false));
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("--http wants PORT or HOST:PORT, got 'eighty'") != std::string::npos);
  JobRun worker =
      finish_job(start_job(job, {"worker", "--controller", "tcp://127.0.0.1:1", "--http", "8080"}, false));
  CHECK(worker.exit_code != 0);
  CHECK(worker.err.find("belongs to the controller") != std::string::npos);
  JobRun every = finish_job(start_job(job, {"--progress-every", "0"}, false));
  CHECK(every.exit_code != 0);
  CHECK(every.err.find("--progress-every must be a positive number") != std::string::npos);

  // A port someone else holds.
  httplib::Server other;
  int port = other.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  JobRun taken = finish_job(start_job(job, {"--http", std::to_string(port), "--iterations=1"}, false));
  CHECK(taken.exit_code == 1);
  CHECK(taken.err.find("cannot listen on 127.0.0.1:" + std::to_string(port)) != std::string::npos);
}
