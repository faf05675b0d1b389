//! Every kernel table computes what the scalar reference computes, on random
//! data over awkward shapes: every frame count 0..=67 (so every tile remainder
//! of every table), odd channel counts, groups, dilations, with and without a
//! bias, overwriting, accumulating into output buffers that already hold data,
//! and adding to other rows.

use nam_kernel::format::Activation;
use nam_kernel::kernels::{
    ConvShape, GruWeights, Kernels, LayerFront, LstmWeights, Output, WaveNetLayer,
};

/// A small deterministic generator (xorshift) for test data in [-1, 1).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn fill(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn tables() -> &'static [&'static Kernels] {
    let tables = Kernels::available();
    assert_eq!(tables[0].name, "scalar", "the scalar reference comes first");
    tables
}

#[test]
fn this_cpu_gets_its_simd_table() {
    let names: Vec<&str> = Kernels::available().iter().map(|k| k.name).collect();
    #[cfg(target_arch = "aarch64")]
    assert!(names.contains(&"neon"), "{names:?}");
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        assert!(names.contains(&"avx2-fma"), "{names:?}");
    }
    assert_eq!(
        Kernels::detect().name,
        *names.last().expect("at least scalar")
    );
}

#[test]
fn convolutions_match_the_scalar_reference() {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut checked = 0;
    for &(cin, cout, groups) in &[
        (1, 1, 1),
        (3, 5, 1),
        (7, 9, 1),
        (16, 16, 1),
        (8, 12, 4),
        (6, 6, 3),
        (2, 34, 2),
    ] {
        for &(taps, dilation) in &[(1, 1), (2, 3), (3, 7), (6, 1)] {
            for frames in (0..=67).chain([130, 255]) {
                let lookback = (taps - 1) * dilation;
                let in_stride = lookback + frames + 3;
                let out_stride = frames + 5;
                let shape = ConvShape {
                    frames,
                    taps,
                    dilation,
                    cout,
                    cin_per_group: cin / groups,
                    groups,
                    in_stride,
                    first: 2,
                    out_stride,
                };
                let weights = noise.fill(taps * cout * (cin / groups));
                let bias = noise.fill(cout);
                let bias = (frames % 2 == 0).then_some(&bias[..]);
                let source_stride = frames + 2;
                let source = noise.fill(cout * source_stride);
                let output = match frames % 3 {
                    0 => Output::Overwrite,
                    1 => Output::Accumulate,
                    _ => Output::AddTo {
                        source: &source,
                        stride: source_stride,
                    },
                };
                let input = noise.fill(cin * in_stride);
                let dirty = noise.fill(cout * out_stride);
                let mut reference = dirty.clone();
                (tables()[0].conv)(&shape, &weights, bias, output, &input, &mut reference);
                let untouched_past_frames = |out: &[f32], name: &str| {
                    for o in 0..cout {
                        let past = o * out_stride + frames..(o + 1) * out_stride;
                        assert_eq!(out[past.clone()], dirty[past], "{name} {shape:?}");
                    }
                };
                untouched_past_frames(&reference, "scalar");
                for table in &tables()[1..] {
                    let mut out = dirty.clone();
                    (table.conv)(&shape, &weights, bias, output, &input, &mut out);
                    for (i, (a, b)) in out.iter().zip(&reference).enumerate() {
                        assert!(
                            (a - b).abs() <= 1e-5,
                            "{} {shape:?} {output:?} bias {}: element {i}: {a} vs {b}",
                            table.name,
                            bias.is_some()
                        );
                    }
                    untouched_past_frames(&out, table.name);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1000);
}

#[test]
fn fused_layer_fronts_match_the_scalar_reference() {
    let mut noise = Noise(0xfeed_f00d);
    let activations = [
        Activation::Tanh,
        Activation::LeakyReLU {
            negative_slope: 0.01,
        },
        Activation::Sigmoid,
        Activation::Identity,
        Activation::PReLU {
            negative_slopes: (0..16).map(|c| 0.05 * c as f32).collect(),
        },
        Activation::Softsign,
    ];
    let mut checked = 0;
    for &(channels, condition_rows, taps, dilation) in &[
        (16, 1, 3, 4),
        (8, 1, 3, 1),
        (3, 1, 6, 7),
        (3, 2, 15, 2),
        (5, 0, 2, 1),
    ] {
        for (a, activation) in activations.iter().enumerate() {
            for frames in (0..=67).chain([256]) {
                if (frames + a) % 3 != 0 && frames < 64 {
                    continue;
                }
                let lookback = (taps - 1) * dilation;
                let in_stride = lookback + frames + 1;
                let (out_stride, head_stride, condition_stride) =
                    (frames + 3, frames + 2, frames + 1);
                let conv = ConvShape {
                    frames,
                    taps,
                    dilation,
                    cout: channels,
                    cin_per_group: channels,
                    groups: 1,
                    in_stride,
                    first: 1,
                    out_stride,
                };
                let weights = noise.fill(taps * channels * channels);
                let bias = noise.fill(channels);
                let mixer = noise.fill(condition_rows * channels);
                let front = LayerFront {
                    conv,
                    weights: &weights,
                    bias: &bias,
                    mixer: &mixer,
                    condition_rows,
                    condition_stride,
                    activation,
                    head_stride,
                };
                let input = noise.fill(channels * in_stride);
                let condition = noise.fill(condition_rows * condition_stride);
                let dirty_z = noise.fill(channels * out_stride);
                let dirty_head = noise.fill(channels * head_stride);
                let with_head = frames % 2 == 0;
                let run = |table: &Kernels| {
                    let (mut z, mut head) = (dirty_z.clone(), dirty_head.clone());
                    (table.layer_front)(
                        &front,
                        &input,
                        &condition,
                        &mut z,
                        with_head.then_some(&mut head[..]),
                    );
                    (z, head)
                };
                let (z_ref, head_ref) = run(tables()[0]);
                for table in &tables()[1..] {
                    let (z, head) = run(table);
                    for (name, got, want) in [("z", &z, &z_ref), ("head", &head, &head_ref)] {
                        for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
                            assert!(
                                (g - w).abs() <= 1e-5,
                                "{} {activation:?} {conv:?}: {name}[{i}] {g} vs {w}",
                                table.name
                            );
                        }
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "{checked}");
}

/// Whole layers (front half, head sum, layer 1x1 and residual): every
/// channel count of the one-pass path (1 to 4) with every lane-wise
/// activation, and the fallback (more channels, other activations), over
/// every frame count 0..=67 (every tile width and partial vector of every
/// table) and a long block, with and without slack after the weights (a NaN
/// there, which must not reach the output). `z` is scratch, so only the head
/// and the output are compared; frames past the block must stay untouched.
#[test]
fn whole_layers_match_the_scalar_reference() {
    let mut noise = Noise(0x5eed_1a7e);
    let activations = [
        Activation::LeakyReLU {
            negative_slope: 0.01,
        },
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::SiLU,
        Activation::Identity,
        Activation::Hardtanh {
            min_val: -0.5,
            max_val: 0.75,
        },
        Activation::PReLU {
            negative_slopes: (0..16).map(|c| 0.05 * c as f32).collect(),
        },
        Activation::Softsign,
    ];
    let mut checked = 0;
    for &(channels, condition_rows, taps, dilation) in &[
        (3, 1, 6, 7),
        (3, 1, 15, 13),
        (4, 1, 3, 2),
        (2, 1, 3, 1),
        (1, 1, 2, 5),
        (3, 2, 2, 1),
        (2, 0, 3, 3),
        (5, 1, 3, 2),
        (8, 1, 3, 1),
    ] {
        for (a, activation) in activations.iter().enumerate() {
            for frames in (0..=67).chain([256]) {
                if (frames + a) % 2 != 0 && frames < 64 {
                    continue;
                }
                let lookback = (taps - 1) * dilation;
                let in_stride = lookback + frames + 2;
                let (z_stride, head_stride, condition_stride, out_stride) =
                    (frames + 3, frames + 2, frames + 1, frames + 4);
                let conv = ConvShape {
                    frames,
                    taps,
                    dilation,
                    cout: channels,
                    cin_per_group: channels,
                    groups: 1,
                    in_stride,
                    first: 1,
                    out_stride: z_stride,
                };
                // Slack on frame counts 0 and 1 mod 4, none on 2 and 3: each
                // activation's parity of frame counts meets both.
                let slack = usize::from(frames % 4 < 2);
                let with_slack = |mut floats: Vec<f32>| {
                    floats.extend(std::iter::repeat_n(f32::NAN, slack));
                    floats
                };
                let weights = with_slack(noise.fill(taps * channels * channels));
                let bias = noise.fill(channels);
                let mixer = with_slack(noise.fill(condition_rows * channels));
                let layer1x1 = noise.fill(channels * channels);
                let layer1x1_bias = noise.fill(channels);
                let layer = WaveNetLayer {
                    front: LayerFront {
                        conv,
                        weights: &weights,
                        bias: &bias,
                        mixer: &mixer,
                        condition_rows,
                        condition_stride,
                        activation,
                        head_stride,
                    },
                    layer1x1: &layer1x1,
                    layer1x1_bias: &layer1x1_bias,
                    out_stride,
                };
                let input = noise.fill(channels * in_stride);
                let condition = noise.fill(condition_rows * condition_stride);
                let dirty_head = noise.fill(channels * head_stride);
                let dirty_out = noise.fill(channels * out_stride);
                let run = |table: &Kernels| {
                    let mut z = poisoned_scratch(channels * z_stride);
                    let (mut head, mut out) = (dirty_head.clone(), dirty_out.clone());
                    (table.layer)(&layer, &input, &condition, &mut z, &mut head, &mut out);
                    (head, out)
                };
                let (head_ref, out_ref) = run(tables()[0]);
                for (name, got, dirty, stride) in [
                    ("head", &head_ref, &dirty_head, head_stride),
                    ("out", &out_ref, &dirty_out, out_stride),
                ] {
                    for c in 0..channels {
                        let past = c * stride + frames..(c + 1) * stride;
                        assert_eq!(got[past.clone()], dirty[past], "scalar {name} {conv:?}");
                    }
                }
                for table in &tables()[1..] {
                    let (head, out) = run(table);
                    for (name, got, want) in [("head", &head, &head_ref), ("out", &out, &out_ref)] {
                        for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
                            assert!(
                                (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                                "{} {activation:?} {conv:?}: {name}[{i}] {g} vs {w}",
                                table.name
                            );
                        }
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1500, "{checked}");
}

/// A linear head over frames: every weight count from 0 to 40 (each table's
/// held-in-registers sizes, whole vectors and partial ones), a few frames,
/// rows wider than the weights; the scalar reference against plain sums.
#[test]
fn dot_rows_match_the_scalar_reference() {
    let mut noise = Noise(0xd07_5eed);
    let mut checked = 0;
    for n in 0..=40 {
        for frames in [0, 1, 3, 8] {
            let stride = n + n % 3;
            let weights = noise.fill(n);
            let bias = noise.next();
            let rows = noise.fill(frames * stride + 1);
            let want: Vec<f32> = (0..frames)
                .map(|t| {
                    let row = &rows[t * stride..][..n];
                    bias + weights
                        .iter()
                        .zip(row)
                        .map(|(w, x)| f64::from(w * x))
                        .sum::<f64>() as f32
                })
                .collect();
            for table in tables() {
                let mut out = vec![f32::NAN; frames];
                (table.dot_rows)(&weights, bias, &rows, stride, &mut out);
                for (t, (g, w)) in out.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                        "{} n {n} frame {t}: {g} vs {w}",
                        table.name
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 41 * 4, "{checked}");
}

/// Scratch full of NaN: a kernel that read it before writing would show.
fn poisoned_scratch(len: usize) -> Vec<f32> {
    vec![f32::NAN; len]
}

/// A state of `weights`' units padded with zeros to its padded length.
fn padded(weights: &LstmWeights, state: &[f32]) -> Vec<f32> {
    let mut buffer = vec![0.0; weights.padded_hidden()];
    buffer[..state.len()].copy_from_slice(state);
    buffer
}

#[test]
fn lstm_steps_match_the_scalar_reference() {
    let mut noise = Noise(0x1517_0000);
    let mut checked = 0;
    // A bias gain of 20 drives most gates far into saturation, where the tables'
    // activations must still agree with the reference's exact 0, 1 and ±1 (a gain
    // on the weights would instead test the summation order of large sums).
    for (input_size, gain) in [(1, 1.0), (3, 1.0), (1, 20.0)] {
        // Every chunk remainder of every table (4, 8 lanes; up to 6 chunks a group).
        for h in (1..=33).chain([40, 48, 49, 64, 97]) {
            let columns = input_size + h;
            let weight = noise.fill(4 * h * columns);
            let bias: Vec<f32> = noise.fill(4 * h).iter().map(|b| b * gain).collect();
            let input = noise.fill(input_size);
            let hidden = noise.fill(h);
            let cell = noise.fill(h);
            let run = |table: &Kernels| {
                let packed = LstmWeights::pack(table, input_size, h, &weight, &bias);
                let (mut hidden, mut cell) = (padded(&packed, &hidden), padded(&packed, &cell));
                let mut next = vec![f32::NAN; packed.padded_hidden()];
                // Several steps, so the state feeds back as in a model.
                for _ in 0..4 {
                    (table.lstm_step)(&packed, &input, &hidden, &mut next, &mut cell);
                    std::mem::swap(&mut hidden, &mut next);
                }
                hidden.truncate(h);
                cell.truncate(h);
                (hidden, cell)
            };
            let (hidden_ref, cell_ref) = run(tables()[0]);
            for table in &tables()[1..] {
                let (hidden_got, cell_got) = run(table);
                for (got, want) in hidden_got
                    .iter()
                    .chain(&cell_got)
                    .zip(hidden_ref.iter().chain(&cell_ref))
                {
                    assert!(
                        (got - want).abs() <= 1e-5,
                        "{} input {input_size} bias gain {gain} hidden {h}: {got} vs {want}",
                        table.name
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 3 * 38 * (tables().len() - 1), "{checked}");
}

#[test]
fn lstm_layers_match_the_scalar_reference_frame_by_frame() {
    let mut noise = Noise(0x1a7e_0000);
    let mut checked = 0;
    // A bias gain of 20 saturates most gates (see `lstm_steps_match_the_scalar_reference`).
    for (input_size, input_stride, gain) in [(1, 1, 1.0), (3, 5, 1.0), (1, 1, 20.0)] {
        for h in [1, 5, 8, 16, 24, 33, 56] {
            let columns = input_size + h;
            let weight = noise.fill(4 * h * columns);
            let bias: Vec<f32> = noise.fill(4 * h).iter().map(|b| b * gain).collect();
            let (hidden, cell) = (noise.fill(h), noise.fill(h));
            for frames in [0, 1, 7] {
                let inputs = noise.fill(frames * input_stride);
                // Every frame's hidden state, then the final cell state.
                let run = |table: &Kernels| {
                    let packed = LstmWeights::pack(table, input_size, h, &weight, &bias);
                    let (mut hidden, mut cell) = (padded(&packed, &hidden), padded(&packed, &cell));
                    let mut outputs = vec![f32::NAN; frames * packed.padded_hidden()];
                    (table.lstm_layer)(
                        &packed,
                        &inputs,
                        input_stride,
                        &mut hidden,
                        &mut cell,
                        &mut outputs,
                    );
                    let mut states: Vec<f32> = outputs
                        .chunks_exact(packed.padded_hidden())
                        .flat_map(|frame| frame[..h].to_vec())
                        .collect();
                    if frames > 0 {
                        assert_eq!(hidden[..h], states[(frames - 1) * h..], "{}", table.name);
                    }
                    states.extend(&cell[..h]);
                    states
                };
                let want = run(tables()[0]);
                for table in tables() {
                    for (k, (got, want)) in run(table).iter().zip(&want).enumerate() {
                        assert!(
                            (got - want).abs() <= 1e-5,
                            "{} input {input_size} bias gain {gain} hidden {h}, {frames} frames, value {k}: {got} vs {want}",
                            table.name
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, tables().len() * 3 * 7 * 3);
}

/// Random Keras GRU weights: kernel, recurrent, input bias, recurrent bias.
fn gru_weights(noise: &mut Noise, input_size: usize, h: usize) -> [Vec<f32>; 4] {
    [
        noise.fill(input_size * 3 * h),
        noise.fill(h * 3 * h),
        noise.fill(3 * h),
        noise.fill(3 * h),
    ]
}

/// `steps` GRU steps with `table` from `hidden`, the state's units returned.
fn run_gru(
    table: &Kernels,
    input_size: usize,
    h: usize,
    [kernel, recurrent, input_bias, recurrent_bias]: &[Vec<f32>; 4],
    input: &[f32],
    hidden: &[f32],
    steps: usize,
) -> Vec<f32> {
    let packed = GruWeights::pack(
        table,
        input_size,
        h,
        kernel,
        recurrent,
        input_bias,
        recurrent_bias,
    );
    let mut state = vec![0.0; packed.padded_hidden()];
    state[..h].copy_from_slice(hidden);
    let mut next = vec![f32::NAN; packed.padded_hidden()];
    for _ in 0..steps {
        (table.gru_step)(&packed, input, &state, &mut next);
        std::mem::swap(&mut state, &mut next);
    }
    state.truncate(h);
    state
}

#[test]
fn gru_steps_match_the_scalar_reference() {
    let mut noise = Noise(0x6e75_0000);
    let mut checked = 0;
    for input_size in [1, 3] {
        // Every chunk remainder of every table (4, 8 lanes; up to 6 chunks a group).
        for h in (1..=33).chain([40, 48, 49, 64, 97]) {
            let weights = gru_weights(&mut noise, input_size, h);
            let input = noise.fill(input_size);
            let hidden = noise.fill(h);
            // Several steps, so the state feeds back as in a model.
            let want = run_gru(tables()[0], input_size, h, &weights, &input, &hidden, 4);
            for table in &tables()[1..] {
                let got = run_gru(table, input_size, h, &weights, &input, &hidden, 4);
                for (got, want) in got.iter().zip(&want) {
                    assert!(
                        (got - want).abs() <= 1e-5,
                        "{} input {input_size} hidden {h}: {got} vs {want}",
                        table.name
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 2 * 38 * (tables().len() - 1), "{checked}");
}

#[test]
fn the_scalar_gru_step_is_keras_gru_with_reset_after() {
    let mut noise = Noise(0x6e75_1111);
    for (input_size, h) in [(1, 1), (1, 8), (2, 5), (12, 12)] {
        let weights = gru_weights(&mut noise, input_size, h);
        let [kernel, recurrent, bi, br] = &weights;
        let input = noise.fill(input_size);
        let hidden = noise.fill(h);
        let got = run_gru(tables()[0], input_size, h, &weights, &input, &hidden, 1);
        // The textbook formula in f64, from the unpacked Keras layout.
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        let affine = |gate: usize, from_input: bool| -> f64 {
            let column = gate;
            if from_input {
                let sum: f64 = (0..input_size)
                    .map(|i| f64::from(kernel[i * 3 * h + column]) * f64::from(input[i]))
                    .sum();
                sum + f64::from(bi[column])
            } else {
                let sum: f64 = (0..h)
                    .map(|j| f64::from(recurrent[j * 3 * h + column]) * f64::from(hidden[j]))
                    .sum();
                sum + f64::from(br[column])
            }
        };
        for unit in 0..h {
            let z = sigmoid(affine(unit, true) + affine(unit, false));
            let r = sigmoid(affine(h + unit, true) + affine(h + unit, false));
            let n = (affine(2 * h + unit, true) + r * affine(2 * h + unit, false)).tanh();
            let want = (1.0 - z) * n + z * f64::from(hidden[unit]);
            assert!(
                (f64::from(got[unit]) - want).abs() <= 1e-6,
                "input {input_size} hidden {h} unit {unit}: {} vs {want}",
                got[unit]
            );
        }
    }
}

#[test]
fn the_scalar_convolution_is_a_convolution() {
    // One independent check of the reference itself, by direct summation.
    let mut noise = Noise(42);
    let (cin, cout, groups, taps, dilation, frames) = (4, 6, 2, 3, 2, 11);
    let (cin_g, cout_g) = (cin / groups, cout / groups);
    let lookback = (taps - 1) * dilation;
    let in_stride = lookback + frames;
    let weights = noise.fill(taps * cout * cin_g);
    let input = noise.fill(cin * in_stride);
    let shape = ConvShape {
        frames,
        taps,
        dilation,
        cout,
        cin_per_group: cin_g,
        groups,
        in_stride,
        first: 0,
        out_stride: frames,
    };
    let mut out = vec![0.0; cout * frames];
    let bias = noise.fill(cout);
    (Kernels::scalar().conv)(
        &shape,
        &weights,
        Some(&bias),
        Output::Overwrite,
        &input,
        &mut out,
    );
    for o in 0..cout {
        let g = o / cout_g;
        for t in 0..frames {
            let mut sum = f64::from(bias[o]);
            for j in 0..taps {
                for il in 0..cin_g {
                    let w = weights[((g * taps + j) * cin_g + il) * cout_g + o % cout_g];
                    let x = input[(g * cin_g + il) * in_stride + j * dilation + t];
                    sum += f64::from(w) * f64::from(x);
                }
            }
            assert!((out[o * frames + t] as f64 - sum).abs() < 1e-5);
        }
    }
}

#[test]
fn every_table_s_tanh_and_sigmoid_are_accurate_and_saturate_exactly() {
    let grid: Vec<f32> = (-80_000..=80_000)
        .map(|i| i as f32 * 5e-4)
        .chain([-100.0, -88.5, 88.5, 100.0, 1e-30, -1e-30, 0.0])
        .collect();
    let far = [17.0, 40.0, 1e30, f32::INFINITY];
    let far: Vec<f32> = far.iter().flat_map(|&x| [x, -x]).collect();
    for table in tables() {
        let mut tanh = grid.clone();
        (table.activate)(&Activation::Tanh, 0, &mut tanh);
        let mut sigmoid = grid.clone();
        (table.activate)(&Activation::Sigmoid, 0, &mut sigmoid);
        for ((&x, &t), &s) in grid.iter().zip(&tanh).zip(&sigmoid) {
            let x64 = f64::from(x);
            let t_err = (f64::from(t) - x64.tanh()).abs();
            let s_err = (f64::from(s) - 1.0 / (1.0 + (-x64).exp())).abs();
            assert!(
                t_err < 5.5e-7,
                "{}: tanh({x}) = {t}, error {t_err}",
                table.name
            );
            assert!(
                s_err < 3e-7,
                "{}: sigmoid({x}) = {s}, error {s_err}",
                table.name
            );
        }
        let mut tanh = far.clone();
        (table.activate)(&Activation::Tanh, 0, &mut tanh);
        let mut sigmoid = far.clone();
        (table.activate)(&Activation::Sigmoid, 0, &mut sigmoid);
        for ((&x, &t), &s) in far.iter().zip(&tanh).zip(&sigmoid) {
            assert_eq!(t, x.signum(), "{}: tanh({x})", table.name);
            let one_or_zero = if x > 0.0 { 1.0 } else { 0.0 };
            assert_eq!(s, one_or_zero, "{}: sigmoid({x})", table.name);
        }
    }
}

#[test]
fn activations_match_the_scalar_reference() {
    let activations = [
        Activation::Identity,
        Activation::Tanh,
        Activation::Hardtanh {
            min_val: -0.5,
            max_val: 0.8,
        },
        Activation::LeakyHardtanh {
            min_val: -0.8,
            max_val: 0.7,
            min_slope: 0.05,
            max_slope: 0.1,
        },
        Activation::ReLU,
        Activation::LeakyReLU {
            negative_slope: 0.2,
        },
        Activation::PReLU {
            negative_slopes: vec![0.1, 0.3],
        },
        Activation::Sigmoid,
        Activation::SiLU,
        Activation::Hardswish,
        Activation::Hardsigmoid,
        Activation::Softsign,
        Activation::Softsigmoid,
        Activation::ELU { alpha: 1.0 },
        Activation::GELU {
            tanh_approximation: false,
        },
        Activation::GELU {
            tanh_approximation: true,
        },
        Activation::Softplus {
            beta: 1.0,
            threshold: 20.0,
        },
        Activation::Mish,
    ];
    let mut noise = Noise(7);
    for activation in &activations {
        for frames in [0, 1, 7, 8, 17, 67] {
            let input: Vec<f32> = noise.fill(frames).iter().map(|x| x * 6.0).collect();
            let mut reference = input.clone();
            (tables()[0].activate)(activation, 1, &mut reference);
            for table in &tables()[1..] {
                let mut out = input.clone();
                (table.activate)(activation, 1, &mut out);
                for (a, b) in out.iter().zip(&reference) {
                    assert!(
                        (a - b).abs() <= 1e-6,
                        "{} {activation:?}: {a} vs {b}",
                        table.name
                    );
                }
            }
        }
    }
}

/// LeakyReLU and PReLU take a cheaper form for slopes in [0, 1] and above 1
/// (`max`/`min` of `x` and `slope · x`): these must equal the scalar
/// reference bit for bit, signed zeros included; negative slopes keep the
/// general form, equal in value.
#[test]
fn leaky_forms_equal_the_scalar_reference_exactly() {
    let mut noise = Noise(0x1ea6);
    let mut input: Vec<f32> = noise.fill(61).iter().map(|x| x * 6.0).collect();
    input.extend([0.0, -0.0, 1e-38, -1e-38, 3.0e38, -3.0e38, 1.0, -1.0]);
    let mut checked = 0;
    for slope in [0.0, 0.01, 0.2, 1.0, 1.5, 3.0, -0.2, -1.5] {
        let activations = [
            Activation::LeakyReLU {
                negative_slope: slope,
            },
            Activation::PReLU {
                negative_slopes: vec![slope],
            },
            Activation::PReLU {
                negative_slopes: vec![0.5, slope],
            },
        ];
        for activation in &activations {
            let mut reference = input.clone();
            (tables()[0].activate)(activation, 1, &mut reference);
            for table in &tables()[1..] {
                let mut out = input.clone();
                (table.activate)(activation, 1, &mut out);
                for ((a, b), x) in out.iter().zip(&reference).zip(&input) {
                    // A negative slope takes the general form, whose zero
                    // may lose its sign.
                    let same = if slope >= 0.0 {
                        a.to_bits() == b.to_bits()
                    } else {
                        a == b
                    };
                    assert!(same, "{} {activation:?} at {x}: {a} vs {b}", table.name);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no SIMD table to check");
}
