//! Data-parallel training steps on the CPU. A batch's segments are split
//! between worker threads, each with its own copy of the model and libtorch
//! running single-threaded in it. Each worker computes its slice's part of the
//! loss ([`LossParts`]); the spectral convergence terms, which are ratios of
//! whole-batch sums, are formed from every slice's sums, and each worker then
//! back-propagates its part with the whole batch's derivatives, so the
//! gradient is the whole batch's. The gradients are summed in worker order,
//! so a run is deterministic for a given number of workers.
//!
//! Why: libtorch's own intra-op threads split each operation of these small
//! models into pieces too small to pay for their synchronization; whole
//! segments per thread need none until the loss.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;

use tch::{nn, Device, Tensor};

use super::arch::Architecture;
use super::loss::{ConvergencePart, LossConfig, LossParts};
use super::model::{Mode, TrainModel};

/// What a worker is asked to do.
enum Request {
    /// Take these parameter values, run the model (at slimmable size value
    /// `slimming`) on the segments `x` and compute the loss's parts against
    /// `y`, `share` of the batch's rows.
    Forward {
        parameters: Vec<Tensor>,
        slimming: f64,
        x: Tensor,
        y: Tensor,
        share: f64,
        loss: LossConfig,
    },
    /// Back-propagate the part with each spectral convergence term's
    /// derivative with respect to its error sum (in the parts' order).
    Backward { slopes: Vec<f64> },
}

/// What a worker answers.
enum Reply {
    /// Its slice's mean terms and each convergence term's weight and sums.
    Sums {
        means: f64,
        convergences: Vec<(f64, f64, f64)>,
    },
    /// Its slice's gradient, per trainable variable.
    Gradients(Vec<Tensor>),
}

/// A worker thread and its channels.
struct Worker {
    requests: Sender<Request>,
    replies: Receiver<Reply>,
    thread: Option<JoinHandle<()>>,
}

/// Worker threads training one architecture on the CPU.
pub struct Workers {
    workers: Vec<Worker>,
}

impl Workers {
    /// `count` workers (at least one), each building its own model of
    /// `architecture`. libtorch's intra-op threads are set to one.
    pub fn new(architecture: &Architecture, count: usize) -> Self {
        tch::set_num_threads(1);
        let workers = (0..count.max(1))
            .map(|_| {
                let (requests, inbox) = channel::<Request>();
                let (outbox, replies) = channel::<Reply>();
                let architecture = architecture.clone();
                let thread = std::thread::spawn(move || serve(&architecture, &inbox, &outbox));
                Worker {
                    requests,
                    replies,
                    thread: Some(thread),
                }
            })
            .collect();
        Self { workers }
    }

