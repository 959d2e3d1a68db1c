//! Loading any text as a scenario (TOML parse, validation, what-ifs) returns a value or
//! located errors; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = outagesim::scenario::load(text, "fuzz.toml", &[]) {
        for i in 0..spec.replay.what_ifs.len() {
            let _ = outagesim::scenario::load_what_if(text, "fuzz.toml", &[], &spec, i);
        }
        let _ = outagesim::scenario::topology::describe(&spec);
    }
    let _ = outagesim::scenario::settings_view(text, "fuzz.toml", &[]);
});
