//! Grouped bar charts as standalone SVG: one group per workload, one bar per series, a
//! log or linear axis. Written by hand because a plotting crate's text layout needs font
//! files that a fresh machine may lack; SVG text is laid out by the viewer instead.

use std::fmt::Write;

/// One chart.
pub struct Chart<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// Unit of the axis (e.g. `tx/s`).
    pub unit: &'a str,
    /// Series names (one bar colour each).
    pub series: &'a [&'a str],
    /// `(group label, one value per series)`.
    pub groups: Vec<(String, Vec<f64>)>,
    /// Logarithmic axis.
    pub log: bool,
}

const COLOURS: [&str; 6] = [
    "#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn human(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

impl Chart<'_> {
    /// Renders the chart.
    pub fn render(&self) -> String {
        let (w, h) = (860.0, 420.0);
        let (left, right, top, bottom) = (80.0, 20.0, 50.0, 80.0);
        let pw = w - left - right;
        let ph = h - top - bottom;
        let max = self
            .groups
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0.0f64, f64::max)
            .max(1.0);
        let (lo, hi) = if self.log {
            let min = self
                .groups
                .iter()
                .flat_map(|(_, v)| v.iter().copied())
                .filter(|v| *v > 0.0)
                .fold(max, f64::min);
            (
                10f64.powf(min.log10().floor()),
                10f64.powf(max.log10().ceil()),
            )
        } else {
            (0.0, max * 1.1)
        };
        let y = |v: f64| -> f64 {
            let f = if self.log {
                (v.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10()).max(1e-9)
            } else {
                (v - lo) / (hi - lo).max(1e-9)
            };
            top + ph * (1.0 - f.clamp(0.0, 1.0))
        };
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
        );
        let _ = write!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
        let _ = write!(
            s,
            r#"<text x="{}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
            w / 2.0,
            esc(self.title)
        );
        // Axis with ticks.
        let ticks: Vec<f64> = if self.log {
            let mut t = Vec::new();
            let mut v = lo;
            while v <= hi * 1.0001 {
                t.push(v);
                v *= 10.0;
            }
            t
        } else {
            (0..=5).map(|i| lo + (hi - lo) * i as f64 / 5.0).collect()
        };
        for t in ticks {
            let ty = y(t);
            let _ = write!(
                s,
                r##"<line x1="{left}" x2="{}" y1="{ty:.1}" y2="{ty:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                left + pw,
                left - 6.0,
                ty + 4.0,
                human(t)
            );
        }
        let _ = write!(
            s,
            r#"<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">{}{}</text>"#,
            top + ph / 2.0,
            top + ph / 2.0,
            esc(self.unit),
            if self.log { " (log scale)" } else { "" }
        );
        let groups = self.groups.len().max(1) as f64;
        let gw = pw / groups;
        let bars = self.series.len().max(1) as f64;
        let bw = (gw * 0.8) / bars;
        for (gi, (label, values)) in self.groups.iter().enumerate() {
            let gx = left + gw * gi as f64 + gw * 0.1;
            for (si, v) in values.iter().enumerate() {
                let x = gx + bw * si as f64;
                let top_y = y(*v);
                let _ = write!(
                    s,
                    r#"<rect x="{x:.1}" y="{top_y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect>"#,
                    (bw - 2.0).max(1.0),
                    (top + ph - top_y).max(0.0),
                    COLOURS[si % COLOURS.len()],
                    esc(self.series.get(si).copied().unwrap_or("")),
                    human(*v)
                );
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                    x + bw / 2.0,
                    top_y - 3.0,
                    human(*v)
                );
            }
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                gx + gw * 0.4,
                top + ph + 18.0,
                esc(label)
            );
        }
        // Legend.
        for (si, name) in self.series.iter().enumerate() {
            let lx = left + 10.0 + 200.0 * (si % 4) as f64;
            let ly = h - 36.0 + 16.0 * (si / 4) as f64;
            let _ = write!(
                s,
                r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#,
                ly - 10.0,
                COLOURS[si % COLOURS.len()],
                lx + 16.0,
                ly,
                esc(name)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}
