//! The training engine: the baseline and MEM-REC runs trained side by side on a background
//! thread, fed the same batches in the same order, evaluated on the same test rows, and driven by
//! `EngineCommand`s; it reports through `EngineEvent`s (owned snapshots).
//!
//! Owns: the run schedule (runs advance in lockstep, one step each per round), one rayon pool of
//! `cfg.effective_threads()` threads used for data parallelism inside a step, restarts by
//! generation, pause, evaluation, divergence detection, and the step/epoch budgets of headless
//! mode. Must never: hold UI types, share locks with a front end, or let one run's failure stop
//! another. Every number it reports is independent of the thread count.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::config::Config;
use crate::config::knobs::adopt_knobs;
use crate::data::{BadLines, Batch, BatchStream, DataSource};
use crate::embedding::hash::BuildKeyHasher;
use crate::metrics;
use crate::train::inspect::{SharingCache, exposure, inspect};
use crate::train::loaded::LoadedValues;
use crate::train::protocol::{
    DeltaAuc, EngineCommand, EngineEvent, EvalPoint, RunId, RunStatus, RunSummary,
};
use crate::train::schedule::next_check;
pub use crate::train::schedule::{first_eval_samples, next_eval_samples};
use crate::train::trainer::Trainer;

/// Progress events per run are at least this far apart (about 5 per second).
const PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// How long `EngineHandle::shutdown` waits for the engine thread before leaving it behind.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);
/// Training batches after which a run's first collision statistics are computed.
const COLLISION_BATCHES: usize = 8;
/// Collision statistics are computed again at an evaluation once the loaded values have grown by
/// this factor since a run's last ones (so the cost stays a small share of training).
const COLLISION_REGROW: f64 = 1.1;
/// Weight of the newest step in the running mean of the training loss.
const LOSS_EMA: f64 = 0.02;
/// Samples each run trains on in a row per round (at least one batch): consecutive steps of
/// one model find its weights and buffers still in cache and TLB, where strict alternation had
/// each run evict the other's (the first step after a switch measured about a third slower at
/// batch 1024). Every run takes the same number of steps per round, counted, not timed, so
/// runs see the same batches in the same order, events come out in the same order on any
/// machine, and no run gets ahead of the baseline, which reaches every evaluation point before a
/// MEM-REC run needs its predictions for ΔAUC. A command ends the round at once (it waits for
/// one step, not for a turn).
const SLICE_SAMPLES: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot build the training thread pool: {0}")]
    Pool(String),
    #[error("cannot start the engine thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Lives with the run identity in the protocol; re-exported for representation builders.
pub use crate::train::protocol::RunKind;

pub use crate::train::options::{EngineOptions, RepBuilder, RunPredictions, default_reps};

/// The front end's side of a running engine.
pub struct EngineHandle {
    commands: Sender<EngineCommand>,
    /// Set before the `Shutdown` command: work that cannot read commands (a latency probe
    /// filling gigabytes) stops at once rather than make the front end wait.
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    exited: Receiver<()>,
}

impl EngineHandle {
    /// Send a command; ignored once the engine has ended.
    pub fn send(&self, cmd: EngineCommand) {
        let _ = self.commands.send(cmd);
    }

    /// Stop the engine and join its thread, waiting at most a few seconds (a step in flight
    /// finishes first). Returns false if the thread had to be left behind.
    pub fn shutdown(mut self) -> bool {
        self.stopping.store(true, Ordering::Relaxed);
        let _ = self.commands.send(EngineCommand::Shutdown);
        self.join_bounded(SHUTDOWN_WAIT)
    }

    /// Wait for the engine to end on its own (headless budgets), up to `wait`.
    pub fn join_bounded(&mut self, wait: Duration) -> bool {
        match self.exited.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
                true
            }
            Err(RecvTimeoutError::Timeout) => false,
        }
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stopping.store(true, Ordering::Relaxed);
            let _ = self.commands.send(EngineCommand::Shutdown);
            self.join_bounded(SHUTDOWN_WAIT);
        }
    }
}

/// The engine: see the module documentation.
pub struct Engine;

