//! Drawing shared by every plot: the bundled font, the palette, a figure rendered to both PNG
//! and SVG, charts with padded ranges and clamped shapes, and a legend panel beside the chart.

use anyhow::{Context as _, Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Image width in pixels (PNG) and user units (SVG).
pub(super) const WIDTH: u32 = 1200;
/// Image height of a one-panel figure.
pub(super) const HEIGHT: u32 = 700;
/// Width of the legend panel at the right of a figure.
pub(super) const LEGEND_W: u32 = 300;

/// The family every text is drawn in: the bundled DejaVu Sans is registered under it.
pub(super) const FONT: &str = "sans-serif";
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the bundled font once; plotters' text drawing needs it.
fn fonts() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!(
            "the bundled font DejaVuSans.ttf could not be loaded"
        ))
    }
}

/// Line colours, in order (Tableau 10).
pub(super) static PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0xba, 0xb0, 0xac),
];
/// Shading colours for fault windows, in order (drawn translucent).
pub(super) static SHADES: [RGBColor; 6] = [
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0x76, 0xb7, 0xb2),
];
/// Alarms (dashed lines).
pub(super) static ALARM: RGBColor = RGBColor(0xc0, 0x1c, 0x28);
/// Actions (solid thin lines).
pub(super) static ACTION: RGBColor = RGBColor(0x1a, 0x5f, 0x2a);
/// Random failures (grey shading).
pub(super) static FAILURE: RGBColor = RGBColor(0x70, 0x70, 0x70);
pub(super) static INK: RGBColor = RGBColor(0x20, 0x20, 0x20);
pub(super) static MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
static GRID_LIGHT: RGBColor = RGBColor(0xee, 0xee, 0xee);
static GRID_BOLD: RGBColor = RGBColor(0xd4, 0xd4, 0xd4);

/// The i-th palette colour (cycling).
pub(super) fn color(i: usize) -> RGBColor {
    match PALETTE.get(i) {
        Some(&c) => c,
        // Past the palette: hues a golden angle apart, alternating lightness, so that no two
        // groups share a colour.
        None => {
            let k = i - PALETTE.len();
            let hue = (k as f64 * 137.507_764 + 15.0) % 360.0;
            let light = if k % 2 == 0 { 0.38 } else { 0.55 };
            hsl(hue, 0.65, light)
        }
    }
}

/// An RGB colour from hue (degrees), saturation and lightness (0..1).
fn hsl(h: f64, s: f64, l: f64) -> RGBColor {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let v = |t: f64| ((t + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    RGBColor(v(r), v(g), v(b))
}

/// Line widths for `n` lines drawn in order: the first widest, so that lines lying on one
/// another (all at availability 1, say) still show each colour as an edge.
pub(super) fn width(i: usize, n: usize) -> u32 {
    if (1..=4).contains(&n) {
        2 + (n - 1 - i.min(n - 1)) as u32 * 2
    } else {
        2
    }
}

/// A drawing area in pixels.
pub(super) type Area<DB> = DrawingArea<DB, Shift>;
/// A chart of f64 against f64.
pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Turns plotters' drawing errors into anyhow's.
pub(super) trait OrDraw<T> {
    fn or_draw(self) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync> OrDraw<T> for Result<T, DrawingAreaErrorKind<E>> {
    fn or_draw(self) -> Result<T> {
        self.map_err(|e| anyhow!("drawing failed: {e}"))
    }
}

/// Something drawn the same way on any backend.
pub(super) trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<()>;
}

/// Draws `fig` into `dir/<stem>.png` and `dir/<stem>.svg` (each written under a temporary
/// name, then moved into place) and returns both paths.
pub(super) fn save(dir: &Path, stem: &str, fig: &impl Figure) -> Result<Vec<PathBuf>> {
    fonts()?;
    let (w, h) = fig.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).or_draw()?;
        fig.draw(&root)?;
        root.present().or_draw()?;
    }
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).or_draw()?;
        fig.draw(&root)?;
        root.present().or_draw()?;
    }
    let png_path = dir.join(format!("{stem}.png"));
    let svg_path = dir.join(format!("{stem}.svg"));
    let png = encode_png(&rgb, w, h).with_context(|| format!("{}", png_path.display()))?;
    crate::files::write_atomic(&png_path, &png)?;
    crate::files::write_atomic(&svg_path, svg.as_bytes())?;
    Ok(vec![png_path, svg_path])
}

