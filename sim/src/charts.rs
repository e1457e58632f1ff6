//! Charts of a run, as SVG, and a page that shows them with the summary.
//!
//! Every chart is drawn from the run's [`Series`] alone, so the same run
//! gives the same bytes.

use plotters::prelude::*;

use crate::run::{ByDirection, Report, Series};

const WIDTH: u32 = 900;
const HEIGHT: u32 = 360;
const VN_TO_CN: RGBColor = RGBColor(0xc0, 0x39, 0x2b);
const CN_TO_VN: RGBColor = RGBColor(0x1f, 0x5f, 0x9f);

/// The charts of a run: file name and SVG text, in the order the page shows
/// them.
pub fn charts(report: &Report, series: &Series) -> Result<Vec<(String, String)>, String> {
    let hours = |i: usize| i as f64;
    let samples = |i: usize| i as f64 * series.queue_sample_ms as f64 / 3_600_000.0;
    Ok(vec![
        (
            "throughput.svg".to_string(),
            lines(
                "Containers delivered per hour",
                "containers",
                &series.delivered_per_hour,
                hours,
            )?,
        ),
        (
            "bridge.svg".to_string(),
            lines(
                &format!(
                    "Vehicles crossing the border per hour (lane capacity {:.0} each way)",
                    report.lane_capacity_per_hour
                ),
                "vehicles",
                &series.bridge_crossings_per_hour,
                hours,
            )?,
        ),
        (
            "stop_line_queues.svg".to_string(),
            lines(
                "Vehicles queued at the stop lines before the bridge",
                "vehicles",
                &series.stop_line_queue,
                samples,
            )?,
        ),
        (
            "scan_lanes.svg".to_string(),
            lines(
                "Vehicles in the scan lanes",
                "vehicles",
                &series.scan_lanes,
                samples,
            )?,
        ),
        (
            "crossing_times.svg".to_string(),
            histogram(&series.crossing_s)?,
        ),
    ])
}

/// Two lines over the run's hours, one per direction (the side the
/// vehicles leave from).
fn lines(
    title: &str,
    unit: &str,
    data: &[ByDirection<usize>],
    x_of: impl Fn(usize) -> f64,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let x_end = x_of(data.len().max(1)).max(1.0);
        let y_end = data
            .iter()
            .map(|d| d.vn_to_cn.max(d.cn_to_vn))
            .max()
            .unwrap_or(0)
            .max(1) as f64
            * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..x_end, 0f64..y_end)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("hours from the start")
            .y_desc(unit)
            .draw()
            .map_err(|e| e.to_string())?;
        for (name, colour, pick) in [
            (
                "from VN",
                VN_TO_CN,
                (|d: &ByDirection<usize>| d.vn_to_cn) as fn(&_) -> usize,
            ),
            ("from CN", CN_TO_VN, |d: &ByDirection<usize>| d.cn_to_vn),
        ] {
            chart
                .draw_series(LineSeries::new(
                    data.iter()
                        .enumerate()
                        .map(|(i, d)| (x_of(i), pick(d) as f64)),
                    colour.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The crossing times, gate to gate, in bins of whole minutes.
fn histogram(crossing_s: &[f64]) -> Result<String, String> {
    let minutes: Vec<u32> = crossing_s.iter().map(|s| (s / 60.0) as u32).collect();
    let top = minutes.iter().copied().max().unwrap_or(0) + 1;
    // Bins of 1 minute up to an hour, wider beyond, so that hours-long
    // inspections do not squeeze the rest into one bar.
    let bin = top.div_ceil(60).max(1);
    let bins = top.div_ceil(bin);
    let mut counts = vec![0u32; bins as usize];
    for m in &minutes {
        counts[(m / bin) as usize] += 1;
    }
    let y_end = (counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.1).ceil() as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "Crossing time, gate to gate ({} containers, bins of {bin} min)",
                    minutes.len()
                ),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0u32..bins * bin, 0u32..y_end)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("minutes")
            .y_desc("containers")
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let x = i as u32 * bin;
                Rectangle::new([(x, 0), (x + bin, c)], CN_TO_VN.mix(0.7).filled())
            }))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// A page with the summary, the report's figures and the charts.
pub fn index_html(report: &Report, charts: &[(String, String)]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Borderlane: {name}</title>\n\
         <style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;}}\
         pre{{background:#f4f4f4;padding:1em;white-space:pre-wrap;}}\
         img{{display:block;margin:1em 0;max-width:100%;}}</style>\n\
         </head>\n<body>\n<h1>Scenario {name}</h1>\n<pre>{summary}</pre>\n",
        name = esc(&report.scenario),
        summary = esc(&report.summary()),
    );
    for (file, _) in charts {
        html += &format!("<img src=\"{file}\" alt=\"{file}\">\n");
    }
    html += "<p>All figures: <a href=\"report.json\">report.json</a>.</p>\n</body>\n</html>\n";
    html
}
