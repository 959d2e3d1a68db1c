//! Server settings: the `workers`, `queue` and `service_time` of every kind but client and
//! network, declared once, with each kind's defaults.

use serde_json::{Value as Json, json};

use crate::engine::SimTime;
use crate::model::kinds::Kind;
use crate::model::policy::queue::{
    CodelTime, DEFAULT_CODEL_INTERVAL, DEFAULT_CODEL_TARGET, DEFAULT_LIFO_THRESHOLD, Discipline,
    LifoThreshold, QueuePolicy,
};
use crate::model::settings::{
    Count, Distribution, Input, Opt, PosDuration, Reader, Shape, Switch, Value, Word, bounded,
};
use crate::model::spec::{Dist, ServerSpec};
use crate::settings;

/// `queue = "unbounded"` (None) or a whole number of waiting places per replica.
pub struct Queue;

impl Value for Queue {
    type Out = Option<u32>;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Option<u32>> {
        match input.shape() {
            Shape::Str("unbounded") => Some(None),
            Shape::Str(w) => {
                let issue = r
                    .problem(format!(
                        "expected \"unbounded\" or a whole number, got \"{w}\""
                    ))
                    .value(w)
                    .hint("queue = \"unbounded\", or the waiting places per replica, e.g. queue = 100".to_owned());
                r.push(issue);
                None
            }
            Shape::Int(n) => bounded(n, 0, u32::MAX, r).map(Some),
            other => r.wrong_type(r#""unbounded" or a whole number"#, &other),
        }
    }
    fn what() -> String {
        r#"`"unbounded"` or a whole number"#.to_owned()
    }
    fn schema() -> Json {
        json!({ "anyOf": [{ "const": "unbounded" }, { "type": "integer", "minimum": 0 }] })
    }
    fn show(v: &Option<u32>) -> String {
        v.map_or_else(|| "\"unbounded\"".to_owned(), |n| n.to_string())
    }
}

settings! {
    /// How a replica serves requests (every kind but client and network); each kind has its own defaults.
    pub struct ServerSettings "server" {
        /// Requests served at once per replica (none: the kind's default).
        workers: Opt<Count<1, { u32::MAX }>> = None,
        /// Waiting places per replica, or "unbounded" (none: the kind's default).
        queue: Opt<Queue> = None,
        /// Time to serve one request (none: the kind's default).
        service_time: Opt<Distribution> = None,
        /// Which waiting request gets the next free worker: "fifo", "lifo", "adaptive_lifo" or "codel".
        discipline: Word<Discipline> = Discipline::Fifo,
        /// Serve waiting requests by their client group's priority class, 0 first (non-preemptive); a full queue sheds the newest request of a less important class to admit a more important one.
        by_priority: Switch = false,
        /// Shed (answer with an overload error) a request that has waited this long for a worker (none: never).
        shed_after: Opt<PosDuration> = None,
        /// "adaptive_lifo": serve the newest first while more than this many requests wait.
        lifo_threshold: LifoThreshold = DEFAULT_LIFO_THRESHOLD,
        /// "adaptive_lifo": serve the newest first also while the oldest has waited longer than this (none: by length only).
        lifo_age: Opt<PosDuration> = None,
        /// "codel": the queueing delay CoDel accepts as standing.
        codel_target: CodelTime = DEFAULT_CODEL_TARGET,
        /// "codel": how long the delay may stay above target before drops start; drops then come interval / sqrt(drops) apart.
        codel_interval: CodelTime = DEFAULT_CODEL_INTERVAL,
        /// Drop, unserved and unanswered, a request whose caller's timeout has passed when it would get a worker.
        drop_abandoned: Switch = false,
    }
}

impl ServerSettings {
    /// The settings, each one not written at kind `kind`'s default.
    pub fn of(self, kind: Kind) -> ServerSpec {
        let d = defaults(kind);
        ServerSpec {
            workers: self.workers.unwrap_or(d.workers),
            queue: self.queue.unwrap_or(d.queue),
            service_time: self.service_time.unwrap_or(d.service_time),
            queueing: QueuePolicy {
                discipline: self.discipline,
                by_priority: self.by_priority,
                shed_after: self.shed_after,
                lifo_threshold: self.lifo_threshold,
                lifo_age: self.lifo_age,
                codel_target: self.codel_target,
                codel_interval: self.codel_interval,
                drop_abandoned: self.drop_abandoned,
            },
        }
    }
}

/// Kind `kind`'s server defaults.
pub fn defaults(kind: Kind) -> ServerSpec {
    let constant = |us| Dist::Constant(SimTime::from_micros(us));
    let (workers, queue, service_time) = match kind {
        Kind::Service => (
            1,
            None,
            Dist::Exponential {
                mean: SimTime::from_millis(10),
            },
        ),
        Kind::Storage => (
            8,
            None,
            Dist::Exponential {
                mean: SimTime::from_millis(2),
            },
        ),
        Kind::Resolver | Kind::Dns | Kind::Monitor => (64, Some(1000), constant(100)),
        Kind::Firewall => (1, Some(1000), constant(50)),
        Kind::LoadBalancer | Kind::Proxy | Kind::Cdn => (10_000, Some(1000), constant(50)),
        Kind::Cache => (256, Some(1000), constant(200)),
        Kind::Client | Kind::Network => (1, Some(1000), constant(0)),
    };
    ServerSpec {
        workers,
        queue,
        service_time,
        queueing: QueuePolicy::default(),
    }
}

/// Reads kind `kind`'s server settings from a table's `entries` (other keys are left to the
/// caller).
pub fn read(kind: Kind, entries: &[(&str, &dyn Input)], r: &mut Reader<'_>) -> Option<ServerSpec> {
    use crate::model::settings::Table;
    ServerSettings::read_fields(entries, r).map(|s| s.of(kind))
}
