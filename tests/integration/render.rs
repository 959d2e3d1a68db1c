//! `report.html` as a browser shows it: a run's page opened in headless Chromium renders
//! without a console message, its rendered DOM holds the figures of `summary.json` and every
//! plot, and its screenshot is not blank.
//!
//! Without a Chromium binary (`chromium`, `chromium-browser`, `google-chrome`, or the path in
//! `OUTAGESIM_CHROMIUM`) the test prints a notice and passes, so `cargo test` works anywhere;
//! `.ci/run` sets `OUTAGESIM_REQUIRE_CHROMIUM=1`, which turns the skip into a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{outagesim, scratch, text};

/// The Chromium binary to use, if any.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OUTAGESIM_CHROMIUM") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Chromium, or `None` after a notice when the test may skip; panics when
/// `OUTAGESIM_REQUIRE_CHROMIUM` is set and there is none.
fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        let required = std::env::var("OUTAGESIM_REQUIRE_CHROMIUM").is_ok_and(|v| v != "0");
        assert!(
            !required,
            "OUTAGESIM_REQUIRE_CHROMIUM is set but no chromium binary was found (PATH, or OUTAGESIM_CHROMIUM)"
        );
        println!(
            "SKIPPED {test}: no chromium binary found (install the Debian package chromium, or set OUTAGESIM_CHROMIUM)"
        );
    }
    found
}

/// Runs headless Chromium on `page` with `args` (its profile under `dir`), killing it after two
/// minutes; returns stdout and stderr.
fn headless(bin: &Path, dir: &Path, page: &Path, args: &[String]) -> (Vec<u8>, String) {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(args)
        .arg(&url)
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Drain both pipes on threads so a chatty browser cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut b).ok();
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut b).ok();
        b
    });
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let (o, e) = (out_t.join().unwrap(), text(&err_t.join().unwrap()));
            assert!(status.success(), "chromium failed ({status}):\n{e}");
            return (o, e);
        }
        if start.elapsed() > Duration::from_secs(120) {
            child.kill().ok();
            child.wait().ok();
            panic!("chromium did not finish in two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The console messages (log, warning, error, uncaught exception) in Chromium's log.
fn console_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

/// The cells of each `<tr>` of `html` (text between `<td>`/`<th>` and their close).
fn rows(html: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for tr in html.split("<tr>").skip(1) {
        let tr = tr.split("</tr>").next().unwrap_or("");
        let cells = tr
            .split("<td")
            .skip(1)
            .map(|c| {
                let c = &c[c.find('>').map_or(0, |i| i + 1)..];
                c.split("</td>").next().unwrap_or("").to_owned()
            })
            .collect();
        out.push(cells);
    }
    out
}

#[test]
fn report_html_renders_in_headless_chromium_with_the_summary_figures() {
    let Some(bin) = chromium_or_skip("report_html_renders_in_headless_chromium") else {
        return;
    };
    let dir = scratch("render-report");
    let out = dir.join("out");
    let o = outagesim(&[
        "run",
        "scenarios/web-three-tier.toml",
        "--set",
        "scenario.duration=25m",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let page = out.join("report.html");

    // The DOM after parsing and rendering.
    let (dom, log) = headless(&bin, &dir, &page, &["--dump-dom".to_owned()]);
    let dom = text(&dom);
    assert!(
        console_lines(&log).is_empty(),
        "console messages:\n{}",
        console_lines(&log).join("\n")
    );
    assert!(
        dom.contains("<title>outagesim: web-three-tier</title>"),
        "{dom:.400}"
    );
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let rows = rows(&dom);
    let row_of = |name: &str| {
        rows.iter()
            .find(|r| r.first().is_some_and(|c| c == name) && r.len() > 3)
            .unwrap_or_else(|| panic!("no table row for {name} in the rendered page"))
    };
    for (name, c) in s["clients"].as_object().unwrap() {
        let r = row_of(name);
        assert_eq!(r[1], c["requests"].as_u64().unwrap().to_string(), "{name}");
        let shown: f64 = r[2].trim_end_matches('%').parse().unwrap();
        let a = c["availability"].as_f64().unwrap() * 100.0;
        assert!((shown - a).abs() <= 0.0005 + 1e-9, "{name}: {shown} vs {a}");
    }
    for (name, c) in s["components"].as_object().unwrap() {
        let r = row_of(name);
        assert_eq!(r[1], c["kind"].as_str().unwrap(), "{name}");
        assert_eq!(r[2], c["replicas"].to_string(), "{name}");
        assert_eq!(r[3], c["arrivals"].to_string(), "{name}");
    }
    let failed = s["blast_radius"]["failed_request_fraction"]
        .as_f64()
        .unwrap();
    assert!(
        dom.contains(&format!("user requests failed: {:.3}%", failed * 100.0)),
        "failed fraction"
    );
    // Every plot is in the rendered page as an SVG element with its axes' text.
    let plots = std::fs::read_dir(out.join("plots"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "svg")
        })
        .count();
    assert!(plots >= 3, "{plots} plots");
    assert_eq!(dom.matches("<svg").count(), plots);
    assert!(dom.contains("time since start"));

    // The screenshot: rendered, not blank (the plots' ink covers a good part of it).
    let shot = dir.join("page.png");
    let (_, log) = headless(
        &bin,
        &dir,
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400".to_owned(),
            "--hide-scrollbars".to_owned(),
        ],
    );
    assert!(console_lines(&log).is_empty(), "{log}");
    let mut dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 2400));
    let px = info.color_type.samples();
    let bytes = &buf[..info.buffer_size()];
    let inked = bytes
        .chunks(px)
        .filter(|p| p.iter().take(3).any(|&v| v < 200))
        .count();
    let total = (info.width * info.height) as usize;
    assert!(
        inked * 100 > total,
        "only {inked} of {total} pixels are not near-white: the page looks blank"
    );
}

