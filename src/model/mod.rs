//! The outage model: component kinds and their behaviour, requests, health checks, faults and
//! metrics, built on the engine. Does no I/O: it takes a validated [`spec::Spec`] and returns
//! a [`RunResult`] of plain data.

pub mod faults;
pub mod head;
pub mod kinds;
pub mod metrics;
pub mod msg;
pub mod node;
pub mod policy;
pub mod sample;
pub mod settings;
pub mod spec;
pub mod summary;
pub mod world;

use crate::engine::{EngineConfig, EngineError, Executor, SimTime, Simulation, Stop};
use metrics::{ClientBucket, ServerBucket, merge_clients, merge_servers};
use node::{LogEntry, OutageModel};
use spec::{KindSpec, Spec};
use world::World;

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker threads; with more than one region, regions may run as parallel partitions.
    pub threads: usize,
    /// Whether several threads always run the regions as partitions, or only when a pilot says
    /// they can pay ([`ThreadPlan`]). The outputs are the same bytes either way.
    pub executor: ExecutorChoice,
}

/// Which executor runs a scenario on several threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExecutorChoice {
    /// Regions in parallel when a pilot of the run finds the work spread enough over them.
    #[default]
    Auto,
    /// Regions in parallel whenever there are several threads and regions.
    Partitioned,
}

impl RunOptions {
    /// `threads` worker threads; the pilot decides whether regions run in parallel.
    pub fn threads(threads: usize) -> RunOptions {
        RunOptions {
            threads,
            executor: ExecutorChoice::Auto,
        }
    }

    /// `threads` worker threads, regions always in parallel (with several of each).
    pub fn partitioned(threads: usize) -> RunOptions {
        RunOptions {
            threads,
            executor: ExecutorChoice::Partitioned,
        }
    }
}

/// Limits that stop a run which would run away, checked every [`Guard::CHUNK`] events and at
/// every progress step, at points that are the same on every executor and thread count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guard {
    /// Stop a run once it has committed more than this many events.
    pub max_events: Option<u64>,
    /// Stop a run once more than this many events are pending at once (each costs memory:
    /// a runaway fan-out or a queue of timers grows the pending set without bound).
    pub max_pending: u64,
}

impl Guard {
    /// The pending-event cap of a run without `--max-pending`: 10 million events (about
    /// 3.5 GiB of memory, with the requests behind them, in a runaway M/M/c).
    pub const DEFAULT_MAX_PENDING: u64 = 10_000_000;
    /// Events between two checks of the pending set.
    pub const CHUNK: u64 = 1 << 22;
}

impl Default for Guard {
    fn default() -> Self {
        Guard {
            max_events: None,
            max_pending: Guard::DEFAULT_MAX_PENDING,
        }
    }
}

/// Why a guard stopped a run, and who scheduled the events.
#[derive(Clone, Debug, PartialEq)]
pub struct GuardStop {
    /// `--max-events` or `--max-pending`.
    pub limit: &'static str,
    pub value: u64,
    /// Simulated time reached and events committed and pending there.
    pub time: SimTime,
    pub committed: u64,
    pub pending: u64,
    /// Component groups by events their replicas sent, largest first: (group, kind, events).
    pub producers: Vec<(String, &'static str, u64)>,
}

impl std::fmt::Display for GuardStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let why = if self.limit == "--max-events" {
            format!(
                "{} events committed, over {} {} ({} pending)",
                self.committed, self.limit, self.value, self.pending
            )
        } else {
            format!(
                "{} events pending at once, over {} {} ({} committed)",
                self.pending, self.limit, self.value, self.committed
            )
        };
        write!(f, "run stopped at simulated {}: {why}", self.time)?;
        let total: u64 = self.producers.iter().map(|p| p.2).sum();
        let top: Vec<String> = self
            .producers
            .iter()
            .take(5)
            .map(|(g, k, n)| {
                format!(
                    "{g} ({k}) {n} ({:.1}%)",
                    100.0 * *n as f64 / total.max(1) as f64
                )
            })
            .collect();
        write!(
            f,
            "\n  largest event producers (events sent): {}",
            top.join(", ")
        )?;
        write!(
            f,
            "\n  hint: look at what those groups send (retries, fan-out, timers, gossip); raise {} if the run is meant to be this large",
            self.limit
        )
    }
}

/// Where a run is, for progress reports.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub sim_time: SimTime,
    pub duration: SimTime,
    pub events: u64,
}

/// One group's metrics over time.
#[derive(Clone, Debug, PartialEq)]
pub enum Series {
    Client(Vec<ClientBucket>),
    Server(Vec<ServerBucket>),
}

