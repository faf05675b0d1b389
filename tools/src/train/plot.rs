//! `nam-tools train --plot out.png`: the target and the model's prediction on a
//! validation window (around its loudest passage), and the loss curves per
//! epoch, drawn with `plotters` into a PNG. Labels use the embedded DejaVu
//! Sans Mono (`tools/resources/README.md`), so no system font is needed.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

/// The embedded font (Bitstream Vera license, see `tools/resources`).
const FONT: &[u8] = include_bytes!("../../resources/DejaVuSansMono.ttf");
/// The font family name plotters' text styles ask for.
const FAMILY: &str = "sans-serif";
/// The picture's size in pixels.
pub const SIZE: (u32, u32) = (1200, 900);
/// Length of the validation window shown, in seconds.
pub const WINDOW_S: f64 = 0.05;

/// What the plot shows.
#[derive(Clone, Debug)]
pub struct PlotData<'a> {
    /// The validation target (aligned with `prediction`).
    pub target: &'a [f32],
    /// The model's prediction of it.
    pub prediction: &'a [f32],
    /// Sample rate of both.
    pub sample_rate_hz: u32,
    /// Mean training loss of each epoch.
    pub train_loss: &'a [f64],
    /// Validation ESR after each epoch.
    pub validation_esr: &'a [f64],
}

/// Why the plot could not be written.
#[derive(Debug, thiserror::Error)]
#[error("--plot {file}: cannot draw or write it: {problem}")]
pub struct PlotError {
    /// The file.
    pub file: String,
    /// Why.
    pub problem: String,
}

/// The start of the [`WINDOW_S`] window of `signal` with the most energy.
pub fn loudest_window(signal: &[f32], window: usize) -> usize {
    if signal.len() <= window {
        return 0;
    }
    let energy = |x: &f32| f64::from(*x).powi(2);
    let mut sum: f64 = signal[..window].iter().map(energy).sum();
    let (mut best, mut best_sum) = (0, sum);
    for start in 1..=signal.len() - window {
        sum += energy(&signal[start + window - 1]) - energy(&signal[start - 1]);
        if sum > best_sum {
            (best, best_sum) = (start, sum);
        }
    }
    best
}

/// Draws `data` into the PNG `path` ([`SIZE`]).
pub fn write(path: &Path, data: &PlotData) -> Result<(), PlotError> {
    let error = |problem: String| PlotError {
        file: path.display().to_string(),
        problem,
    };
    register_font().map_err(error)?;
    draw(path, data).map_err(|e| error(e.to_string()))
}

/// Registers the embedded font once per process.
fn register_font() -> Result<(), String> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| "the embedded font cannot be read".to_string());
    });
    result
}

fn draw(path: &Path, data: &PlotData) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(SIZE.1 / 2);
    draw_window(&top, data)?;
    draw_losses(&bottom, data)?;
    root.present()?;
    Ok(())
}

