//! The one chart module of the reports: a plot area with a frame, ticks and grid, axis titles,
//! lines, markers and error bars, written as plain SVG text. The sweep's `pareto.svg` and the
//! explorer's `auc.svg` and `pareto.svg` are all drawn with it, so they look alike.
//!
//! Hand-written rather than `plotters`' SVG backend: the reports need a `<title>` tooltip per
//! point (the point's key and numbers, on hover) and byte axes labelled in binary units at powers
//! of two, and must stay byte-for-byte reproducible for the same records; a few hundred lines of
//! text do that without a drawing stack.
//!
//! Owns: geometry and SVG syntax. Must never: choose what is plotted or compute a number of the
//! report (callers pass the data, the words and the tick formats).

use std::fmt::Write as _;

use super::units::ByteAxis;

/// `s` escaped for SVG/XML text and attributes.
pub fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A step of 1, 2 or 5 times a power of ten giving about `n` ticks over `span`.
pub fn nice_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(1e-12);
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let k = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    k * p
}

/// Margins around the plot area, in pixels.
#[derive(Debug, Clone, Copy)]
pub struct Margins {
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

/// An SVG document being written: the canvas, then (after `plot`) a plot area with data bounds.
pub struct Chart {
    s: String,
    w: f64,
    h: f64,
    m: Margins,
    x: (f64, f64),
    y: (f64, f64),
}

impl Chart {
    /// A white `w` x `h` canvas with `m` around the plot area, its heading (bold) and subtitle.
    pub fn new(w: f64, h: f64, m: Margins, heading: &str, subtitle: &str, sub_y: f64) -> Chart {
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
        let _ = writeln!(
            s,
            r##"<text x="{}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{}</text><text x="{}" y="{sub_y}" text-anchor="middle" fill="#444">{}</text>"##,
            w / 2.0,
            xml(heading),
            w / 2.0,
            xml(subtitle)
        );
        Chart {
            s,
            w,
            h,
            m,
            x: (0.0, 1.0),
            y: (0.0, 1.0),
        }
    }

    /// The document with `message` in the middle instead of a plot.
    pub fn empty(mut self, message: &str) -> String {
        let _ = writeln!(
            self.s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text></svg>"#,
            self.w / 2.0,
            self.h / 2.0,
            xml(message)
        );
        self.s
    }

    fn pw(&self) -> f64 {
        self.w - self.m.left - self.m.right
    }

    fn ph(&self) -> f64 {
        self.h - self.m.top - self.m.bottom
    }

    /// Set the data bounds of the plot area and draw its frame.
    pub fn plot(&mut self, x: (f64, f64), y: (f64, f64)) {
        self.x = x;
        self.y = y;
        let (l, t, pw, ph) = (self.m.left, self.m.top, self.pw(), self.ph());
        let _ = writeln!(
            self.s,
            "<rect x=\"{l}\" y=\"{t}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#888\"/>"
        );
    }

    /// Pixel x of data x.
    pub fn sx(&self, v: f64) -> f64 {
        self.m.left + (v - self.x.0) / (self.x.1 - self.x.0) * self.pw()
    }

    /// Pixel y of data y.
    pub fn sy(&self, v: f64) -> f64 {
        self.m.top + (self.y.1 - v) / (self.y.1 - self.y.0) * self.ph()
    }

    /// A vertical grid line and its label under the plot at data x `v`.
    fn x_tick(&mut self, v: f64, label: &str) {
        let (x, t, bottom) = (self.sx(v), self.m.top, self.m.top + self.ph());
        let _ = writeln!(
            self.s,
            "<line x1=\"{x:.1}\" y1=\"{t}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#ddd\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            bottom + 18.0,
            xml(label)
        );
    }

    /// Ticks every `step` from 0 to the right end, labelled by `label`.
    pub fn x_ticks_linear(&mut self, step: f64, label: impl Fn(f64) -> String) {
        let mut v = 0.0;
        while v <= self.x.1 + 1e-9 {
            self.x_tick(v, &label(v));
            v += step;
        }
    }

    /// The ticks of a byte axis (data x = log2 bytes), with small marks at the powers of two
    /// between labels.
    pub fn x_ticks_bytes(&mut self, axis: &ByteAxis) {
        let bottom = self.m.top + self.ph();
        for e in axis.ticks() {
            self.x_tick(e as f64, &ByteAxis::label(e));
            for m in 1..axis.step {
                if e + m < axis.hi {
                    let xm = self.sx((e + m) as f64);
                    let _ = writeln!(
                        self.s,
                        "<line x1=\"{xm:.1}\" y1=\"{bottom:.1}\" x2=\"{xm:.1}\" y2=\"{:.1}\" stroke=\"#888\"/>",
                        bottom - 4.0
                    );
                }
            }
        }
    }

