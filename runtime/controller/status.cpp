#include "controller/status.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace canary::rt {

namespace {

// The top-level block each stage is in (a signal is in its block), or -1.
std::vector<int> outermost_blocks(const Program& program) {
  std::vector<int> of(program.stages.size(), -1);
  auto mark = [&](auto&& self, const std::vector<Node>& nodes, int top) -> void {
    for (const Node& n : nodes) {
      if (!n.is_block) {
        of[n.id] = top;
        continue;
      }
      const BlockInfo& b = program.blocks[n.id];
      int here = top < 0 ? n.id : top;
      if (b.signal >= 0) of[b.signal] = here;
      self(self, b.body, here);
      self(self, b.else_body, here);
    }
  };
  mark(mark, program.body, -1);
  return of;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void combine_stage_progress(const Program& program, const std::vector<int>& tasks_per_run,
                            const std::vector<int>& loop_counts,
                            const std::vector<std::vector<StageProgress>>& per_worker, JobStatus& status) {
  std::vector<StageProgress> newest;
  for (std::size_t s = 0; s < program.stages.size(); ++s)
    newest.push_back({StageId(static_cast<int>(s)), 0, -1, 0});
  for (const auto& worker : per_worker)
    for (const StageProgress& p : worker)
      if (p.stage.value() >= 0 && p.stage.value() < static_cast<int>(newest.size()))
        newest[p.stage.value()].add(p);
  std::vector<int> top = outermost_blocks(program);
  std::uint64_t latest = 0;
  status.stages.clear();
  status.loop = -1;
  for (std::size_t s = 0; s < program.stages.size(); ++s) {
    const StageProgress& n = newest[s];
    StageStatus& st = status.stages.emplace_back();
    st.id = static_cast<int>(s);
    st.name = program.stages[s].name;
    st.iteration = n.run > 0 ? n.iteration + 1 : 0;
    st.completed = n.done;
    st.partitions = s < tasks_per_run.size() ? tasks_per_run[s] : 0;
    if (n.run > latest && top[s] >= 0 && n.iteration >= 0) {  // the newest run inside a loop so far
      latest = n.run;
      status.loop = top[s];
      status.iteration = n.iteration + 1;
    }
  }
  if (status.loop >= 0) {
    bool counted = program.blocks[status.loop].kind == BlockKind::Loop &&
                   status.loop < static_cast<int>(loop_counts.size());
    status.iterations = counted ? loop_counts[status.loop] : 0;
  }
}

nlohmann::ordered_json status_json(const JobStatus& s) {
  using json = nlohmann::ordered_json;
  json j;
  j["format"] = "canary-status/1";
  j["job"] = s.job;
  j["state"] = s.state;
  j["elapsed_s"] = s.elapsed_s;
  j["params"] = json::object();
  for (const std::string& p : s.params) {
    std::size_t eq = p.find('=');
    j["params"][p.substr(0, eq)] = eq == std::string::npos ? "" : p.substr(eq + 1);
  }
  j["epoch"] = s.epoch;
  j["iteration"] = s.loop < 0 ? json(nullptr)
                              : json{{"loop", s.loop},
                                     {"current", s.iteration},
                                     {"count", s.iterations > 0 ? json(s.iterations) : json(nullptr)}};
  j["tasks"] = s.tasks;
  j["tasks_per_s"] = s.tasks_per_s;
  j["workers_alive"] = s.workers_alive;
  j["migrations"] = s.migrations;
  j["recoveries"] = s.recoveries;
  j["snapshots"] = s.snapshots;
  j["snapshot"] =
      s.last_snapshot == 0 ? json(nullptr) : json{{"last", s.last_snapshot}, {"age_s", s.snapshot_age_s}};
  j["workers"] = json::array();
  for (const WorkerStatus& w : s.workers) {
    json partitions = json::array();
    for (const auto& [g, p] : w.partitions) partitions.push_back({g, p});
    j["workers"].push_back({{"id", w.id},
                            {"endpoint", w.endpoint},
                            {"pid", w.pid},
                            {"threads", w.threads},
                            {"cpus", w.cpus},
                            {"state", w.state},
                            {"tasks", w.tasks},
                            {"tasks_per_s", w.tasks_per_s},
                            {"busy", w.busy},
                            {"partitions", partitions}});
  }
  j["stages"] = json::array();
  for (const StageStatus& st : s.stages)
    j["stages"].push_back({{"id", st.id},
                           {"name", st.name},
                           {"iteration", st.iteration > 0 ? json(st.iteration) : json(nullptr)},
                           {"completed", st.completed},
                           {"partitions", st.partitions}});
  return j;
}

namespace {

// A label value, escaped as the text format wants.
std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

class Metrics {
 public:
  // Starts a metric family.
  Metrics& family(const char* name, const char* type, const char* help) {
    name_ = name;
    out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    return *this;
  }
  template <class T>
  Metrics& sample(T value, const std::string& labels = "") {
    out_ << name_ << (labels.empty() ? "" : "{" + labels + "}") << " " << value << "\n";
    return *this;
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  const char* name_ = "";
};

}  // namespace

std::string prometheus_text(const JobStatus& s) {
  Metrics m;
  std::string job = "job_name=\"" + label(s.job) + "\"";
  m.family("canary_job_running", "gauge", "1 while the job runs, 0 once it has finished or failed")
      .sample(s.state == "running" || s.state == "waiting" ? 1 : 0, job);
  m.family("canary_elapsed_seconds", "gauge", "Seconds since the controller started").sample(s.elapsed_s);
  m.family("canary_epoch", "gauge", "Goes up with every rollback").sample(s.epoch);
  m.family("canary_iteration", "gauge", "The outermost loop's current iteration, from 1 (0: in none)")
      .sample(s.loop < 0 ? 0 : s.iteration);
  m.family("canary_iterations", "gauge", "The outermost loop's iteration count (0: a while-loop or none)")
      .sample(s.iterations);
  m.family("canary_tasks_total", "counter", "Tasks run, over all workers").sample(s.tasks);
  m.family("canary_tasks_per_second", "gauge", "Tasks per second over the last seconds")
      .sample(s.tasks_per_s);
  m.family("canary_workers", "gauge", "Workers registered").sample(s.workers.size());
  m.family("canary_workers_alive", "gauge", "Workers not lost").sample(s.workers_alive);
  m.family("canary_migrations_total", "counter", "Partition groups migrated").sample(s.migrations);
  m.family("canary_recoveries_total", "counter", "Rollbacks after losing a worker").sample(s.recoveries);
  m.family("canary_snapshots_total", "counter", "Snapshots completed").sample(s.snapshots);
  m.family("canary_last_snapshot", "gauge", "The newest complete snapshot (0: none)").sample(s.last_snapshot);
  auto per_worker = [&](const char* name, const char* type, const char* help, auto value) {
    m.family(name, type, help);
    for (const WorkerStatus& w : s.workers) m.sample(value(w), "worker=\"" + std::to_string(w.id) + "\"");
  };
  per_worker("canary_worker_up", "gauge", "1 unless the worker was lost",
             [](const WorkerStatus& w) { return w.state == "lost" ? 0 : 1; });
  per_worker("canary_worker_tasks_total", "counter", "Tasks the worker ran",
             [](const WorkerStatus& w) { return w.tasks; });
  per_worker("canary_worker_tasks_per_second", "gauge", "The worker's tasks per second over the last seconds",
             [](const WorkerStatus& w) { return w.tasks_per_s; });
  per_worker("canary_worker_busy_ratio", "gauge",
             "The share of the worker's thread time spent in task bodies",
             [](const WorkerStatus& w) { return w.busy; });
  per_worker("canary_worker_partitions", "gauge", "Partition groups the worker holds",
             [](const WorkerStatus& w) { return w.partitions.size(); });
  auto per_stage = [&](const char* name, const char* help, auto value) {
    m.family(name, "gauge", help);
    for (const StageStatus& st : s.stages) m.sample(value(st), "stage=\"" + label(st.name) + "\"");
  };
  per_stage("canary_stage_completed_partitions",
            "Tasks of the stage's newest run finished, one per partition",
            [](const StageStatus& st) { return st.completed; });
  per_stage("canary_stage_partitions", "Tasks one run of the stage has",
            [](const StageStatus& st) { return st.partitions; });
  per_stage("canary_stage_iteration", "The outermost loop's iteration of the stage's newest run (0: none)",
            [](const StageStatus& st) { return st.iteration; });
  return m.text();
}

std::string progress_text(const JobStatus& s) {
  std::ostringstream line;
  line << s.job << ": " << static_cast<long>(s.elapsed_s) << " s";
  if (s.state == "waiting") {
    line << ", waiting for workers (" << s.workers.size() << " registered)";
    return line.str();
  }
  if (s.loop >= 0) {
    line << ", iteration " << s.iteration;
    if (s.iterations > 0) line << "/" << s.iterations;
  }
  line << ", " << std::lround(s.tasks_per_s) << " tasks/s, " << s.tasks << " tasks, workers "
       << s.workers_alive << "/" << s.workers.size() << ", " << s.migrations << " migration"
       << (s.migrations == 1 ? "" : "s");
  if (s.last_snapshot > 0)
    line << ", snapshot " << s.last_snapshot << " " << static_cast<long>(s.snapshot_age_s) << " s ago";
  if (s.recoveries > 0) line << ", " << s.recoveries << " recover" << (s.recoveries == 1 ? "y" : "ies");
  return line.str();
}

void RateMeter::add(double now, std::uint64_t tasks, double busy_s, double idle_s) {
  samples_.push_back({now, tasks, busy_s, idle_s});
  while (samples_.size() > 2 && now - samples_[1].t >= kWindowSeconds) samples_.pop_front();
}

double RateMeter::tasks_per_s() const {
  if (samples_.size() < 2 || samples_.back().tasks < samples_.front().tasks) return 0;
  double dt = samples_.back().t - samples_.front().t;
  return dt > 0 ? static_cast<double>(samples_.back().tasks - samples_.front().tasks) / dt : 0;
}

double RateMeter::busy() const {
  if (samples_.size() < 2) return 0;
  double busy = samples_.back().busy_s - samples_.front().busy_s;
  double idle = samples_.back().idle_s - samples_.front().idle_s;
  return busy > 0 && busy + idle > 0 ? std::min(1.0, busy / (busy + idle)) : 0;
}

ProgressLine::ProgressLine(bool enabled, double every_s)
    : enabled_(enabled),
      terminal_(isatty(STDERR_FILENO) == 1),
      every_s_(every_s),
      last_s_(terminal_ ? -1e9 : now_s()) {}  // a log's first line after `every_s`: short jobs stay quiet

void ProgressLine::show(const std::string& text) {
  if (!enabled_) return;
  double now = now_s();
  if (now - last_s_ < (terminal_ ? 0.25 : every_s_)) return;
  last_s_ = now;
  if (terminal_) {
    std::cerr << "\r\033[K" << text << std::flush;  // redrawn in place: carriage return, erase the line
    drawn_ = true;
  } else {
    std::cerr << text << std::endl;
  }
}

std::ostream& ProgressLine::log() {
  if (drawn_) std::cerr << "\r\033[K";
  if (terminal_) last_s_ = -1e9;  // and drawn again at once after it
  drawn_ = false;
  return std::cerr;
}

void ProgressLine::end(const std::string& text) {
  if (!enabled_ || !terminal_) return;
  std::cerr << "\r\033[K" << text << "\n" << std::flush;
  drawn_ = false;
}

void ProgressLine::update(const std::string& text, bool ended) {
  if (ended) {
    end(text);
  } else {
    show(text);
  }
}

}  // namespace canary::rt
