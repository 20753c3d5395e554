//! Refusals every client can read, over HTTP/1.1 and HTTP/2.
//!
//! A server that answers before reading the request body (a 401 from the
//! session check, a 413 at the size limit) and then drops the body makes
//! HTTP/2 reset the stream; curl then reports "Stream error in the HTTP/2
//! framing layer" instead of the answer. And a server that polls an
//! over-limit body sends `100 Continue` to a client that asked for it, then
//! drops the connection, so the client sees a broken pipe instead of the 413.
//! This layer, outermost of all:
//!
//! - refuses a body whose `Content-Length` is over the limit before anything
//!   reads it (no `100 Continue`): HTTP/1.1 clients get the 413 with
//!   `Connection: close`; HTTP/2 clients get it after the body they
//!   announced (at most [`DRAIN_CAP`]) is read and discarded, so the stream
//!   ends cleanly;
//! - reads and discards whatever a handler left unread (at most
//!   [`DRAIN_CAP`], for at most [`DRAIN_TIME`]) before the answer goes out.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Version};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::error::ApiError;
use crate::MAX_BODY_BYTES;

/// Most bytes of a refused body read and discarded so an HTTP/2 stream can
/// end without a reset. Above it the stream is reset.
pub const DRAIN_CAP: u64 = 8 * 1024 * 1024;
/// Longest time spent discarding a refused body.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

/// A request body shared with this layer, so that what the handler leaves
/// unread can be drained after it answers.
struct Shared(Arc<Mutex<Option<Body>>>);

impl HttpBody for Shared {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_ref().map(|b| b.size_hint()).unwrap_or_default()
    }

    fn is_end_stream(&self) -> bool {
        let slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_ref().is_none_or(|b| b.is_end_stream())
    }
}

/// Reads and discards `body`, at most [`DRAIN_CAP`] bytes for at most
/// [`DRAIN_TIME`].
async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    let read = async {
        let mut n = 0u64;
        while let Some(Ok(chunk)) = stream.next().await {
            n += chunk.len() as u64;
            if n > DRAIN_CAP {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}

/// The middleware (see the module).
pub async fn readable_refusals(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared.filter(|n| *n > MAX_BODY_BYTES as u64) {
        let mut res = ApiError::too_large().into_response();
        if req.version() == Version::HTTP_2 && len <= DRAIN_CAP {
            drain(req.into_body()).await;
        } else {
            // Nothing was read, so no `100 Continue` went out; the
            // connection cannot be reused with the body unread.
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        return res;
    }
    let (parts, body) = req.into_parts();
    let slot = Arc::new(Mutex::new(Some(body)));
    let req = Request::from_parts(parts, Body::new(Shared(slot.clone())));
    let res = next.run(req).await;
    let left = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(body) = left.filter(|b| !b.is_end_stream()) {
        drain(body).await;
    }
    res
}