/// One group's results.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupResult {
    pub name: String,
    pub kind: &'static str,
    pub replicas: u32,
    /// Workers per replica (servers; 0 for clients).
    pub workers: u32,
    pub series: Series,
}

/// Everything a run produced, as plain data.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub spec: Spec,
    /// Events committed.
    pub events: u64,
    /// Metric bucket width.
    pub bucket: SimTime,
    pub groups: Vec<GroupResult>,
    /// Faults, health changes, breaker trips... in time order (ties: entity id, then order).
    pub log: Vec<LogEntry>,
    /// Partitions the run used (1 for the sequential executor).
    pub partitions: usize,
    /// With several threads and regions: whether the regions ran in parallel, and why.
    pub plan: Option<ThreadPlan>,
}

impl RunResult {
    /// The client groups with their series, in file order.
    pub fn client_series(&self) -> impl Iterator<Item = (&GroupResult, &[ClientBucket])> {
        self.groups.iter().filter_map(|g| match &g.series {
            Series::Client(s) => Some((g, s.as_slice())),
            Series::Server(_) => None,
        })
    }

    /// The component groups with their series, in file order.
    pub fn server_series(&self) -> impl Iterator<Item = (&GroupResult, &[ServerBucket])> {
        self.groups.iter().filter_map(|g| match &g.series {
            Series::Server(s) => Some((g, s.as_slice())),
            Series::Client(_) => None,
        })
    }

    /// The width of bucket `b`: the bucket size, except a last bucket cut short by the end.
    pub fn bucket_width(&self, b: usize) -> SimTime {
        let start = self.bucket.saturating_mul(b as u64);
        SimTime(
            self.bucket
                .0
                .min(self.spec.duration.0.saturating_sub(start.0)),
        )
    }

    /// For each group (in `groups` order), when its standby replicas were provisioned (in
    /// time order): from the `provisioned` entries of the log.
    pub fn provisioning(&self) -> Vec<Vec<u64>> {
        let prefixes: Vec<String> = self.groups.iter().map(|g| format!("{}[", g.name)).collect();
        let mut out = vec![Vec::new(); self.groups.len()];
        for e in self.log.iter().filter(|e| e.kind == "provisioned") {
            if let Some(g) = prefixes
                .iter()
                .position(|p| e.target.starts_with(p.as_str()))
            {
                out[g].push(e.time);
            }
        }
        out
    }

    /// Worker-nanoseconds of capacity group `g` had in `[from, to)`: its workers times the
    /// time each replica was provisioned (standby replicas count from their provisioning).
    /// `provisioned` is [`RunResult::provisioning`]'s entry for the group.
    pub fn capacity_ns(&self, g: usize, provisioned: &[u64], from: u64, to: u64) -> f64 {
        let group = &self.groups[g];
        let standby = self.spec.groups.get(g).map_or(0, |s| s.standby);
        let span = to.saturating_sub(from) as f64;
        let base = f64::from(group.replicas.saturating_sub(standby)) * span;
        let later: f64 = provisioned
            .iter()
            .map(|&t| to.saturating_sub(t.max(from)) as f64)
            .sum();
        f64::from(group.workers) * (base + later)
    }

    /// Number of metric buckets.
    pub fn buckets(&self) -> usize {
        self.spec.duration.0.div_ceil(self.bucket.0.max(1)).max(1) as usize
    }
}

/// Errors while running a valid spec.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A [`Guard`] limit stopped the run.
    #[error("{0}")]
    Guard(Box<GuardStop>),
}

