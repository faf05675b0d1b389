//! Flush-to-zero for the audio thread: subnormal floats (decaying filter and
//! reverb tails) cost up to 100× per operation on x86 and stall the Dwarf's
//! Cortex-A35. The guard sets the CPU's flush-to-zero (and, on x86,
//! denormals-are-zero) mode for one `run()` and restores the host's mode.

use std::marker::PhantomData;

/// Sets flush-to-zero while alive; restores the previous mode on drop.
///
/// The mode is per thread, so the guard must be dropped on the thread that
/// made it: it is neither `Send` nor `Sync`.
///
/// ```compile_fail
/// fn send<T: Send>() {}
/// send::<nam_lv2::denormals::DenormalGuard>();
/// ```
///
/// ```
/// // The same check compiles for a type that is Send.
/// fn send<T: Send>() {}
/// send::<nam_lv2::player::RigPlayer>();
/// ```
pub struct DenormalGuard {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    previous: u64,
    /// A raw pointer makes the guard `!Send` and `!Sync`.
    not_send: PhantomData<*const ()>,
}

#[cfg(target_arch = "x86_64")]
const FLUSH_BITS: u64 = (1 << 15) | (1 << 6); // MXCSR FTZ | DAZ

#[cfg(target_arch = "aarch64")]
const FLUSH_BITS: u64 = 1 << 24; // FPCR FZ

impl DenormalGuard {
    /// Enters flush-to-zero mode.
    pub fn new() -> Self {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        {
            let previous = read_mode();
            write_mode(previous | FLUSH_BITS);
            Self {
                previous,
                not_send: PhantomData,
            }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        Self {
            not_send: PhantomData,
        }
    }
}

impl Default for DenormalGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for DenormalGuard {
    fn drop(&mut self) {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        write_mode(self.previous);
    }
}

#[cfg(target_arch = "x86_64")]
fn read_mode() -> u64 {
    let mut csr: u32 = 0;
    // SAFETY: stmxcsr stores the SSE control register to a valid u32.
    unsafe { core::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack)) };
    u64::from(csr)
}

#[cfg(target_arch = "x86_64")]
fn write_mode(mode: u64) {
    let csr = mode as u32;
    // SAFETY: ldmxcsr loads a control word derived from the current one
    // (only the FTZ/DAZ bits differ), which is always valid.
    unsafe { core::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack)) };
}

#[cfg(target_arch = "aarch64")]
fn read_mode() -> u64 {
    let fpcr: u64;
    // SAFETY: reading FPCR has no side effects.
    unsafe { core::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack)) };
    fpcr
}

#[cfg(target_arch = "aarch64")]
fn write_mode(mode: u64) {
    // SAFETY: writes FPCR with the current value, only FZ changed.
    unsafe { core::arch::asm!("msr fpcr, {}", in(reg) mode, options(nomem, nostack)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnormals_flush_inside_the_guard_only() {
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        let half = std::hint::black_box(0.5f32);
        assert!((tiny * half) > 0.0, "subnormal before the guard");
        {
            let _guard = DenormalGuard::new();
            if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
                assert_eq!(std::hint::black_box(tiny) * std::hint::black_box(half), 0.0);
            }
        }
        assert!((tiny * half) > 0.0, "mode restored after the guard");
    }
}
