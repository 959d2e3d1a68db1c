//! Pending-event set measurements: the classic hold model (pop the earliest event, push one
//! at its time plus an exponential delay) at 1e3 .. 1e7 pending events, for the calendar
//! queue the engine uses and the heaps it was chosen against.
//!
//! Run from the repository root: `cargo bench -p outagesim-benches --bench engine` (add
//! `-- hold/calendar` to run one structure, `-- --quick` for a short run). This file is the
//! workspace member `outagesim-benches` (`benches/Cargo.toml`), so that `cargo test` at the root
//! does not build criterion. Each structure is filled once per size and kept in steady state
//! across samples.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use outagesim::engine::model::Event;
use outagesim::engine::queue::{CalendarQueue, EventSet, Keyed, QuadHeap, StdHeap};
use outagesim::engine::rng::{EntityRng, entity_stream, exponential_nanos};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The engine's own event type for a model with no payload (24 bytes).
type Ev = Event<()>;

/// Events in the hold model are all addressed to entity 0 from entity 1.
#[inline]
fn ev(time: u64, tie: u64) -> Ev {
    Event::new(time, 1, tie as u32, 0, ())
}

/// Mean delay: one second in nanoseconds.
const MEAN: f64 = 1e9;

struct Hold<S> {
    set: S,
    rng: EntityRng,
    tie: u64,
}

impl<S: EventSet<Ev>> Hold<S> {
    fn new(mut set: S, n: usize) -> Self {
        let mut rng = entity_stream(42, 0);
        for tie in 0..n as u64 {
            let time = exponential_nanos(&mut rng, MEAN);
            set.push(ev(time, tie));
        }
        let mut h = Hold {
            set,
            rng,
            tie: n as u64,
        };
        // Reach steady state (and let the calendar tune itself) before measuring.
        h.ops(n.max(100_000));
        h
    }

    #[inline]
    fn ops(&mut self, k: usize) {
        for _ in 0..k {
            let e = self.set.pop().expect("hold keeps the population constant");
            self.tie += 1;
            let time = e.time() + exponential_nanos(&mut self.rng, MEAN);
            self.set.push(ev(time, self.tie));
        }
    }
}

fn bench_structure<S: EventSet<Ev>>(c: &mut Criterion, name: &str, make: fn() -> S) {
    let mut group = c.benchmark_group(format!("hold/{name}"));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(1));
    for exp in 3..=7 {
        let n = 10usize.pow(exp);
        let mut hold = Hold::new(make(), n);
        group.bench_function(BenchmarkId::from_parameter(format!("1e{exp}")), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                hold.ops(iters as usize);
                black_box(&hold.set);
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn hold_model(c: &mut Criterion) {
    bench_structure(c, "calendar", CalendarQueue::<Ev>::new);
    bench_structure(c, "quad-heap", QuadHeap::<Ev>::default);
    bench_structure(c, "binary-heap", StdHeap::<Ev>::default);
}

criterion_group!(benches, hold_model);
criterion_main!(benches);
