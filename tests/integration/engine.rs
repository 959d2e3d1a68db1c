//! Engine contracts: same seed, same events and checksum on every executor, thread count and
//! partitioning; stop rules; observers at barriers; refusal of too-short cross-partition sends.

use outagesim::bench::phold::{Lp, Phold, PholdParams, block_assignment, run_baseline, run_engine};
use outagesim::engine::{
    Context, EngineConfig, EngineError, Executor, Model, Observer, SimTime, Simulation, Stop, World,
};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

fn params(lps: u32, j: u32, remote: f64, lookahead: f64, events: u64, seed: u64) -> PholdParams {
    PholdParams {
        lps,
        start_events: j,
        remote,
        mean: 1.0,
        lookahead,
        events,
        seed,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10))]
    /// Same seed, same checksum and same committed-event count: sequential vs partitioned on
    /// 1, 2 and 4 threads with 1, 2, 7 and 64 partitions.
    #[test]
    fn executors_agree_on_every_event(
        lps in 1u32..300,
        j in 1u32..6,
        remote in 0.0f64..=1.0,
        lookahead in 0.02f64..0.9,
        seed in 0u64..1000,
    ) {
        let p = params(lps, j, remote, lookahead, 6_000, seed);
        let (seq, seq_states) = run_engine(&p, 1, None).unwrap();
        prop_assert!(seq.events >= 6_000);
        for threads in [1usize, 2, 4] {
            for parts in [1u32, 2, 7, 64] {
                let (r, states) = run_engine(&p, threads, Some(parts)).unwrap();
                prop_assert_eq!(&r.checksum, &seq.checksum, "threads {} partitions {}", threads, parts);
                prop_assert_eq!(r.events, seq.events);
                prop_assert_eq!(r.pending_at_end, seq.pending_at_end);
                // Not only the totals: every LP committed the same events.
                prop_assert!(states == seq_states, "per-LP results differ");
            }
        }
    }
}

#[test]
fn baseline_heap_loop_commits_the_same_events() {
    for &(lps, j) in &[(1u32, 1u32), (16, 16), (1024, 4)] {
        let p = params(lps, j, 0.9, 0.1, 100_000, 3);
        let b = run_baseline(&p).unwrap();
        let (e, _) = run_engine(&p, 1, None).unwrap();
        assert_eq!(
            (b.events, b.checksum),
            (e.events, e.checksum),
            "N={lps} J={j}"
        );
    }
}

#[test]
fn different_seeds_give_different_runs() {
    let (a, _) = run_engine(&params(64, 4, 0.9, 0.1, 10_000, 1), 1, None).unwrap();
    let (b, _) = run_engine(&params(64, 4, 0.9, 0.1, 10_000, 2), 1, None).unwrap();
    assert_ne!(a.checksum, b.checksum);
}

fn phold_sim(lps: u32, executor: Executor, seed: u64) -> Simulation<Phold> {
    let model = params(lps, 4, 0.8, 0.1, 0, seed).validate().unwrap();
    Simulation::new(
        model,
        vec![Lp::default(); lps as usize],
        EngineConfig {
            seed,
            lookahead: SimTime::from_millis(100),
            executor,
        },
    )
    .unwrap()
}

fn until(t: SimTime) -> Stop {
    Stop {
        until: Some(t),
        events: None,
    }
}

#[test]
fn time_stop_commits_exactly_the_events_before_it_and_runs_can_continue() {
    let executors = [
        Executor::Sequential,
        Executor::Partitioned {
            assignment: block_assignment(50, 3),
            threads: 2,
        },
    ];
    let mut results = Vec::new();
    for ex in executors {
        // One run to 30 s against three runs to 10, 20 and 30 s.
        let mut whole = phold_sim(50, ex.clone(), 9);
        let r = whole.run(until(SimTime::from_secs(30))).unwrap();
        assert_eq!(r.time, SimTime::from_secs(30));
        let mut steps = phold_sim(50, ex, 9);
        for s in [10, 20, 30] {
            let r = steps.run(until(SimTime::from_secs(s))).unwrap();
            assert_eq!(r.time, SimTime::from_secs(s));
        }
        assert_eq!(whole.committed(), steps.committed());
        let a = whole.into_states();
        let b = steps.into_states();
        assert!(a == b);
        results.push(a);
    }
    assert!(
        results[0] == results[1],
        "sequential and partitioned differ"
    );
    // Roughly 50 LPs x 4 events per second of simulated time, for 30 s.
    let total: u64 = results[0].iter().map(|lp| lp.events).sum();
    assert!((5_000..7_000).contains(&total), "{total} events");
}

/// Records what it sees and injects events, to check that observation happens at the same
/// simulated instants with the same view on every executor.
struct Recorder {
    seen: Arc<Mutex<Vec<(SimTime, u64, u64)>>>,
}

impl Observer<Phold> for Recorder {
    fn period(&self) -> SimTime {
        SimTime::from_millis(1250)
    }
    fn observe(&mut self, world: &mut World<'_, Phold>) {
        let n = world.entities();
        let events: u64 = (0..n).map(|i| world.state(i).events).sum();
        let sum = (0..n).fold(0u64, |a, i| a.wrapping_add(world.state(i).checksum));
        let now = world.now();
        self.seen.lock().unwrap().push((now, events, sum));
        // Inject a new event chain at a random LP, at a random later time.
        let dst = outagesim::engine::rng::below(world.rng(), n as u64) as u32;
        let later = SimTime(now.0 + outagesim::engine::rng::below(world.rng(), 1_000_000_000));
        world.send_at(dst, later, ());
    }
}

