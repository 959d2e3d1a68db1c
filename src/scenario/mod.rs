//! The scenario layer: the TOML file format, its validation into a typed
//! `Spec`, `--set` overrides and topology views.
//!
//! Reading is in two stages, as ripgrep does with its arguments: `raw` mirrors the file with
//! serde (unknown fields denied, nothing defaulted), then validation applies the defaults of
//! `model::spec`, checks every value and resolves names to indices. Every problem is
//! collected and reported with its file position (or `--set` argument), the bad value and a
//! hint. This layer does no I/O: it takes text; the CLI opens files.

pub(crate) mod error;
mod input;
pub mod overrides;
mod raw;
mod schema;
pub mod topology;
mod validate;

pub use crate::model::policy::retry::MAX_ATTEMPTS;
pub use error::{Origin, Problem, ScenarioError, suggest};
pub use overrides::{load, load_what_if};
pub use schema::{reference, schema, schema_text, settings_view};
pub use validate::MAX_REPLICAS;

use crate::model::spec::Spec;

/// Reads and validates a scenario without overrides: `load(text, file, &[])`.
///
/// # Errors
/// Every problem found, as for [`load`].
pub fn parse(text: &str, file: &str) -> Result<Spec, ScenarioError> {
    load(text, file, &[])
}

/// Scenario texts for the tests of this layer.
#[cfg(test)]
pub(crate) mod fixtures {
    /// Every operations feature at once: a monitor, standby replicas, gossip, a config change,
    /// a gossip corruption, two alarms and an action of each kind.
    pub const OPS: &str = r#"[scenario]
name = "ops"
duration = "2h"

[components.users]
kind = "client"
rate = 50.0
target = "www.example.com"

[components.scrapers]
kind = "client"
rate = 5.0
target = "fw"

[components.resolver]
kind = "resolver"
dns = "dns"

[components.dns]
kind = "dns"

[[components.dns.records]]
name = "www.example.com"
policy = "failover"
targets = ["fw", "lb-b"]

[components.fw]
kind = "firewall"
next = "lb"

[components.lb]
kind = "load_balancer"
backends = "app"
health_check = { kind = "shallow" }

[components.lb-b]
kind = "load_balancer"
backends = "app"

[components.app]
kind = "service"
replicas = 3
standby = 2
zones = ["a", "b"]
calls = [{ target = "store" }]

[components.store]
kind = "storage"
replicas = 100
gossip = { interval = "1s", fanout = 1, fail_after = "30s", checksums = false }

[components.mon]
kind = "monitor"
period = "15s"

[[faults]]
name = "bad-config"
kind = "config_change"
target = "lb"
at = "10m"
set = { "health_check.kind" = "deep", workers = 4 }
rollout = "5m"
batch = 1

[[faults]]
name = "bitflip"
kind = "gossip_corruption"
target = "store"
at = "10m"

[[faults]]
name = "surge"
kind = "traffic_surge"
target = "users"
at = "30m"
multiplier = 2.0

[[alarms]]
name = "users-down"
group = "users"
metric = "availability"
below = 0.99
for = "1m"

[[alarms]]
name = "store-busy"
monitor = "mon"
group = "store"
metric = "utilization"
above = 0.8
missing = "breaching"

[[actions]]
name = "undo"
kind = "rollback"
on = "users-down"
delay = { dist = "exponential", mean = "5m" }
fault = "bad-config"

[[actions]]
kind = "end_fault"
at = "40m"
fault = "surge"

[[actions]]
kind = "block"
at = "20m"
firewall = "fw"
source = "scrapers"

[[actions]]
kind = "shed_load"
on = "store-busy"
target = "app"
fraction = 0.2

[[actions]]
kind = "dns_failover"
on = "users-down"
target = "dns"
record = "www.example.com"
to = "lb-b"

[[actions]]
kind = "restart"
at = "50m"
target = "app"
stagger = "10s"

[[actions]]
kind = "clear_gossip"
on = "store-busy"
target = "store"
restart_time = "1m"
restart_batch = 5

[[actions]]
kind = "scale"
on = "store-busy"
delay = "2m"
target = "app"
replicas = 1
provision = "3m"
"#;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimTime;
    use crate::model::spec::{
        Backoff, Balance, CheckKind, ClientSpec, Dist, FaultKind, GroupSpec, Jitter, KindSpec,
        NetworkSpec, NoneHealthy, Placement, RetrySpec, Routing, ServerSpec, ServiceSpec, Target,
    };
    use proptest::prelude::*;

