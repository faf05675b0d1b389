//! The portable reference kernels. Written for the autovectorizer: inner loops
//! run over contiguous time with no bounds checks inside them.

use super::{activation, ConvShape, Kernels};

pub(super) static KERNELS: Kernels = Kernels {
    name: "scalar",
    conv_acc,
    activate: activation::apply,
};

/// Output rows handled together, so each input row is read once per group of rows.
const ROW_BLOCK: usize = 4;

fn conv_acc(shape: &ConvShape, weights: &[f32], input: &[f32], out: &mut [f32]) {
    let n = shape.frames;
    if n == 0 {
        return;
    }
    let cout_per_group = shape.cout / shape.groups;
    let cin = shape.cin_per_group;
    for group in 0..shape.groups {
        let rows = group * cout_per_group..(group + 1) * cout_per_group;
        let mut o = rows.start;
        while o < rows.end {
            let count = ROW_BLOCK.min(rows.end - o);
            for tap in 0..shape.taps {
                let offset = shape.first + tap * shape.dilation;
                for i_local in 0..cin {
                    let i = group * cin + i_local;
                    let x = &input[i * shape.in_stride + offset..][..n];
                    let w = |r: usize| weights[(tap * shape.cout + o + r) * cin + i_local];
                    if count == ROW_BLOCK {
                        let (w0, w1, w2, w3) = (w(0), w(1), w(2), w(3));
                        let (r0, rest) = out[o * shape.out_stride..].split_at_mut(shape.out_stride);
                        let (r1, rest) = rest.split_at_mut(shape.out_stride);
                        let (r2, r3) = rest.split_at_mut(shape.out_stride);
                        let (r0, r1, r2, r3) =
                            (&mut r0[..n], &mut r1[..n], &mut r2[..n], &mut r3[..n]);
                        for t in 0..n {
                            let xv = x[t];
                            r0[t] += w0 * xv;
                            r1[t] += w1 * xv;
                            r2[t] += w2 * xv;
                            r3[t] += w3 * xv;
                        }
                    } else {
                        for r in 0..count {
                            let wv = w(r);
                            let row = &mut out[(o + r) * shape.out_stride..][..n];
                            for (y, &xv) in row.iter_mut().zip(x) {
                                *y += wv * xv;
                            }
                        }
                    }
                }
            }
            o += count;
        }
    }
}