/// Target and prediction over the loudest [`WINDOW_S`] of the validation audio.
fn draw_window<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    data: &PlotData,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let rate = f64::from(data.sample_rate_hz);
    let n = data.target.len().min(data.prediction.len());
    let window = ((WINDOW_S * rate) as usize).min(n);
    let start = loudest_window(&data.target[..n], window);
    let range = start..start + window;
    let peak = data.target[range.clone()]
        .iter()
        .chain(&data.prediction[range.clone()])
        .fold(1e-6_f32, |m, x| m.max(x.abs()))
        * 1.05;
    let ms = |i: usize| 1e3 * i as f64 / rate;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "Validation: target vs prediction (loudest 50 ms)",
            (FAMILY, 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(ms(start)..ms(start + window), -peak..peak)?;
    chart
        .configure_mesh()
        .x_desc("time in the validation audio (ms)")
        .y_desc("level")
        .label_style((FAMILY, 14))
        .draw()?;
    let series =
        |signal: &[f32]| -> Vec<(f64, f32)> { range.clone().map(|i| (ms(i), signal[i])).collect() };
    chart
        .draw_series(LineSeries::new(series(data.target), BLACK.stroke_width(2)))?
        .label("target")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            series(data.prediction),
            RED.stroke_width(1),
        ))?
        .label("prediction")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
    chart
        .configure_series_labels()
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Training loss and validation ESR per epoch, on a log scale.
fn draw_losses<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    data: &PlotData,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let finite = |v: &&f64| v.is_finite() && **v > 0.0;
    let values: Vec<f64> = data
        .train_loss
        .iter()
        .chain(data.validation_esr)
        .filter(finite)
        .copied()
        .collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(0.0, f64::max);
    let (low, high) = if values.is_empty() {
        (1e-3, 1.0)
    } else {
        (low / 1.5, high * 1.5)
    };
    let epochs = data.train_loss.len().max(data.validation_esr.len()).max(1);
    let mut chart = ChartBuilder::on(area)
        .caption("Loss per epoch", (FAMILY, 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(1..epochs.max(2), (low..high).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("loss / ESR (log)")
        .label_style((FAMILY, 14))
        .draw()?;
    let points = |values: &[f64]| -> Vec<(usize, f64)> {
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| finite(v))
            .map(|(i, v)| (i + 1, *v))
            .collect()
    };
    let blue = RGBColor(30, 90, 200);
    chart
        .draw_series(LineSeries::new(
            points(data.train_loss),
            blue.stroke_width(2),
        ))?
        .label("training loss")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], blue.stroke_width(2)));
    let green = RGBColor(20, 150, 60);
    chart
        .draw_series(LineSeries::new(
            points(data.validation_esr),
            green.stroke_width(2),
        ))?
        .label("validation ESR")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], green.stroke_width(2)));
    chart
        .configure_series_labels()
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loudest_window_is_found() {
        let mut x = vec![0.01_f32; 10_000];
        x[6_000..6_100].iter_mut().for_each(|v| *v = 0.5);
        assert_eq!(loudest_window(&x, 100), 6_000);
        assert_eq!(loudest_window(&x[..50], 100), 0);
    }

    #[test]
    fn the_plot_is_a_png_of_its_size_with_curves_and_text() {
        let dir = std::env::temp_dir().join(format!("nam-tools-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plot.png");
        let rate = 48_000;
        let target: Vec<f32> = (0..rate)
            .map(|i| 0.5 * (i as f32 * 0.05).sin() * (i as f32 / rate as f32))
            .collect();
        let prediction: Vec<f32> = target.iter().map(|x| 0.9 * x).collect();
        let data = PlotData {
            target: &target,
            prediction: &prediction,
            sample_rate_hz: rate as u32,
            train_loss: &[0.1, 0.05, 0.02, 0.015],
            validation_esr: &[0.5, 0.2, 0.1, 0.08],
        };
        write(&path, &data).unwrap();
        write(&path, &data).unwrap(); // a second plot in one process works too
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width, info.height), SIZE);
        let pixels = &pixels[..info.buffer_size()];
        let channels = info.color_type.samples();
        let colour = |rgb: [u8; 3]| pixels.chunks(channels).filter(|p| p[..3] == rgb).count();
        let non_white = pixels
            .chunks(channels)
            .filter(|p| p[..3] != [255, 255, 255])
            .count();
        assert!(non_white > 10_000, "{non_white} non-white pixels: blank?");
        assert!(colour([255, 0, 0]) > 200, "no prediction curve");
        assert!(colour([20, 150, 60]) > 200, "no validation curve");
        // Text: the top rows hold the caption, drawn in grey levels by the font.
        let caption_rows = &pixels[..(40 * SIZE.0 as usize) * channels];
        let inked = caption_rows
            .chunks(channels)
            .filter(|p| p[..3] != [255, 255, 255])
            .count();
        assert!(
            inked > 500,
            "the caption has {inked} inked pixels: no text?"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
