//! What is submitted for the relay (`smtp32-sendmail`'s `QueueSubmit`):
//! rewritten as the relay settings say, then into the queue, or sent through
//! the relay at once when the queue is off; and the queue runner's send of
//! a queued message.

use super::Router;
use crate::session::messages::SendMessage;
use smtp32_protocol::{Failure, Handle, Response, Submission};

impl Router {
    /// `QueueSubmit`: rewritten for the relay (`relay.from`, `maildomain`,
    /// `aliases`), then into the queue (on disk before `Queued` is
    /// answered), or, with `relay.queue = false`, through the relay at once.
    pub(super) async fn queue_submit(&self, submission: Submission) -> Response {
        let settings = self.state.settings();
        let host = crate::platform::machine_hostname().unwrap_or_else(|| "localhost".into());
        let submission = crate::queue::rewrite::apply(&settings.relay, &host, submission);
        if !settings.relay.queue {
            return self.send_now(submission).await;
        }
        let Some(uid) = self.peer.uid else {
            let why = "the daemon cannot tell which user you are (no peer credentials)";
            return Response::Failed(Failure::NotPermitted(why.into()));
        };
        let queue = match self.state.queue.get(&self.state.settings()) {
            Ok(queue) => queue,
            Err(f) => return Response::Failed(f),
        };
        let uid = crate::platform::wire_uid(uid);
        match actix_rt::task::spawn_blocking(move || queue.submit(uid, submission)).await {
            Ok(Ok(id)) => Response::Queued { id },
            Ok(Err(f)) => Response::Failed(f),
            Err(_) => Response::Failed(Failure::Aborted),
        }
    }

    /// The send-now path of `relay.queue = false`: `OpenRelay`, `SendMessage`, QUIT.
    async fn send_now(&self, submission: Submission) -> Response {
        if self.state.lifecycle.is_shutting_down() {
            return Response::Failed(Failure::ShuttingDown);
        }
        let handle = match self.open_relay(false).await {
            Ok(handle) => handle,
            Err(f) => return Response::Failed(f),
        };
        let Submission {
            from,
            rcpts,
            data,
            notify,
            ret,
            envid,
        } = submission;
        let dsn = crate::queue::dsn_request(&notify, &ret, &envid).map(Box::new);
        let result = self
            .ask(
                handle,
                SendMessage {
                    from,
                    rcpts,
                    data,
                    dsn,
                },
            )
            .await;
        self.close_relay(handle).await;
        result.map_or_else(Response::Failed, Response::Sent)
    }

    /// The queue runner's send: `SendMessage` with DSN parameters, which no
    /// client request carries; answered and counted as `SendMessage` is.
    pub async fn send_queued(&self, handle: Handle, msg: SendMessage) -> Response {
        match self.ask(handle, msg).await {
            Ok(report) => {
                self.state.totals.message_accepted();
                Response::Sent(report)
            }
            Err(f) => {
                self.state.totals.failed(&f);
                Response::Failed(f)
            }
        }
    }
}
