//! Live view: fragmented MP4 over a WebSocket, for Media Source Extensions.
//!
//! Protocol: one text message `{"codec": "<RFC 6381>", "start": "<RFC 3339 time
//! of decode time 0>"}`, then binary messages:
//! the init segment (ftyp + moov), then one fragment (moof + mdat) per frame,
//! starting at a keyframe. Decode times start at 0 for each connection; for
//! B-frame streams they are derived from the presentation times
//! ([`veil_media::live`]) and frames carry composition offsets. A viewer
//! that falls behind skips to the next keyframe (same init segment and time base,
//! leaving a gap the player jumps over); recording is never slowed. The
//! same happens when a keyframe arrives more than a second away from where
//! the stream was (a relayed camera resuming on another recorder after a
//! takeover); if the codec parameters change, the stream closes and the
//! page reconnects with the new init segment.
//!
//! A stream is authorised again every [`RECHECK`] as its session stands
//! then, without counting as activity: it closes when the session ends
//! (logout, revocation, idle or absolute expiry), the account is disabled or
//! erased, or the rights change (role or camera scope lost, the role's hours
//! over, the usage policy or training gate closed). The upgrade is refused
//! (403) for an `Origin` other than the server's own, so another site's page
//! cannot open a stream with the user's cookie.

use std::net::SocketAddr;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::Extension;
use tokio::sync::broadcast::error::RecvError;
use veil_access::Action;
use veil_audit::{Action as Audited, Event};
use veil_base::{CameraId, Time90k};
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
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    check_origin(&headers)?;
    let cam = crate::api::authorized_camera(&state, &s, Action::LiveView, &id).await?;
    let now = state.now();
    crate::protections::refuse_held_by(&state, &s.subject.pseudonym, cam.id, now, now).await?;
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
    // On a node that does not record the camera, the relay fetches its
    // frames from the recorder holding it (`internal.rs`).
    state.live.want(cam.id);
    let stop = Event::new(
        s.subject.pseudonym.clone(),
        Audited::LiveViewStop,
        format!("camera:{}", cam.id),
    )
    .detail("rendition=main")
    .client(peer.ip());
    let camera = cam.id;
    let recheck_state = state.clone();
    let still_allowed = move || {
        let (state, s) = (recheck_state.clone(), s.clone());
        async move { still_allowed(&state, &s, camera).await }
    };
    Ok(ws
        .max_message_size(4096)
        .on_upgrade(move |socket| async move {
            stream(socket, rx, still_allowed).await;
            // The view has ended; nothing is left to refuse, so a failure is
            // only logged (the start entry already recorded the access).
            if let Err(e) = state.record(stop).await {
                tracing::warn!(error = %e.message, "could not record the end of a live view");
            }
        }))
}

/// A jump between one frame's end and a keyframe's time beyond which the
/// stream restarts its decode clock at the keyframe (one second).
const GAP_90K: i64 = 90_000;

/// How often an open stream is authorised again.
pub const RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Refuses a cross-origin upgrade: the `Origin` a browser sends must name
/// the host the request was sent to. Clients that send no `Origin` are not
/// browsers and carry no ambient cookie of a user's.
fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"))
    });
    match (authority, host) {
        (Some(a), Some(h)) if a.eq_ignore_ascii_case(h) => Ok(()),
        _ => Err(ApiError::forbidden(
            "live view is only served to pages of this server (the Origin differs)",
        )),
    }
}

/// Whether the viewer of `camera` may still watch it, as the session
/// stands now.
async fn still_allowed(state: &AppState, s: &Session, camera: CameraId) -> bool {
    let now = match state.reload_session(s).await {
        Ok(Some(now)) => now,
        Ok(None) => return false,
        Err(e) => {
            // Fail closed: an unanswerable check ends the view.
            tracing::warn!(error = %e.message, "live view re-authorisation failed");
            return false;
        }
    };
    let db = state.store.db.clone();
    let cam = match crate::blocking(move || Ok(db.cameras()?)).await {
        Ok(cams) => cams.into_iter().find(|c| c.id == camera),
        Err(_) => return false,
    };
    let t = state.now();
    cam.is_some()
        && state.allowed(
            &now,
            Action::LiveView,
            crate::api::camera_resource(camera, cam.as_ref()),
        )
        // A restriction hold that now covers the camera ends the view.
        && crate::protections::refuse_held(state, camera, t, t)
            .await
            .is_ok()
}

async fn stream<F, Fut>(
    mut socket: WebSocket,
    mut rx: tokio::sync::broadcast::Receiver<LiveFrame>,
    still_allowed: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut muxer: Option<LiveMuxer> = None;
    let mut resync = false;
    let mut next_pts: Option<i64> = None;
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.reset();
    loop {
        let frame = tokio::select! {
            f = rx.recv() => f,
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue, // viewers have nothing to say
            },
            _ = recheck.tick() => {
                if still_allowed().await {
                    continue;
                }
                let _ = socket
                    .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                        code: 1008, // policy violation
                        reason: "access ended".into(),
                    })))
                    .await;
                return;
            }
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
        // A keyframe far from where the stream was (a relayed camera that
        // moved to another recorder after a takeover resumes at the new
        // recorder's keyframe): the decode clock starts over from it, as
        // after skipped frames.
        if frame.is_key && next_pts.is_some_and(|n| (frame.pts_90k.0 - n).abs() > GAP_90K) {
            resync = true;
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
        next_pts = Some(frame.pts_90k.0 + i64::from(frame.duration_90k));
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