/// Runs a scenario to its end. `progress` is called after each step of simulated time.
pub fn run(
    spec: Spec,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunResult, ModelError> {
    run_guarded(spec, opts, &Guard::default(), progress)
}

/// [`run`] under `guard`'s limits: a run past one stops with [`ModelError::Guard`], at the
/// same point and with the same counts on every executor.
pub fn run_guarded(
    spec: Spec,
    opts: &RunOptions,
    guard: &Guard,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunResult, ModelError> {
    let world = World::new(spec);
    let seed = world.spec.seed;
    let duration = world.spec.duration;
    let bucket = SimTime(world.bucket);
    // Several threads and regions (a positive lookahead between them): the regions run as
    // parallel partitions when forced, or when a pilot finds that they can pay.
    let parts = world.lookahead.filter(|l| opts.threads > 1 && l.0 > 0);
    let plan = match (parts, opts.executor) {
        (Some(_), ExecutorChoice::Auto) => Some(ThreadPlan::pilot(&world, opts.threads)?),
        _ => None,
    };
    let (executor, lookahead) = match parts {
        Some(l) if plan.as_ref().is_none_or(|p| p.parallel) => (
            Executor::Partitioned {
                assignment: world.assignment(),
                threads: opts.threads,
            },
            l,
        ),
        // The lookahead is also the grid of the engine's event-count stop: the same on both
        // executors, so the guard's check points are too.
        _ => (
            Executor::Sequential,
            world.lookahead.unwrap_or(SimTime::ZERO),
        ),
    };
    let model = OutageModel { world };
    let states = model.initial_states();
    let mut sim = Simulation::new(
        model,
        states,
        EngineConfig {
            seed,
            lookahead,
            executor,
        },
    )?;
    let partitions = sim.partitions();
    // Steps of about 1% of the run, aligned to whole buckets.
    let step = (duration.0 / 100).max(1);
    let mut t = 0u64;
    while t < duration.0 {
        t = t.saturating_add(step).min(duration.0);
        let report = loop {
            // Stop after about CHUNK more events (or past the event limit) to look at the
            // pending set; stopping and going on leaves the run's results unchanged.
            let committed = sim.committed();
            let mut target = committed.saturating_add(Guard::CHUNK);
            if let Some(m) = guard.max_events {
                target = target.min(m.saturating_add(1));
            }
            let report = sim.run(Stop {
                until: Some(SimTime(t)),
                events: Some(target),
            })?;
            // Call deadlines kept lazily (`engine/deadlines.rs`) are pending timeouts too,
            // and cost memory alike: the guard counts them.
            let held: u64 = (0..sim.model().world.entities.len() as crate::engine::EntityId)
                .map(|id| sim.state(id).deadlines.len() as u64)
                .sum();
            let over_events = guard.max_events.filter(|&m| report.committed > m);
            if over_events.is_some() || report.pending + held > guard.max_pending {
                let (limit, value) = match over_events {
                    Some(m) => ("--max-events", m),
                    None => ("--max-pending", guard.max_pending),
                };
                let report = crate::engine::RunReport {
                    pending: report.pending + held,
                    ..report
                };
                return Err(ModelError::Guard(Box::new(guard_stop(
                    &sim, limit, value, report,
                ))));
            }
            if report.time.0 >= t || report.pending == 0 {
                break report;
            }
        };
        progress(Progress {
            sim_time: SimTime(t),
            duration,
            events: report.committed,
        });
    }
    let events = sim.committed();
    let (OutageModel { world }, mut states) = sim.into_parts();
    for node in &mut states {
        node.close(&world, duration.0);
    }
    let mut result = collect(world, states, events, bucket, partitions);
    result.plan = plan;
    Ok(result)
}

/// Whether a run with several threads runs its regions as parallel partitions, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadPlan {
    /// Partitions in parallel (else the sequential executor).
    pub parallel: bool,
    /// The region whose entities sent the most events in the pilot.
    pub busiest: String,
    /// Its share of the pilot's events.
    pub share: f64,
    /// The most the threads could gain: min(threads, 1 / share).
    pub gain: f64,
    /// Simulated time the pilot covered.
    pub pilot: SimTime,
}

impl ThreadPlan {
    /// Below this bound on the gain, the barriers between windows cost more than the
    /// partitions can save (web-three-tier: one region sends over 90% of the events, and two
    /// threads ran slower than one).
    pub const MIN_GAIN: f64 = 1.3;

    /// Runs the first 1% of the scenario (at most 5 simulated minutes) on the sequential
    /// executor and counts the events each region's entities sent. Event counts are the same
    /// on every machine, so the choice is too (and the outputs are the same either way).
    fn pilot(world: &World, threads: usize) -> Result<ThreadPlan, ModelError> {
        let spec = world.spec.clone();
        let until = SimTime((spec.duration.0 / 100).clamp(1, 300_000_000_000));
        let pilot_world = World::new(spec);
        let model = OutageModel { world: pilot_world };
        let states = model.initial_states();
        let mut sim = Simulation::new(
            model,
            states,
            EngineConfig {
                seed: world.spec.seed,
                lookahead: world.lookahead.unwrap_or(SimTime::ZERO),
                executor: Executor::Sequential,
            },
        )?;
        sim.run(Stop {
            until: Some(until),
            events: None,
        })?;
        let mut by_region = vec![0u64; world.regions.len()];
        for (id, n) in sim.sent().into_iter().enumerate() {
            by_region[world.entities[id].region as usize] += n;
        }
        let total: u64 = by_region.iter().sum();
        let (busiest, &most) = by_region
            .iter()
            .enumerate()
            .max_by_key(|&(i, n)| (*n, std::cmp::Reverse(i)))
            .expect("at least two regions");
        let share = if total == 0 {
            1.0
        } else {
            most as f64 / total as f64
        };
        let gain = (threads as f64).min(1.0 / share);
        Ok(ThreadPlan {
            parallel: gain >= Self::MIN_GAIN,
            busiest: world.regions[busiest].clone(),
            share,
            gain,
            pilot: until,
        })
    }
}

impl std::fmt::Display for ThreadPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = if self.parallel {
            "regions in parallel"
        } else {
            "sequential"
        };
        write!(
            f,
            "{how}: region {} sent {:.0}% of the events in the first {}, so threads could gain at most {:.2}x (partitions need {:.1}x)",
            self.busiest,
            self.share * 100.0,
            self.pilot,
            self.gain,
            Self::MIN_GAIN
        )
    }
}

