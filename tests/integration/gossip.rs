//! Gossip membership: spreading time, failure detection, corruption and its defences.

use outagesim::model::node::LogEntry;
use outagesim::model::spec::Spec;
use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, RunResult, run};
use outagesim::scenario;

fn load(toml: &str) -> Spec {
    scenario::load(toml, "test.toml", &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn go(spec: Spec) -> (Summary, RunResult) {
    let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
    (summarize(&r, 0.0), r)
}

fn store(n: u32, duration: &str, seed: u64, rate: f64) -> String {
    format!(
        r#"
[scenario]
name = "gossip"
duration = "{duration}"
seed = {seed}
bucket = "10s"

[components.users]
kind = "client"
rate = {rate}
target = "store"
timeout = "2s"

[components.store]
kind = "storage"
replicas = {n}
"#
    )
}

fn adopt_times(log: &[LogEntry], detail: &str) -> Vec<u64> {
    log.iter()
        .filter(|e| e.kind == "gossip_adopt" && e.detail == detail)
        .map(|e| e.time)
        .collect()
}

/// Time (in gossip intervals) for replica 0's new incarnation to reach every other node after
/// it restarts at 20 s.
fn spread_rounds(n: u32, seed: u64) -> f64 {
    // The entry reaches 1,000 nodes within about 20 rounds of the restart at 20 s.
    let toml = store(n, "1m", seed, 1.0)
        + "gossip = { fail_after = \"1h\" }\n\n[[faults]]\nname = \"reboot\"\nkind = \"crash\"\n\
           target = \"store\"\nat = \"10s\"\nduration = \"10s\"\nreplicas = [0]\n";
    let spec = load(&toml);
    let (_, r) = go(spec);
    let times = adopt_times(&r.log, "store[0] incarnation 2");
    assert_eq!(
        times.len() as u32,
        n - 1,
        "every other node adopts the new entry once"
    );
    let last = *times.iter().max().unwrap();
    (last - 20_000_000_000) as f64 / 1e9
}

/// Push gossip (one random peer per round) informs everyone in log2 N + ln N rounds (Pittel,
/// 1987) plus a constant; the finite-N constants differ between N = 100 and N = 1000 by a
/// fraction of a round. Here rounds run asynchronously (every node on its own phase, a node
/// informed mid-round pushes before the round ends) and the restarted node announces itself at
/// once, so absolute times are somewhat shorter than the synchronous formula: the test checks
/// them within [0.6, 1.1] of it, and the growth, t(1000) / t(100), within 12% of the formula's
/// ratio (1.50). Over six seeds the mean spread time has a standard error of about 0.3
/// rounds, about 4% of the ratio: a tolerance of 12% is three standard errors.
#[test]
fn a_new_entry_reaches_all_nodes_in_logarithmic_time() {
    let theory = |n: f64| n.log2() + n.ln();
    let mean = |n: u32| (1..=6).map(|s| spread_rounds(n, s)).sum::<f64>() / 6.0;
    let (t100, t1000) = (mean(100), mean(1000));
    for (n, t) in [(100.0, t100), (1000.0, t1000)] {
        let x = t / theory(n);
        assert!(
            (0.6..=1.1).contains(&x),
            "N={n}: {t:.2} rounds, {x:.2} of theory"
        );
    }
    let ratio = t1000 / t100;
    let expected = theory(1000.0) / theory(100.0);
    assert!(
        (ratio / expected - 1.0).abs() <= 0.12,
        "t(1000)/t(100) = {ratio:.3}, log2 N + ln N predicts {expected:.3}"
    );
}
/// 100 storage nodes gossiping once a second, one corrupted message from replica 0 at 10m
/// (`corruption` adds the fault's settings); `gossip_extra` adds gossip settings, `extra` more
/// tables (an action...).
fn bitflip(
    checksums: bool,
    gossip_extra: &str,
    corruption: &str,
    extra: &str,
) -> (Summary, RunResult) {
    bitflip_for("30m", checksums, gossip_extra, corruption, extra)
}

/// `bitflip` over another duration.
fn bitflip_for(
    duration: &str,
    checksums: bool,
    gossip_extra: &str,
    corruption: &str,
    extra: &str,
) -> (Summary, RunResult) {
    let toml = format!(
        r#"
[scenario]
name = "bitflip"
duration = "{duration}"
seed = 3
bucket = "1m"

[components.users]
kind = "client"
rate = 200.0
target = "store"
timeout = "2s"
retry = {{ attempts = 3 }}

[components.store]
kind = "storage"
replicas = 100
gossip = {{ interval = "1s", fanout = 1, fail_after = "30s", checksums = {checksums}{gossip_extra} }}

[[faults]]
name = "bitflip"
kind = "gossip_corruption"
target = "store"
at = "10m"
{corruption}
{extra}"#
    );
    go(load(&toml))
}

const CLEAR: &str = r#"
[[actions]]
name = "clear and rebuild"
kind = "clear_gossip"
target = "store"
at = "20m"
restart_time = "1m"
restart_batch = 50
"#;

fn availability(r: &RunResult) -> Vec<f64> {
    r.client_series()
        .next()
        .unwrap()
        .1
        .iter()
        .map(|b| b.availability().unwrap_or(f64::NAN))
        .collect()
}

fn downs<'a>(r: &'a RunResult, of: &str) -> Vec<&'a LogEntry> {
    r.log
        .iter()
        .filter(|e| e.kind == "gossip_down" && e.target == of)
        .collect()
}

