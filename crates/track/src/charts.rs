//! SVG charts for the HTML report, drawn with plotters' SVG backend: line charts (metric
//! curves, ROC, calibration) and grouped bars (retrieval metrics against a baseline).

use plotters::prelude::*;

use crate::error::{Result, TrackError};

/// Chart size in pixels.
const SIZE: (u32, u32) = (760, 380);

/// The series colours, in order.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One named line of points.
pub struct Line {
    /// The legend entry.
    pub name: String,
    /// The points; non-finite ones are left out.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed-grey as a reference (the diagonal of a ROC or calibration plot).
    pub reference: bool,
}

fn chart_error(e: impl std::fmt::Display) -> TrackError {
    TrackError::Invalid(format!("cannot draw a chart: {e}"))
}

/// A padded range covering `values` (a unit range around a single value).
fn range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return 0.0..1.0;
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5)..(hi + 0.5);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad)..(hi + pad)
}

/// A line chart as an SVG document. `unit_square` fixes both axes to [0, 1].
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    lines: &[Line],
    unit_square: bool,
) -> Result<String> {
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let (xr, yr) = if unit_square {
        (0.0..1.0, 0.0..1.0)
    } else {
        (
            range(
                lines
                    .iter()
                    .flat_map(|l| l.points.iter().filter(finite).map(|p| p.0)),
            ),
            range(
                lines
                    .iter()
                    .flat_map(|l| l.points.iter().filter(finite).map(|p| p.1)),
            ),
        )
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(xr, yr)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()
            .map_err(chart_error)?;
        for (i, line) in lines.iter().enumerate() {
            let points: Vec<(f64, f64)> = line.points.iter().filter(finite).copied().collect();
            let style = if line.reference {
                ShapeStyle::from(&RGBColor(150, 150, 150)).stroke_width(1)
            } else {
                ShapeStyle::from(&PALETTE[i % PALETTE.len()]).stroke_width(2)
            };
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(chart_error)?
                .label(line.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// Grouped bars as an SVG document: one group per category, one bar per series.
pub fn bar_chart(
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[(String, Vec<f64>)],
) -> Result<String> {
    let top = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.15 } else { 1.0 };
    let groups = categories.len().max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..groups, 0.0..top)
            .map_err(chart_error)?;
        let names = categories.to_vec();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(categories.len() * 2 + 1)
            .x_label_formatter(&move |x: &f64| {
                let centre = x - x.floor();
                if (centre - 0.5).abs() < 0.01 {
                    names.get(x.floor() as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(y_label)
            .draw()
            .map_err(chart_error)?;
        let width = 0.8 / series.len().max(1) as f64;
        for (s, (name, values)) in series.iter().enumerate() {
            let color = PALETTE[s % PALETTE.len()];
            let bars = values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(move |(g, &v)| {
                    let x0 = g as f64 + 0.1 + s as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width * 0.9, v)], color.filled())
                });
            chart
                .draw_series(bars)
                .map_err(chart_error)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_their_labels() {
        let line = Line {
            name: "train".into(),
            points: vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 0.5)],
            reference: false,
        };
        let svg = line_chart("loss", "step", "loss", &[line], false).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"));
        assert!(
            svg.contains("\ntrain\n") && svg.contains("\nloss\n"),
            "{svg}"
        );
        let bars = bar_chart(
            "Recall@K",
            "recall",
            &["@10".into(), "@50".into()],
            &[("model".into(), vec![0.1, 0.3])],
        )
        .unwrap();
        assert!(bars.contains("<rect") && bars.contains("\n@10\n"), "{bars}");
    }

    #[test]
    fn ranges_are_padded_and_never_empty() {
        assert_eq!(range([2.0, 2.0].into_iter()), 1.5..2.5);
        assert_eq!(range(std::iter::empty()), 0.0..1.0);
        let r = range([0.0, 10.0].into_iter());
        assert!(r.start < 0.0 && r.end > 10.0);
    }
}
