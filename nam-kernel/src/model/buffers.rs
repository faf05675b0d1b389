//! Planar signal buffers, allocated once at build time.
//!
//! Every row starts on a 64-byte cache line, and so does each block a
//! [`History`] writes when blocks are whole lines: the kernels' vector loads
//! and stores of a block then never split over two lines (aligning the
//! buffers took 8–15% off every WaveNet preset with AVX-512).

use crate::kernels::{aligned_zeros, AlignedFloats};

/// Floats per 64-byte cache line.
const LINE: usize = 16;

/// `frames` rounded up to whole cache lines.
fn whole_lines(frames: usize) -> usize {
    frames.div_ceil(LINE) * LINE
}

/// A block of `channels` rows, each `stride` frames long (at least the
/// frames asked for, in whole cache lines): channel `c` lives at
/// `data[c * stride ..][..stride]`.
#[derive(Clone, Debug)]
pub(crate) struct Planar {
    pub(crate) data: AlignedFloats,
    pub(crate) stride: usize,
}

impl Planar {
    /// Frames per row a planar buffer of `frames` frames holds.
    pub(crate) fn stride_for(frames: usize) -> usize {
        whole_lines(frames)
    }

    pub(crate) fn new(channels: usize, frames: usize) -> Self {
        let stride = Self::stride_for(frames);
        Self {
            data: aligned_zeros(channels * stride),
            stride,
        }
    }

    pub(crate) fn row(&self, channel: usize, frames: usize) -> &[f32] {
        &self.data[channel * self.stride..][..frames]
    }

    pub(crate) fn row_mut(&mut self, channel: usize, frames: usize) -> &mut [f32] {
        &mut self.data[channel * self.stride..][..frames]
    }

    /// Copies the first `channels` rows (`frames` each) from `source`.
    pub(crate) fn copy_from(
        &mut self,
        source: &[f32],
        source_stride: usize,
        channels: usize,
        frames: usize,
    ) {
        for c in 0..channels {
            self.row_mut(c, frames)
                .copy_from_slice(&source[c * source_stride..][..frames]);
        }
    }
}

/// A planar buffer that keeps the last `lookback` frames of every channel
/// before the block being written, so a dilated convolution can read its past
/// taps as contiguous slices. Writing advances a position; when the buffer is
/// full the last `lookback` frames (rounded up to whole cache lines) move back
/// to the start (amortized: the capacity is at least the lookback and four
/// times as much, or eight blocks: a layer with a long lookback copies a
/// quarter of a float per frame and channel).
#[derive(Clone, Debug)]
pub(crate) struct History {
    data: AlignedFloats,
    stride: usize,
    lookback: usize,
    position: usize,
}

impl History {
    /// Frames per channel a history of this lookback needs for blocks of `max_frames`.
    pub(crate) fn stride_for(lookback: usize, max_frames: usize) -> usize {
        whole_lines(whole_lines(lookback) + (8 * max_frames).max(4 * lookback).max(max_frames))
    }

    pub(crate) fn new(channels: usize, lookback: usize, max_frames: usize) -> Self {
        let stride = Self::stride_for(lookback, max_frames);
        Self {
            data: aligned_zeros(channels * stride),
            stride,
            lookback,
            position: whole_lines(lookback),
        }
    }

    /// Forgets the past: every earlier frame reads as zero.
    pub(crate) fn clear(&mut self) {
        self.data.fill(0.0);
        self.position = whole_lines(self.lookback);
    }

    /// Makes room for `frames` new frames (which must not exceed the `max_frames`
    /// given at construction).
    #[inline]
    pub(crate) fn begin(&mut self, frames: usize) {
        if self.position + frames > self.stride {
            self.rewind();
        }
    }

    /// Moves the lookback, and the frames before it up to a whole line, back
    /// to the start: the same copy, from and to line starts. Out of line: it
    /// runs once in several blocks, and [`History::begin`]'s test is all the
    /// other blocks pay.
    #[cold]
    #[inline(never)]
    fn rewind(&mut self) {
        let start = whole_lines(self.lookback);
        let from = self.position - start;
        for row in self.data.chunks_exact_mut(self.stride) {
            row.copy_within(from..self.position, 0);
        }
        self.position = start;
    }

