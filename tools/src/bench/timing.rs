//! Timing a block processor on noise: warm-up, then the median of rounds.
//!
//! Rounds are timed with the thread's CPU time where the platform offers it
//! (Linux: `CLOCK_THREAD_CPUTIME_ID`), which a busy machine disturbs far less
//! than the wall clock; elsewhere with the wall clock.

use std::time::{Duration, Instant};

use serde::Serialize;

/// Rounds per measurement; the median is reported.
pub const ROUNDS: usize = 7;

/// The result of timing one processor.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Timing {
    /// The clock the rounds were timed with: `thread-cpu` or `wall`.
    pub clock: &'static str,
    /// Median over the rounds of the time per sample, in nanoseconds.
    pub ns_per_sample: f64,
    /// The fastest round's time per sample, in nanoseconds.
    pub ns_per_sample_min: f64,
    /// Seconds of audio (at the sample rate given) per second of compute,
    /// from the median: `1e9 / (ns_per_sample · sample_rate_hz)`.
    pub real_time_factor: f64,
    /// Rounds timed.
    pub rounds: usize,
    /// Samples processed in each round.
    pub samples_per_round: usize,
}

/// Uniform white noise at about −6 dBFS peak (a fixed xorshift sequence, so
/// every run sees the same signal), a whole number of `block_frames` long.
pub fn noise(block_frames: usize) -> Vec<f32> {
    let blocks = 32_768_usize.div_ceil(block_frames);
    let mut state: u32 = 0x9E37_79B9;
    (0..blocks * block_frames)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as f32 / u32::MAX as f32 - 0.5
        })
        .collect()
}

/// Times `process` over blocks of `block_frames` of `input` (cycled), for
/// about `budget` in all: a tenth warms up and calibrates the round length,
/// then [`ROUNDS`] rounds are timed with the wall clock.
pub fn measure(
    input: &[f32],
    block_frames: usize,
    budget: Duration,
    sample_rate_hz: f64,
    mut process: impl FnMut(&[f32], &mut [f32]),
) -> Timing {
    let mut output = vec![0.0_f32; block_frames];
    let blocks: Vec<&[f32]> = input.chunks_exact(block_frames).collect();
    let mut next = 0;
    let mut run = |count: usize, output: &mut [f32]| {
        for _ in 0..count {
            process(blocks[next], output);
            next = (next + 1) % blocks.len();
        }
    };

    // Warm up for a tenth of the budget (at least one block), which also
    // tells how long a block takes.
    let warmup = budget / 10;
    let started = Instant::now();
    let mut warmup_blocks = 0_usize;
    while warmup_blocks == 0 || started.elapsed() < warmup {
        run(1, &mut output);
        warmup_blocks += 1;
    }
    let per_block = started.elapsed().as_secs_f64() / warmup_blocks as f64;
    let round_seconds = budget.as_secs_f64() * 0.9 / ROUNDS as f64;
    let blocks_per_round = ((round_seconds / per_block.max(1e-12)) as usize).max(1);

    let clock = Clock::best();
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = clock.now_ns();
            run(blocks_per_round, &mut output);
            let elapsed = clock.now_ns().saturating_sub(start);
            elapsed as f64 / (blocks_per_round * block_frames) as f64
        })
        .collect();
    std::hint::black_box(&output);
    rounds.sort_by(f64::total_cmp);
    let median = rounds[ROUNDS / 2];
    Timing {
        clock: clock.name(),
        ns_per_sample: median,
        ns_per_sample_min: rounds[0],
        real_time_factor: 1e9 / (median.max(1e-3) * sample_rate_hz),
        rounds: ROUNDS,
        samples_per_round: blocks_per_round * block_frames,
    }
}

/// The clock rounds are timed with.
#[derive(Clone, Copy)]
enum Clock {
    /// This thread's CPU time.
    ThreadCpu,
    /// The wall clock, from a fixed origin.
    Wall(Instant),
}

impl Clock {
    /// Thread CPU time when it can be read, else the wall clock.
    fn best() -> Self {
        if thread_cpu_ns().is_some() {
            Clock::ThreadCpu
        } else {
            Clock::Wall(Instant::now())
        }
    }

    fn name(self) -> &'static str {
        match self {
            Clock::ThreadCpu => "thread-cpu",
            Clock::Wall(_) => "wall",
        }
    }

    /// Nanoseconds since an arbitrary origin.
    fn now_ns(self) -> u128 {
        match self {
            Clock::ThreadCpu => thread_cpu_ns().unwrap_or(0),
            Clock::Wall(origin) => origin.elapsed().as_nanos(),
        }
    }
}

/// This thread's CPU time in nanoseconds (Linux, 64-bit targets).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_cpu_ns() -> Option<u128> {
    /// `struct timespec` on 64-bit Linux (glibc and musl).
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock_id: i32, time: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut time = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a live, writable `timespec` with the platform's C
    // layout, and `clock_gettime` only writes that struct.
    let status = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut time) };
    let seconds = u128::try_from(time.tv_sec).ok()?;
    let nanos = u128::try_from(time.tv_nsec).ok()?;
    (status == 0).then_some(seconds * 1_000_000_000 + nanos)
}

/// This thread's CPU time: not available on this platform.
#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn thread_cpu_ns() -> Option<u128> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_whole_blocks_bounded_and_not_constant() {
        for block in [1, 7, 64, 4096] {
            let n = noise(block);
            assert_eq!(n.len() % block, 0);
            assert!(n.len() >= 32_768);
            assert!(n.iter().all(|x| x.abs() <= 0.5));
            assert!(n.iter().any(|&x| x != n[0]));
        }
    }

    #[test]
    fn measure_reports_positive_finite_numbers() {
        let input = noise(64);
        let timing = measure(&input, 64, Duration::from_millis(20), 48_000.0, |i, o| {
            o.copy_from_slice(i);
        });
        assert!(timing.ns_per_sample.is_finite() && timing.ns_per_sample > 0.0);
        assert!(timing.ns_per_sample_min <= timing.ns_per_sample);
        assert!(timing.real_time_factor.is_finite() && timing.real_time_factor > 0.0);
        assert_eq!(timing.rounds, ROUNDS);
    }

    #[test]
    fn the_thread_clock_advances_with_work() {
        let clock = Clock::best();
        let start = clock.now_ns();
        let mut x = 0.0_f64;
        for i in 0..2_000_000 {
            x += f64::from(i).sqrt();
        }
        std::hint::black_box(x);
        assert!(
            clock.now_ns() > start,
            "{} clock did not advance",
            clock.name()
        );
    }
}
