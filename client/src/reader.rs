//! Reading the daemon stream: one reader at a time, in frame order.
//!
//! Whoever holds the [`Gate`] reads. A caller waiting for its response holds
//! it itself whenever it is free, reads frames and routes them (other
//! callers' responses, traffic copies, connect statuses) until its own
//! response arrives, then hands the gate to the next waiting caller. So a
//! lone caller gets its response without any thread switch: handing it over
//! from a reader thread cost a wake-up, about 8 µs of a 37 µs NOOP round trip.
//!
//! The reader thread ("smtp32-reader") reads only once no call has been
//! waiting for [`HANDBACK`], so events that arrive while the application
//! makes no call (an `xhelo` status, say) are still delivered, at most
//! [`HANDBACK`] late. It waits for data *without* holding the gate and takes
//! it only to read a frame that is there, so a call that starts while it
//! waits still reads its own response: after a pause, a hand-over from the
//! reader thread made a paced NOOP several times slower. It waits for data
//! only while such events can come, else for the stream's end alone
//! (`stream_wait.rs`), so a call after a pause wakes no thread but its own.
//!
//! Frames are routed by the holder before it lets go of the gate, so they
//! are routed in the order the daemon sent them: traffic copies still come
//! before the response of the call that caused them. Callbacks therefore
//! run on whichever thread reads — the reader thread or a thread inside a
//! blocking call — always marked so that a blocking call from inside a
//! callback fails with `InProgress` instead of deadlocking.

use crate::routing::{route_frame, Routing, Slot};
#[cfg(unix)]
use crate::stream_wait::{self, readable, Poke, Watch, Woke};
use crate::sync::lock;
use interprocess::local_socket::Stream;
use smtp32_protocol::codec::{CodecError, FrameDecoder, MAX_MAX_FRAME_BYTES};
use smtp32_protocol::DaemonFrame;
use std::cell::Cell;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long no call must have been waiting before the reader thread reads.
pub(crate) const HANDBACK: Duration = Duration::from_millis(20);

thread_local! {
    static ON_READER: Cell<bool> = const { Cell::new(false) };
}

/// True on the reader thread or inside a callback, where a blocking call
/// would wait for a frame that only this thread could read.
pub(crate) fn on_reader_thread() -> bool {
    ON_READER.with(Cell::get)
}

/// Marks the current thread as running callbacks until dropped.
struct CallbackScope(bool);

impl CallbackScope {
    fn enter() -> CallbackScope {
        CallbackScope(ON_READER.with(|f| f.replace(true)))
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        let was = self.0;
        ON_READER.with(|f| f.set(was));
    }
}

/// The right to read the stream, and who waits for it.
pub(crate) struct Gate {
    state: Mutex<GateState>,
    /// The reader thread waits here for the callers to go quiet.
    quiet: Condvar,
    /// Wakes the reader thread from a wait for the stream's end alone.
    #[cfg(unix)]
    poke: Option<Poke>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            state: Mutex::default(),
            quiet: Condvar::new(),
            #[cfg(unix)]
            poke: Poke::new(),
        }
    }
}

struct GateState {
    held: bool,
    /// Calls waiting for a response now.
    callers: usize,
    /// When the last of them ended.
    last_call: Instant,
    /// Callers parked until the gate is free, by request id.
    sleepers: Vec<(u64, Arc<Slot>)>,
    /// What was read and not yet decoded, lent to the holder.
    inbuf: FrameDecoder,
    /// What the reader thread waits for on the stream, while it does.
    #[cfg(unix)]
    watching: Option<Watch>,
}

impl Default for GateState {
    fn default() -> Self {
        GateState {
            held: false,
            callers: 0,
            last_call: Instant::now(),
            sleepers: Vec::new(),
            inbuf: new_decoder(),
            #[cfg(unix)]
            watching: None,
        }
    }
}

/// How long a caller's turn may last: until `until`, the clock having read
/// `now` (the caller's reading: a turn that reads only its own response
/// reads the clock no more).
#[derive(Clone, Copy)]
pub(crate) struct Wait {
    pub(crate) now: Instant,
    pub(crate) until: Instant,
}