    /// The `frames` frames of channel `channel` being written.
    pub(crate) fn current_mut(&mut self, channel: usize, frames: usize) -> &mut [f32] {
        &mut self.data[channel * self.stride + self.position..][..frames]
    }

    /// The current block as a planar view: `(data, stride, offset)` with channel
    /// `c`'s current frames at `data[c * stride + offset ..]`.
    pub(crate) fn current_view_mut(&mut self) -> (&mut [f32], usize, usize) {
        (&mut self.data, self.stride, self.position)
    }

    /// The current block as a planar view, read-only.
    pub(crate) fn current_view(&self) -> (&[f32], usize, usize) {
        (&self.data, self.stride, self.position)
    }

    /// The whole buffer for a convolution of this lookback: `(data, stride, first)`
    /// where `first` is the offset of the oldest tap for the current block.
    pub(crate) fn conv_input(&self) -> (&[f32], usize, usize) {
        (&self.data, self.stride, self.position - self.lookback)
    }

    /// Commits the `frames` frames written since [`History::begin`].
    pub(crate) fn end(&mut self, frames: usize) {
        self.position += frames;
    }

    /// Rewrites the past as if the newest frame had been there forever: every
    /// channel's last `lookback` frames take the value of its newest one.
    pub(crate) fn hold_newest(&mut self) {
        if self.lookback == 0 {
            return;
        }
        let (start, newest) = (self.position - self.lookback, self.position - 1);
        for row in self.data.chunks_exact_mut(self.stride) {
            let value = row[newest];
            row[start..newest].fill(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_newest_fills_the_lookback_with_the_newest_frame() {
        let mut history = History::new(2, 4, 3);
        history.begin(2);
        history.current_mut(0, 2).copy_from_slice(&[1.0, 2.0]);
        history.current_mut(1, 2).copy_from_slice(&[3.0, 4.0]);
        history.end(2);
        history.hold_newest();
        history.begin(1);
        let (data, stride, first) = history.conv_input();
        assert_eq!(&data[first..][..4], &[2.0; 4]);
        assert_eq!(&data[stride + first..][..4], &[4.0; 4]);
    }

    #[test]
    fn rows_and_whole_line_blocks_start_on_cache_lines() {
        let on_line = |p: *const f32| (p as usize).is_multiple_of(LINE * 4);
        let planar = Planar::new(3, 37);
        assert!((0..3).all(|c| on_line(planar.row(c, 37).as_ptr())));
        let mut history = History::new(3, 37, 32);
        let mut rewinds = 0;
        for _ in 0..20 {
            let before = history.position;
            history.begin(32);
            rewinds += usize::from(history.position < before);
            assert!((0..3).all(|c| on_line(history.current_mut(c, 32).as_ptr())));
            history.end(32);
        }
        assert!(rewinds > 0, "the blocks never wrapped around");
    }

    #[test]
    fn history_keeps_the_lookback_across_rewinds() {
        let lookback = 5;
        let mut history = History::new(2, lookback, 3);
        let mut next = 1.0;
        for _ in 0..40 {
            history.begin(3);
            for c in 0..2 {
                for (t, x) in history.current_mut(c, 3).iter_mut().enumerate() {
                    *x = next + t as f32 + 1000.0 * c as f32;
                }
            }
            let (data, stride, first) = history.conv_input();
            for c in 0..2 {
                let window = &data[c * stride + first..][..lookback + 3];
                for (t, &x) in window.iter().enumerate() {
                    let expected = next + t as f32 - lookback as f32;
                    let expected = if expected < 1.0 {
                        0.0
                    } else {
                        expected + 1000.0 * c as f32
                    };
                    assert_eq!(x, expected);
                }
            }
            history.end(3);
            next += 3.0;
        }
    }
}
