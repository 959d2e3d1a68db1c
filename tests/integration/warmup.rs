//! `scenario.warmup`: the start of a run left out of the summary, fixed or estimated by MSER-5,
//! checked against the M/M/c closed form on a queue that starts empty under heavy load.

use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, run};
use outagesim::scenario;

use crate::common::{outagesim, scratch, text};

/// M/M/c with c = 200 servers, λ = 3/s and a mean service time of 1 minute (offered load
/// 180, ρ = 0.9). The system starts empty, so in the first minutes only short services
/// complete and the latency series ramps up to its steady state.
const QUEUE: &str = r#"
[scenario]
name = "warm"
duration = "30m"
seed = 1
bucket = "30s"

[network]
same_zone = "0s"

[components.users]
kind = "client"
rate = 3.0
target = "api"
timeout = "2h"

[components.api]
kind = "service"
workers = 200
queue = 100000
service_time = { dist = "exponential", mean = "1m" }
"#;

/// Erlang C: probability that an arrival waits in an M/M/c queue with offered load a = λ/μ.
fn erlang_c(c: u32, a: f64) -> f64 {
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..c {
        term *= a / f64::from(k);
        sum += term;
    }
    let last = term * a / f64::from(c) * f64::from(c) / (f64::from(c) - a);
    last / (sum + last)
}

fn simulate(sets: &[String]) -> Summary {
    let spec = scenario::load(QUEUE, "warm.toml", sets).unwrap_or_else(|e| panic!("{e}"));
    let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
    summarize(&r, 0.0)
}

#[test]
fn auto_warmup_brings_the_mean_latency_closer_to_the_closed_form() {
    // E[T] = 1/μ + C(c, a) / (cμ - λ). One seed's error is noise as often as bias, so over 10
    // seeds: the untruncated means sit below E[T] (the empty start pulls them down), and both
    // the mean and the mean distance of the truncated ones are closer to it.
    let (lambda, mu) = (3.0, 1.0 / 60.0);
    let et = 1.0 / mu + erlang_c(200, lambda / mu) / (200.0 * mu - lambda);
    let (mut full_sum, mut cut_sum, mut full_err, mut cut_err) = (0.0, 0.0, 0.0, 0.0);
    let seeds = 10;
    for seed in 1..=seeds {
        let s = format!("scenario.seed={seed}");
        let full = simulate(std::slice::from_ref(&s));
        let cut = simulate(&[s, "scenario.warmup=auto".into()]);
        assert_eq!(full.warmup_s, None);
        let w = cut.warmup_s.expect("auto records its truncation");
        // MSER-5 searches the first half, in batches of 5 buckets.
        assert!((0.0..=900.0).contains(&w) && w % 150.0 == 0.0, "{w}");
        let latency = |s: &Summary| s.clients["users"].latency_s.as_ref().unwrap().mean;
        let (f, c) = (latency(&full), latency(&cut));
        eprintln!("seed {seed}: warm-up {w} s, mean latency {f:.3} s, truncated {c:.3} s");
        full_sum += f;
        cut_sum += c;
        full_err += (f - et).abs();
        cut_err += (c - et).abs();
        if w > 0.0 {
            assert!(cut.clients["users"].requests < full.clients["users"].requests);
        }
    }
    let n = f64::from(seeds);
    let (full_mean, cut_mean) = (full_sum / n, cut_sum / n);
    assert!(
        full_mean < et - 1.0,
        "untruncated {full_mean:.3} s, E[T] {et:.3} s"
    );
    assert!(
        (cut_mean - et).abs() < (full_mean - et).abs() && cut_err < full_err,
        "E[T] {et:.3} s: truncated {cut_mean:.3} s (mean distance {:.3}), untruncated {full_mean:.3} s ({:.3})",
        cut_err / n,
        full_err / n
    );
}

#[test]
fn a_fixed_warmup_is_rounded_up_to_whole_buckets() {
    let s = simulate(&["scenario.warmup=100s".into()]);
    assert_eq!(s.warmup_s, Some(120.0));
    let full = simulate(&[]);
    assert!(s.clients["users"].requests < full.clients["users"].requests);
    // summary.json carries it only when set.
    let json: serde_json::Value =
        serde_json::from_slice(&outagesim::report::summary_json(&s)).unwrap();
    assert_eq!(json["warmup_s"], 120.0);
    let json: serde_json::Value =
        serde_json::from_slice(&outagesim::report::summary_json(&full)).unwrap();
    assert!(json.get("warmup_s").is_none());
}

#[test]
fn a_warmup_as_long_as_the_run_is_a_located_error() {
    let dir = scratch("warmup-bad");
    let file = dir.join("warm.toml");
    let body = QUEUE.replace("seed = 1\n", "seed = 1\nwarmup = \"30m\"\n");
    std::fs::write(&file, body).unwrap();
    let o = outagesim(&["validate", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("warm.toml:6:"), "{err}");
    assert!(
        err.contains("the warm-up 30m is not shorter than the run (30m)"),
        "{err}"
    );
    // Neither a word other than "auto".
    std::fs::write(
        &file,
        QUEUE.replace("seed = 1\n", "seed = 1\nwarmup = \"soon\"\n"),
    )
    .unwrap();
    let o = outagesim(&["validate", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("soon"), "{}", text(&o.stderr));
}