#[test]
fn a_raised_heartbeat_spreads_and_makes_every_view_judge_its_peers_failed_until_cleared() {
    // Bit 31 of replica 0's own heartbeat: the entry claims a heartbeat 2^31 rounds ahead. It
    // wins every merge, so every view's newest heartbeat jumps and every genuine one lags:
    // each node but replica 0 (the authority on its own entry) judges its 98 other peers
    // failed about 30 s later, and only replica 0's entry looks alive.
    let (s, r) = bitflip(false, "", "", CLEAR);
    let all_downs = r.log.iter().filter(|e| e.kind == "gossip_down").count();
    assert!(all_downs >= 99 * 98, "{all_downs} gossip_down rows");
    assert!(
        downs(&r, "store[0]").is_empty(),
        "the raised entry itself looks alive"
    );
    // No key has two replicas believed alive anywhere but at replica 0: from 11m the fleet
    // serves (almost) nothing, until the clear at 20m. Restarts of a minute in two batches
    // and a few rounds of gossip bring every key back by 23m.
    let a = availability(&r);
    for (b, &x) in a.iter().enumerate().take(20).skip(11) {
        assert!(x < 0.05, "minute {b}: availability {x}");
    }
    for (b, &x) in a.iter().enumerate().skip(23) {
        assert!(x > 0.99, "minute {b}: availability {x} after the rebuild");
    }
    let complete: Vec<u64> = r
        .log
        .iter()
        .filter(|e| e.kind == "gossip_complete")
        .map(|e| e.time)
        .collect();
    assert_eq!(
        complete.len(),
        100,
        "every node's view completes once after the clear"
    );
    assert_eq!(s.incident.actions, 1);
    assert!(s.clients["users"].time_to_recover_s.is_some());
    // Without a clear it never ends: the genuine heartbeats need 2^31 rounds to catch up.
    let (s, r) = bitflip(false, "", "", "");
    assert!(availability(&r).iter().skip(11).all(|&x| x < 0.05));
    assert_eq!(s.clients["users"].time_to_recover_s, None);
}

#[test]
fn with_checksums_the_same_corruption_does_nothing() {
    let (s, r) = bitflip(true, "", "", "");
    assert!(r.log.iter().all(|e| e.kind != "gossip_down"));
    assert!(
        s.clients["users"].availability > 0.999,
        "{}",
        s.clients["users"].availability
    );
}

