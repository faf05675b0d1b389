//! Every kernel table computes what the scalar reference computes, on random
//! data over awkward shapes: frame counts 0..=67, odd channel counts, groups,
//! dilations, and output buffers that already hold data (the kernels accumulate).

use nam_kernel::format::Activation;
use nam_kernel::kernels::{ConvShape, Kernels};

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
            for frames in (0..=67).step_by(5).chain([64, 67]) {
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
                let input = noise.fill(cin * in_stride);
                let dirty = noise.fill(cout * out_stride);
                let mut reference = dirty.clone();
                (tables()[0].conv_acc)(&shape, &weights, &input, &mut reference);
                for table in &tables()[1..] {
                    let mut out = dirty.clone();
                    (table.conv_acc)(&shape, &weights, &input, &mut out);
                    for (i, (a, b)) in out.iter().zip(&reference).enumerate() {
                        assert!(
                            (a - b).abs() <= 1e-5,
                            "{} {shape:?}: element {i}: {a} vs {b}",
                            table.name
                        );
                    }
                }
                // Frames past `frames` and rows' padding are untouched.
                for o in 0..cout {
                    assert_eq!(
                        reference[o * out_stride + frames..(o + 1) * out_stride],
                        dirty[o * out_stride + frames..(o + 1) * out_stride]
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100);
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
    (Kernels::scalar().conv_acc)(&shape, &weights, &input, &mut out);
    for o in 0..cout {
        let g = o / cout_g;
        for t in 0..frames {
            let mut sum = 0.0_f64;
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
