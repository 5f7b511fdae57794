//! The worker threads that serve IPC clients and run their SMTP session
//! actors: one per core, each a current-thread tokio runtime driving a
//! `LocalSet` (what actix's actors and `actix_rt::spawn` run on).
//!
//! In place of actix-rt's `Arbiter`, whose command channel is the root future
//! of its thread and so is polled on every wake-up of that thread (about 190
//! instructions a wake, three to six wakes a request). Here the root future
//! is a flag and a waker, polled for a few instructions; work handed over
//! from other threads arrives through a channel read by an ordinary local
//! task, which runs only when something was sent.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use tokio::sync::mpsc;

/// Work for a worker thread: a closure run there (it may spawn local tasks).
type Job = Box<dyn FnOnce() + Send>;

/// What another thread may send a worker.
enum Command {
    Run(Job),
    Stop,
}

/// The means to hand work to one worker thread; cheap to clone.
#[derive(Clone, Debug)]
pub struct Worker {
    commands: mpsc::UnboundedSender<Command>,
}

impl Worker {
    /// Runs `job` on the worker's thread. False when the worker has stopped.
    pub fn run(&self, job: impl FnOnce() + Send + 'static) -> bool {
        self.commands.send(Command::Run(Box::new(job))).is_ok()
    }

    /// Spawns `task` on the worker's thread. False when the worker has stopped.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) -> bool {
        self.run(move || {
            actix_rt::spawn(task);
        })
    }

    /// Asks the worker to stop: its thread ends, dropping every task it ran.
    pub fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }
}

/// Starts `count` worker threads (at least one), named `smtp32d-worker-N`.
pub fn start(count: usize) -> std::io::Result<Vec<Worker>> {
    (0..count.max(1)).map(start_one).collect()
}

fn start_one(n: usize) -> std::io::Result<Worker> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (commands, received) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name(format!("smtp32d-worker-{n}"))
        .spawn(move || serve(runtime, received))?;
    Ok(Worker { commands })
}

/// The worker thread: runs jobs and the tasks they spawn until told to stop
/// (or until every [`Worker`] handle is gone).
fn serve(runtime: tokio::runtime::Runtime, mut received: mpsc::UnboundedReceiver<Command>) {
    let local = tokio::task::LocalSet::new();
    let stop = StopSignal::default();
    let stopping = stop.clone();
    local.spawn_local(async move {
        while let Some(Command::Run(job)) = received.recv().await {
            job();
        }
        stopping.raise();
    });
    local.block_on(&runtime, stop);
}

/// The worker's root future: ready once raised. Polled on every wake-up of
/// the thread, so it only reads a flag.
#[derive(Clone, Default)]
struct StopSignal(Rc<StopState>);

#[derive(Default)]
struct StopState {
    raised: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl StopSignal {
    fn raise(&self) {
        self.0.raised.set(true);
        if let Some(waker) = self.0.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

impl Future for StopSignal {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.raised.get() {
            return Poll::Ready(());
        }
        let mut waker = self.0.waker.borrow_mut();
        match waker.as_ref() {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_job_runs_on_the_worker_and_may_spawn_local_tasks() {
        let workers = start(2).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        for (i, w) in workers.iter().enumerate() {
            let tx = tx.clone();
            assert!(w.run(move || {
                // A local task: only a LocalSet's thread can spawn it.
                tokio::task::spawn_local(async move {
                    let name = std::thread::current().name().map(str::to_string);
                    tx.send((i, name)).unwrap();
                });
            }));
        }
        let mut seen: Vec<_> = (0..2)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                (0, Some("smtp32d-worker-0".to_string())),
                (1, Some("smtp32d-worker-1".to_string()))
            ]
        );
    }

    #[test]
    fn a_stopped_worker_drops_its_tasks_and_refuses_work() {
        let workers = start(1).unwrap();
        let (dropped_tx, dropped_rx) = std::sync::mpsc::channel::<()>();
        // A task that never ends by itself, holding a sender: dropping the
        // task drops the sender.
        assert!(workers[0].spawn(async move {
            let _held = dropped_tx;
            std::future::pending::<()>().await;
        }));
        workers[0].stop();
        assert_eq!(
            dropped_rx.recv_timeout(Duration::from_secs(10)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
        );
        // The job loop ended (dropping its receiver) before the tasks were dropped.
        assert!(!workers[0].run(|| {}));
    }
}
