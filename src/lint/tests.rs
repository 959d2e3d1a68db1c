//! Each warning on a small scenario that has exactly that flaw, and none on a clean one.

use super::*;

fn spec(text: &str) -> Spec {
    crate::scenario::parse(text, "t.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn checks(text: &str) -> Vec<Warning> {
    lint(&spec(text))
}

/// Users behind DNS failover between two regions' load balancers, each with two app replicas
/// in two zones; timeouts shrink downwards; one retry layer; health checks faster than the
/// TTL.
const CLEAN: &str = r#"
[scenario]
name = "clean"
duration = "10m"

[components.users]
kind = "client"
region = "east"
rate = 10.0
target = "www.example.com"
resolver = "resolver"
timeout = "5s"
retry = { attempts = 3, backoff = "exponential" }

[components.resolver]
kind = "resolver"
region = "east"
replicas = 2
zones = ["east-a", "east-b"]
dns = "dns"
timeout = "1s"

[components.dns]
kind = "dns"
region = "east"
replicas = 2
zones = ["east-a", "east-b"]
health_check = { interval = "5s", unhealthy = 2 }

[[components.dns.records]]
name = "www.example.com"
ttl = "30s"
policy = "failover"
targets = ["lb-east", "lb-west"]

[components.lb-east]
kind = "load_balancer"
region = "east"
replicas = 2
zones = ["east-a", "east-b"]
backends = "app-east"
timeout = "1s"

[components.app-east]
kind = "service"
region = "east"
replicas = 2
zones = ["east-a", "east-b"]

[components.lb-west]
kind = "load_balancer"
region = "west"
replicas = 2
zones = ["west-a", "west-b"]
backends = "app-west"
timeout = "1s"

[components.app-west]
kind = "service"
region = "west"
replicas = 2
zones = ["west-a", "west-b"]
"#;

#[test]
fn a_clean_scenario_gets_no_warning() {
    assert_eq!(checks(CLEAN), vec![]);
}

#[test]
fn a_group_every_path_needs_with_one_replica_or_zone_is_a_single_point_of_failure() {
    // The client needs the resolver whatever record target it gets; with one replica it is
    // a single point of failure. The load balancers are alternatives: not flagged.
    let one = CLEAN.replacen(
        "replicas = 2\nzones = [\"east-a\", \"east-b\"]\ndns = \"dns\"",
        "dns = \"dns\"",
        1,
    );
    let w = checks(&one);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].check, "single-point-of-failure");
    assert_eq!(w[0].path, "components.resolver.replicas");
    assert!(
        w[0].message.contains("users") && w[0].message.contains("one replica"),
        "{w:?}"
    );
    assert!(w[0].fix.contains("replicas = 2"));
    // Both DNS replicas in one zone: a zone failure takes it.
    let zone = CLEAN.replacen(
        "region = \"east\"\nreplicas = 2\nzones = [\"east-a\", \"east-b\"]\nhealth_check",
        "region = \"east\"\nreplicas = 2\nzones = [\"east-a\"]\nhealth_check",
        1,
    );
    let w = checks(&zone);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].path, "components.dns.zone");
    assert!(w[0].message.contains("zone east-a"), "{w:?}");
    // Pointing the record at one load balancer makes the whole east side required: for users
    // in the west, a region east outage is a single point of failure (for users in the east
    // it would take them too, and is not flagged).
    let one_target = CLEAN.replacen(
        "targets = [\"lb-east\", \"lb-west\"]",
        "targets = [\"lb-east\"]",
        1,
    );
    assert_eq!(checks(&one_target), vec![]);
    let region = one_target.replacen("region = \"east\"\nrate", "region = \"west\"\nrate", 1);
    let paths: Vec<String> = checks(&region).into_iter().map(|w| w.path).collect();
    assert_eq!(
        paths,
        vec![
            "components.resolver.region",
            "components.dns.region",
            "components.lb-east.region",
            "components.app-east.region"
        ],
    );
}

