//! Helper processes that die with the test: spawning, stopping by PID, free loopback ports.
//!
//! Every child is started with `PR_SET_PDEATHSIG` so that it is killed if the test process dies
//! without running destructors (a watchdog abort, a SIGKILL), and is recorded in a registry that
//! the watchdog empties before it aborts. [`ChildGuard`] stops its child by PID on drop.
//!
//! Linux sends the death signal when the *thread* that spawned the child exits, so start
//! fixtures on the test's own thread (not inside a short-lived helper thread).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// A running helper process, stopped (SIGTERM, then SIGKILL after a grace period) and reaped on drop.
#[derive(Debug)]
pub struct ChildGuard {
    child: Option<Child>,
    name: String,
}

impl ChildGuard {
    /// Spawns `cmd` so that it dies with the test process, and records its PID.
    pub fn spawn(name: &str, cmd: &mut Command) -> ChildGuard {
        // SAFETY: prctl and getppid are async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({:?}): {e}", cmd.get_program()));
        LIVE.lock().unwrap().insert(child.id() as i32);
        ChildGuard {
            child: Some(child),
            name: name.to_string(),
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("child present").id()
    }

    /// Takes the child's piped stdin, if it was piped and not taken yet.
    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.as_mut().and_then(|c| c.stdin.take())
    }

    /// Takes the child's piped stdout, if it was piped and not taken yet.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.as_mut().and_then(|c| c.stdout.take())
    }

    /// Takes the child's piped stderr, if it was piped and not taken yet.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.as_mut().and_then(|c| c.stderr.take())
    }

    /// The exit status if the child has already exited (without blocking).
    pub fn try_exit(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("try_wait"))
    }

    /// Sends `signal` to the child by PID (no-op once it has been reaped).
    pub fn signal(&mut self, signal: i32) {
        if self.try_exit().is_none() {
            // SAFETY: kill() with a PID we own and have not reaped yet.
            unsafe { libc::kill(self.pid() as i32, signal) };
        }
    }

    /// Waits up to `timeout` for the child to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the child: SIGTERM, up to `grace` to exit, then SIGKILL; always reaps it.
    pub fn stop(&mut self, grace: Duration) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        if let Some(status) = self.wait_exit(grace) {
            return self.forget(status);
        }
        self.signal(libc::SIGKILL);
        let status = self
            .child
            .as_mut()
            .expect("child present")
            .wait()
            .expect("wait");
        self.forget(status)
    }

    /// Kills the child at once with SIGKILL and reaps it.
    pub fn kill(&mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGKILL);
        let status = self
            .child
            .as_mut()
            .expect("child present")
            .wait()
            .expect("wait");
        self.forget(status)
    }

    fn forget(&mut self, status: std::process::ExitStatus) -> std::process::ExitStatus {
        LIVE.lock().unwrap().remove(&(self.pid() as i32));
        status
    }

    /// The name given at spawn, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop(Duration::from_secs(2));
        }
    }
}

/// SIGKILLs every helper process still recorded (used by the watchdog before it aborts).
pub fn kill_all_recorded() {
    // Don't block on the lock: the watchdog may fire while a test thread holds it.
    if let Ok(live) = LIVE.try_lock() {
        for &pid in live.iter() {
            // SAFETY: kill() on PIDs we spawned and have not reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// A loopback TCP port that was free a moment ago. Another process may take it before it is
/// used: callers that pass it to a server must retry on a bind clash.
pub fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// A loopback TCP port where nothing listens while this lives: a socket bound
/// to it that never listens, so a connection there is refused at once, and no
/// other bind (a peer another test starts meanwhile, a later `free_port`) can
/// take the port, as it could take one `free_port` has let go.
pub struct RefusedPort {
    socket: socket2::Socket,
    port: u16,
}

impl RefusedPort {
    /// A port of 127.0.0.1 bound and refused.
    pub fn new() -> RefusedPort {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        socket
            .bind(&std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .expect("bind 127.0.0.1:0");
        let port = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .expect("a bound port");
        RefusedPort { socket, port }
    }

    /// `127.0.0.1:port`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Lets the port go, for a server the test starts on it next; returns it.
    pub fn release(self) -> u16 {
        drop(self.socket);
        self.port
    }
}

impl Default for RefusedPort {
    fn default() -> RefusedPort {
        RefusedPort::new()
    }
}

/// Whether this process runs as root (then some peers need `-u nobody`).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
