//! Any scenario that loads runs for a few simulated seconds without panicking: the run is
//! cut to 5 s and bounded by the guards (events and pending events), so a runaway input
//! stops with a guard error instead of exhausting the fuzzer's memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outagesim::model::{Guard, RunOptions, run_guarded};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let sets = ["scenario.duration=5s".to_owned()];
    let Ok(spec) = outagesim::scenario::load(text, "fuzz.toml", &sets) else {
        return;
    };
    let guard = Guard {
        max_events: Some(2_000_000),
        max_pending: 1_000_000,
    };
    if let Ok(r) = run_guarded(spec, &RunOptions { threads: 1 }, &guard, &mut |_| {}) {
        let _ = outagesim::model::summary::summarize(&r, 0.0);
    }
});
