//! The plugin's loading thread: one per instance, long-lived, with a big stack.
//!
//! Reading a model (nested JSON, parsed recursively) and building its chain
//! need more stack than some hosts give the threads they call the plugin on
//! (mod-host's worker thread has about 16 KiB). So every build runs here: the
//! calling thread (the host's worker, or the one restoring a state) hands the
//! work over and waits for it. One thread serves all of an instance's work;
//! none is started per job. It runs at the lowest priority (nice
//! [`LOADER_NICE`]): building a big model's rig takes a few hundred
//! milliseconds of CPU, which must not be taken from the host's audio threads
//! where those are not real-time scheduled (JACK without real-time rights, a
//! dummy backend, a desktop host's non-real-time engine threads).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, sync_channel, SendError, Sender};
use std::thread::JoinHandle;

use crate::shared::Shared;

/// Stack of the loading thread.
const STACK_BYTES: usize = 8 << 20;

/// Nice value of the loading thread (the lowest priority).
pub const LOADER_NICE: i32 = 19;

/// Work for the loading thread.
type Work = Box<dyn FnOnce(&Shared) + Send>;

/// The instance's shared state, sent to the loading thread with the work.
struct SharedRef(*const Shared);

// SAFETY: `Shared` is Sync; the pointer is used only while the sender waits
// for the work to finish (see `Loader::run`), so the state outlives its use.
unsafe impl Send for SharedRef {}

struct Request {
    shared: SharedRef,
    work: Work,
}

/// The loading thread of one instance; it ends when this is dropped (with
/// the instance).
pub struct Loader {
    requests: Option<Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl Loader {
    /// Starts the loading thread; if no thread can be made, work runs on the
    /// caller's thread instead.
    pub fn spawn() -> Self {
        let (requests, receiver) = channel::<Request>();
        let thread = std::thread::Builder::new()
            .name("nam-graph loader".into())
            .stack_size(STACK_BYTES)
            .spawn(move || {
                lower_priority();
                for request in receiver {
                    // SAFETY: the sender waits for the work to finish
                    // (Loader::run), so the shared state is alive.
                    (request.work)(unsafe { &*request.shared.0 });
                }
            })
            .ok();
        Self {
            requests: thread.is_some().then_some(requests),
            thread,
        }
    }

    /// Runs `work` with the instance's state on the loading thread and waits
    /// for its result; `None` if it panicked (the panic is caught there).
    pub fn run<R: Send + 'static>(
        &self,
        shared: &Shared,
        work: impl FnOnce(&Shared) -> R + Send + 'static,
    ) -> Option<R> {
        let (result, answer) = sync_channel(1);
        let work: Work = Box::new(move |shared| {
            let outcome = catch_unwind(AssertUnwindSafe(|| work(shared))).ok();
            // The caller is waiting: the one-slot channel has room.
            let _ = result.send(outcome);
        });
        match &self.requests {
            Some(requests) => {
                let request = Request {
                    shared: SharedRef(shared),
                    work,
                };
                if let Err(SendError(request)) = requests.send(request) {
                    // The thread is gone (it cannot be: work never unwinds
                    // out of it); run here.
                    (request.work)(shared);
                }
            }
            None => work(shared),
        }
        answer.recv().ok().flatten()
    }
}

/// Gives the calling thread the nice value [`LOADER_NICE`]; if refused, it
/// keeps its priority (loading still works).
fn lower_priority() {
    // SAFETY: a plain syscall. On Linux the nice value is per thread, and
    // `who` 0 with PRIO_PROCESS names the calling thread (not gettid(), whose
    // libc wrapper needs a newer glibc than MOD's).
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, LOADER_NICE) };
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop.
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::hint::black_box;
    use std::thread::ThreadId;

    use super::*;
    use crate::log::Logger;

    /// Recursion using about `depth` × 64 KiB of stack.
    fn deep(depth: u32) -> u8 {
        let buffer = black_box([depth as u8; 64 << 10]);
        if depth == 0 {
            buffer[1]
        } else {
            deep(depth - 1).wrapping_add(buffer[7])
        }
    }

    #[test]
    fn one_big_thread_runs_all_work_survives_panics_and_ends_with_the_instance() {
        let shared = Shared::new(48_000.0, 1, Logger::stderr(), [1, 2, 3], 4);
        let whoami = |_: &Shared| -> (ThreadId, Option<String>) {
            let me = std::thread::current();
            (me.id(), me.name().map(str::to_owned))
        };
        let (loader, name) = shared.loader.run(&shared, whoami).unwrap();
        assert_eq!(name.as_deref(), Some("nam-graph loader"));
        assert_ne!(loader, std::thread::current().id());
        // 4 MiB of stack: more than a test thread's 2 MiB.
        let sum = (1..=64u32).sum::<u32>() as u8;
        assert_eq!(shared.loader.run(&shared, |_| deep(64)), Some(sum));
        assert_eq!(
            shared.loader.run(&shared, |_| -> u8 { panic!("a bug") }),
            None
        );
        assert_eq!(shared.loader.run(&shared, whoami).unwrap().0, loader);
        drop(shared);
    }

    #[test]
    fn the_loading_thread_alone_runs_at_the_lowest_priority() {
        let nice = || {
            // SAFETY: a plain syscall reading the calling thread's nice value.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
        };
        let caller = nice();
        let shared = Shared::new(48_000.0, 1, Logger::stderr(), [1, 2, 3], 4);
        let loader = shared.loader.run(&shared, move |_| nice());
        assert_eq!(loader, Some(LOADER_NICE));
        assert_eq!(nice(), caller, "the caller's priority changed");
        assert_ne!(caller, LOADER_NICE, "run this test at a normal priority");
    }
}
