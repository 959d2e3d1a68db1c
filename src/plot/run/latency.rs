//! A run's latency plot: the p99 latency of each client group's successful requests over time,
//! with the groups' availability in a panel under it. A latency counts successes only, so a
//! bucket where nearly everything failed can show a low latency (or none at all); the
//! availability panel below shows such a collapse on the same time axis.

use super::{Run, availability_panel, with_legend};
use crate::plot::draw::{self, Area, Axes, Entry, Figure, Key, WIDTH};
use anyhow::Result;
use plotters::prelude::*;

/// Whether the run has a latency worth a plot: some bucket of some group has one.
pub(super) fn has_latency(run: &Run) -> bool {
    run.latency
        .iter()
        .any(|s| s.cells.iter().any(|c| c.2.is_some_and(f64::is_finite)))
}

/// The height of the latency panel, as a fraction of the area under the title.
const LATENCY_FRAC: f64 = 0.58;

pub(super) struct LatencyFig<'a>(pub(super) &'a Run);

impl Figure for LatencyFig<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, 1000)
    }

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<()> {
        let run = self.0;
        let body = draw::titled(
            root,
            &format!(
                "{}: p99 latency of successful requests, and availability",
                run.scenario
            ),
        )?;
        let (left, right) = with_legend(&body);
        let (_, h) = left.dim_in_pixel();
        let (top, bottom) = left.split_vertically((h as f64 * LATENCY_FRAC).round() as u32);

        // Milliseconds below a second, else seconds.
        let max = draw::extent(
            run.latency
                .iter()
                .flat_map(|s| s.cells.iter().filter_map(|c| c.2))
                .filter(|v| v.is_finite()),
        )
        .map_or(1.0, |e| e.1);
        let (scale, unit) = if max < 1.0 { (1e3, "ms") } else { (1.0, "s") };
        let y1 = if max > 0.0 { max * scale * 1.06 } else { 1.0 };
        let x_desc = run.x_desc();
        let y_desc = format!("p99 latency of successes ({unit})");
        let cf = run.clock_fmt();
        let mut axes = Axes::new(run.x_range(), (0.0, y1), &x_desc, &y_desc);
        if let Some(f) = &cf {
            axes.x_fmt = Some(f);
        }
        let mut plot = axes.draw(&top)?;
        run.overlay(&mut plot)?;
        // Colours by the group's place among the availability's groups, so both panels agree.
        let n = run.clients.len();
        for s in &run.latency {
            let i = run
                .clients
                .iter()
                .position(|c| c.name == s.name)
                .unwrap_or(0);
            let (col, w) = (draw::color(i), draw::width(i, n));
            let cells: Vec<(f64, f64, Option<f64>)> = s
                .cells
                .iter()
                .map(|&(a, b, v)| (a, b, v.filter(|v| v.is_finite()).map(|v| v * scale)))
                .collect();
            for seg in run.steps(&cells) {
                plot.line(&seg, col.stroke_width(w))?;
            }
        }

        let mut legend = availability_panel(run, &bottom)?;
        legend.push(Entry::new(Key::Heading, "upper panel: p99 latency"));
        legend.push(Entry::new(Key::Heading, "of successful requests;"));
        legend.push(Entry::new(Key::Heading, "a gap: none succeeded"));
        legend.push(Entry::new(Key::Heading, "lower panel: availability"));
        legend.extend(run.overlay_legend());
        draw::legend(&right, &legend)
    }
}