#[test]
fn the_console_filter_sees_script_errors() {
    // The check above is only as good as its reading of Chromium's log: a page that logs and
    // throws must show up in it.
    let Some(bin) = chromium_or_skip("the_console_filter_sees_script_errors") else {
        return;
    };
    let dir = scratch("render-console");
    let page = dir.join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>x</p><script>console.error('boom'); missing();</script></body></html>",
    )
    .unwrap();
    let (_, log) = headless(&bin, &dir, &page, &["--dump-dom".to_owned()]);
    let lines = console_lines(&log);
    assert!(lines.iter().any(|l| l.contains("boom")), "{log}");
    assert!(lines.iter().any(|l| l.contains("missing")), "{log}");
}

/// A PNG's width and height, from its IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{} is a PNG", path.display());
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

/// A points.csv column by name, as numbers (NaN where empty).
fn column(dir: &Path, name: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(dir.join("points.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header
        .iter()
        .position(|h| *h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    lines
        .map(|l| l.split(',').nth(i).unwrap().parse().unwrap_or(f64::NAN))
        .collect()
}

/// M/M/10 with 5 waiting places: rates 2, 3 and 4 per second are served, 30 per second is
/// three times the capacity, so most requests are refused while the few served are as fast
/// as ever.
fn overload_sweep(name: &str, rates: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    let out = dir.join("out");
    let o = outagesim(&[
        "sweep",
        "scenarios/mmc.toml",
        "--param",
        &format!("components.users.rate={rates}"),
        "--set",
        "components.api.queue=5",
        "--set",
        "scenario.duration=5m",
        "--replications",
        "2",
        "--seed",
        "3",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    out
}

#[test]
fn a_sweep_latency_has_availability_beside_it_and_dashes_across_a_wide_gap() {
    let out = overload_sweep("render-sweep-latency", "2,3,4,30");
    // The collapse is real: at 30/s most requests fail, yet the successes' p99 stays low.
    let avail = column(&out, "users.availability_mean");
    let p99 = column(&out, "users.latency_p99_s_mean");
    assert_eq!(avail.len(), 4);
    assert!(avail[3] < 0.5 && avail[0] > 0.99, "{avail:?}");
    assert!(p99[3] < 10.0 * p99[0].max(1.0), "{p99:?}");

    let o = outagesim(&[
        "plot",
        out.to_str().unwrap(),
        "--metric",
        "users.latency_p99_s",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let svg = std::fs::read_to_string(out.join("plots/users.latency_p99_s.svg")).unwrap();
    // The availability panel under the latency, on the same points.
    assert!(
        svg.contains("users.availability (fraction of requests)"),
        "lower panel"
    );
    assert!(svg.contains("lower panel"));
    assert!(svg.contains("users.latency_p99_s (s)"));
    assert_eq!(
        png_size(&out.join("plots/users.latency_p99_s.png")),
        (1200, 1000)
    );
    // A dot at each measured point in both panels (legend keys are not circles of radius 4).
    let dots = svg.matches("<circle").count();
    assert!(dots >= 8, "{dots} dots");
    // 4 -> 30 is more than twice the median spacing (1): dashed, and said so.
    assert!(svg.contains("gap: nothing measured between"));

    // Availability alone needs no second panel.
    let svg = std::fs::read_to_string(out.join("plots/availability.svg")).unwrap();
    assert!(!svg.contains("lower panel"));
    assert_eq!(png_size(&out.join("plots/availability.png")), (1200, 700));
}

#[test]
fn evenly_spaced_sweep_values_are_joined_by_solid_lines_only() {
    let out = overload_sweep("render-sweep-even", "2,3,4,5");
    let svg = std::fs::read_to_string(out.join("plots/availability.svg")).unwrap();
    assert!(!svg.contains("gap: nothing measured between"));
    assert!(svg.contains("mean (dot), 95% CI (band)"));
}

#[test]
fn a_sweep_over_names_draws_dots_and_bars_without_lines() {
    let dir = scratch("render-sweep-names");
    let out = dir.join("out");
    let o = outagesim(&[
        "sweep",
        "scenarios/mmc.toml",
        "--param",
        "components.api.queue=unbounded,20,2",
        "--set",
        "components.users.rate=11",
        "--set",
        "scenario.duration=5m",
        "--replications",
        "2",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let svg = std::fs::read_to_string(out.join("plots/availability.svg")).unwrap();
    assert!(
        svg.contains("mean (dot), 95% CI (bar)"),
        "names are not joined"
    );
    // No band (a filled polygon) between names.
    assert!(!svg.contains("<polygon"), "a band across names");
}

#[test]
fn a_run_plots_its_latency_over_its_availability() {
    let dir = scratch("render-run-latency");
    let out = dir.join("out");
    let o = outagesim(&[
        "run",
        "scenarios/mmc.toml",
        "--set",
        "components.users.rate=30",
        "--set",
        "components.api.queue=5",
        "--set",
        "scenario.duration=10m",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let users = &s["clients"]["users"];
    assert!(users["availability"].as_f64().unwrap() < 0.5, "{users}");
    assert!(
        users["latency_s"]["p99"].as_f64().unwrap() < 30.0,
        "{users}"
    );
    let svg = std::fs::read_to_string(out.join("plots/latency.svg")).unwrap();
    assert!(
        svg.contains("p99 latency of successes (s)")
            || svg.contains("p99 latency of successes (ms)")
    );
    assert!(svg.contains("availability (fraction of requests)"));
    assert!(svg.contains("a gap: none succeeded"));
    assert_eq!(png_size(&out.join("plots/latency.png")), (1200, 1000));
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        page.contains("p99 latency of successes"),
        "inlined in report.html"
    );
}