#[test]
fn observer_sees_the_same_world_on_every_executor() {
    let mut runs = Vec::new();
    for ex in [
        Executor::Sequential,
        Executor::Partitioned {
            assignment: block_assignment(40, 7),
            threads: 3,
        },
        Executor::Partitioned {
            assignment: (0..40).map(|i| i % 2).collect(),
            threads: 1,
        },
    ] {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut sim = phold_sim(40, ex, 5);
        sim.set_observer(Box::new(Recorder { seen: seen.clone() }));
        sim.run(until(SimTime::from_secs(20))).unwrap();
        let states = sim.into_states();
        let seen = seen.lock().unwrap().clone();
        runs.push((seen, states));
    }
    let (seen0, states0) = &runs[0];
    // Observations at 1.25 s, 2.5 s, ... strictly before 20 s.
    assert_eq!(seen0.len(), 15);
    assert_eq!(seen0[0].0, SimTime::from_millis(1250));
    assert!(
        seen0.windows(2).all(|w| w[0].1 < w[1].1),
        "events grow between observations"
    );
    for (seen, states) in &runs[1..] {
        assert_eq!(seen, seen0);
        assert!(states == states0);
    }
}

/// Entity 0 sends to entity 1 with a fixed delay.
struct Pinger {
    delay: SimTime,
}

impl Model for Pinger {
    type Event = u32;
    type State = u32;
    fn start(&self, _s: &mut u32, cx: &mut Context<'_, '_, u32>) {
        if cx.me() == 0 {
            cx.send(0, SimTime::from_secs(1), 0);
        }
    }
    fn handle(&self, s: &mut u32, ev: u32, cx: &mut Context<'_, '_, u32>) {
        *s += 1;
        if cx.me() == 0 && ev == 0 {
            cx.send(1, self.delay, 1);
        }
    }
}

fn pinger(delay: SimTime, executor: Executor) -> Simulation<Pinger> {
    Simulation::new(
        Pinger { delay },
        vec![0, 0],
        EngineConfig {
            seed: 1,
            lookahead: SimTime::from_millis(10),
            executor,
        },
    )
    .unwrap()
}

#[test]
fn cross_partition_event_shorter_than_lookahead_is_refused() {
    let split = Executor::Partitioned {
        assignment: vec![0, 1],
        threads: 2,
    };
    let err = pinger(SimTime::from_millis(9), split.clone())
        .run(until(SimTime::from_secs(5)))
        .unwrap_err();
    match &err {
        EngineError::LookaheadViolation {
            src,
            dst,
            delay,
            lookahead,
            at,
        } => {
            assert_eq!((*src, *dst), (0, 1));
            assert_eq!(*delay, SimTime::from_millis(9));
            assert_eq!(*lookahead, SimTime::from_millis(10));
            assert_eq!(*at, SimTime::from_secs(1));
        }
        other => panic!("unexpected error {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("entity 0") && text.contains("less than the lookahead"),
        "{text}"
    );

    // Exactly the lookahead is allowed; so is any delay within one partition.
    let mut ok = pinger(SimTime::from_millis(10), split);
    ok.run(until(SimTime::from_secs(5))).unwrap();
    assert_eq!(ok.into_states(), vec![1, 1]);
    let mut same = pinger(
        SimTime::ZERO,
        Executor::Partitioned {
            assignment: vec![0, 0],
            threads: 1,
        },
    );
    same.run(until(SimTime::from_secs(5))).unwrap();
    assert_eq!(same.into_states(), vec![1, 1]);
}

#[test]
fn partitioned_executor_needs_a_lookahead_and_a_full_assignment() {
    let build = |lookahead, assignment: Vec<u32>| {
        Simulation::new(
            Pinger {
                delay: SimTime::ZERO,
            },
            vec![0, 0],
            EngineConfig {
                seed: 1,
                lookahead,
                executor: Executor::Partitioned {
                    assignment,
                    threads: 1,
                },
            },
        )
        .err()
    };
    assert_eq!(
        build(SimTime::ZERO, vec![0, 1]),
        Some(EngineError::ZeroLookahead)
    );
    assert!(matches!(
        build(SimTime::from_secs(1), vec![0]),
        Some(EngineError::Assignment(_))
    ));
}

/// Schedules an event into the past when it handles its first event.
struct TimeTraveller;

impl Model for TimeTraveller {
    type Event = ();
    type State = ();
    fn start(&self, _s: &mut (), cx: &mut Context<'_, '_, ()>) {
        cx.send(cx.me(), SimTime::from_secs(5), ());
    }
    fn handle(&self, _s: &mut (), _e: (), cx: &mut Context<'_, '_, ()>) {
        if cx.me() == 3 {
            cx.send_at(0, SimTime::from_secs(1), ());
        }
    }
}

#[test]
#[should_panic(
    expected = "entity 3 scheduled an event for entity 0 at 1s, before the current time 5s"
)]
fn scheduling_into_the_past_panics_naming_the_entity() {
    let mut sim = Simulation::new(
        TimeTraveller,
        vec![(); 4],
        EngineConfig {
            seed: 1,
            lookahead: SimTime::ZERO,
            executor: Executor::Sequential,
        },
    )
    .unwrap();
    // Every entity acts at 5 s; entity 3 tries to schedule at 1 s.
    let _ = sim.run(until(SimTime::from_secs(10)));
}