/// 8-bit RGB pixels as PNG bytes (no time or text chunks: the same pixels, the same bytes).
fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Balanced);
    let mut writer = enc.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

/// Creates `dir/plots/` and returns it.
pub(super) fn plots_dir(dir: &Path) -> Result<PathBuf> {
    let out = dir.join("plots");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    Ok(out)
}

/// A text style of the bundled font.
pub(super) fn text(size: u32, color: &'static RGBColor) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(color)
}

/// The figure's title across the top; returns the area below it.
pub(super) fn titled<DB: DrawingBackend>(root: &Area<DB>, title: &str) -> Result<Area<DB>> {
    root.margin(12, 0, 0, 0)
        .titled(&clip(title, 90), text(24, &INK))
        .or_draw()
}

/// A range that can be drawn: finite, ordered and of non-zero width (a single value gets a
/// margin around it); `pad` widens it by that fraction on each side.
pub(super) fn range(lo: f64, hi: f64, pad: f64) -> (f64, f64) {
    let (lo, hi) = match (lo.is_finite(), hi.is_finite()) {
        (true, true) if lo <= hi => (lo, hi),
        (true, true) => (hi, lo),
        (true, false) => (lo, lo),
        (false, true) => (hi, hi),
        (false, false) => (0.0, 1.0),
    };
    let width = hi - lo;
    if width <= f64::EPSILON * lo.abs().max(hi.abs()).max(1e-300) {
        let m = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        return (lo - m, hi + m);
    }
    (lo - width * pad, hi + width * pad)
}

/// The smallest and largest finite values, if any.
pub(super) fn extent(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// A tick formatter for an axis spanning `span`: enough decimals to tell ticks apart, no more.
pub(super) fn ticks(span: f64) -> impl Fn(&f64) -> String {
    let decimals = if span.is_finite() && span > 0.0 {
        (-(span / 8.0).log10()).ceil().clamp(0.0, 9.0) as usize
    } else {
        2
    };
    move |v: &f64| number(*v, decimals)
}

/// `v` with `decimals` decimals, trailing zeros kept out, no "-0".
pub(super) fn number(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    if s == "-0" { "0".to_owned() } else { s }
}

/// A time unit for an axis: seconds per unit and its symbol.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct TimeUnit {
    pub secs: f64,
    pub name: &'static str,
}

/// The unit that keeps times up to `span_s` readable.
pub(super) fn time_unit(span_s: f64) -> TimeUnit {
    let (secs, name) = if span_s.is_nan() || span_s <= 180.0 {
        (1.0, "s")
    } else if span_s <= 3.0 * 3600.0 {
        (60.0, "min")
    } else if span_s <= 72.0 * 3600.0 {
        (3600.0, "h")
    } else {
        (86400.0, "d")
    };
    TimeUnit { secs, name }
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub(super) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(3)).collect();
        t.push_str("...");
        t
    }
}

/// A chart on `area` over the x and y ranges, with a mesh, tick labels and axis titles.
pub(super) struct Axes<'t> {
    pub caption: Option<&'t str>,
    pub x: (f64, f64),
    pub y: (f64, f64),
    pub x_desc: &'t str,
    pub y_desc: &'t str,
    /// Tick labels for x; `None`: plain numbers.
    pub x_fmt: Option<&'t dyn Fn(&f64) -> String>,
    pub x_labels: usize,
}

/// A chart ready for shapes, with its ranges kept to clamp them.
pub(super) struct Plot<'a, DB: DrawingBackend> {
    pub chart: Chart<'a, DB>,
    pub x: (f64, f64),
    pub y: (f64, f64),
}