/// What a guard reports: the limit, where the run is, and the groups that sent most events.
fn guard_stop(
    sim: &Simulation<OutageModel>,
    limit: &'static str,
    value: u64,
    report: crate::engine::RunReport,
) -> GuardStop {
    let world = &sim.model().world;
    let sent = sim.sent();
    let mut producers: Vec<(String, &'static str, u64)> = world
        .spec
        .groups
        .iter()
        .enumerate()
        .map(|(g, group)| {
            let n = world
                .members(g)
                .map(|id| sent.get(id as usize).copied().unwrap_or(0))
                .sum();
            (group.name.clone(), group.kind.name(), n)
        })
        .collect();
    let grouped: u64 = producers.iter().map(|p| p.2).sum();
    let all: u64 = sent.iter().sum();
    if all > grouped {
        producers.push(("other entities".into(), "faults, links", all - grouped));
    }
    producers.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    GuardStop {
        limit,
        value,
        time: report.time,
        committed: report.committed,
        pending: report.pending,
        producers,
    }
}

fn collect(
    world: World,
    states: Vec<node::Node>,
    events: u64,
    bucket: SimTime,
    partitions: usize,
) -> RunResult {
    let n = world.nbuckets;
    let mut groups = Vec::with_capacity(world.spec.groups.len());
    for (g, group) in world.spec.groups.iter().enumerate() {
        let members = world.members(g);
        let nodes = &states[members.start as usize..members.end as usize];
        let series = match &group.kind {
            KindSpec::Client(_) => Series::Client(merge_clients(
                nodes.iter().map(|s| s.client_series.as_slice()),
                n,
            )),
            _ => Series::Server(merge_servers(
                nodes.iter().map(|s| s.server_series.as_slice()),
                n,
            )),
        };
        groups.push(GroupResult {
            name: group.name.clone(),
            kind: group.kind.name(),
            replicas: group.replicas(),
            workers: group.kind.server().map_or(0, |s| s.workers),
            series,
        });
    }
    let mut log: Vec<(u64, usize, usize, LogEntry)> = states
        .into_iter()
        .enumerate()
        .flat_map(|(id, s)| {
            s.log
                .into_iter()
                .enumerate()
                .map(move |(i, e)| (e.time, id, i, e))
        })
        .collect();
    // Link faults belong to no entity: they are logged here, after entities at equal times.
    for (k, lf) in world.link_faults.iter().enumerate() {
        let f = &world.spec.faults[lf.fault];
        let names = match lf.level {
            spec::Level::Zone => &world.zones,
            spec::Level::Region => &world.regions,
            spec::Level::Segment => &world.segments,
        };
        let level = lf.level.name();
        let target = format!(
            "{level} {} <-> {level} {}",
            names[lf.a as usize], names[lf.b as usize]
        );
        let detail = format!("{} ({})", f.name, f.kind.name());
        for (j, (time, kind)) in [(lf.at, "fault_start"), (lf.end, "fault_end")]
            .into_iter()
            .enumerate()
        {
            if time < world.spec.duration.0 {
                let entry = LogEntry {
                    time,
                    kind,
                    target: target.clone(),
                    detail: detail.clone(),
                };
                log.push((time, usize::MAX, 2 * k + j, entry));
            }
        }
    }
    // Fixed-time actions are logged once here; alarm-triggered ones by their monitor.
    for (a, act) in world.spec.actions.iter().enumerate() {
        if let spec::Trigger::At(t) = act.trigger {
            if t.0 < world.spec.duration.0 {
                let entry = LogEntry {
                    time: t.0,
                    kind: "action",
                    target: node::action_target_name(&world, a),
                    detail: format!("{} ({})", act.name, act.kind.name()),
                };
                log.push((t.0, usize::MAX - 1, a, entry));
            }
        }
    }
    log.sort_by_key(|(t, id, i, _)| (*t, *id, *i));
    RunResult {
        spec: world.spec,
        events,
        bucket,
        groups,
        log: log.into_iter().map(|(_, _, _, e)| e).collect(),
        partitions,
        plan: None,
    }
}

#[cfg(test)]
mod tests;
