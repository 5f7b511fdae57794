//! One request frame as both clients write it: the frame up to its payload
//! encoded into the writer's buffer, then the payload, a data chunk's bytes,
//! written after it from where the caller holds them (no copy into a request
//! and none into the frame). A one-call send's messages are encoded into the
//! buffer from where the caller holds them (one copy, none into a request).

use crate::error::{Error, Result};
use smtp32_protocol::codec::{
    encode_data_chunk_head, encode_frame, encode_send_batch, encode_send_message, MessageRef,
};
use smtp32_protocol::{ClientFrame, Handle, Request, RequestId};

/// What one request frame carries.
pub(crate) enum RequestFrame<'a> {
    Request(Request),
    /// A `Request::DataChunk` of the caller's bytes.
    DataChunk {
        handle: Handle,
        bytes: &'a [u8],
    },
    /// A `Request::SendMessage` of the caller's message.
    SendMessage {
        handle: Handle,
        message: MessageRef<'a>,
    },
    /// A `Request::SendBatch` of the caller's messages.
    SendBatch {
        handle: Handle,
        messages: &'a [MessageRef<'a>],
    },
}

impl From<Request> for RequestFrame<'_> {
    fn from(request: Request) -> Self {
        RequestFrame::Request(request)
    }
}

impl<'a> RequestFrame<'a> {
    /// Encodes the frame under `id` into `head` (replacing its contents) and
    /// returns the bytes to write after it. A frame over `max_frame_bytes`
    /// is refused here: the daemon would drop the whole IPC connection for it.
    pub(crate) fn encode(
        self,
        id: RequestId,
        max_frame_bytes: u32,
        head: &mut Vec<u8>,
    ) -> Result<&'a [u8]> {
        let (encoded, payload) = match self {
            RequestFrame::Request(request) => (
                encode_frame(&ClientFrame::Request { id, request }, head),
                &[][..],
            ),
            RequestFrame::DataChunk { handle, bytes } => {
                (encode_data_chunk_head(id, handle, bytes.len(), head), bytes)
            }
            RequestFrame::SendMessage { handle, message } => {
                (encode_send_message(id, handle, message, head), &[][..])
            }
            RequestFrame::SendBatch { handle, messages } => {
                (encode_send_batch(id, handle, messages, head), &[][..])
            }
        };
        encoded.map_err(|e| Error::invalid_argument(format!("cannot encode the request: {e}")))?;
        let body = head.len().saturating_sub(4) + payload.len();
        if body > max_frame_bytes as usize {
            return Err(Error::invalid_argument(format!(
                "request of {body} bytes exceeds the daemon's frame limit of {max_frame_bytes} bytes"
            )));
        }
        Ok(payload)
    }
}
