//! `report.html`: one self-contained page per run: the summary, the timeline beside the
//! published one, the what-ifs side by side, the blast radius, and the run's plots inlined as
//! SVG. No scripts, fonts, images or styles from elsewhere: it opens without a network.
//!
//! The markup is well-formed XML (every element closed, every attribute quoted, text escaped),
//! and the page holds no wall-clock time, so it is the same bytes for any thread count.

use std::fmt::Write;

use super::replay::{self, Outcome, TimelineRow};
use super::{duration, pct, secs};
use crate::model::spec::Spec;
use crate::model::summary::Summary;

/// What a page shows besides the summary.
pub struct Page<'a> {
    pub spec: &'a Spec,
    pub summary: &'a Summary,
    pub timeline: &'a [TimelineRow],
    /// The baseline first, then each what-if (empty without `--what-ifs`).
    pub outcomes: &'a [Outcome],
    /// (file name, SVG text) of each plot, in order.
    pub plots: Vec<(String, String)>,
}

/// Escapes text for HTML (and XML) content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:80em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0}\
td,th{border:1px solid #ccc;padding:0.2em 0.6em;text-align:right}\
td:first-child,th:first-child{text-align:left}\
th{background:#f0f0f0}pre{background:#f7f7f7;padding:0.8em;overflow-x:auto}\
figure{display:inline-block;margin:0.5em;vertical-align:top}\
figure svg{max-width:100%;height:auto}.none{color:#888}";

fn row(o: &mut String, cells: &[String], head: bool) {
    let tag = if head { "th" } else { "td" };
    o.push_str("<tr>");
    for c in cells {
        let _ = write!(o, "<{tag}>{}</{tag}>", escape(c));
    }
    o.push_str("</tr>\n");
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// An SVG document made fit to sit inside HTML: without its XML declaration, and without
/// namespace declarations (HTML gives inline `svg` its namespace), so the page names no
/// address at all.
fn inline_svg(svg: &str) -> String {
    let body = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => return String::new(),
    };
    let mut out = body.to_owned();
    for attr in [
        " xmlns=\"http://www.w3.org/2000/svg\"",
        " xmlns:xlink=\"http://www.w3.org/1999/xlink\"",
    ] {
        out = out.replace(attr, "");
    }
    out
}

/// The page.
pub fn html(p: &Page<'_>) -> String {
    let s = p.summary;
    let mut o = String::new();
    let title = format!("outagesim: {}", s.scenario);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&s.scenario)
    );
    let _ = writeln!(
        o,
        "<p>seed {}, simulated {}, {} events</p>",
        s.seed,
        duration(s.duration_s),
        s.events
    );

    // What users saw.
    o.push_str("<h2>What users saw</h2>\n<table id=\"clients\">\n");
    row(
        &mut o,
        &strings(&[
            "client",
            "requests",
            "availability",
            "degraded",
            "errors",
            "timeouts",
            "downtime",
            "longest",
            "p50",
            "p99",
        ]),
        true,
    );
    for (name, c) in &s.clients {
        let (p50, p99) = c
            .latency_s
            .as_ref()
            .map_or(("-".to_owned(), "-".to_owned()), |l| {
                (secs(l.p50), secs(l.p99))
            });
        row(
            &mut o,
            &[
                name.clone(),
                c.requests.to_string(),
                pct(c.availability),
                c.degraded.to_string(),
                c.errors.to_string(),
                c.timeouts.to_string(),
                duration(c.downtime_s),
                duration(c.longest_outage_s),
                p50,
                p99,
            ],
            false,
        );
    }
    o.push_str("</table>\n<table id=\"components\">\n");
    row(
        &mut o,
        &strings(&[
            "component",
            "kind",
            "replicas",
            "arrivals",
            "rejected",
            "dropped",
            "denied",
            "utilisation",
            "wait",
            "max queue",
        ]),
        true,
    );
    for (name, c) in &s.components {
        row(
            &mut o,
            &[
                name.clone(),
                c.kind.to_owned(),
                c.replicas.to_string(),
                c.arrivals.to_string(),
                c.rejected.to_string(),
                c.dropped.to_string(),
                c.denied.to_string(),
                format!("{:.1}%", c.mean_utilization * 100.0),
                secs(c.mean_wait_s),
                c.max_queue.to_string(),
            ],
            false,
        );
    }
    o.push_str("</table>\n");

    // The incident.
    o.push_str("<h2>Incident</h2>\n");
    match super::incident_line(&s.incident) {
        Some(line) => {
            let _ = writeln!(o, "<p id=\"incident\">{}</p>", escape(&line));
        }
        None => {
            o.push_str("<p id=\"incident\" class=\"none\">no client group went below the SLO</p>\n")
        }
    }

    // The timeline beside the published one.
    if !p.spec.replay.published.is_empty() {
        o.push_str("<h2>Timeline: published and simulated</h2>\n<table id=\"timeline\">\n");
        row(
            &mut o,
            &strings(&[
                "event",
                "published",
                "simulated",
                "difference",
                "matched to",
            ]),
            true,
        );
        let clock = p.spec.replay.clock.as_ref();
        let at = |t: f64| clock.map_or_else(|| duration(t), |c| c.format(t));
        for r in p.timeline {
            let published = r.published.as_ref().map_or(String::new(), |x| x.1.clone());
            let (simulated, mut matched) = match &r.simulated {
                Some((l, Some(t))) => (at(*t), l.clone()),
                Some((l, None)) => ("not reached".to_owned(), l.clone()),
                None => (String::new(), String::new()),
            };
            // A moment of the run that no published event names is its own label.
            if r.published.is_none() {
                matched.clear();
            }
            let diff = r.difference_s().map_or(String::new(), |d| {
                let sign = if d < 0.0 { "-" } else { "+" };
                format!("{sign}{}", duration(d.abs().round()))
            });
            row(
                &mut o,
                &[r.event.clone(), published, simulated, diff, matched],
                false,
            );
        }
        o.push_str("</table>\n");
    }

    // What-ifs side by side.
    if !p.outcomes.is_empty() {
        o.push_str("<h2>What-ifs beside the baseline</h2>\n<pre id=\"what-ifs\">");
        o.push_str(&escape(&replay::what_ifs_text(p.outcomes)));
        o.push_str("</pre>\n");
    }

    // Blast radius.
    let b = &s.blast_radius;
    o.push_str("<h2>Blast radius</h2>\n<ul id=\"blast-radius\">\n");
    let names = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    let _ = writeln!(
        o,
        "<li>client groups impacted: {}/{} ({}); at most {} at once</li>",
        b.clients.impacted.len(),
        s.clients.len(),
        escape(&names(&b.clients.impacted)),
        pct(b.clients.peak_fraction)
    );
    if !b.chronically_down.is_empty() {
        let _ = writeln!(
            o,
            "<li>chronically down (below the SLO before any fault, not counted above): {}</li>",
            escape(&b.chronically_down.join(", "))
        );
    }
    let _ = writeln!(
        o,
        "<li>component groups impacted: {} ({})</li>",
        b.components.impacted.len(),
        escape(&names(&b.components.impacted))
    );
    let _ = writeln!(
        o,
        "<li>user requests failed: {}</li>",
        pct(b.failed_request_fraction)
    );
    let _ = writeln!(
        o,
        "<li>origins: {}; the impact travelled {} dependency hop{}</li>",
        escape(&names(&b.origins)),
        b.max_hops,
        if b.max_hops == 1 { "" } else { "s" }
    );
    o.push_str("</ul>\n");
    if !b.hops.is_empty() {
        o.push_str("<table id=\"hops\">\n");
        row(
            &mut o,
            &strings(&["impacted group", "hops from an origin"]),
            true,
        );
        for (g, h) in &b.hops {
            row(&mut o, &[g.clone(), h.to_string()], false);
        }
        o.push_str("</table>\n");
    }

    // Plots.
    o.push_str("<h2>Plots</h2>\n");
    if p.plots.is_empty() {
        o.push_str("<p class=\"none\">no plots (the run was made with --no-plots)</p>\n");
    }
    for (name, svg) in &p.plots {
        let _ = writeln!(
            o,
            "<figure>\n{}\n<figcaption>{}</figcaption>\n</figure>",
            inline_svg(svg).trim_end(),
            escape(name)
        );
    }
    o.push_str("</body>\n</html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_svg_loses_its_declarations() {
        assert_eq!(escape("a<b & \"c\"'"), "a&lt;b &amp; &quot;c&quot;&#39;");
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"10\" xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>\n";
        assert_eq!(inline_svg(svg), "<svg width=\"10\"><rect/></svg>\n");
    }
}