    const MMC: &str = include_str!("../../scenarios/mmc.toml");
    const WEB: &str = include_str!("../../scenarios/web-three-tier.toml");
    /// Every shipped scenario, for the no-panic property test.
    const SHIPPED: &[&str] = &[
        MMC,
        WEB,
        include_str!("../../scenarios/bench-reference.toml"),
        fixtures::OPS,
    ];

    fn place() -> Vec<Placement> {
        vec![Placement {
            region: "default".into(),
            zone: "default-a".into(),
            segment: "main".into(),
        }]
    }

    #[test]
    fn mmc_loads_to_the_expected_spec() {
        let spec = parse(MMC, "scenarios/mmc.toml").expect("mmc.toml is valid");
        let expected = Spec {
            name: "mmc".into(),
            duration: SimTime::from_hours(2),
            seed: 1,
            bucket: SimTime::MINUTE,
            slo: 0.99,
            warmup: None,
            network: NetworkSpec {
                same_zone: SimTime::from_micros(250),
                cross_zone: SimTime::MILLISECOND,
                cross_region: SimTime::from_millis(40),
                region_latency: vec![],
                links: vec![],
            },
            groups: vec![
                GroupSpec {
                    gossip: None,
                    standby: 0,
                    name: "users".into(),
                    placement: place(),
                    kind: KindSpec::Client(ClientSpec {
                        rate: 8.0,
                        population: None,
                        profile: vec![],
                        target: Target::Group(1),
                        timeout: SimTime::HOUR,
                        retry: RetrySpec::once(),
                        write_fraction: 0.0,
                        concurrency_limit: None,
                        hedge: None,
                        priority: 0,
                        connections: None,
                    }),
                },
                GroupSpec {
                    gossip: None,
                    standby: 0,
                    name: "api".into(),
                    placement: place(),
                    kind: KindSpec::Service(ServiceSpec {
                        server: ServerSpec {
                            workers: 10,
                            queue: None,
                            service_time: Dist::Exponential {
                                mean: SimTime::SECOND,
                            },
                            queueing: Default::default(),
                        },
                        calls: vec![],
                        parallel: false,
                        circuit_breaker: None,
                        rate_limit: None,
                        connections: None,
                    }),
                },
            ],
            faults: vec![],
            failures: vec![],
            alarms: vec![],
            autoscalers: vec![],
            actions: vec![],
            replay: Default::default(),
        };
        assert_eq!(spec, expected);
    }

    #[test]
    fn defaults_of_a_minimal_service() {
        let text = MMC
            .replace("workers = 10 ", "")
            .replace("queue = \"unbounded\"", "")
            .replace(
                "service_time = { dist = \"exponential\", mean = \"1s\" }",
                "",
            )
            .replace("bucket = \"1m\"", "")
            .replace("seed = 1", "")
            .replace("timeout = \"1h\"", "");
        let spec = parse(&text, "x").expect("valid");
        assert_eq!(
            (spec.seed, spec.bucket, spec.slo),
            (1, SimTime::MINUTE, 0.99)
        );
        let KindSpec::Client(c) = &spec.groups[0].kind else {
            panic!()
        };
        assert_eq!(c.timeout, SimTime::from_secs(30));
        let Some(s) = spec.groups[1].kind.server() else {
            panic!()
        };
        assert_eq!(s.workers, 1);
        assert_eq!(s.queue, None);
        assert_eq!(
            s.service_time,
            Dist::Exponential {
                mean: SimTime::from_millis(10)
            }
        );
    }