impl<'t> Axes<'t> {
    pub fn new(x: (f64, f64), y: (f64, f64), x_desc: &'t str, y_desc: &'t str) -> Self {
        Axes {
            caption: None,
            x,
            y,
            x_desc,
            y_desc,
            x_fmt: None,
            x_labels: 10,
        }
    }

    pub fn draw<'a, DB: DrawingBackend>(&self, area: &'a Area<DB>) -> Result<Plot<'a, DB>> {
        let mut b = ChartBuilder::on(area);
        b.margin(14).x_label_area_size(52).y_label_area_size(84);
        if let Some(c) = self.caption {
            b.caption(c, text(19, &INK));
        }
        let mut chart = b
            .build_cartesian_2d(self.x.0..self.x.1, self.y.0..self.y.1)
            .or_draw()?;
        let xf = ticks(self.x.1 - self.x.0);
        let yf = ticks(self.y.1 - self.y.0);
        chart
            .configure_mesh()
            .x_desc(self.x_desc)
            .y_desc(self.y_desc)
            .x_labels(self.x_labels)
            .y_labels(8)
            .x_label_formatter(self.x_fmt.unwrap_or(&xf))
            .y_label_formatter(&yf)
            .label_style(text(14, &INK))
            .axis_desc_style(text(16, &INK))
            .light_line_style(GRID_LIGHT)
            .max_light_lines(2)
            .bold_line_style(GRID_BOLD)
            .axis_style(MUTED)
            .draw()
            .or_draw()?;
        Ok(Plot {
            chart,
            x: self.x,
            y: self.y,
        })
    }
}