#[test]
fn the_consequences_of_a_flip_follow_from_the_bit_and_the_field() {
    // At 10m the sender's heartbeat is round 600, binary 1001011000. Bit 2 raises it by 4
    // rounds, less than fail_after (30): absorbed. Bit 3 lowers it by 8: the entry loses
    // every merge.
    for bit in [2, 3] {
        let (s, r) = bitflip(false, "", &format!("bit = {bit}"), "");
        assert!(r.log.iter().all(|e| e.kind != "gossip_down"), "bit {bit}");
        assert!(s.clients["users"].availability > 0.999);
    }
    // Bit 7 raises it by 128 rounds: from 30 s after the flip every view judges its peers
    // failed, until the genuine heartbeats come within 30 rounds of the raised one, 98 s
    // after it; then the fleet heals by itself.
    let (s, r) = bitflip(false, "", "bit = 7", "");
    let all = r.log.iter().filter(|e| e.kind == "gossip_down").count();
    assert!(all >= 99 * 98, "{all}");
    let ups = r.log.iter().filter(|e| e.kind == "gossip_up").count();
    assert!(ups >= 99 * 98, "{ups} gossip_up rows: the fleet heals");
    let a = availability(&r);
    assert!(a[11] < 0.5, "minute 11: {}", a[11]);
    assert!(a.iter().skip(12).all(|&x| x > 0.99), "{a:?}");
    assert!(s.clients["users"].time_to_recover_s.is_some());
    // A raised incarnation of replica 5: its genuine heartbeats lose every merge, so every
    // view fails it for good, even after it restarts (its next incarnation is still lower).
    // One node of 100 down costs quorums of 2 out of 3 nothing.
    let restart = "\n[[faults]]\nname = \"reboot\"\nkind = \"crash\"\ntarget = \"store\"\nat = \"15m\"\nduration = \"30s\"\nreplicas = [5]\n";
    let (s, r) = bitflip(false, "", "field = \"incarnation\"\nentry = 5", restart);
    let d = downs(&r, "store[5]");
    assert!(d.len() >= 98, "{} views fail store[5]", d.len());
    assert!(
        r.log
            .iter()
            .all(|e| e.kind != "gossip_down" || e.target == "store[5]")
    );
    let back = r
        .log
        .iter()
        .filter(|e| {
            e.kind == "gossip_up" && e.target == "store[5]" && e.time > 16 * 60 * 1_000_000_000
        })
        .count();
    assert_eq!(back, 0, "no view takes store[5] back after its restart");
    assert!(s.clients["users"].availability > 0.99);
    // A flipped status: replica 0's peers believe it failed until its next heartbeat.
    let (_, r) = bitflip(false, "", "field = \"status\"", "");
    let d = downs(&r, "store[0]");
    assert!(!d.is_empty() && d.len() <= 3, "{} views", d.len());
    assert!(
        r.log
            .iter()
            .filter(|e| e.kind == "gossip_up" && e.target == "store[0]")
            .count()
            == d.len()
    );
}

#[test]
fn gossip_about_failed_servers_is_a_storm_of_the_predicted_size() {
    // After the raised heartbeat, each of the 99 nodes other than replica 0 holds 98 peers
    // failed; with failed_fanout = 1 it sends 1 + 98 messages a round, replica 0 sends 1:
    // 99 x 99 + 1 = 9,802 messages a second, 588,120 a minute, against 6,000 before. Rounds
    // run on each node's own phase, so a minute's bucket holds 60 rounds of each node give
    // or take one: the check allows 2%.
    // 16 minutes: the storm's first 5 full minutes are enough to count one.
    let storm = |extra: &str| {
        let (_, r) = bitflip_for("16m", false, extra, "", "");
        r.server_series()
            .find(|(g, _)| g.name == "store")
            .unwrap()
            .1
            .to_vec()
    };
    let loud = storm(", failed_fanout = 1");
    let before = loud[5].gossip as f64;
    assert!((before / 6_000.0 - 1.0).abs() < 0.02, "{before}");
    let during = loud[15].gossip as f64;
    assert!((during / 588_120.0 - 1.0).abs() < 0.02, "{during}");
    // Each storm message carries 100 table entries and 98 failure entries at 2 us each:
    // merging takes 99 x 99 x 198 x 2 us = 3.9 worker-seconds a second, against 0.02 before.
    let busy = loud[15].gossip_busy_ns / 60e9;
    assert!(
        (busy / (99.0 * 99.0 * 198.0 * 2e-6) - 1.0).abs() < 0.03,
        "{busy}"
    );
    // The announced fix, telling about a failure for 3 rounds only: after them, the volume
    // is back to rounds alone though the views stay wrong.
    let quiet = storm(", failed_fanout = 1, failed_rounds = 3");
    let q = quiet[15].gossip as f64;
    assert!((q / 6_000.0 - 1.0).abs() < 0.02, "{q}");
    let burst: u64 = quiet[10..12].iter().map(|b| b.gossip).sum();
    assert!(burst >= 3 * 99 * 98, "{burst}: three rounds of news");
}

