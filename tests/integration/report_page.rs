//! `report.html`: written with every run, well-formed, self-contained (no address of any
//! resource), with the figures of summary.json, the plots inline, the timeline and what-ifs.

use std::path::Path;

use crate::common::{WEB_LIGHT, outagesim, scratch, text};

/// Checks that `s` is well-formed XML after its doctype: tags nest and close, attributes are
/// quoted, entities are the five XML ones or numeric. Returns the element names seen.
fn well_formed(s: &str) -> Vec<String> {
    let body = s
        .strip_prefix("<!DOCTYPE html>\n")
        .expect("an HTML5 doctype first");
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut i = 0;
    let b = body.as_bytes();
    while i < b.len() {
        match b[i] {
            b'<' => {
                let end = body[i..].find('>').map(|e| i + e).expect("a closed tag");
                let tag = &body[i + 1..end];
                if let Some(c) = tag.strip_prefix("!--") {
                    assert!(c.ends_with("--"), "comment {tag}");
                } else if let Some(name) = tag.strip_prefix('/') {
                    let open = stack
                        .pop()
                        .unwrap_or_else(|| panic!("</{name}> closes nothing"));
                    assert_eq!(open, name.trim(), "mismatched close at byte {i}");
                } else {
                    let self_closing = tag.ends_with('/');
                    let inner = tag.trim_end_matches('/');
                    let name: String = inner.chars().take_while(|c| !c.is_whitespace()).collect();
                    assert!(!name.is_empty(), "empty tag at {i}");
                    // Attributes: name="value" pairs.
                    let mut rest = inner[name.len()..].trim();
                    while !rest.is_empty() {
                        let eq = rest
                            .find('=')
                            .unwrap_or_else(|| panic!("attribute without value in <{tag}>"));
                        let after = &rest[eq + 1..];
                        let q = after.chars().next().unwrap();
                        assert!(q == '"' || q == '\'', "unquoted attribute in <{tag}>");
                        let close = after[1..].find(q).expect("closed quote") + 2;
                        rest = after[close..].trim_start();
                    }
                    seen.push(name.clone());
                    if !self_closing {
                        stack.push(name);
                    }
                }
                i = end + 1;
            }
            b'&' => {
                let end = body[i..]
                    .find(';')
                    .map(|e| i + e)
                    .expect("an entity ends with ;");
                let ent = &body[i + 1..end];
                assert!(
                    ["amp", "lt", "gt", "quot", "apos"].contains(&ent)
                        || ent
                            .strip_prefix('#')
                            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit())),
                    "entity &{ent};"
                );
                i = end + 1;
            }
            _ => i += 1,
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    seen
}

fn check_page(dir: &Path) -> String {
    let page = std::fs::read_to_string(dir.join("report.html")).expect("report.html written");
    let elements = well_formed(&page);
    for e in ["html", "head", "body", "table", "svg"] {
        assert!(elements.iter().any(|x| x == e), "no <{e}>");
    }
    // Self-contained: no address of anything to fetch.
    for bad in [
        "http://", "https://", "src=", "<script", "<link", "@import", "url(",
    ] {
        assert!(!page.contains(bad), "{bad} in report.html");
    }
    // The figures of summary.json, as the page shows them.
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    for (name, c) in s["clients"].as_object().unwrap() {
        let requests = c["requests"].as_u64().unwrap();
        let avail = format!("{:.3}%", c["availability"].as_f64().unwrap() * 100.0);
        let row = format!("<tr><td>{name}</td><td>{requests}</td><td>{avail}</td>");
        assert!(page.contains(&row), "{row}");
    }
    for (name, c) in s["components"].as_object().unwrap() {
        let row = format!(
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td>",
            c["kind"].as_str().unwrap(),
            c["replicas"],
            c["arrivals"]
        );
        assert!(page.contains(&row), "{row}");
    }
    let failed = format!(
        "user requests failed: {:.3}%",
        s["blast_radius"]["failed_request_fraction"]
            .as_f64()
            .unwrap()
            * 100.0
    );
    assert!(page.contains(&failed), "{failed}");
    // Every SVG plot is inline.
    let svgs = std::fs::read_dir(dir.join("plots"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "svg")
        })
        .count();
    assert!(svgs > 0);
    assert_eq!(page.matches("<svg").count(), svgs);
    page
}

#[test]
fn a_run_writes_a_self_contained_page_with_its_summary_and_plots() {
    let dir = scratch("report-page-run");
    let out = dir.join("out");
    let o = outagesim(&[
        "run",
        "scenarios/web-three-tier.toml",
        "--set",
        "scenario.duration=25m",
        WEB_LIGHT[0],
        WEB_LIGHT[1],
        WEB_LIGHT[2],
        WEB_LIGHT[3],
        "--quiet",
        "--threads",
        "2",
        "--partitioned",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let page = check_page(&out);
    assert!(
        page.contains("chronically down"),
        "scrapers are listed apart"
    );
    assert!(!page.contains("What-ifs"));
    // The same bytes on a second run with another thread count.
    let again = dir.join("again");
    let o = outagesim(&[
        "run",
        "scenarios/web-three-tier.toml",
        "--set",
        "scenario.duration=25m",
        WEB_LIGHT[0],
        WEB_LIGHT[1],
        WEB_LIGHT[2],
        WEB_LIGHT[3],
        "--quiet",
        "--threads",
        "1",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        page,
        std::fs::read_to_string(again.join("report.html")).unwrap()
    );
}

#[test]
fn with_what_ifs_the_page_has_the_timeline_and_the_what_ifs_side_by_side() {
    let dir = scratch("report-page-what-ifs");
    let out = dir.join("out");
    let o = outagesim(&[
        "run",
        "scenarios/s3-2008-gossip.toml",
        "--set",
        // 40 minutes: the gossip-storm alarm fires at 08:36.
        "scenario.duration=40m",
        // A tenth of the users: the page's content is about the timeline and the what-ifs.
        "--set",
        "components.customers.rate=20",
        "--set",
        "components.cached-site.rate=5",
        "--what-ifs",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let page = check_page(&out);
    assert!(page.contains("<table id=\"timeline\">"));
    assert!(page.contains("error rates climb"));
    assert!(page.contains("<pre id=\"what-ifs\">"));
    assert!(page.contains("checksums on state messages"));
    // The scenario has a clock (08:00 PDT): the plots' x axes read clock time, and the alarm
    // legend says when it fired on that clock.
    assert!(page.contains("time (PDT)"));
    assert!(page.contains("08:10"));
    assert!(
        page.contains("alarm: gossip-storm (at 08:36"),
        "alarm legend in clock time"
    );
}