    /// The loss of one batch (`x` inputs, `y` targets, one row per segment)
    /// and its gradient with respect to `parameters` (the trainable variables
    /// of the caller's model, whose values the workers take), the model at
    /// slimmable size value `slimming`, the batch split between the workers.
    /// Also returns the seconds spent up to the loss (forward) and after it
    /// (backward).
    pub fn step(
        &self,
        parameters: &[Tensor],
        slimming: f64,
        x: &Tensor,
        y: &Tensor,
        loss: &LossConfig,
    ) -> Result<Step, WorkerGone> {
        let clock = std::time::Instant::now();
        let rows = x.size()[0];
        let shares = split(rows, self.workers.len());
        let values: Vec<Tensor> = parameters.iter().map(|p| p.detach().copy()).collect();
        let busy = &self.workers[..shares.len()];
        for (worker, &(start, len)) in busy.iter().zip(&shares) {
            let request = Request::Forward {
                parameters: values.iter().map(Tensor::shallow_clone).collect(),
                slimming,
                x: x.narrow(0, start, len).copy(),
                y: y.narrow(0, start, len).copy(),
                share: len as f64 / rows as f64,
                loss: loss.clone(),
            };
            worker.requests.send(request).map_err(|_| WorkerGone)?;
        }
        // The whole batch's sums, term by term, added in worker order.
        let mut means = 0.0;
        let mut sums: Vec<(f64, f64, f64)> = Vec::new();
        for worker in busy {
            let Reply::Sums {
                means: part,
                convergences,
            } = worker.replies.recv().map_err(|_| WorkerGone)?
            else {
                return Err(WorkerGone);
            };
            means += part;
            if sums.is_empty() {
                sums = convergences;
            } else {
                for (sum, (_, error, target)) in sums.iter_mut().zip(convergences) {
                    sum.1 += error;
                    sum.2 += target;
                }
            }
        }
        let loss_value = means
            + sums
                .iter()
                .map(|&(weight, error, target)| ConvergencePart::value(weight, error, target))
                .sum::<f64>();
        let forward = clock.elapsed().as_secs_f64();
        let slopes: Vec<f64> = sums
            .iter()
            .map(|&(weight, error, target)| ConvergencePart::slope(weight, error, target))
            .collect();
        for worker in busy {
            let request = Request::Backward {
                slopes: slopes.clone(),
            };
            worker.requests.send(request).map_err(|_| WorkerGone)?;
        }
        let mut gradients: Option<Vec<Tensor>> = None;
        for worker in busy {
            let Reply::Gradients(part) = worker.replies.recv().map_err(|_| WorkerGone)? else {
                return Err(WorkerGone);
            };
            gradients = Some(match gradients {
                None => part,
                Some(sum) => sum.into_iter().zip(part).map(|(a, b)| add(a, b)).collect(),
            });
        }
        Ok(Step {
            loss: loss_value,
            gradients: gradients.unwrap_or_default(),
            forward,
            backward: clock.elapsed().as_secs_f64() - forward,
        })
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            // Closing the request channel ends the worker's loop.
            let (closed, _) = channel();
            drop(std::mem::replace(&mut worker.requests, closed));
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// One batch's result.
pub struct Step {
    /// The batch's loss.
    pub loss: f64,
    /// Its gradient, per trainable variable (undefined where a variable
    /// does not reach the loss).
    pub gradients: Vec<Tensor>,
    /// Seconds until the loss was computed.
    pub forward: f64,
    /// Seconds of back-propagation.
    pub backward: f64,
}

/// A worker thread stopped (it panicked).
#[derive(Debug, thiserror::Error)]
#[error("a training worker thread stopped unexpectedly")]
pub struct WorkerGone;

/// A worker's loop: its own model, whose parameters take the values each
/// forward request brings.
fn serve(architecture: &Architecture, inbox: &Receiver<Request>, outbox: &Sender<Reply>) {
    let vs = nn::VarStore::new(Device::Cpu);
    let mut model = TrainModel::new(&vs.root(), architecture);
    let mut parameters = vs.trainable_variables();
    // The last forward pass's loss parts (one per submodel), kept for its backward.
    let mut pending: Vec<LossParts> = Vec::new();
    for request in inbox {
        let reply = match request {
            Request::Forward {
                parameters: values,
                slimming,
                x,
                y,
                share,
                loss,
            } => {
                tch::no_grad(|| {
                    for (p, v) in parameters.iter_mut().zip(&values) {
                        p.copy_(v);
                    }
                });
                model.set_slimming(slimming);
                pending = model
                    .outputs(&x, Mode::Train)
                    .iter()
                    .map(|pred| loss.parts(pred, &y, share))
                    .collect();
                Reply::Sums {
                    means: pending.iter().map(|p| p.means.double_value(&[])).sum(),
                    convergences: pending
                        .iter()
                        .flat_map(|p| &p.convergences)
                        .map(|c| {
                            (
                                c.weight,
                                c.error.double_value(&[]),
                                c.target.double_value(&[]),
                            )
                        })
                        .collect(),
                }
            }
            Request::Backward { slopes } => {
                // Its gradient is the whole batch loss's gradient through this slice.
                let mut slope = slopes.into_iter();
                let surrogate = std::mem::take(&mut pending)
                    .into_iter()
                    .map(|parts| {
                        parts.convergences.iter().fold(parts.means, |sum, c| {
                            sum + &c.error * slope.next().unwrap_or(0.0)
                        })
                    })
                    .reduce(|a, b| a + b);
                Reply::Gradients(match surrogate {
                    Some(s) => Tensor::run_backward(&[&s], &parameters, false, false),
                    None => Vec::new(),
                })
            }
        };
        if outbox.send(reply).is_err() {
            return;
        }
    }
}

/// `a + b`, either possibly undefined (a variable the loss does not reach).
fn add(a: Tensor, b: Tensor) -> Tensor {
    match (a.defined(), b.defined()) {
        (true, true) => a + b,
        (true, false) => a,
        _ => b,
    }
}

/// `(start, length)` of each worker's rows: `rows` split as evenly as
/// possible between at most `workers` workers, none empty.
fn split(rows: i64, workers: usize) -> Vec<(i64, i64)> {
    let parts = (workers as i64).clamp(1, rows.max(1));
    let (base, extra) = (rows / parts, rows % parts);
    let mut start = 0;
    (0..parts)
        .map(|i| {
            let len = base + i64::from(i < extra);
            let share = (start, len);
            start += len;
            share
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn rows_are_split_evenly_and_none_is_empty() {
        assert_eq!(split(16, 2), [(0, 8), (8, 8)]);
        assert_eq!(split(5, 3), [(0, 2), (2, 2), (4, 1)]);
        assert_eq!(split(2, 4), [(0, 1), (1, 1)]);
        assert_eq!(split(7, 1), [(0, 7)]);
    }
}