#[test]
fn storage_quorums_skip_peers_their_view_holds_failed() {
    // Two of five nodes crash for good at 60 s: with fail_after 30 s, coordinators stop
    // asking them, so reads of quorum 2 out of 3 keep succeeding where the dead ones hold
    // fewer than two of a key's copies. A load balancer with health checks keeps users off
    // the dead coordinators. With 5 nodes and 3 copies, C(3,1) of the C(5,3) = 10 replica
    // sets hold both dead nodes (random placement): 30% of the keys are lost, so
    // availability settles near 70%.
    let toml = store(5, "10m", 4, 100.0).replace("target = \"store\"", "target = \"lb\"")
        + "replication_factor = 3\nkey_placement = \"random\"\n\n[components.lb]\nkind = \"load_balancer\"\nbackends = \"store\"\nhealth_check = { interval = \"2s\" }\n\n[[faults]]\nname = \"two\"\nkind = \"crash\"\ntarget = \"store\"\nat = \"1m\"\nreplicas = [1, 2]\n";
    let r = go(load(&toml)).1;
    let late: Vec<f64> = availability(&r).into_iter().skip(12).collect();
    let mean = late.iter().sum::<f64>() / late.len() as f64;
    assert!((mean - 0.7).abs() < 0.05, "{late:?}");
}

/// Two replicas of a 12-node store with keys on a ring (one point per node) or at random.
fn lost_keys(placement: &str) -> f64 {
    // Retries go to another coordinator (for the same key), so a dead coordinator costs
    // (2/12)^5 of the requests.
    let toml = format!(
        "{}replication_factor = 3\nread_quorum = 2\nkey_placement = \"{placement}\"\nvnodes = 1\n\n[[faults]]\nname = \"two\"\nkind = \"crash\"\ntarget = \"store\"\nat = \"1m\"\nreplicas = [3, 7]\n",
        store(12, "5m", 1, 400.0).replace(
            "timeout = \"2s\"\n",
            "timeout = \"2s\"\nretry = { attempts = 5 }\n"
        )
    );
    let r = go(load(&toml)).1;
    let late: Vec<f64> = availability(&r).into_iter().skip(12).collect();
    1.0 - late.iter().sum::<f64>() / late.len() as f64
}

#[test]
fn a_keyed_store_loses_the_keys_whose_replica_sets_hold_both_failed_nodes() {
    // With random replica sets, C(10,1) / C(12,3) = 4.5% of the keys have both; 10,000 keys
    // give a binomial error of 0.2%, requests (400/s over 3 minutes after detection)
    // another 0.2%: the check allows 1%.
    let random = lost_keys("random");
    assert!((random - 0.045).abs() < 0.01, "{random}");
}

#[test]
fn read_availability_per_key_is_the_k_of_n_closed_form() {
    // Each of 12 nodes fails independently (up a share a = 40m / 50m = 0.8 of the time); a
    // key with 3 copies and read quorum 2 is readable when at least 2 of its copies are up:
    // 3 a^2 (1 - a) + a^3 = 0.896, whatever the placement. Retries (5 attempts) reach a live
    // coordinator for the same key.
    //
    // Tolerance: 300 simulated hours hold about 360 failures per node; the share of time a
    // key is readable is a renewal-reward average known to about ±0.7% (one standard error,
    // from the spread between seeds). fail_after is 4 ln N rounds (no false suspicion, see
    // below); views learn of a repaired node within a few rounds against 10 minutes down: a
    // bias of about 0.3% (measured against the same run without gossip). The check allows 2%.
    let toml = store(12, "300h", 9, 1.0)
        .replace(
            "timeout = \"2s\"\n",
            "timeout = \"2s\"\nretry = { attempts = 5 }\n",
        )
        .replace("bucket = \"10s\"", "bucket = \"1h\"")
        + "replication_factor = 3\nread_quorum = 2\ngossip = { interval = \"1s\", fail_after = \"10s\" }\n\n[[failures]]\ntarget = \"store\"\nmtbf = { dist = \"exponential\", mean = \"40m\" }\nmttr = { dist = \"exponential\", mean = \"10m\" }\n";
    let (s, _) = go(load(&toml));
    let a: f64 = 0.8;
    let expect = 3.0 * a * a * (1.0 - a) + a.powi(3);
    let got = s.clients["users"].availability;
    assert!((got - expect).abs() < 0.02, "{got} against {expect}");
}