    #[test]
    fn web_three_tier_loads() {
        let spec =
            parse(WEB, "scenarios/web-three-tier.toml").expect("web-three-tier.toml is valid");
        let idx = |n: &str| spec.groups.iter().position(|g| g.name == n).expect(n);
        assert_eq!(spec.groups.len(), 15);
        let kinds: Vec<&str> = spec.groups.iter().map(|g| g.kind.name()).collect();
        for k in [
            "client",
            "resolver",
            "dns",
            "firewall",
            "network",
            "load_balancer",
            "proxy",
            "cache",
            "service",
            "storage",
        ] {
            assert!(kinds.contains(&k), "{k} missing");
        }
        let KindSpec::Client(c) = &spec.groups[idx("users-east")].kind else {
            panic!()
        };
        assert_eq!(
            c.target,
            Target::Dns {
                name: "www.example.com".into(),
                resolver: idx("resolver")
            }
        );
        assert_eq!(c.retry.attempts, 3);
        assert_eq!(c.retry.backoff, Backoff::Exponential);
        assert_eq!(
            (c.retry.base, c.retry.cap),
            (SimTime::from_millis(200), SimTime::from_secs(5))
        );
        assert_eq!(c.retry.jitter, Jitter::Full);
        assert_eq!(c.profile, vec![(SimTime::ZERO, 1.0), (SimTime::HOUR, 1.5)]);
        let KindSpec::Dns(d) = &spec.groups[idx("dns")].kind else {
            panic!()
        };
        assert_eq!(d.records[0].policy, Routing::Failover);
        assert_eq!(d.records[0].targets, vec![idx("lb-east"), idx("lb-west")]);
        assert_eq!(
            d.health_check.as_ref().map(|h| h.kind),
            Some(CheckKind::Shallow)
        );
        let KindSpec::LoadBalancer(l) = &spec.groups[idx("lb-east")].kind else {
            panic!()
        };
        assert_eq!(
            (l.policy, l.when_none_healthy),
            (Balance::LeastOutstanding, NoneHealthy::Apology)
        );
        assert_eq!(
            l.health_check.as_ref().map(|h| h.kind),
            Some(CheckKind::Deep)
        );
        let KindSpec::Storage(s) = &spec.groups[idx("db")].kind else {
            panic!()
        };
        assert_eq!(
            (s.replication_factor, s.read_quorum, s.write_quorum),
            (3, 2, 2)
        );
        assert_eq!(spec.groups[idx("db")].placement[0].segment, "internal");
        let KindSpec::Network(n) = &spec.groups[idx("core-net")].kind else {
            panic!()
        };
        assert_eq!(n.joins, vec!["internal".to_owned(), "main".to_owned()]);
        assert_eq!(
            n.server.service_time,
            Dist::Constant(SimTime::from_micros(5))
        );
        let KindSpec::Service(a) = &spec.groups[idx("app")].kind else {
            panic!()
        };
        assert_eq!(a.calls.len(), 2);
        assert!(!a.parallel);
        assert_eq!(spec.groups[idx("app")].placement[3].zone, "us-east-a");
        assert_eq!(spec.faults.len(), 2);
        assert_eq!(
            spec.faults[0].kind,
            FaultKind::Crash {
                replicas: vec![0, 1]
            }
        );
        assert_eq!(spec.faults[0].group(), Some(idx("lb-east")));
        assert_eq!(
            (spec.faults[0].at, spec.faults[0].duration),
            (SimTime::from_mins(20), Some(SimTime::from_mins(10)))
        );
        assert_eq!(
            spec.faults[1].kind,
            FaultKind::TrafficSurge {
                multiplier: 3.0,
                ramp: SimTime::from_mins(2)
            }
        );
        assert_eq!(
            spec.network.region_latency,
            vec![("us-east".into(), "us-west".into(), SimTime::from_millis(35))]
        );
    }