#[test]
fn a_callee_trying_longer_than_its_caller_waits_is_flagged() {
    // lb-east: 3 attempts of 2s = 6s, but users give up after 5s.
    let text = CLEAN.replacen(
        "backends = \"app-east\"\ntimeout = \"1s\"",
        "backends = \"app-east\"\ntimeout = \"2s\"\nretry = { attempts = 3 }",
        1,
    );
    let w = checks(&text);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].check, "timeout-order");
    assert_eq!(w[0].path, "components.lb-east.timeout");
    assert!(
        w[0].message.contains("2s x 3 attempts = 6s"),
        "{}",
        w[0].message
    );
    assert!(
        w[0].message.contains("users gave up at 5s"),
        "{}",
        w[0].message
    );
    assert!(
        w[0].fix.contains("components.users.timeout"),
        "{}",
        w[0].fix
    );
}

#[test]
fn attempts_multiplied_along_a_path_above_ten_are_flagged() {
    // users 3 x lb-west 2 x app-west 3 (a call to a store) = 18 > 10.
    let text = format!(
        "{}\ncalls = [{{ target = \"store\", timeout = \"100ms\", retry = {{ attempts = 3 }} }}]\n\n[components.store]\nkind = \"storage\"\nregion = \"west\"\nreplicas = 3\nzones = [\"west-a\", \"west-b\"]\n",
        CLEAN.replacen(
            "backends = \"app-west\"\ntimeout = \"1s\"",
            "backends = \"app-west\"\ntimeout = \"1s\"\nretry = { attempts = 2 }",
            1,
        )
    );
    let w = checks(&text);
    let amp: Vec<_> = w
        .iter()
        .filter(|w| w.check == "retry-amplification")
        .collect();
    assert_eq!(amp.len(), 1, "{w:#?}");
    assert_eq!(amp[0].path, "components.users.retry.attempts");
    assert!(
        amp[0].message.contains("18 attempts at store")
            && amp[0]
                .message
                .contains("users (3x) -> lb-west (2x) -> app-west (3x) -> store"),
        "{}",
        amp[0].message
    );
    // A budget on the client's retries caps them: 1.1 x 2 x 3 = 6.6, no warning.
    let budget = text.replacen(
        "retry = { attempts = 3, backoff = \"exponential\" }",
        "retry = { attempts = 3, backoff = \"exponential\", budget = 0.1 }",
        1,
    );
    assert!(
        checks(&budget)
            .iter()
            .all(|w| w.check != "retry-amplification"),
        "{:#?}",
        checks(&budget)
    );
}

#[test]
fn health_checks_slower_than_the_ttl_are_flagged() {
    // 10s x 4 = 40s to notice a dead target, but answers live 30s.
    let text = CLEAN.replacen(
        "health_check = { interval = \"5s\", unhealthy = 2 }",
        "health_check = { interval = \"10s\", timeout = \"2s\", unhealthy = 4 }",
        1,
    );
    let w = checks(&text);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].check, "health-check-vs-ttl");
    assert_eq!(w[0].path, "components.dns.health_check.interval");
    assert!(
        w[0].message.contains("after 40s") && w[0].message.contains("every 30s"),
        "{}",
        w[0].message
    );
    assert!(w[0].message.contains("components.dns.records.0.ttl"));
}

#[test]
fn rendered_warnings_point_at_the_setting_or_its_table() {
    let text = CLEAN.replacen(
        "health_check = { interval = \"5s\", unhealthy = 2 }",
        "health_check = { interval = \"10s\", timeout = \"2s\", unhealthy = 4 }",
        1,
    );
    let out = render(&lint(&spec(&text)), &text, "t.toml");
    let line = text
        .lines()
        .position(|l| l.starts_with("health_check = { interval = \"10s\""))
        .unwrap()
        + 1;
    let col = "health_check = { ".len() + 1;
    assert!(
        out.starts_with(&format!(
            "warning: t.toml:{line}:{col}: components.dns.health_check.interval: "
        )),
        "{out}"
    );
    assert!(out.contains("\n  fix: probe more often"), "{out}");
    assert_eq!(
        split_path("components.\"a.b\".x"),
        vec!["components", "a.b", "x"]
    );
}
