//! Live view: fragmented MP4 over a WebSocket, for Media Source Extensions.
//!
//! Protocol: one text message `{"codec": "<RFC 6381>", "start": "<RFC 3339 time
//! of decode time 0>"}`, then binary messages:
//! the init segment (ftyp + moov), then one fragment (moof + mdat) per frame,
//! starting at a keyframe. Decode times start at 0 for each connection; for
//! B-frame streams they are derived from the presentation times
//! ([`veil_media::live`]) and frames carry composition offsets. A viewer
//! that falls behind skips to the next keyframe (same init segment and time base,
//! leaving a gap the player jumps over); recording is never slowed.

use std::net::SocketAddr;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::response::Response;
use axum::Extension;
use tokio::sync::broadcast::error::RecvError;
use veil_access::Action;
use veil_audit::{Action as Audited, Event};
use veil_base::Time90k;
use veil_media::live::LiveMuxer;
use veil_store::recorder::LiveFrame;

use crate::auth::Session;
use crate::error::ApiError;
use crate::AppState;

/// `GET /api/v1/cameras/{id}/live` (WebSocket upgrade). The live-view start is
/// recorded before the upgrade is accepted.
pub async fn live(
    Extension(s): Extension<Session>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let cam = crate::api::authorized_camera(&state, &s, Action::LiveView, &id).await?;
    let ws = ws.map_err(|e| {
        ApiError::bad_request(format!("a WebSocket upgrade is needed: {}", e.body_text()))
    })?;
    state
        .record(
            Event::new(
                s.subject.pseudonym.clone(),
                Audited::LiveView,
                format!("camera:{}", cam.id),
            )
            .detail("rendition=main")
            .client(peer.ip()),
        )
        .await?;
    let rx = state.live.subscribe(cam.id);
    let stop = Event::new(
        s.subject.pseudonym.clone(),
        Audited::LiveViewStop,
        format!("camera:{}", cam.id),
    )
    .detail("rendition=main")
    .client(peer.ip());
    Ok(ws
        .max_message_size(4096)
        .on_upgrade(move |socket| async move {
            stream(socket, rx).await;
            // The view has ended; nothing is left to refuse, so a failure is
            // only logged (the start entry already recorded the access).
            if let Err(e) = state.record(stop).await {
                tracing::warn!(error = %e.message, "could not record the end of a live view");
            }
        }))
}

async fn stream(mut socket: WebSocket, mut rx: tokio::sync::broadcast::Receiver<LiveFrame>) {
    let mut muxer: Option<LiveMuxer> = None;
    let mut resync = false;
    loop {
        let frame = tokio::select! {
            f = rx.recv() => f,
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue, // viewers have nothing to say
            },
        };
        let frame = match frame {
            Ok(f) => f,
            Err(RecvError::Lagged(_)) => {
                // Too slow: skip to the next keyframe, keeping the same init
                // segment and time base (the player jumps over the gap).
                resync = true;
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if let Some(m) = &muxer {
            if *m.params() != *frame.params {
                return; // parameters changed: the client reconnects with the new init
            }
        }
        if resync {
            if !frame.is_key {
                continue;
            }
            resync = false;
            if let Some(m) = &mut muxer {
                m.skipped();
            }
        }
        let m = match &mut muxer {
            Some(m) => m,
            None => {
                if !frame.is_key {
                    continue;
                }
                let m = LiveMuxer::start(&frame.params, frame.pts_90k.0, frame.duration_90k);
                // `start` is the wall-clock time of decode time 0, so a viewer
                // can tell how far behind real time it plays.
                let hello = serde_json::json!({
                    "codec": frame.params.rfc6381_codec(),
                    "start": Time90k(m.start_90k()).to_rfc3339(),
                })
                .to_string();
                if socket.send(Message::Text(hello.into())).await.is_err()
                    || socket
                        .send(Message::Binary(m.init_segment().into()))
                        .await
                        .is_err()
                {
                    return;
                }
                muxer.insert(m)
            }
        };
        let frag = m.fragment(
            frame.pts_90k.0,
            frame.duration_90k,
            frame.is_key,
            &frame.data,
        );
        if socket.send(Message::Binary(frag.into())).await.is_err() {
            return;
        }
    }
}