/// When every other node judges replica 0 failed after it crashes at 60 s, in seconds after
/// the crash.
fn detection(n: u32, fail_after: &str, seed: u64) -> Vec<f64> {
    let toml = store(n, "3m", seed, 1.0)
        + &format!(
            "gossip = {{ fail_after = \"{fail_after}\" }}\n\n[[faults]]\nname = \"down\"\nkind = \"crash\"\ntarget = \"store\"\nat = \"60s\"\nreplicas = [0]\n"
        );
    let (_, r) = go(load(&toml));
    downs(&r, "store[0]")
        .iter()
        .map(|e| e.time as f64 / 1e9 - 60.0)
        .collect()
}

#[test]
fn failures_are_detected_after_fail_after_within_logarithmic_rounds() {
    // A view judges the crashed node failed once its last heartbeat lags the view's newest by
    // more than fail_after (30 rounds). A view holds that last heartbeat, or one a few rounds
    // older (push gossip needs about log2 N + ln N rounds to carry it everywhere), so every
    // view decides between fail_after - (log2 N + ln N) - 2 and fail_after + 2 rounds (a
    // round for the judging node's phase, one for the heartbeat's).
    for n in [50u32, 200] {
        let t = detection(n, "30s", 5);
        assert_eq!(
            t.len() as u32,
            n - 1,
            "N = {n}: every other view fails it once"
        );
        let spread = (n as f64).log2() + (n as f64).ln();
        let (lo, hi) = (30.0 - spread - 2.0, 32.0);
        assert!(t.iter().all(|&x| (lo..=hi).contains(&x)), "N = {n}: {t:?}");
    }
}

#[test]
fn no_false_suspicion_once_fail_after_is_four_times_ln_n_rounds() {
    // Entries age in views by the rounds gossip needs to carry them (about log2 N + ln N,
    // 1.44 ln N + ln N = 2.4 ln N, with a tail): with fail_after at 4 ln N rounds no live peer
    // is judged failed in 10 minutes of 200 nodes; at ln N rounds many are (the check can fail).
    let n = 200u32;
    let rounds = |k: f64| format!("{}s", (k * (n as f64).ln()).ceil());
    let false_downs = |fail_after: String| {
        let toml =
            store(n, "10m", 8, 1.0) + &format!("gossip = {{ fail_after = \"{fail_after}\" }}\n");
        let (_, r) = go(load(&toml));
        r.log.iter().filter(|e| e.kind == "gossip_down").count()
    };
    assert_eq!(false_downs(rounds(4.0)), 0);
    assert!(false_downs(rounds(1.0)) > 0);
}

/// Seconds from a clear of an N-node store (restarts of a minute, 10 at a time) until every
/// view holds every node alive.
fn rebuild(n: u32) -> f64 {
    let toml = store(n, "20m", 2, 1.0)
        + "\n[[actions]]\nname = \"clear\"\nkind = \"clear_gossip\"\ntarget = \"store\"\nat = \"1m\"\nrestart_time = \"1m\"\nrestart_batch = 10\n";
    let (_, r) = go(load(&toml));
    let done: Vec<u64> = r
        .log
        .iter()
        .filter(|e| e.kind == "gossip_complete")
        .map(|e| e.time)
        .collect();
    assert_eq!(done.len() as u32, n, "N = {n}: every view completes once");
    *done.iter().max().unwrap() as f64 / 1e9 - 60.0
}

#[test]
fn the_rebuild_takes_longer_with_a_bigger_fleet_as_restart_capacity_predicts() {
    // The last batch is back after ceil(N / 10) minutes; the views then need a few rounds of
    // gossip to learn of it (about log2 N + ln N, under 20 at these sizes).
    for n in [20u32, 40, 80] {
        let t = rebuild(n);
        let back = (n as f64 / 10.0).ceil() * 60.0;
        assert!(
            (back..=back + 20.0).contains(&t),
            "N = {n}: {t} s, last restart at {back} s"
        );
    }
}