impl<DB: DrawingBackend> Plot<'_, DB> {
    fn clamp(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (x.clamp(self.x.0, self.x.1), y.clamp(self.y.0, self.y.1))
    }

    /// A polyline through `points` (kept inside the chart); nothing for fewer than one point.
    pub fn line(&mut self, points: &[(f64, f64)], style: ShapeStyle) -> Result<()> {
        let pts: Vec<(f64, f64)> = points.iter().map(|&p| self.clamp(p)).collect();
        match pts.len() {
            0 => Ok(()),
            // A lone point shows as a dot.
            1 => self.dot(pts[0], 3, style.color),
            _ => self
                .chart
                .draw_series(std::iter::once(PathElement::new(pts, style)))
                .map(|_| ())
                .or_draw(),
        }
    }

    /// A dashed polyline.
    pub fn dashed(&mut self, points: &[(f64, f64)], style: ShapeStyle) -> Result<()> {
        let pts: Vec<(f64, f64)> = points.iter().map(|&p| self.clamp(p)).collect();
        if pts.len() < 2 {
            return self.line(&pts, style);
        }
        self.chart
            .draw_series(std::iter::once(DashedPathElement::new(pts, 8, 5, style)))
            .map(|_| ())
            .or_draw()
    }

    /// A filled dot of radius `r` pixels.
    pub fn dot(&mut self, at: (f64, f64), r: u32, color: RGBAColor) -> Result<()> {
        let at = self.clamp(at);
        self.chart
            .draw_series(std::iter::once(Circle::new(at, r, color.filled())))
            .map(|_| ())
            .or_draw()
    }

    /// Spans of x shaded over the whole height.
    pub fn shade(&mut self, spans: &[(f64, f64)], color: RGBAColor) -> Result<()> {
        let (y0, y1) = self.y;
        let rects: Vec<_> = spans
            .iter()
            .map(|&(a, b)| (a.clamp(self.x.0, self.x.1), b.clamp(self.x.0, self.x.1)))
            .filter(|(a, b)| b > a)
            .map(|(a, b)| Rectangle::new([(a, y0), (b, y1)], color.filled()))
            .collect();
        self.chart.draw_series(rects).map(|_| ()).or_draw()
    }

    /// Spans of x marked by a bar along the top, `frac` of the height.
    pub fn strip(&mut self, spans: &[(f64, f64)], frac: f64, color: RGBAColor) -> Result<()> {
        let (y0, y1) = self.y;
        let lo = y1 - (y1 - y0) * frac;
        let rects: Vec<_> = spans
            .iter()
            .map(|&(a, b)| (a.clamp(self.x.0, self.x.1), b.clamp(self.x.0, self.x.1)))
            .filter(|(a, b)| b > a)
            .map(|(a, b)| Rectangle::new([(a, lo), (b, y1)], color.filled()))
            .collect();
        self.chart.draw_series(rects).map(|_| ()).or_draw()
    }

    /// A vertical line at `x` over the whole height.
    pub fn vline(&mut self, x: f64, style: ShapeStyle, dashed: bool) -> Result<()> {
        if !(self.x.0..=self.x.1).contains(&x) {
            return Ok(());
        }
        let pts = [(x, self.y.0), (x, self.y.1)];
        if dashed {
            self.dashed(&pts, style)
        } else {
            self.line(&pts, style)
        }
    }

    /// A band between `lo` and `hi` along x: `(x, lo, hi)` in x order.
    pub fn band(&mut self, points: &[(f64, f64, f64)], color: RGBAColor) -> Result<()> {
        if points.len() < 2 {
            // A single interval shows as an error bar.
            if let Some(&(x, lo, hi)) = points.first() {
                self.line(&[(x, lo), (x, hi)], color.stroke_width(3))?;
            }
            return Ok(());
        }
        let mut poly: Vec<(f64, f64)> = points.iter().map(|&(x, lo, _)| (x, lo)).collect();
        poly.extend(points.iter().rev().map(|&(x, _, hi)| (x, hi)));
        let poly: Vec<(f64, f64)> = poly.into_iter().map(|p| self.clamp(p)).collect();
        self.chart
            .draw_series(std::iter::once(Polygon::new(poly, color.filled())))
            .map(|_| ())
            .or_draw()
    }

    /// An error bar from `lo` to `hi` at `x`, with caps `cap` pixels wide.
    pub fn error_bar(&mut self, x: f64, lo: f64, hi: f64, style: ShapeStyle) -> Result<()> {
        self.line(&[(x, lo), (x, hi)], style)?;
        let (a, b) = (self.clamp((x, lo)), self.clamp((x, hi)));
        let cap = (self.x.1 - self.x.0) * 0.004;
        for y in [a.1, b.1] {
            self.line(&[(x - cap, y), (x + cap, y)], style)?;
        }
        Ok(())
    }

    /// Text at a chart position.
    pub fn note(&mut self, at: (f64, f64), s: &str, style: TextStyle<'static>) -> Result<()> {
        let at = self.clamp(at);
        self.chart
            .draw_series(std::iter::once(Text::new(s.to_owned(), at, style)))
            .map(|_| ())
            .or_draw()
    }
}

/// What a legend entry shows beside its label.
#[derive(Clone, Debug)]
pub(super) enum Key {
    /// A line of this colour, dashed or not, this wide.
    Line(RGBAColor, bool, u32),
    /// A filled square (a shaded window or band).
    Patch(RGBAColor),
    /// A dot.
    Dot(RGBAColor),
    /// No key: a section heading.
    Heading,
}

#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub key: Key,
    pub label: String,
}

impl Entry {
    pub fn new(key: Key, label: impl Into<String>) -> Entry {
        Entry {
            key,
            label: label.into(),
        }
    }
}

