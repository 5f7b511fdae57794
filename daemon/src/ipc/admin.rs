//! The admin requests: status, the connection listing and detail, closing a
//! connection, reload and shutdown.
//!
//! Authorisation lives here and in [`Viewer`]: a client sees and closes the
//! connections of its own uid, an admin every connection; reload and
//! shutdown are for admins only. These are the only requests that may name
//! a handle another client opened; every other request goes through the
//! registry's per-client lookup.

use crate::peer::Viewer;
use crate::session::messages::XQuit;
use crate::state::DaemonState;
use smtp32_protocol::{DaemonStatus, Failure, Handle, Response, StateCounts, PROTOCOL_VERSION};
use tracing::info;

/// `Request::Status`: the daemon's figures (they are not secret; every client may ask).
pub fn status(state: &DaemonState) -> Response {
    let mut by_state = StateCounts::default();
    for activity in state.registry.all_activities() {
        by_state.add(activity.state());
    }
    by_state.cached = state.cache.status().idle;
    Response::Status(Box::new(DaemonStatus {
        daemon_version: env!("CARGO_PKG_VERSION").into(),
        protocol_version: PROTOCOL_VERSION,
        pid: std::process::id(),
        uptime_secs: state.uptime_secs(),
        clients: state.clients(),
        connections: state.registry.len() as u32,
        connections_opened: state.registry.opened(),
        config_file: state.config_file().map(|p| p.display().to_string()),
        by_state,
        messages_accepted: state.totals.messages_accepted(),
        bytes_sent: state.totals.bytes_sent(),
        bytes_received: state.totals.bytes_received(),
        errors: state.totals.errors(),
        shutting_down: state.lifecycle.is_shutting_down(),
        cache: state.cache.status(),
    }))
}

/// `Request::ListConnections`: the rows `viewer` may see, by handle.
/// Idle sessions of the connection cache follow, with state `cached`.
pub fn list(state: &DaemonState, viewer: &Viewer) -> Response {
    let mut rows: Vec<_> = state
        .registry
        .visible(viewer)
        .iter()
        .map(|a| a.info())
        .collect();
    rows.extend(state.cache.visible(viewer));
    Response::Connections(rows)
}

/// `Request::ShowConnection`.
pub fn show(state: &DaemonState, viewer: &Viewer, handle: Handle) -> Response {
    match state.registry.lookup_admin(viewer, handle) {
        Ok((_, activity)) => Response::ConnectionDetail(Box::new(activity.detail())),
        Err(f) => Response::Failed(f),
    }
}

/// `Request::CloseConnection`: cancels like `XQuit`; the owner's call in
/// flight is answered `Aborted` and the handle is freed when the actor stops.
/// An idle cached session gets QUIT.
pub async fn close(state: &DaemonState, viewer: &Viewer, handle: Handle) -> Response {
    if state.cache.close(viewer, handle) {
        info!(handle = %handle, by_uid = ?viewer.peer.uid, "cached connection closed by smtp32ctl");
        return Response::Done;
    }
    match state.registry.lookup_admin(viewer, handle) {
        Ok((session, activity)) => {
            info!(
                handle = %handle,
                by_uid = ?viewer.peer.uid,
                owner_uid = ?activity.owner().uid,
                "connection closed by smtp32ctl"
            );
            let _ = session.send(XQuit).await;
            Response::Done
        }
        Err(f) => Response::Failed(f),
    }
}

/// `Request::Reload`: as SIGHUP.
pub fn reload(state: &DaemonState, viewer: &Viewer) -> Response {
    if let Err(f) = require_admin(viewer, "reload") {
        return Response::Failed(f);
    }
    match state.reload() {
        Ok(()) => Response::Done,
        Err(e) => Response::Failed(Failure::InvalidArgument(e.to_string())),
    }
}

/// `Request::Shutdown`: as SIGTERM. The response is queued before the
/// drain starts refusing work, so the caller always hears `Done`.
pub fn shutdown(state: &DaemonState, viewer: &Viewer) -> Response {
    if let Err(f) = require_admin(viewer, "shutdown") {
        return Response::Failed(f);
    }
    info!(by_uid = ?viewer.peer.uid, by_pid = ?viewer.peer.pid, "shutdown requested by smtp32ctl");
    state.lifecycle.request_shutdown();
    Response::Done
}

fn require_admin(viewer: &Viewer, what: &str) -> Result<(), Failure> {
    if viewer.admin {
        Ok(())
    } else {
        Err(Failure::NotPermitted(format!(
            "{what} is for root, the daemon's user and members of its admin_group (you are uid {})",
            viewer
                .peer
                .uid
                .map(|u| u.to_string())
                .unwrap_or_else(|| "unknown".into())
        )))
    }
}
