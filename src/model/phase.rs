//! The end of a parallel phase of a training step, with the threads kept awake.
//!
//! A step forks into tasks several times: the representation's lookup, the row chunks of the
//! dense forward and backward, the blocks of the weight gradients (the first task done with its
//! blocks also runs the sparse update). rayon's idle workers yield a few dozen times and then
//! sleep, and waking one costs the next fork tens of µs on the 2-vCPU machines this runs on: the
//! forking thread pays for the futex wake, and the woken worker starts late. The tasks of one
//! phase routinely end 40-100 µs apart (a chunk started after other work, blocks whose cost the
//! split only estimates), long enough for the first thread done to fall asleep.
//!
//! So a task that finishes while every other task of its phase has started, but not all have
//! finished, waits for them spinning, up to `SPIN_LIMIT`, before it returns to rayon; while it
//! waits it runs any job waiting in the pool (`rayon::yield_now`), such as the parts of a sparse
//! update another task started. A task that finds another not started yet does not wait: there
//! are more tasks than threads, or a worker is still asleep, and this thread is then better used
//! running that task itself. Nor does any task wait when the pool has more threads than the
//! machine has CPUs: a spinning thread would then hold a CPU another task needs. Which thread
//! runs what never changes a number.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The longest a finished task spins for the others of its phase; past that it returns to rayon
/// (whose own wait then sleeps), so a peer thread preempted by the system costs little.
pub const SPIN_LIMIT: Duration = Duration::from_micros(250);

/// The tasks of one parallel phase; each calls `task()` when it starts.
pub struct Phase {
    tasks: usize,
    /// Whether a finished task may wait (not when the pool oversubscribes the CPUs).
    wait: bool,
    /// How long a finished task spins: `SPIN_LIMIT`, longer in tests that must see the wait.
    limit: Duration,
    started: AtomicUsize,
    done: AtomicUsize,
    /// Tasks that have begun to spin: lets a test know a task is waiting before it ends another.
    #[cfg(test)]
    spinning: AtomicUsize,
}

/// How a task's end went (see `Phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEnd {
    /// Every task of the phase had finished when this one did, or finished while it spun.
    AllDone,
    /// Another task had not started: nothing to wait for.
    NotAllStarted,
    /// The others were still running after `SPIN_LIMIT`.
    GaveUp,
    /// The pool has more threads than the machine has CPUs: no task waits.
    NoWait,
}

/// One running task of a `Phase`; its end (`finish`, or drop) waits as `Phase` says.
pub struct Task<'a>(Option<&'a Phase>);

impl Phase {
    /// A phase of `tasks` tasks on the current rayon pool.
    pub fn new(tasks: usize) -> Phase {
        static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let cpus =
            *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        Phase::with_wait(tasks, rayon::current_num_threads() <= cpus)
    }

    fn with_wait(tasks: usize, wait: bool) -> Phase {
        Phase {
            tasks,
            wait,
            limit: SPIN_LIMIT,
            started: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            #[cfg(test)]
            spinning: AtomicUsize::new(0),
        }
    }

    /// Mark a task started; its end waits for the others when it is dropped.
    pub fn task(&self) -> Task<'_> {
        self.started.fetch_add(1, Ordering::Relaxed);
        Task(Some(self))
    }

    fn end_task(&self) -> TaskEnd {
        let done = self.done.fetch_add(1, Ordering::Release) + 1;
        if done >= self.tasks {
            return TaskEnd::AllDone;
        }
        if !self.wait {
            return TaskEnd::NoWait;
        }
        #[cfg(test)]
        self.spinning.fetch_add(1, Ordering::SeqCst);
        let t0 = Instant::now();
        loop {
            for _ in 0..64 {
                if self.done.load(Ordering::Acquire) >= self.tasks {
                    return TaskEnd::AllDone;
                }
                if self.started.load(Ordering::Relaxed) < self.tasks {
                    return TaskEnd::NotAllStarted;
                }
                std::hint::spin_loop();
            }
            if t0.elapsed() >= self.limit {
                return TaskEnd::GaveUp;
            }
            // Help with whatever the pool has queued (nothing happens outside a pool).
            rayon::yield_now();
        }
    }
}

impl Task<'_> {
    /// End the task now (what dropping it does), saying how the wait went.
    #[cfg(test)]
    pub fn finish(mut self) -> TaskEnd {
        self.0.take().map_or(TaskEnd::AllDone, Phase::end_task)
    }
}

impl Drop for Task<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            p.end_task();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_does_not_wait_for_one_not_started() {
        let p = Phase::with_wait(2, true);
        assert_eq!(p.task().finish(), TaskEnd::NotAllStarted);
        // The second task, run later by the same thread, ends the phase.
        assert_eq!(p.task().finish(), TaskEnd::AllDone);
    }

    #[test]
    fn a_lone_task_ends_its_phase() {
        assert_eq!(Phase::with_wait(1, true).task().finish(), TaskEnd::AllDone);
    }

    #[test]
    fn a_task_waits_for_a_running_one_to_finish() {
        // A limit no scheduler delay reaches, so the outcome does not depend on the machine
        // (a bound, not a timing: the test never measures how long anything took).
        let mut p = Phase::with_wait(2, true);
        p.limit = Duration::from_secs(600);
        let first = p.task();
        let second = p.task();
        std::thread::scope(|s| {
            let waiter = s.spawn(move || first.finish());
            // End the second task only once the first is known to be waiting for it.
            while p.spinning.load(Ordering::SeqCst) == 0 {
                assert!(
                    !waiter.is_finished(),
                    "the first task returned without waiting"
                );
                std::thread::yield_now();
            }
            assert_eq!(p.done.load(Ordering::SeqCst), 1);
            drop(second);
            assert_eq!(waiter.join().expect("waiter"), TaskEnd::AllDone);
        });
        assert_eq!(p.done.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn no_task_waits_on_an_oversubscribed_machine() {
        let p = Phase::with_wait(2, false);
        let _running = p.task();
        assert_eq!(p.task().finish(), TaskEnd::NoWait);
    }

    #[test]
    fn a_task_gives_up_on_one_that_never_finishes() {
        let p = Phase::with_wait(2, true);
        let _running = p.task();
        assert_eq!(p.task().finish(), TaskEnd::GaveUp);
        assert_eq!(p.spinning.load(Ordering::SeqCst), 1);
    }
}
