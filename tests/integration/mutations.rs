//! Loading never panics on a damaged scenario: shipped scenarios' text with bytes replaced,
//! inserted or deleted and lines deleted or repeated is loaded (with its what-ifs) and either
//! gives a scenario or located errors. The fuzz targets under fuzz/ search further; this is
//! the part CI runs.

use proptest::prelude::*;

/// The shipped scenarios' text, read once.
fn shipped() -> &'static [(String, String)] {
    static TEXTS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    TEXTS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut v: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .map(|p| {
                (
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    })
}

/// One edit: (kind, where as a fraction of the text, a byte).
#[derive(Debug, Clone)]
enum Edit {
    Replace(f64, u8),
    Insert(f64, u8),
    Delete(f64),
    DeleteLine(f64),
    RepeatLine(f64),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to TOML and to values: brackets, quotes, digits, signs, dots, units.
    let byte = prop_oneof![
        Just(b'['),
        Just(b']'),
        Just(b'{'),
        Just(b'}'),
        Just(b'"'),
        Just(b'='),
        Just(b','),
        Just(b'.'),
        Just(b'-'),
        Just(b'\n'),
        Just(b'#'),
        b'0'..=b'9',
        b'a'..=b'z',
        32u8..127,
    ];
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), byte.clone()).prop_map(|(a, b)| Edit::Replace(a, b)),
        (at.clone(), byte).prop_map(|(a, b)| Edit::Insert(a, b)),
        at.clone().prop_map(Edit::Delete),
        at.clone().prop_map(Edit::DeleteLine),
        at.prop_map(Edit::RepeatLine),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for e in edits {
        let pos = |f: f64, len: usize| ((f * len as f64) as usize).min(len.saturating_sub(1));
        match *e {
            Edit::Replace(f, b) if !bytes.is_empty() => {
                let i = pos(f, bytes.len());
                bytes[i] = b;
            }
            Edit::Insert(f, b) => {
                let i = pos(f, bytes.len() + 1);
                bytes.insert(i, b);
            }
            Edit::Delete(f) if !bytes.is_empty() => {
                bytes.remove(pos(f, bytes.len()));
            }
            Edit::DeleteLine(f) | Edit::RepeatLine(f) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
                if lines.is_empty() {
                    continue;
                }
                let i = pos(f, lines.len());
                if matches!(e, Edit::DeleteLine(_)) {
                    lines.remove(i);
                } else {
                    lines.insert(i, lines[i]);
                }
                bytes = lines.concat().into_bytes();
            }
            _ => {}
        }
    }
    // Edits of ASCII bytes inside a multi-byte character can break UTF-8; the CLI refuses
    // such a file before loading (located), so loading sees text.
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn loading_a_damaged_shipped_scenario_never_panics(
        which in 0usize..64,
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let all = shipped();
        let (file, text) = &all[which % all.len()];
        let damaged = apply(text, &edits);
        if let Ok(spec) = outagesim::scenario::load(&damaged, file, &[]) {
            for i in 0..spec.replay.what_ifs.len() {
                let _ = outagesim::scenario::load_what_if(&damaged, file, &[], &spec, i);
            }
            let _ = outagesim::scenario::topology::describe(&spec);
        }
        let _ = outagesim::scenario::settings_view(&damaged, file, &[]);
    }
}