/// How a caller's turn at the gate went.
pub(crate) enum Turn {
    /// Its slot is filled, or the stream is dead.
    Settled,
    /// It read for a whole yield interval without its response.
    Waited,
    /// Someone else reads; the caller parked until woken or the interval passed.
    Parked,
}

impl Gate {
    /// A call starts waiting.
    pub(crate) fn enter(&self) {
        lock(&self.state).callers += 1;
    }

    /// Tells the reader thread that frames no call reads may come now (an
    /// asynchronous connect's status, traffic copies): call it once the
    /// routing table says so ([`Routing::expects_events`]).
    pub(crate) fn expect_events(&self) {
        #[cfg(unix)]
        if let Some(poke) = &self.poke {
            // Read under the lock the reader decides under: a reader that
            // decides after this sees the routing table as the caller left it.
            if lock(&self.state).watching == Some(Watch::Hangup) {
                poke.poke();
            }
        }
    }

    /// Reader thread: waits without the gate for what may need reading;
    /// `Ok(false)` when it should decide again first.
    #[cfg(unix)]
    fn wait_idle(&self, stream: &Stream, routing: &Routing) -> std::io::Result<bool> {
        let watch = {
            let mut s = lock(&self.state);
            let watch = stream_wait::watch_for(self.poke.as_ref(), routing);
            s.watching = Some(watch);
            watch
        };
        let woke = stream_wait::wait(stream, watch, self.poke.as_ref());
        lock(&self.state).watching = None;
        woke.map(|w| matches!(w, Woke::Stream))
    }

    #[cfg(not(unix))]
    fn wait_idle(&self, _: &Stream, _: &Routing) -> std::io::Result<bool> {
        Ok(true)
    }

    /// A call stops waiting.
    pub(crate) fn exit(&self, id: u64) {
        let mut s = lock(&self.state);
        s.callers -= 1;
        s.last_call = Instant::now();
        s.sleepers.retain(|(i, _)| *i != id);
    }

    /// Lets go of the gate, returns the buffer and wakes one parked caller
    /// (it reads next, unless its response has come meanwhile).
    fn release(&self, inbuf: FrameDecoder) {
        let next = {
            let mut s = lock(&self.state);
            s.held = false;
            s.inbuf = inbuf;
            // A sleeper whose response came meanwhile is on its way out: skip it.
            s.sleepers.retain(|(_, slot)| slot.is_waiting());
            (!s.sleepers.is_empty()).then(|| s.sleepers.remove(0).1)
        };
        if let Some(slot) = next {
            slot.wake();
        }
        // Where callers read, the reader thread waits for them to go quiet
        // for HANDBACK and times that itself: waking it here only made it
        // run and sleep again, a futex call and a thread switch per call.
        if !CALLERS_READ {
            self.quiet.notify_one();
        }
    }

    /// The caller of request `id` (waiting on `slot`) reads until
    /// `wait.until`, or parks until then when another thread reads.
    pub(crate) fn take_turn(
        &self,
        id: u64,
        slot: &Arc<Slot>,
        wait: Wait,
        stream: &Stream,
        routing: &Routing,
    ) -> Turn {
        let inbuf = {
            let mut s = lock(&self.state);
            if s.held || !CALLERS_READ {
                if !s.sleepers.iter().any(|(i, _)| *i == id) {
                    s.sleepers.push((id, slot.clone()));
                }
                drop(s);
                std::thread::park_timeout(wait.until.saturating_duration_since(wait.now));
                return Turn::Parked;
            }
            s.held = true;
            s.sleepers.retain(|(i, _)| *i != id);
            std::mem::replace(&mut s.inbuf, new_decoder())
        };
        let mut inbuf = inbuf;
        let mut now = wait.now;
        let mut settled = !slot.is_waiting();
        let turn = loop {
            if settled {
                break Turn::Settled;
            }
            let left = wait.until.saturating_duration_since(now);
            match if has_frame(&inbuf) {
                Ok(true)
            } else {
                readable(stream, left)
            } {
                Ok(true) => {}
                Ok(false) => break Turn::Waited,
                Err(e) => {
                    routing.kill(&format!("daemon connection lost: {e}"));
                    break Turn::Settled;
                }
            }
            if let Err(reason) = read_one(stream, routing, &mut inbuf) {
                routing.kill(&format!("daemon connection lost: {reason}"));
                break Turn::Settled;
            }
            settled = !slot.is_waiting();
            if !settled {
                now = Instant::now();
            }
        };
        self.release(inbuf);
        turn
    }

