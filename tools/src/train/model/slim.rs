//! How a slimmable layer array's convolutions follow its width, and the NAM
//! trainer's two training options for them (its `_slimmable_conv.py`):
//! `init_strategy`, which zeroes weights at initialization (all but the
//! smallest size's, or those through which a bigger size's extra input
//! channels would reach a smaller size's outputs), and `boosting`, with
//! which a size's loss trains only the weights the next smaller size does
//! not use.

use tch::{Kind, Tensor};

use super::conv::Conv;
use crate::train::arch::InitStrategy;

/// How one side (output rows or input columns) of a convolution follows the
/// array's width.
#[derive(Clone, Copy, Debug)]
pub(super) enum Side {
    /// Whole at every width: the array's input, the condition, the head's
    /// output.
    Whole,
    /// As many as the width.
    Width,
    /// Twice the width: a gated or blended layer's convolution rows.
    Paired,
}

impl Side {
    /// The length at `width`, `None` for the whole side.
    fn at(self, width: i64) -> Option<i64> {
        match self {
            Side::Whole => None,
            Side::Width => Some(width),
            Side::Paired => Some(2 * width),
        }
    }
}

/// A slimmable convolution's rows and columns.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slicing {
    pub(super) rows: Side,
    pub(super) cols: Side,
}

impl Slicing {
    /// `conv` at `width`. With `boosted_from`, the next smaller size's width,
    /// the weights that size uses get no gradient through this size (the
    /// trainer's `boosting`); the output is the same either way.
    pub(super) fn apply(self, conv: &Conv, width: i64, boosted_from: Option<i64>) -> Conv {
        let sliced = conv.slice(self.rows.at(width), self.cols.at(width));
        match boosted_from {
            Some(smaller) => sliced.frozen_in(self.rows.at(smaller), self.cols.at(smaller)),
            None => sliced,
        }
    }

    /// Initializes `conv`'s parameters by `strategy` for an array sliced to
    /// the widths `allowed` (ascending); `conv` holds PyTorch's default
    /// initialization already, as the trainer's does at that point.
    pub(super) fn initialize(self, conv: &Conv, strategy: InitStrategy, allowed: &[usize]) {
        let [cout, cin, k] = conv.weight.size()[..] else {
            return;
        };
        // Each side's length by level; a side that stays whole has one, as in the trainer.
        let lengths = |side: Side, whole: i64| -> Vec<i64> {
            match side {
                Side::Whole => vec![whole],
                _ => allowed
                    .iter()
                    .map(|&c| side.at(c as i64).unwrap_or(whole))
                    .collect(),
            }
        };
        let (rows, cols) = (lengths(self.rows, cout), lengths(self.cols, cin));
        tch::no_grad(|| match strategy {
            InitStrategy::SmallestAndZeros => smallest_and_zeros(conv, rows[0], cols[0], k),
            InitStrategy::ChannelCausal => {
                for (r, c) in causal_order(&rows, &cols) {
                    if r < cout && c < cin {
                        // In-place (the returned tensor is the same one).
                        let _ = conv
                            .weight
                            .narrow(0, 0, r)
                            .narrow(1, c, cin - c)
                            .shallow_clone()
                            .zero_();
                    }
                }
            }
        });
    }
}

/// The `(rows, cols)` of each size in the order a size value growing from 0
/// reaches them (`rows` and `cols` are each side's lengths by level; a level
/// of either side starts at `level / len`, columns first on a tie), the
/// trainer's `_init_channel_causal` order.
fn causal_order(rows: &[i64], cols: &[i64]) -> Vec<(i64, i64)> {
    // (ratio as a fraction, 0 = columns / 1 = rows, level)
    let mut events: Vec<(usize, usize, u8, usize)> = (1..cols.len())
        .map(|i| (i, cols.len(), 0, i))
        .chain((1..rows.len()).map(|i| (i, rows.len(), 1, i)))
        .collect();
    events.sort_by(|a, b| (a.0 * b.1).cmp(&(b.0 * a.1)).then(a.2.cmp(&b.2)));
    let (mut r, mut c) = (0, 0);
    let mut order = vec![(rows[0], cols[0])];
    for (_, _, side, level) in events {
        if side == 0 {
            c = level;
        } else {
            r = level;
        }
        order.push((rows[r], cols[c]));
    }
    order
}

/// The first `rows × cols` weights drawn as PyTorch initializes a
/// convolution of that size (bound `1/sqrt(cols · k)`, the bias's first
/// `rows` too), every other weight and bias zero.
fn smallest_and_zeros(conv: &Conv, rows: i64, cols: i64, k: i64) {
    let bound = 1.0 / ((cols * k).max(1) as f64).sqrt();
    // In-place operations (the tensors they return are the same ones).
    let _ = conv.weight.shallow_clone().zero_();
    let _ = conv
        .weight
        .narrow(0, 0, rows)
        .narrow(1, 0, cols)
        .shallow_clone()
        .uniform_(-bound, bound);
    if let Some(bias) = &conv.bias {
        let _ = bias.shallow_clone().zero_();
        let _ = bias
            .narrow(0, 0, rows)
            .shallow_clone()
            .uniform_(-bound, bound);
    }
}

/// `t` with no gradient into its first `rows` (all where `None`) along the
/// first axis and first `cols` along the second (where the tensor has one).
pub(super) fn frozen_block(t: &Tensor, rows: Option<i64>, cols: Option<i64>) -> Tensor {
    let mask = Tensor::zeros(t.size(), (Kind::Bool, t.device()));
    let mut block = mask.shallow_clone();
    if let Some(rows) = rows {
        block = block.narrow(0, 0, rows);
    }
    if let (Some(cols), true) = (cols, t.dim() > 1) {
        block = block.narrow(1, 0, cols);
    }
    let _ = block.fill_(1); // in place, into `mask`
    t.detach().where_self(&mask, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causal_order_alternates_columns_then_rows_per_level() {
        let widths = [2, 3, 5];
        assert_eq!(
            causal_order(&widths, &widths),
            [(2, 2), (2, 3), (3, 3), (3, 5), (5, 5)]
        );
        // A gated convolution: rows twice the columns, the same levels.
        assert_eq!(causal_order(&[4, 6], &[2, 3]), [(4, 2), (4, 3), (6, 3)]);
        // Sides of different level counts meet in the order of their ratios.
        assert_eq!(
            causal_order(&[1, 2], &[1, 2, 3]),
            [(1, 1), (1, 2), (2, 2), (2, 3)]
        );
        // A whole side has one length and no events.
        assert_eq!(causal_order(&[8], &[2, 3]), [(8, 2), (8, 3)]);
    }
}
