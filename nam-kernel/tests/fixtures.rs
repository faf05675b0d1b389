//! Every reference case in `../shared/fixtures` matches the NAM trainer's output
//! within its tolerance, from the first sample, with every kernel table.

mod common;

use nam_kernel::kernels::Kernels;
use nam_kernel::{BuildOptions, Model, NamFile};

#[test]
fn every_fixture_matches_the_reference() {
    let cases = common::cases();
    let mut failures = Vec::new();
    for case in &cases {
        let file = NamFile::load(&case.model).unwrap_or_else(|e| panic!("{e}"));
        for kernels in Kernels::available() {
            let options = BuildOptions {
                kernels,
                ..BuildOptions::default()
            };
            let mut model =
                Model::build(&file, options).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let mut output = vec![0.0; case.input.len()];
            model.process(&case.input, &mut output);
            let (diff, at) = common::max_abs_diff(&output, &case.expected);
            println!(
                "{:32} {:8} max |diff| = {diff:.3e} at {at}",
                case.name, kernels.name
            );
            if diff.is_nan() || diff > case.tolerance {
                failures.push(format!(
                    "{} ({}): max |diff| {diff:e} at sample {at} exceeds {:e}",
                    case.name, kernels.name, case.tolerance
                ));
            }
        }
    }
    println!("{} cases checked", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
