//! Load balancers with a fallback: another site's group takes the requests when the local
//! backends are not healthy enough; the apology page is the last step; loops are refused.

use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, run};
use outagesim::scenario;

/// Two sites, each a load balancer over its own front end; site a's front end hangs at 2m.
/// `lb_a` adds settings to site a's load balancer.
fn two_sites(lb_a: &str) -> String {
    format!(
        r#"
[scenario]
name = "fallback"
duration = "20m"
seed = 6
bucket = "1m"

[components.users]
kind = "client"
rate = 50.0
target = "lb-a"
timeout = "5s"

[components.lb-a]
kind = "load_balancer"
backends = "front-a"
timeout = "2s"
health_check = {{ kind = "deep", interval = "5s", timeout = "1s", unhealthy = 2, healthy = 2 }}
{lb_a}

[components.front-a]
kind = "service"
replicas = 2
workers = 20
service_time = "5ms"

[components.front-b]
kind = "service"
replicas = 2
workers = 20
service_time = "5ms"

[[faults]]
name = "front-a hangs"
kind = "hang"
target = "front-a"
at = "2m"
duration = "10m"
"#
    )
}

fn simulate(text: &str) -> Summary {
    let spec = scenario::load(text, "fallback.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    summarize(
        &run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap(),
        0.0,
    )
}

#[test]
fn a_load_balancer_falls_back_to_another_site_when_its_own_is_down() {
    // Without a fallback: errors for the 10 minutes of the hang (an apology page at best).
    let alone = simulate(&two_sites("when_none_healthy = \"apology\""));
    let u = &alone.clients["users"];
    assert!(u.degraded > 0, "{u:?}");
    // With one: after the deep checks mark both front-a replicas down (2 x 5 s), site b serves
    // every request; only the ~10 s before that fail. 10 s of 20 minutes: availability about
    // 99.2%, all of it real answers, not apology pages.
    let s = simulate(&two_sites(
        "when_none_healthy = \"apology\"\nfallback = [\"front-b\"]",
    ));
    let u = &s.clients["users"];
    assert_eq!(u.degraded, 0, "{u:?}");
    assert!(u.availability > 0.985, "{u:?}");
    assert!(
        s.components["front-b"].served > 25_000,
        "{:?}",
        s.components["front-b"]
    );
    // The fallback is the load balancer's dependency: the blast radius and describe see it.
    assert!(s.components.contains_key("front-b"));
}

#[test]
fn fallback_below_moves_traffic_before_every_backend_is_down() {
    // One of site a's two front-end replicas hangs: with fallback_below = 0.75, one healthy
    // of two (50%) is too few, and site b takes the requests; with the default (0: only when
    // none is healthy) site a's healthy replica carries them all.
    let one = |extra: &str| {
        simulate(
            &two_sites(&format!("fallback = [\"front-b\"]\n{extra}")).replace(
                "duration = \"10m\"\n",
                "duration = \"10m\"\nreplicas = [0]\n",
            ),
        )
    };
    let default = one("");
    // Site b serves only the deep probes: 2 replicas, one every 5 s, for 20 minutes.
    assert_eq!(default.components["front-b"].served, 480);
    let eager = one("fallback_below = 0.75");
    assert!(eager.components["front-b"].served > 20_000);
}

#[test]
fn fallback_settings_are_checked() {
    let problems = |text: &str| match scenario::load(text, "f.toml", &[]) {
        Ok(_) => panic!("expected problems in:\n{text}"),
        Err(e) => e.to_string(),
    };
    // A fallback without a health check could never trigger.
    let e = problems(
        &two_sites("fallback = [\"front-b\"]").replace(
            "health_check = { kind = \"deep\", interval = \"5s\", timeout = \"1s\", unhealthy = 2, healthy = 2 }\n",
            "",
        ),
    );
    assert!(e.contains("a fallback needs a health check"), "{e}");
    let e = problems(&two_sites("fallback = [\"front-c\"]"));
    assert!(
        e.contains("fallback.0") && e.contains("unknown component 'front-c'"),
        "{e}"
    );
    let e = problems(&two_sites("fallback_below = 0.5"));
    assert!(e.contains("'fallback_below' needs a fallback"), "{e}");
    // Two sites' load balancers falling back on each other: a redirect loop.
    let e = problems(
        &(two_sites("fallback = [\"lb-b\"]")
            + "\n[components.lb-b]\nkind = \"load_balancer\"\nbackends = \"front-b\"\nhealth_check = { interval = \"5s\" }\nfallback = [\"lb-a\"]\n"),
    );
    assert!(e.contains("dependency cycle: lb-a -> lb-b -> lb-a"), "{e}");
}