impl Engine {
    /// Start training `cfg` on `source` with the default options (no budget, runs forever).
    pub fn spawn(
        cfg: Config,
        source: Arc<dyn DataSource>,
        events: Sender<EngineEvent>,
    ) -> Result<EngineHandle, EngineError> {
        Engine::spawn_with(cfg, source, events, EngineOptions::default())
    }

    pub fn spawn_with(
        cfg: Config,
        source: Arc<dyn DataSource>,
        events: Sender<EngineEvent>,
        opts: EngineOptions,
    ) -> Result<EngineHandle, EngineError> {
        let pool = crate::util::compute_pool(cfg.effective_threads(), "memrec-train")
            .map_err(|e| EngineError::Pool(e.to_string()))?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let (exit_tx, exit_rx) = crossbeam_channel::bounded(1);
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stopping);
        let thread = std::thread::Builder::new()
            .name("memrec-engine".into())
            .spawn(move || {
                let mut state = State::new(cfg, source, events, opts, pool);
                state.stopping = flag;
                state.run(rx);
                let _ = exit_tx.send(());
            })
            .map_err(EngineError::Thread)?;
        Ok(EngineHandle {
            commands: tx,
            stopping,
            thread: Some(thread),
            exited: exit_rx,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Status {
    Training,
    Done(RunStatus),
    Failed(String),
}

struct Run {
    id: RunId,
    generation: u64,
    cfg: Config,
    trainer: Trainer,
    stream: Box<dyn BatchStream>,
    batch: Batch,
    samples: u64,
    steps: u64,
    epochs: u64,
    status: Status,
    loss_ema: f64,
    next_eval: u64,
    /// The next of `EngineOptions::eval_at` (u64::MAX when none is left).
    next_check: u64,
    /// Training time and samples since the last evaluation (throughput excludes evaluation).
    since_eval: (Duration, u64),
    train_time: Duration,
    last_progress: Instant,
    progress_mark: (Duration, u64),
    last_eval: Option<EvalPoint>,
    last_probs: Option<Arc<Vec<f32>>>,
    bad_lines_seen: u64,
    collisions_pending: bool,
    /// Loaded values when this run's collision statistics were last computed.
    collisions_at: usize,
}

struct State {
    cfg: Config,
    source: Arc<dyn DataSource>,
    events: Sender<EngineEvent>,
    opts: EngineOptions,
    /// Shared so a turn can run inside one `install` while `self` is borrowed.
    pool: Arc<rayon::ThreadPool>,
    test: Arc<Batch>,
    oracle_auc: Option<f64>,
    runs: Vec<Run>,
    /// Baseline test probabilities by samples seen (current generation), for paired ΔAUC.
    baseline_probs: BTreeMap<u64, Arc<Vec<f32>>>,
    /// Tokens seen by the run furthest along: the loaded vocabulary.
    /// Only its size is read, so its hasher changes no number.
    vocab: HashSet<u64, BuildKeyHasher>,
    vocab_samples: u64,
    /// Keys of the test set and of the training rows so far, with training counts: collision
    /// statistics and the token inspector count over them.
    loaded: LoadedValues,
    sharing_cache: SharingCache,
    paused: bool,
    shutdown: bool,
    /// The handle's `stopping` (see `EngineHandle`).
    stopping: Arc<AtomicBool>,
}

impl State {
    fn new(
        cfg: Config,
        source: Arc<dyn DataSource>,
        events: Sender<EngineEvent>,
        opts: EngineOptions,
        pool: rayon::ThreadPool,
    ) -> State {
        State {
            cfg,
            source,
            events,
            opts,
            pool: Arc::new(pool),
            test: Arc::new(Batch::default()),
            oracle_auc: None,
            runs: Vec::new(),
            baseline_probs: BTreeMap::new(),
            vocab: HashSet::with_hasher(BuildKeyHasher),
            vocab_samples: 0,
            loaded: LoadedValues::new(),
            sharing_cache: SharingCache::default(),
            paused: false,
            shutdown: false,
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }

    fn emit(&self, e: EngineEvent) {
        // A front end that went away just stops listening; training state is unaffected.
        let _ = self.events.send(e);
    }

    fn run(&mut self, rx: Receiver<EngineCommand>) {
        if let Err(message) = self.prepare() {
            self.emit(EngineEvent::EngineFailed { message });
            return;
        }
        let mut specs = vec![
            (RunId::BASELINE, self.cfg.clone()),
            (RunId::COMPRESSED, self.cfg.clone()),
        ];
        for (slot, c) in (2..).zip(&self.opts.extra_compressed) {
            specs.push((RunId::compressed(slot), c.clone()));
        }
        for (id, cfg) in specs {
            self.start_run(id, cfg, 1);
        }
        while !self.shutdown {
            // Commands first: a restart or pause takes effect between batches.
            loop {
                let active = self.runs.iter().any(|r| r.status == Status::Training);
                let cmd = if self.paused || (!active && !self.opts.exit_when_done) {
                    match rx.recv() {
                        Ok(c) => c,
                        Err(_) => {
                            self.shutdown = true;
                            break;
                        }
                    }
                } else {
                    match rx.try_recv() {
                        Ok(c) => c,
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => {
                            // Nobody can pause or stop us any more: finish budgets, if any.
                            if self.opts.exit_when_done {
                                break;
                            }
                            self.shutdown = true;
                            break;
                        }
                    }
                };
                self.command(cmd);
                if self.shutdown {
                    break;
                }
            }
            if self.shutdown {
                break;
            }
            let active = self.runs.iter().any(|r| r.status == Status::Training);
            if !active {
                if self.opts.exit_when_done {
                    break;
                }
                continue;
            }
            for i in 0..self.runs.len() {
                let steps = (SLICE_SAMPLES / self.runs[i].cfg.train.batch.max(1)).max(1);
                // The whole turn runs on the pool (the steps' own `install`s then run inline):
                // one hand-over to the pool per turn, not a wake-up of this thread per step.
                let pool = Arc::clone(&self.pool);
                let interrupted = pool.install(|| {
                    for _ in 0..steps {
                        if self.runs[i].status != Status::Training {
                            break;
                        }
                        // A command ends the round (no run gets ahead: the ones after this
                        // one have not stepped yet); the next round starts again from the
                        // baseline.
                        if !rx.is_empty() {
                            return true;
                        }
                        self.advance(i);
                    }
                    false
                });
                if interrupted {
                    break;
                }
            }
        }
        for i in 0..self.runs.len() {
            if self.runs[i].status == Status::Training {
                self.finish(i, RunStatus::Cancelled);
            }
        }
    }

    /// Load the test rows once; they are shared by every run and generation.
    fn prepare(&mut self) -> Result<(), String> {
        let test = self.source.test_set().map_err(|e| e.to_string())?;
        if test.is_empty() {
            return Err(format!("{}: no test rows", self.source.label()));
        }
        // One class only: every evaluation would fail; say it once, before any training.
        let clicks = test.labels.iter().filter(|&&y| y > 0.5).count();
        if clicks == 0 || clicks == test.len() {
            return Err(format!(
                "{}: the {} test rows hold a single class: no AUC can be computed",
                self.source.label(),
                test.len()
            ));
        }
        self.oracle_auc = test
            .true_prob
            .as_ref()
            .and_then(|p| metrics::auc(&test.labels, p));
        self.loaded.add_test(&test.keys);
        self.emit(EngineEvent::DataReady {
            label: self.source.label(),
            synthetic: self.source.is_synthetic(),
            test_rows: test.len() as u64,
            bad_lines: self.source.bad_lines(),
        });
        self.test = Arc::new(test);
        Ok(())
    }

    fn start_run(&mut self, id: RunId, cfg: Config, generation: u64) {
        let built = (self.opts.reps)(&cfg, id.kind)
            .and_then(|rep| Trainer::new(&cfg, rep).map_err(|e| e.to_string()))
            .and_then(|t| {
                self.source
                    .open_train()
                    .map(|s| (t, s))
                    .map_err(|e| e.to_string())
            });
        let (mut trainer, stream) = match built {
            Ok(x) => x,
            Err(message) => {
                self.emit(EngineEvent::RunFailed {
                    run: id,
                    generation,
                    message,
                });
                return;
            }
        };
        // Training rows held in memory are known before the first step: their values get their
        // rows now, outside the timed steps, as the reference builds its vocabulary first.
        if let Some(keys) = self.source.train_keys() {
            self.pool.install(|| trainer.rep.admit(keys));
        }
        let tables = trainer.rep.tables();
        let bytes = trainer.table_bytes().max(1);
        self.emit(EngineEvent::RunStarted {
            run: id,
            generation,
            representation: trainer.rep.kind().to_string(),
            tables,
            compression_full: cfg.full_uncompressed_bytes() as f64 / bytes as f64,
        });
        if id.is_baseline() {
            self.baseline_probs.clear();
        }
        let first_eval = first_eval_samples(cfg.eval.every_samples);
        let batch_rows = cfg.train.batch;
        let run = Run {
            id,
            generation,
            cfg,
            trainer,
            stream,
            batch: Batch::with_capacity(batch_rows),
            samples: 0,
            steps: 0,
            epochs: 0,
            status: Status::Training,
            loss_ema: f64::NAN,
            next_eval: first_eval,
            next_check: next_check(&self.opts.eval_at, 0),
            since_eval: (Duration::ZERO, 0),
            train_time: Duration::ZERO,
            last_progress: Instant::now(),
            progress_mark: (Duration::ZERO, 0),
            last_eval: None,
            last_probs: None,
            bad_lines_seen: 0,
            collisions_pending: true,
            collisions_at: 0,
        };
        match self.runs.iter().position(|r| r.id == run.id) {
            Some(i) => self.runs[i] = run,
            None => self.runs.push(run),
        }
    }

    fn command(&mut self, cmd: EngineCommand) {
        match cmd {
            EngineCommand::Shutdown => self.shutdown = true,
            EngineCommand::Pause(p) => self.paused = p,
            EngineCommand::RestartAll => {
                let specs: Vec<_> = self
                    .runs
                    .iter()
                    .map(|r| (r.id, r.cfg.clone(), r.generation))
                    .collect();
                for (i, (id, cfg, generation)) in specs.into_iter().enumerate() {
                    if self.runs[i].status == Status::Training {
                        self.finish(i, RunStatus::Cancelled);
                    }
                    self.start_run(id, cfg, generation + 1);
                }
            }
            EngineCommand::RestartCompressed(next) => {
                let Some(i) = self.runs.iter().position(|r| r.id == RunId::COMPRESSED) else {
                    let generation = 1;
                    let mut cfg = self.cfg.clone();
                    adopt_knobs(&next, &mut cfg);
                    self.start_run(RunId::COMPRESSED, cfg, generation);
                    return;
                };
                if self.runs[i].status == Status::Training {
                    self.finish(i, RunStatus::Cancelled);
                }
                let mut cfg = self.runs[i].cfg.clone();
                adopt_knobs(&next, &mut cfg);
                let generation = self.runs[i].generation + 1;
                self.start_run(RunId::COMPRESSED, cfg, generation);
            }
            EngineCommand::Inspect { feature, pick } => {
                // Over the values loaded as of the last evaluation (merging here would make the
                // kept values depend on when the user asked).
                let runs: Vec<_> = (self.runs.iter())
                    .map(|r| crate::train::inspect::Subject {
                        run: r.id,
                        generation: r.generation,
                        samples: r.samples,
                        rep: r.trainer.rep.as_ref(),
                    })
                    .collect();
                let test = &self.test.keys;
                let cache = &mut self.sharing_cache;
                let answer = inspect(feature, pick, &self.loaded, test, &runs, cache);
                self.emit(EngineEvent::Inspected(Box::new(answer)));
            }
            EngineCommand::MeasureLatency(cfg) => {
                // Training is paused for the measurement: this thread is the only one stepping.
                // Lookup latency of the compressed kernel against the uncompressed gather.
                // A front end quitting meanwhile stops it (nobody waits for the figure).
                let stopping = &self.stopping;
                let stop = || stopping.load(Ordering::Relaxed);
                let measure = || crate::train::latency::measure_until(&cfg, &stop);
                match self.pool.install(measure) {
                    Ok(r) => self.emit(EngineEvent::Latency(r)),
                    Err(crate::train::latency::BenchError::Stopped) => {}
                    Err(e) => self.emit(EngineEvent::LatencyFailed {
                        message: e.to_string(),
                    }),
                }
            }
        }
    }

    /// One step of run `i`, then its bookkeeping: progress, evaluation, budget, divergence.
    fn advance(&mut self, i: usize) {
        let t0 = Instant::now();
        let run = &mut self.runs[i];
        let rows = run.cfg.train.batch;
        let got = match run.stream.next_batch(rows, &mut run.batch) {
            Ok(n) => n,
            Err(e) => {
                self.fail(i, format!("data error: {e}"));
                return;
            }
        };
        if got == 0 {
            let run = &mut self.runs[i];
            run.epochs += 1;
            if run.samples == 0 {
                self.fail(i, format!("{}: no training rows", self.source.label()));
                return;
            }
            if self.opts.max_epochs.is_some_and(|e| run.epochs >= e) {
                self.finish(i, RunStatus::Ok);
                return;
            }
            match self.source.open_train() {
                Ok(s) => self.runs[i].stream = s,
                Err(e) => self.fail(i, format!("data error: {e}")),
            }
            return;
        }
        let pool = &self.pool;
        let run = &mut self.runs[i];
        let result = pool.install(|| run.trainer.step(&run.batch));
        let dt = t0.elapsed();
        let loss = match result {
            Ok(l) => l,
            Err(e) => {
                self.fail(i, format!("model error: {e}"));
                return;
            }
        };
        let run = &mut self.runs[i];
        run.samples += got as u64;
        run.steps += 1;
        run.train_time += dt;
        run.since_eval.0 += dt;
        run.since_eval.1 += got as u64;
        run.loss_ema = if run.loss_ema.is_nan() {
            loss
        } else {
            run.loss_ema + LOSS_EMA * (loss - run.loss_ema)
        };
        if !loss.is_finite() {
            let msg = format!(
                "training loss is {loss} at step {} ({} samples): the run diverged; try a smaller train.lr (now {})",
                run.steps, run.samples, run.cfg.train.lr
            );
            self.fail(i, msg);
            return;
        }
        if run.loss_ema > run.cfg.train.divergence_loss as f64 {
            let msg = format!(
                "running training loss {:.3} exceeds train.divergence_loss {} at step {} ({} samples): the run diverged; try a smaller train.lr (now {})",
                run.loss_ema,
                run.cfg.train.divergence_loss,
                run.steps,
                run.samples,
                run.cfg.train.lr
            );
            self.fail(i, msg);
            return;
        }
        self.track_vocab(i);
        self.track_bad_lines(i);
        if self.runs[i].collisions_pending
            && (self.runs[i].steps as usize >= COLLISION_BATCHES
                || self.runs[i].samples >= self.runs[i].next_eval)
        {
            self.emit_collisions(i);
        }
        let run = &self.runs[i];
        if run.last_progress.elapsed() >= PROGRESS_EVERY {
            self.progress(i);
        }
        let run = &self.runs[i];
        let budget_done = self.opts.max_steps.is_some_and(|m| run.steps >= m);
        if run.samples >= run.next_eval || run.samples >= run.next_check || budget_done {
            self.evaluate(i);
            // The loaded values grow with training: so do the collision statistics.
            self.loaded.merge();
            let run = &self.runs[i];
            let (rep, test) = (run.trainer.rep.as_ref(), &self.test.keys);
            let e = exposure(run.id, run.generation, run.samples, rep, &self.loaded, test);
            self.emit(EngineEvent::Exposure(e));
            if self.loaded.len() as f64 >= run.collisions_at as f64 * COLLISION_REGROW {
                self.emit_collisions(i);
            }
        }
        if budget_done && self.runs[i].status == Status::Training {
            self.finish(i, RunStatus::Ok);
        }
    }

    fn track_vocab(&mut self, i: usize) {
        let run = &self.runs[i];
        // Only the run furthest along adds tokens, so every row is counted once.
        if run.samples <= self.vocab_samples {
            return;
        }
        let new_rows = (run.samples - self.vocab_samples).min(run.batch.len() as u64) as usize;
        let start = run.batch.len() - new_rows;
        let keys = &run.batch.keys[start * crate::data::NUM_CAT..];
        // A representation that stores its vocabulary counts it for free; the set is the fallback.
        if !self
            .runs
            .iter()
            .any(|r| r.trainer.rep.distinct_tokens().is_some())
        {
            self.vocab.extend(keys.iter().copied());
        }
        self.loaded.add_trained(keys);
        self.vocab_samples = run.samples;
    }

    /// Distinct tokens seen: the largest vocabulary a representation stored, else the set's size.
    fn distinct_tokens(&self) -> u64 {
        self.runs
            .iter()
            .filter_map(|r| r.trainer.rep.distinct_tokens())
            .max()
            .unwrap_or(self.vocab.len() as u64)
    }

    fn track_bad_lines(&mut self, i: usize) {
        let bad: BadLines = self.runs[i].stream.bad_lines();
        // Bad lines are reported by the first run to meet them (every run reads the same rows).
        if bad.count > self.runs[i].bad_lines_seen {
            self.runs[i].bad_lines_seen = bad.count;
            if i == 0 {
                self.emit(EngineEvent::DataIssues(bad));
            }
        }
    }

    fn emit_collisions(&mut self, i: usize) {
        self.loaded.merge();
        let run = &mut self.runs[i];
        run.collisions_pending = false;
        run.collisions_at = self.loaded.len();
        let features = run.trainer.rep.collisions(self.loaded.keys());
        let e = EngineEvent::Collisions {
            run: run.id,
            generation: run.generation,
            features,
        };
        self.emit(e);
    }

    fn progress(&mut self, i: usize) {
        let d = self.runs[i].cfg.model.dim as u64;
        let distinct = self.distinct_tokens();
        let run = &mut self.runs[i];
        let (t0, s0) = run.progress_mark;
        let dt = (run.train_time - t0).as_secs_f64();
        let sps = if dt > 0.0 {
            (run.samples - s0) as f64 / dt
        } else {
            0.0
        };
        run.progress_mark = (run.train_time, run.samples);
        run.last_progress = Instant::now();
        let e = EngineEvent::Progress {
            run: run.id,
            generation: run.generation,
            samples: run.samples,
            steps: run.steps,
            samples_per_s: sps,
            train_loss: run.loss_ema,
            distinct_tokens: distinct,
            loaded_uncompressed_bytes: 4 * d * distinct,
        };
        self.emit(e);
    }

    fn evaluate(&mut self, i: usize) {
        let pool = &self.pool;
        let test = Arc::clone(&self.test);
        let run = &mut self.runs[i];
        let every = run.cfg.eval.every_samples;
        while run.next_eval <= run.samples {
            run.next_eval = next_eval_samples(run.next_eval, every);
        }
        run.next_check = next_check(&self.opts.eval_at, run.samples);
        if run
            .last_eval
            .as_ref()
            .is_some_and(|e| e.samples == run.samples)
        {
            return;
        }
        let probs = match pool.install(|| run.trainer.predict(&test)) {
            Ok(p) => p,
            Err(e) => {
                self.fail(i, format!("evaluation failed: {e}"));
                return;
            }
        };
        if probs.iter().any(|p| !p.is_finite()) {
            let msg = format!(
                "test predictions are not finite after {} samples: the run diverged; try a smaller train.lr (now {})",
                run.samples, run.cfg.train.lr
            );
            self.fail(i, msg);
            return;
        }
        let labels = &test.labels;
        let Some(a) = metrics::auc_delong(labels, &probs) else {
            self.fail(
                i,
                "the test rows hold a single class: no AUC can be computed".into(),
            );
            return;
        };
        let (mean_prediction, click_rate) = metrics::calibration(labels, &probs);
        let probs = Arc::new(probs);
        let delta_auc = match run.id.kind {
            RunKind::Baseline => {
                self.baseline_probs.insert(run.samples, Arc::clone(&probs));
                None
            }
            RunKind::Compressed => self.baseline_probs.get(&run.samples).and_then(|b| {
                metrics::delta_auc_delong(labels, &probs, b).map(|d| DeltaAuc {
                    delta: d.delta,
                    lo: d.lo,
                    hi: d.hi,
                })
            }),
        };
        let run = &mut self.runs[i];
        let (t, n) = run.since_eval;
        let point = EvalPoint {
            run: run.id,
            generation: run.generation,
            samples: run.samples,
            auc: a.auc,
            auc_lo: a.lo,
            auc_hi: a.hi,
            logloss: metrics::logloss(labels, &probs),
            mean_prediction,
            click_rate,
            samples_per_s: if t.as_secs_f64() > 0.0 {
                n as f64 / t.as_secs_f64()
            } else {
                0.0
            },
            oracle_auc: self.oracle_auc,
            delta_auc,
        };
        run.since_eval = (Duration::ZERO, 0);
        run.last_eval = Some(point.clone());
        if let (true, Some(tx)) = (self.opts.predictions_every_eval, &self.opts.predictions) {
            let (run, generation, samples) = (run.id, run.generation, run.samples);
            let probs = probs.as_ref().clone();
            let _ = tx.send(RunPredictions {
                run,
                generation,
                samples,
                probs,
            });
        }
        let run = &mut self.runs[i];
        run.last_probs = Some(probs);
        self.emit(EngineEvent::Eval(point));
    }

    fn fail(&mut self, i: usize, message: String) {
        let run = &mut self.runs[i];
        run.status = Status::Failed(message.clone());
        let e = EngineEvent::RunFailed {
            run: run.id,
            generation: run.generation,
            message: message.clone(),
        };
        self.emit(e);
        self.summarise(i, RunStatus::Failed(message));
    }

    fn finish(&mut self, i: usize, status: RunStatus) {
        if status == RunStatus::Ok {
            // The summary reports the model as it ends, not as it was at the last evaluation.
            self.evaluate(i);
            if matches!(self.runs[i].status, Status::Failed(_)) {
                return;
            }
        }
        self.runs[i].status = Status::Done(status.clone());
        self.summarise(i, status);
    }

    fn summarise(&mut self, i: usize, status: RunStatus) {
        let d = self.runs[i].cfg.model.dim as u64;
        let distinct = self.distinct_tokens();
        let run = &self.runs[i];
        let e = run.last_eval.clone();
        let tables = run.trainer.rep.tables();
        let table_bytes = run.trainer.table_bytes();
        let denom = table_bytes.max(1) as f64;
        let secs = run.train_time.as_secs_f64();
        let summary = RunSummary {
            run: run.id,
            representation: run.trainer.rep.kind().to_string(),
            samples: run.samples,
            steps: run.steps,
            auc: e.as_ref().map_or(f64::NAN, |e| e.auc),
            auc_lo: e.as_ref().map_or(f64::NAN, |e| e.auc_lo),
            auc_hi: e.as_ref().map_or(f64::NAN, |e| e.auc_hi),
            logloss: e.as_ref().map_or(f64::NAN, |e| e.logloss),
            oracle_auc: self.oracle_auc,
            delta_auc: e.as_ref().and_then(|e| e.delta_auc),
            table_bytes,
            optimizer_bytes: run.trainer.rep.optimizer_bytes(),
            tables,
            compression_full: run.cfg.full_uncompressed_bytes() as f64 / denom,
            compression_loaded: (4 * d * distinct) as f64 / denom,
            samples_per_s: if secs > 0.0 {
                run.samples as f64 / secs
            } else {
                0.0
            },
            status,
        };
        // With `predictions_every_eval` the last evaluation's were sent when it was made.
        if let (false, Some(tx), Some(p), Some(e)) = (
            self.opts.predictions_every_eval,
            &self.opts.predictions,
            &run.last_probs,
            &e,
        ) {
            let _ = tx.send(RunPredictions {
                run: run.id,
                generation: run.generation,
                samples: e.samples,
                probs: p.as_ref().clone(),
            });
        }
        self.emit(EngineEvent::Finished(summary));
    }
}