    /// True when the reader thread may read: nobody holds the gate and no
    /// call has waited for [`HANDBACK`].
    fn quiet_enough(s: &GateState) -> bool {
        !s.held && (!CALLERS_READ || (s.callers == 0 && s.last_call.elapsed() >= HANDBACK))
    }

    /// Reader thread: waits until [`Gate::quiet_enough`]; `Some(true)` when a
    /// whole frame is already buffered, `None` once the connection is dead.
    fn wait_quiet(&self, routing: &Routing) -> Option<bool> {
        let mut s = lock(&self.state);
        loop {
            if routing.dead_reason().is_some() {
                return None;
            }
            if Self::quiet_enough(&s) {
                return Some(has_frame(&s.inbuf));
            }
            let quiet_for = s.last_call.elapsed();
            let wait = if s.held || s.callers > 0 {
                HANDBACK
            } else {
                HANDBACK.saturating_sub(quiet_for)
            };
            s = self
                .quiet
                .wait_timeout(s, wait.max(Duration::from_millis(1)))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Reader thread: takes the gate if it still may.
    fn hold_if_quiet(&self) -> Option<FrameDecoder> {
        let mut s = lock(&self.state);
        if !Self::quiet_enough(&s) {
            return None;
        }
        s.held = true;
        Some(std::mem::replace(&mut s.inbuf, new_decoder()))
    }
}

/// Reads one frame and routes it (running callbacks marked as such);
/// `Err` with the reason when the stream ended or broke.
fn read_one(stream: &Stream, routing: &Routing, inbuf: &mut FrameDecoder) -> Result<(), String> {
    let frame: DaemonFrame = inbuf
        .next_frame(&mut &*stream)
        .map_err(|e: CodecError| e.to_string())?;
    let _scope = CallbackScope::enter();
    route_frame(routing, frame)
}

/// Starts the reader thread for `stream`.
pub(crate) fn spawn(
    stream: Arc<Stream>,
    routing: Arc<Routing>,
    gate: Arc<Gate>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("smtp32-reader".into())
        .spawn(move || {
            ON_READER.with(|f| f.set(true));
            let run = || -> Option<String> {
                loop {
                    let buffered = gate.wait_quiet(&routing)?;
                    if CALLERS_READ && !buffered {
                        // Wait without holding the gate: a call that starts
                        // meanwhile reads its own response (no hand-over).
                        match gate.wait_idle(&stream, &routing) {
                            Ok(true) => {}
                            Ok(false) => continue,
                            Err(e) => return Some(e.to_string()),
                        }
                    }
                    let Some(mut inbuf) = gate.hold_if_quiet() else {
                        continue;
                    };
                    // A caller may have read what woke us.
                    let ready = !CALLERS_READ
                        || has_frame(&inbuf)
                        || readable(&stream, Duration::ZERO).unwrap_or(true);
                    if !ready {
                        gate.release(inbuf);
                        continue;
                    }
                    let read = read_one(&stream, &routing, &mut inbuf);
                    gate.release(inbuf);
                    if let Err(reason) = read {
                        return Some(reason);
                    }
                }
            };
            let reason = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                .unwrap_or_else(|_| Some("smtp32 reader thread panicked".to_owned()));
            if let Some(reason) = reason {
                routing.kill(&format!("daemon connection lost: {reason}"));
            }
        })?;
    Ok(())
}

/// Callers read for themselves where they can wait for the stream with a
/// timeout (poll, on Unix); elsewhere the reader thread reads for everyone.
const CALLERS_READ: bool = cfg!(unix);

#[cfg(not(unix))]
fn readable(_: &Stream, _: Duration) -> std::io::Result<bool> {
    Ok(true)
}

/// The stream's decoder: frames of up to the protocol's largest limit (the
/// codec's, shared with the daemon and the async client).
fn new_decoder() -> FrameDecoder {
    FrameDecoder::new(MAX_MAX_FRAME_BYTES)
}

/// True when a whole frame is buffered, or a bad prefix that the next read
/// reports.
fn has_frame(inbuf: &FrameDecoder) -> bool {
    !matches!(inbuf.check(), Ok(None))
}