    /// Horizontal grid lines every `step` inside the y bounds, labelled by `label`; with
    /// `dashed_zero` the line at 0 is dark and dashed.
    pub fn y_ticks(&mut self, step: f64, dashed_zero: bool, label: impl Fn(f64) -> String) {
        let (l, r) = (self.m.left, self.m.left + self.pw());
        let mut v = (self.y.0 / step).ceil() * step;
        while v <= self.y.1 + 1e-12 {
            let y = self.sy(v);
            let zero = dashed_zero && v.abs() < step * 1e-6;
            let _ = writeln!(
                self.s,
                "<line x1=\"{l}\" y1=\"{y:.1}\" x2=\"{r:.1}\" y2=\"{y:.1}\" stroke=\"{}\"{}/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                if zero { "#555" } else { "#ddd" },
                if zero {
                    " stroke-dasharray=\"5,4\""
                } else {
                    ""
                },
                l - 6.0,
                y + 4.0,
                xml(&label(if zero { 0.0 } else { v }))
            );
            v += step;
        }
    }

    /// The x title under the plot (`from_bottom` pixels above the canvas' bottom) and the y
    /// title turned along the left edge (`y_left` pixels from it).
    pub fn axis_titles(&mut self, x: &str, from_bottom: f64, y: &str, y_left: f64) {
        let _ = writeln!(
            self.s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate({y_left},{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            self.m.left + self.pw() / 2.0,
            self.h - from_bottom,
            xml(x),
            self.m.top + self.ph() / 2.0,
            xml(y)
        );
    }

    /// A line through data points; `dash` empty for a solid line.
    pub fn polyline(&mut self, pts: &[(f64, f64)], stroke: &str, width: f64, dash: &str) {
        let path: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", self.sx(x), self.sy(y)))
            .collect();
        let _ = writeln!(
            self.s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\"{}/>",
            path.join(" "),
            dash_attr(dash)
        );
    }

    /// A horizontal line across the plot at data y `v`.
    pub fn hline(&mut self, v: f64, stroke: &str, dash: &str) {
        let (y, l) = (self.sy(v), self.m.left);
        let _ = writeln!(
            self.s,
            "<line x1=\"{l}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{stroke}\"{}/>",
            l + self.pw(),
            dash_attr(dash)
        );
    }

    /// A vertical error bar with caps from data y `lo` to `hi` at data x `x`.
    pub fn error_bar(&mut self, x: f64, lo: f64, hi: f64, stroke: &str) {
        let (x, a, c) = (self.sx(x), self.sy(hi), self.sy(lo));
        let _ = writeln!(
            self.s,
            "<path d=\"M{x:.1},{a:.1}V{c:.1}M{:.1},{a:.1}H{:.1}M{:.1},{c:.1}H{:.1}\" stroke=\"{stroke}\" fill=\"none\"/>",
            x - 3.0,
            x + 3.0,
            x - 3.0,
            x + 3.0
        );
    }

    /// A round marker at data (x, y); `title` (if any) shows on hover.
    pub fn marker(&mut self, at: (f64, f64), r: f64, style: Marker, title: Option<&str>) {
        let (cx, cy) = (self.sx(at.0), self.sy(at.1));
        let body = format!(
            "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"{r}\" fill=\"{}\"{}",
            style.fill,
            if style.stroke.is_empty() {
                String::new()
            } else {
                format!(" stroke=\"{}\"", style.stroke)
            }
        );
        let _ = match title {
            Some(t) => writeln!(self.s, "{body}><title>{}</title></circle>", xml(t)),
            None => writeln!(self.s, "{body}/>"),
        };
    }

    /// A marker of `shape` at data (x, y): methods told apart by shape, not only by colour.
    pub fn shape(
        &mut self,
        at: (f64, f64),
        r: f64,
        style: Marker,
        shape: Shape,
        title: Option<&str>,
    ) {
        if shape == Shape::Circle {
            return self.marker(at, r, style, title);
        }
        let (cx, cy) = (self.sx(at.0), self.sy(at.1));
        let body = shape_body(cx, cy, r, style, shape);
        let _ = match title {
            Some(t) => writeln!(self.s, "<g>{body}<title>{}</title></g>", xml(t)),
            None => writeln!(self.s, "{body}"),
        };
    }

    /// A legend entry at pixel (x, y): a marker (or a line sample, for `Legend::Line`) and its
    /// label.
    pub fn legend(&mut self, x: f64, y: f64, key: Legend, label: &str) {
        match key {
            Legend::Dot(r, style) => {
                let _ = writeln!(
                    self.s,
                    "<circle cx=\"{x}\" cy=\"{y}\" r=\"{r}\" fill=\"{}\" stroke=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
                    style.fill,
                    style.stroke,
                    x + 10.0,
                    y + 4.0,
                    xml(label)
                );
            }
            Legend::Shape(r, style, shape) => {
                let _ = writeln!(
                    self.s,
                    "{}<text x=\"{}\" y=\"{}\">{}</text>",
                    shape_body(x, y, r, style, shape),
                    x + 10.0,
                    y + 4.0,
                    xml(label)
                );
            }
            Legend::Line(stroke, dash) => {
                let _ = writeln!(
                    self.s,
                    "<line x1=\"{x}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{stroke}\" stroke-width=\"2\"{}/><text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
                    x + 24.0,
                    dash_attr(dash),
                    x + 28.0,
                    y + 4.0,
                    xml(label)
                );
            }
        }
    }

    /// A line of text at pixel (x, y), right-aligned, in `fill`.
    pub fn note_right(&mut self, x: f64, y: f64, fill: &str, text: &str) {
        let _ = writeln!(
            self.s,
            "<text x=\"{x}\" y=\"{y}\" text-anchor=\"end\" fill=\"{fill}\">{}</text>",
            xml(text)
        );
    }

    /// Pixel bounds of the plot area: (left, top, right, bottom).
    pub fn area(&self) -> (f64, f64, f64, f64) {
        (
            self.m.left,
            self.m.top,
            self.m.left + self.pw(),
            self.m.top + self.ph(),
        )
    }

    /// The finished document.
    pub fn finish(mut self) -> String {
        self.s.push_str("</svg>\n");
        self.s
    }
}

/// Fill and outline of a marker (`stroke` empty: none).
#[derive(Debug, Clone, Copy)]
pub struct Marker {
    pub fill: &'static str,
    pub stroke: &'static str,
}

/// What a legend entry shows: a dot of radius and style, or a line of colour and dash pattern.
#[derive(Debug, Clone, Copy)]
pub enum Legend<'a> {
    Dot(f64, Marker),
    Shape(f64, Marker, Shape),
    Line(&'a str, &'a str),
}

/// Marker shapes, one per method in a legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
}

impl Shape {
    /// The `i`-th shape (cycling).
    pub fn nth(i: usize) -> Shape {
        [
            Shape::Circle,
            Shape::Square,
            Shape::Triangle,
            Shape::Diamond,
            Shape::Cross,
        ][i % 5]
    }
}

fn shape_body(cx: f64, cy: f64, r: f64, style: Marker, shape: Shape) -> String {
    let stroke = if style.stroke.is_empty() {
        String::new()
    } else {
        format!(" stroke=\"{}\"", style.stroke)
    };
    let poly = |pts: &[(f64, f64)]| {
        let p: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", cx + x * r, cy + y * r))
            .collect();
        format!(
            "<polygon points=\"{}\" fill=\"{}\"{stroke}/>",
            p.join(" "),
            style.fill
        )
    };
    match shape {
        Shape::Circle => format!(
            "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"{r}\" fill=\"{}\"{stroke}/>",
            style.fill
        ),
        Shape::Square => poly(&[(-0.9, -0.9), (0.9, -0.9), (0.9, 0.9), (-0.9, 0.9)]),
        Shape::Triangle => poly(&[(0.0, -1.2), (1.1, 0.9), (-1.1, 0.9)]),
        Shape::Diamond => poly(&[(0.0, -1.3), (1.1, 0.0), (0.0, 1.3), (-1.1, 0.0)]),
        Shape::Cross => poly(&[
            (-0.35, -1.1),
            (0.35, -1.1),
            (0.35, -0.35),
            (1.1, -0.35),
            (1.1, 0.35),
            (0.35, 0.35),
            (0.35, 1.1),
            (-0.35, 1.1),
            (-0.35, 0.35),
            (-1.1, 0.35),
            (-1.1, -0.35),
            (-0.35, -0.35),
        ]),
    }
}

fn dash_attr(dash: &str) -> String {
    if dash.is_empty() {
        String::new()
    } else {
        format!(" stroke-dasharray=\"{dash}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: Margins = Margins {
        left: 10.0,
        right: 10.0,
        top: 10.0,
        bottom: 10.0,
    };

    #[test]
    fn data_maps_onto_the_plot_area_and_text_is_escaped() {
        let mut c = Chart::new(120.0, 120.0, M, "a < b", "x & y", 40.0);
        c.plot((0.0, 10.0), (-1.0, 1.0));
        assert_eq!((c.sx(0.0), c.sx(10.0)), (10.0, 110.0));
        assert_eq!((c.sy(1.0), c.sy(-1.0)), (10.0, 110.0));
        c.marker(
            (5.0, 0.0),
            4.0,
            Marker {
                fill: "red",
                stroke: "",
            },
            Some("p\"1"),
        );
        let s = c.finish();
        assert!(s.contains("a &lt; b") && s.contains("x &amp; y"), "{s}");
        assert!(s.contains("<circle cx=\"60.0\" cy=\"60.0\" r=\"4\" fill=\"red\"><title>p&quot;1</title></circle>"), "{s}");
        assert!(s.starts_with("<svg") && s.ends_with("</svg>\n"));
    }

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(1.0, 10.0), 0.1);
        assert_eq!(nice_step(0.03, 8.0), 0.005);
        assert_eq!(nice_step(190_000.0, 6.0), 50_000.0);
    }
}