    #[test]
    fn ops_features_load() {
        use crate::model::spec::{ActionKind, AlarmSpec, GossipSpec, Metric, MonitorSpec, Trigger};
        let spec = parse(fixtures::OPS, "ops.toml").unwrap_or_else(|e| panic!("{e}"));
        let idx = |n: &str| spec.groups.iter().position(|g| g.name == n).expect(n);
        // Standby replicas: provisioned first, standby last, zones round-robin over them all.
        let app = &spec.groups[idx("app")];
        assert_eq!((app.replicas(), app.standby), (5, 2));
        let zones: Vec<&str> = app.placement.iter().map(|p| p.zone.as_str()).collect();
        assert_eq!(zones, ["a", "b", "a", "b", "a"]);
        // Gossip: the exact inline form, defaults elsewhere, off for other kinds.
        let store = &spec.groups[idx("store")];
        assert_eq!(store.replicas(), 100);
        assert_eq!(store.gossip, Some(GossipSpec::default()));
        assert_eq!(app.gossip, None);
        assert_eq!(spec.groups[idx("users")].gossip, None);
        // The monitor and its defaults.
        let KindSpec::Monitor(m) = &spec.groups[idx("mon")].kind else {
            panic!()
        };
        assert_eq!(
            *m,
            MonitorSpec {
                server: ServerSpec {
                    workers: 64,
                    queue: Some(1000),
                    service_time: Dist::Constant(SimTime::from_micros(100)),
                    queueing: Default::default(),
                },
                period: SimTime::from_secs(15),
            }
        );
        // The config change: the load balancer's settings after it.
        let FaultKind::ConfigChange {
            replicas,
            after,
            set,
            rollout,
            batch,
        } = &spec.faults[0].kind
        else {
            panic!("{:?}", spec.faults[0].kind)
        };
        assert_eq!(replicas, &[0]);
        assert_eq!((*rollout, *batch), (SimTime::from_mins(5), 1));
        assert_eq!(
            set,
            &[
                ("health_check.kind".to_owned(), "\"deep\"".to_owned()),
                ("workers".to_owned(), "4".to_owned())
            ]
        );
        let KindSpec::LoadBalancer(before) = &spec.groups[idx("lb")].kind else {
            panic!()
        };
        let KindSpec::LoadBalancer(l) = after.as_ref() else {
            panic!()
        };
        assert_eq!(l.server.workers, 4);
        assert_eq!(
            l.health_check.as_ref().map(|h| h.kind),
            Some(CheckKind::Deep)
        );
        assert_eq!(
            before.health_check.as_ref().map(|h| h.kind),
            Some(CheckKind::Shallow)
        );
        assert_eq!((l.backends, &l.retry), (before.backends, &before.retry));
        // The gossip corruption starts from replica 0.
        assert_eq!(
            spec.faults[1].kind,
            FaultKind::GossipCorruption {
                replicas: vec![0],
                field: crate::model::policy::gossip::Field::Heartbeat,
                bit: 31,
                entry: None
            }
        );
        // Alarms: the only monitor by default.
        assert_eq!(
            spec.alarms[0],
            AlarmSpec {
                name: "users-down".into(),
                monitor: idx("mon"),
                group: idx("users"),
                metric: Metric::Availability,
                above: false,
                threshold: 0.99,
                hold: SimTime::MINUTE,
                missing_breaches: false,
            }
        );
        assert!(spec.alarms[1].above && spec.alarms[1].missing_breaches);
        assert_eq!(spec.alarms[1].hold, SimTime::ZERO);
        // Actions: one of each kind, in file order, with default names.
        let names: Vec<&str> = spec.actions.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "undo", "action-1", "action-2", "action-3", "action-4", "action-5", "action-6",
                "action-7"
            ]
        );
        let kinds: Vec<&ActionKind> = spec.actions.iter().map(|a| &a.kind).collect();
        assert_eq!(
            kinds,
            [
                &ActionKind::Rollback { fault: 0 },
                &ActionKind::EndFault { fault: 2 },
                &ActionKind::Block {
                    firewall: idx("fw"),
                    source: idx("scrapers")
                },
                &ActionKind::ShedLoad {
                    group: idx("app"),
                    fraction: 0.2
                },
                &ActionKind::DnsFailover {
                    dns: idx("dns"),
                    record: 0,
                    to: idx("lb-b")
                },
                &ActionKind::Restart {
                    group: idx("app"),
                    stagger: SimTime::from_secs(10),
                    cold_start: SimTime::from_secs(30)
                },
                &ActionKind::ClearGossip {
                    group: idx("store"),
                    restart_time: SimTime::MINUTE,
                    restart_batch: Some(5)
                },
                &ActionKind::Scale {
                    group: idx("app"),
                    replicas: 1,
                    provision: SimTime::from_mins(3)
                },
            ]
        );
        assert_eq!(
            spec.actions[0].trigger,
            Trigger::Alarm {
                alarm: 0,
                delay: Dist::Exponential {
                    mean: SimTime::from_mins(5)
                }
            }
        );
        assert_eq!(spec.actions[1].trigger, Trigger::At(SimTime::from_mins(40)));
        assert_eq!(
            spec.actions[3].trigger,
            Trigger::Alarm {
                alarm: 1,
                delay: Dist::Constant(SimTime::ZERO)
            }
        );
        assert_eq!(
            spec.actions[7].trigger,
            Trigger::Alarm {
                alarm: 1,
                delay: Dist::Constant(SimTime::from_mins(2))
            }
        );
    }

    /// A document generator: tables, arrays and scalars with keys from the real schema.
    mod docs {
        use super::*;
        use toml_edit::{Array, InlineTable, Value};

        pub const KEYS: &[&str] = &[
            "scenario",
            "network",
            "components",
            "faults",
            "links",
            "name",
            "duration",
            "seed",
            "bucket",
            "slo",
            "kind",
            "replicas",
            "region",
            "zone",
            "zones",
            "segment",
            "workers",
            "queue",
            "service_time",
            "dist",
            "mean",
            "value",
            "sigma",
            "min",
            "max",
            "rate",
            "profile",
            "target",
            "resolver",
            "timeout",
            "retry",
            "attempts",
            "backoff",
            "base",
            "cap",
            "jitter",
            "budget",
            "write_fraction",
            "dns",
            "records",
            "ttl",
            "policy",
            "targets",
            "weights",
            "health_check",
            "interval",
            "unhealthy",
            "healthy",
            "next",
            "deny",
            "max_connections",
            "capacity",
            "joins",
            "backends",
            "when_none_healthy",
            "upstream",
            "hit_ratio",
            "backend",
            "serve_stale",
            "calls",
            "parallel",
            "circuit_breaker",
            "failures",
            "open_for",
            "replication_factor",
            "read_quorum",
            "write_quorum",
            "at",
            "multiplier",
            "ramp",
            "factor",
            "probability",
            "wrong",
            "fraction",
            "between",
            "latency",
            "same_zone",
            "cross_zone",
            "cross_region",
            "regions",
            "users",
            "api",
            "db",
            "0",
            "alarms",
            "actions",
            "standby",
            "gossip",
            "fanout",
            "fail_after",
            "checksums",
            "period",
            "set",
            "rollout",
            "batch",
            "monitor",
            "group",
            "metric",
            "above",
            "below",
            "for",
            "missing",
            "on",
            "delay",
            "fault",
            "provision",
        ];
        pub const STRINGS: &[&str] = &[
            "client",
            "service",
            "storage",
            "dns",
            "resolver",
            "network",
            "load_balancer",
            "proxy",
            "cdn",
            "cache",
            "firewall",
            "users",
            "api",
            "db",
            "www.example.com",
            "1s",
            "10ms",
            "0s",
            "2x",
            "1h",
            "unbounded",
            "exponential",
            "constant",
            "lognormal",
            "uniform",
            "crash",
            "traffic_surge",
            "none",
            "fixed",
            "full",
            "equal",
            "failover",
            "weighted",
            "deep",
            "shallow",
            "apology",
            "main",
            "internal",
            "",
            "-1s",
            "1h30m",
            "monitor",
            "config_change",
            "gossip_corruption",
            "availability",
            "utilization",
            "gossip_rate",
            "breaching",
            "rollback",
            "scale",
            "restart",
            "clear_gossip",
            "alarm-0",
            "crash-api",
        ];

        pub fn key() -> impl Strategy<Value = String> {
            prop::sample::select(KEYS).prop_map(str::to_owned)
        }

        pub fn scalar() -> impl Strategy<Value = Value> {
            prop_oneof![
                prop::sample::select(STRINGS).prop_map(Value::from),
                (-3i64..20).prop_map(Value::from),
                prop::sample::select(&[0.0, -1.0, 0.5, 1.0, 1.5, 8.0, f64::NAN, f64::INFINITY][..])
                    .prop_map(Value::from),
                any::<bool>().prop_map(Value::from),
            ]
        }

        pub fn value() -> impl Strategy<Value = Value> {
            scalar().prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5)
                        .prop_map(|v| Value::Array(v.into_iter().collect::<Array>())),
                    prop::collection::vec((key(), inner), 0..6).prop_map(|kv| {
                        let mut t = InlineTable::new();
                        for (k, v) in kv {
                            t.insert(k, v);
                        }
                        Value::InlineTable(t)
                    }),
                ]
            })
        }

        /// Plausible `key = value` pairs, so that many documents get deep into validation.
        pub fn plausible() -> impl Strategy<Value = (String, Value)> {
            let v = |t: &str| t.parse::<Value>().unwrap_or_else(|_| Value::from(t));
            let pairs: Vec<(String, Value)> = [
                ("rate", "5.0"),
                ("target", "\"api\""),
                ("target", "\"users\""),
                ("target", "\"www.example.com\""),
                ("workers", "4"),
                ("replicas", "3"),
                ("queue", "\"unbounded\""),
                ("queue", "10"),
                ("service_time", "\"1ms\""),
                (
                    "service_time",
                    "{ dist = \"lognormal\", mean = \"2ms\", sigma = 0.5 }",
                ),
                ("backends", "\"api\""),
                ("upstream", "\"api\""),
                ("backend", "\"db\""),
                ("hit_ratio", "0.5"),
                ("dns", "\"dns\""),
                ("resolver", "\"resolver\""),
                ("capacity", "1000.0"),
                ("joins", "[\"main\", \"internal\"]"),
                ("segment", "\"internal\""),
                ("region", "\"r2\""),
                ("zones", "[\"a\", \"b\"]"),
                (
                    "calls",
                    "[{ target = \"db\" }, { target = \"api\", timeout = \"1s\" }]",
                ),
                ("replication_factor", "2"),
                ("read_quorum", "2"),
                (
                    "records",
                    "[{ name = \"www.example.com\", targets = [\"api\"], policy = \"failover\" }]",
                ),
                ("health_check", "{ kind = \"deep\" }"),
                (
                    "retry",
                    "{ attempts = 2, backoff = \"exponential\", jitter = \"full\" }",
                ),
                ("timeout", "\"1s\""),
                ("next", "\"lb\""),
                ("deny", "[\"users\"]"),
                ("gossip", "true"),
                (
                    "gossip",
                    "{ interval = \"1s\", fanout = 2, checksums = true }",
                ),
                ("standby", "2"),
                ("period", "\"5s\""),
            ]
            .iter()
            .map(|(k, t)| ((*k).to_owned(), v(t)))
            .collect();
            prop::sample::select(pairs)
        }

        fn table(fields: Vec<(String, Value)>) -> toml_edit::Table {
            let mut t = toml_edit::Table::new();
            for (k, v) in fields {
                t.insert(&k, toml_edit::Item::Value(v));
            }
            t
        }

        /// A field: mostly plausible, sometimes anything.
        fn field() -> impl Strategy<Value = (String, Value)> {
            prop_oneof![3 => plausible(), 1 => (key(), value())]
        }

        /// A whole document: a scenario table, components with a kind and fields, faults, and
        /// sometimes junk at the top level.
        pub fn document() -> impl Strategy<Value = String> {
            let names = &["users", "api", "db", "lb", "dns", "resolver", "net", "mon"][..];
            let scenario = (
                prop::sample::select(&["1h", "2x", "0s", "10m"][..]),
                prop::collection::vec(field(), 0..2),
            );
            let component = (
                prop::sample::select(STRINGS),
                prop::collection::vec(field(), 0..5),
            );
            let fault = (
                prop::sample::select(
                    &[
                        "crash",
                        "traffic_surge",
                        "boom",
                        "config_change",
                        "gossip_corruption",
                    ][..],
                ),
                prop::sample::select(names),
                prop::sample::select(&["1m", "3h", "x"][..]),
                prop::collection::vec(
                    prop::sample::select(
                        &[
                            "multiplier = 2.0",
                            "replicas = [0, 5]",
                            "ramp = \"1m\"",
                            "duration = \"5m\"",
                            "set = { workers = 4, \"health_check.kind\" = \"deep\" }",
                            "set = { replicas = 2, \"calls.0.timeout\" = 5, \"a b\" = 1 }",
                            "rollout = \"1m\"",
                            "batch = 2",
                            "name = \"f\"",
                        ][..],
                    ),
                    0..3,
                ),
            );
            let alarm = prop::collection::vec(
                prop::sample::select(
                    &[
                        "name = \"a\"",
                        "monitor = \"mon\"",
                        "group = \"api\"",
                        "group = \"users\"",
                        "metric = \"availability\"",
                        "metric = \"utilization\"",
                        "metric = \"gossip_rate\"",
                        "below = 0.9",
                        "above = 2.0",
                        "for = \"1m\"",
                        "missing = \"breaching\"",
                    ][..],
                ),
                0..6,
            );
            let action = (
                prop::sample::select(
                    &[
                        "rollback",
                        "end_fault",
                        "block",
                        "shed_load",
                        "dns_failover",
                        "restart",
                        "clear_gossip",
                        "scale",
                        "nap",
                    ][..],
                ),
                prop::collection::vec(
                    prop::sample::select(
                        &[
                            "at = \"1m\"",
                            "on = \"a\"",
                            "delay = \"1m\"",
                            "fault = \"f\"",
                            "target = \"api\"",
                            "target = \"db\"",
                            "target = \"dns\"",
                            "firewall = \"lb\"",
                            "source = \"users\"",
                            "fraction = 0.5",
                            "record = \"www.example.com\"",
                            "to = \"api\"",
                            "replicas = 1",
                            "provision = \"1m\"",
                        ][..],
                    ),
                    0..4,
                ),
            );
            (
                prop::option::weighted(0.9, scenario),
                prop::collection::vec((prop::sample::select(names), component), 0..6),
                prop::collection::vec(fault, 0..3),
                prop::option::weighted(0.2, (key(), value())),
                prop::collection::vec(alarm, 0..2),
                prop::collection::vec(action, 0..3),
            )
                .prop_map(|(scenario, comps, faults, junk, alarms, actions)| {
                    let mut doc = toml_edit::DocumentMut::new();
                    if let Some((duration, extra)) = scenario {
                        let mut t = table(extra);
                        t.insert("name", toml_edit::value("s"));
                        t.insert("duration", toml_edit::value(duration));
                        doc.insert("scenario", toml_edit::Item::Table(t));
                    }
                    let mut comp_table = toml_edit::Table::new();
                    for (name, (kind, fields)) in comps {
                        let mut t = table(fields);
                        t.insert("kind", toml_edit::value(kind));
                        comp_table.insert(name, toml_edit::Item::Table(t));
                    }
                    doc.insert("components", toml_edit::Item::Table(comp_table));
                    let mut aot = toml_edit::ArrayOfTables::new();
                    for (kind, target, at, extra) in faults {
                        let text = format!(
                            "kind = \"{kind}\"\ntarget = \"{target}\"\nat = \"{at}\"\n{}",
                            extra.join("\n")
                        );
                        if let Ok(d) = text.parse::<toml_edit::DocumentMut>() {
                            aot.push(d.as_table().clone());
                        }
                    }
                    if !aot.is_empty() {
                        doc.insert("faults", toml_edit::Item::ArrayOfTables(aot));
                    }
                    let tables = |entries: Vec<String>| {
                        let mut aot = toml_edit::ArrayOfTables::new();
                        for text in entries {
                            if let Ok(d) = text.parse::<toml_edit::DocumentMut>() {
                                aot.push(d.as_table().clone());
                            }
                        }
                        aot
                    };
                    let alarms = tables(alarms.into_iter().map(|f| f.join("\n")).collect());
                    if !alarms.is_empty() {
                        doc.insert("alarms", toml_edit::Item::ArrayOfTables(alarms));
                    }
                    let actions = tables(
                        actions
                            .into_iter()
                            .map(|(kind, f)| format!("kind = \"{kind}\"\n{}", f.join("\n")))
                            .collect(),
                    );
                    if !actions.is_empty() {
                        doc.insert("actions", toml_edit::Item::ArrayOfTables(actions));
                    }
                    if let Some((k, v)) = junk {
                        if !doc.contains_key(&k) {
                            doc.insert(&k, toml_edit::Item::Value(v));
                        }
                    }
                    doc.to_string()
                })
        }
    }

    /// Loads and renders; the point is that nothing panics.
    fn exercise(text: &str, sets: &[String]) {
        match load(text, "p.toml", sets) {
            Ok(spec) => {
                let _ = topology::describe(&spec);
                let _ = topology::dot(&spec);
                let _ = topology::graph(&spec);
            }
            Err(e) => {
                assert!(!e.problems.is_empty());
                let lines = text.lines().count() + 1;
                for p in &e.problems {
                    if let Origin::File { line, column } = p.origin {
                        assert!(line >= 1 && line <= lines.max(1) && column >= 1, "{p:?}");
                    }
                }
                let _ = e.to_string();
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_on_arbitrary_strings(text in any::<String>()) {
            exercise(&text, &[]);
        }

        #[test]
        fn never_panics_on_toml_like_strings(text in "[\\[\\]{}=,.\"a-z0-9 _\n-]{0,120}") {
            exercise(&text, &[]);
        }

        #[test]
        fn never_panics_on_generated_documents(
            text in docs::document(),
            sets in prop::collection::vec(
                (prop::collection::vec(docs::key(), 1..4), prop::sample::select(&["3", "\"1s\"", "{attempts=3}", "[1, 2]", "x", "", "0"][..]))
                    .prop_map(|(path, v)| format!("{}={v}", path.join("."))),
                0..3,
            ),
        ) {
            exercise(&text, &sets);
        }

        #[test]
        fn never_panics_on_edited_scenarios(
            which in any::<prop::sample::Index>(),
            edit in 0u8..3,
            a in any::<prop::sample::Index>(),
            b in any::<prop::sample::Index>(),
            c in prop::sample::select(&['"', '=', '[', ']', '{', '}', '.', ',', '0', '-', 'x', ' ', '\n', '#'][..]),
        ) {
            let text = SHIPPED[which.index(SHIPPED.len())];
            let edited = match edit {
                0 => {
                    // Replace one character.
                    let chars: Vec<char> = text.chars().collect();
                    let i = a.index(chars.len());
                    chars.iter().enumerate().map(|(j, &x)| if j == i { c } else { x }).collect::<String>()
                }
                1 => {
                    // Delete one line.
                    let lines: Vec<&str> = text.lines().collect();
                    let i = a.index(lines.len());
                    lines.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, l)| *l).collect::<Vec<_>>().join("\n")
                }
                _ => {
                    // Swap the values of two `key = value` lines.
                    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
                    let kv: Vec<usize> = (0..lines.len()).filter(|&j| lines[j].contains(" = ") && !lines[j].starts_with('#')).collect();
                    let (i, j) = (kv[a.index(kv.len())], kv[b.index(kv.len())]);
                    let split = |l: &str| l.split_once(" = ").map(|(k, v)| (k.to_owned(), v.to_owned()));
                    if let (Some((ki, vi)), Some((kj, vj))) = (split(&lines[i]), split(&lines[j])) {
                        lines[i] = format!("{ki} = {vj}");
                        lines[j] = format!("{kj} = {vi}");
                    }
                    lines.join("\n")
                }
            };
            exercise(&edited, &[]);
        }
    }
}