/// The legend panel: one entry a row from the top; rows that do not fit are summed up in a
/// last row.
pub(super) fn legend<DB: DrawingBackend>(area: &Area<DB>, entries: &[Entry]) -> Result<()> {
    let (_, h) = area.dim_in_pixel();
    let row = 22i32;
    let top = 48i32;
    let fit = ((h as i32 - top - 10) / row).max(1) as usize;
    let (shown, more) = if entries.len() > fit {
        (&entries[..fit - 1], entries.len() - (fit - 1))
    } else {
        (entries, 0)
    };
    let label_style = text(14, &INK).pos(Pos::new(HPos::Left, VPos::Center));
    let heading_style = text(14, &MUTED).pos(Pos::new(HPos::Left, VPos::Center));
    let mut y = top;
    for e in shown {
        let (x0, x1) = (12, 40);
        match e.key {
            Key::Line(c, dashed, w) => {
                let style = c.stroke_width(w);
                if dashed {
                    area.draw(&DashedPathElement::new(vec![(x0, y), (x1, y)], 6, 4, style))
                        .or_draw()?;
                } else {
                    area.draw(&PathElement::new(vec![(x0, y), (x1, y)], style))
                        .or_draw()?;
                }
            }
            Key::Patch(c) => {
                area.draw(&Rectangle::new([(x0, y - 7), (x1, y + 7)], c.filled()))
                    .or_draw()?;
            }
            Key::Dot(c) => {
                area.draw(&Circle::new(((x0 + x1) / 2, y), 4, c.filled()))
                    .or_draw()?;
            }
            Key::Heading => {}
        }
        let (x, style) = match e.key {
            Key::Heading => (x0, &heading_style),
            _ => (x1 + 8, &label_style),
        };
        area.draw(&Text::new(clip(&e.label, 34), (x, y), style.clone()))
            .or_draw()?;
        y += row;
    }
    if more > 0 {
        area.draw(&Text::new(
            format!("... and {more} more"),
            (12, y),
            heading_style.clone(),
        ))
        .or_draw()?;
    }
    Ok(())
}

/// A message in the middle of an empty chart area.
pub(super) fn empty<DB: DrawingBackend>(area: &Area<DB>, msg: &str) -> Result<()> {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        msg.to_owned(),
        (w as i32 / 2, h as i32 / 2),
        text(18, &MUTED).pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .or_draw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_stay_distinct_past_the_palette() {
        let cols: Vec<RGBColor> = (0..40).map(color).collect();
        for (i, a) in cols.iter().enumerate() {
            for b in &cols[i + 1..] {
                let d = (i32::from(a.0) - i32::from(b.0)).abs()
                    + (i32::from(a.1) - i32::from(b.1)).abs()
                    + (i32::from(a.2) - i32::from(b.2)).abs();
                assert!(d >= 12, "{a:?} and {b:?} look alike");
            }
        }
    }

    #[test]
    fn ranges_are_never_empty_or_nan() {
        assert_eq!(range(0.0, 10.0, 0.0), (0.0, 10.0));
        assert_eq!(range(0.0, 10.0, 0.1), (-1.0, 11.0));
        let (a, b) = range(5.0, 5.0, 0.1);
        assert!(a < 5.0 && b > 5.0);
        let (a, b) = range(0.0, 0.0, 0.1);
        assert!(a < 0.0 && b > 0.0);
        assert_eq!(range(f64::NAN, f64::NAN, 0.0), (0.0, 1.0));
        let (a, b) = range(f64::NAN, 3.0, 0.0);
        assert!(a < 3.0 && b > 3.0);
        assert_eq!(range(2.0, 1.0, 0.0), (1.0, 2.0));
        assert_eq!(
            extent([f64::NAN, 2.0, -1.0, f64::INFINITY]),
            Some((-1.0, 2.0))
        );
        assert_eq!(extent([f64::NAN]), None);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(0.9990, 4), "0.999");
        assert_eq!(number(-0.0, 2), "0");
        assert_eq!(number(12.0, 0), "12");
        assert_eq!(ticks(1.0)(&0.5), "0.5");
        assert_eq!(ticks(0.001)(&0.9995), "0.9995");
        assert_eq!(time_unit(60.0).name, "s");
        assert_eq!(time_unit(3600.0).name, "min");
        assert_eq!(time_unit(7200.0 * 10.0).name, "h");
        assert_eq!(time_unit(86400.0 * 30.0).name, "d");
        assert_eq!(clip("abcdef", 5), "ab...");
        assert_eq!(clip("abc", 5), "abc");
    }
}
