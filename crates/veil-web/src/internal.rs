//! The internal channel between nodes (scale-out): a recorder serves the
//! live frames of the cameras it holds to web nodes, over mutual TLS whose
//! certificate authority is derived from the root key
//! (`docs/design/scale-out.md`, "The internal channel").
//!
//! **Trust.** Every node derives the same Ed25519 CA key from the root key
//! (HKDF-SHA256, info [`CA_LABEL`]), builds the same CA certificate from it,
//! and issues itself a fresh leaf certificate (a random P-256 key, name
//! [`SERVER_NAME`], client and server use) at start. Servers accept only
//! clients with a certificate of that CA; clients accept only servers with
//! one. A peer that does not know the root key cannot finish the TLS
//! handshake, so no request of its reaches the HTTP layer.
//!
//! **Stream.** `GET /internal/v1/live/{camera}` answers 404 unless this
//! node holds the camera's lease now, else 200 with a body of messages, each
//! a tag byte, a big-endian `u32` length and that many bytes:
//! - `P` (codec parameters, first, and again whenever they change):
//!   `u32` SPS length, the SPS, `u32` PPS length, the PPS (NAL units
//!   without start codes);
//! - `F` (one frame): `i64` presentation time (90 kHz, wall clock),
//!   `u32` duration, `u8` 1 for a keyframe, then the frame's 4-byte
//!   length-prefixed NAL units.
//!
//! The first frame is a keyframe; a stream that falls behind skips to the
//! next keyframe. The stream ends when the node loses the lease.
//!
//! **Relay.** On a node that does not record a camera, [`Relay`] (the
//! [`LiveHub`]'s demand hook) fetches the frames of a camera someone views
//! from its holder (`camera_lease` → `recorder_node.address`) and
//! republishes them into the node's own hub, one upstream per camera
//! however many viewers, until the last viewer leaves. When the upstream
//! ends or fails, or the lease's holder changes (a takeover), it looks the
//! holder up again every second and reconnects; viewers stay connected and
//! resume at the new holder's next keyframe.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::sync::broadcast::error::RecvError;
use veil_base::{CameraId, SharedClock, Time90k};
use veil_media::VideoParams;
use veil_store::db::Db;
use veil_store::leases::{Fence, RECORDER_ROLE};
use veil_store::recorder::{LiveFrame, LiveHub};

/// The HKDF info the internal CA's key is derived from the root key with.
pub const CA_LABEL: &[u8] = b"veil internal channel v1 ca";
/// The name in every node's certificate, which clients check.
pub const SERVER_NAME: &str = "veil-internal";
/// The live stream's route.
pub const LIVE_ROUTE: &str = "/internal/v1/live/{camera}";
/// The largest message a client accepts (a frame of 16 MiB is far above
/// any camera's).
const MAX_MESSAGE: usize = 16 << 20;

/// The node's TLS configurations for the internal channel.
#[derive(Clone)]
pub struct InternalTls {
    /// For the recorder's internal listener (client certificates required).
    pub server: Arc<rustls::ServerConfig>,
    /// For the relay's connections (presents this node's certificate).
    pub client: Arc<rustls::ClientConfig>,
}

/// The internal CA's key pair from the 32-byte secret derived from the root
/// key: an Ed25519 key with that seed (PKCS#8 v1 around it).
fn ca_key(seed: &[u8; 32]) -> Result<rcgen::KeyPair, String> {
    let mut der = zeroize::Zeroizing::new(vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ]);
    der.extend_from_slice(seed);
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(der.as_slice()),
        &rcgen::PKCS_ED25519,
    )
    .map_err(|e| format!("internal CA key: {e}"))
}

/// The internal CA certificate: the same subject and key on every node.
fn ca_cert(key: &rcgen::KeyPair) -> Result<rcgen::Certificate, String> {
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "Veil internal channel CA");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    p.serial_number = Some(rcgen::SerialNumber::from(1u64));
    // Rebuilt at every start: bounded from then (peers trust the key and
    // name, not this copy's dates).
    set_validity(&mut p, CA_VALIDITY_DAYS);
    p.self_signed(key)
        .map_err(|e| format!("internal CA certificate: {e}"))
}

/// The CA certificate's validity from each start.
const CA_VALIDITY_DAYS: i64 = 3650;
/// A node certificate's validity, reissued at every start. Bounded so that
/// a leaked node key stops working; long enough that a node running without
/// a restart keeps its channel (certificates are not rotated in a running
/// process).
const LEAF_VALIDITY_DAYS: i64 = 366;

/// From a day before now (clocks between nodes differ) to `days` after.
/// Certificates are checked against the system's time, so it is the time
/// used here (not the simulated clock).
fn set_validity(p: &mut rcgen::CertificateParams, days: i64) {
    use chrono::Datelike;
    let day = |d: chrono::DateTime<chrono::Utc>| {
        rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
    };
    let now = chrono::Utc::now();
    p.not_before = day(now - chrono::Duration::days(1));
    p.not_after = day(now + chrono::Duration::days(days));
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl InternalTls {
    /// The configurations of node `node_id` from `ca_seed`
    /// (`Keyring::derive_from_root(CA_LABEL)`): the CA rebuilt from it and
    /// a fresh leaf certificate issued by it.
    pub fn new(ca_seed: &[u8; 32], node_id: &str) -> Result<InternalTls, String> {
        let ca_key = ca_key(ca_seed)?;
        let ca = ca_cert(&ca_key)?;
        let leaf_key = rcgen::KeyPair::generate().map_err(|e| format!("node key: {e}"))?;
        let mut p = rcgen::CertificateParams::new(vec![SERVER_NAME.to_owned()])
            .map_err(|e| format!("node certificate: {e}"))?;
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, format!("veil node {node_id}"));
        p.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        set_validity(&mut p, LEAF_VALIDITY_DAYS);
        let leaf = p
            .signed_by(&leaf_key, &ca, &ca_key)
            .map_err(|e| format!("node certificate: {e}"))?;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(ca.der().clone())
            .map_err(|e| format!("internal CA: {e}"))?;
        let roots = Arc::new(roots);
        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone()];
        let key = || PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
                .build()
                .map_err(|e| format!("internal client verifier: {e}"))?;
        let server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key())
            .map_err(|e| format!("internal server certificate: {e}"))?;
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key())
            .map_err(|e| format!("internal client certificate: {e}"))?;
        Ok(InternalTls {
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }
}

/// What the recorder's internal endpoint serves from.
#[derive(Clone)]
pub struct InternalState {
    /// The node's live hub (fed by its recorders).
    pub live: LiveHub,
    /// The leases the node holds now.
    pub fence: Fence,
}

/// The internal router: the live stream only.
pub fn router(state: InternalState) -> axum::Router {
    axum::Router::new()
        .route(LIVE_ROUTE, axum::routing::get(live))
        .with_state(state)
}

/// Serves the internal router on `listener` over mutual TLS until the
/// process stops.
pub async fn serve(listener: std::net::TcpListener, tls: &InternalTls, state: InternalState) {
    let config = axum_server::tls_rustls::RustlsConfig::from_config(tls.server.clone());
    let app = router(state);
    if let Err(e) = axum_server::from_tcp_rustls(listener, config)
        .serve(app.into_make_service())
        .await
    {
        tracing::error!(error = %e, "the internal channel's listener failed");
    }
}

/// Appends one message (tag, length, body) to `out`.
fn message(out: &mut BytesMut, tag: u8, body: &[&[u8]]) {
    let len: usize = body.iter().map(|b| b.len()).sum();
    out.put_u8(tag);
    out.put_u32(len as u32);
    for b in body {
        out.put_slice(b);
    }
}

/// The `P` message of `params`.
pub fn encode_params(out: &mut BytesMut, params: &VideoParams) {
    message(
        out,
        b'P',
        &[
            &(params.sps.len() as u32).to_be_bytes(),
            &params.sps,
            &(params.pps.len() as u32).to_be_bytes(),
            &params.pps,
        ],
    );
}

/// The `F` message of `frame`.
pub fn encode_frame(out: &mut BytesMut, frame: &LiveFrame) {
    message(
        out,
        b'F',
        &[
            &frame.pts_90k.0.to_be_bytes(),
            &frame.duration_90k.to_be_bytes(),
            &[u8::from(frame.is_key)],
            &frame.data,
        ],
    );
}

/// One decoded message.
#[derive(Debug)]
pub enum Message {
    /// New codec parameters.
    Params(Arc<VideoParams>),
    /// A frame (its parameters are the latest `Params`).
    Frame {
        /// Presentation time.
        pts_90k: Time90k,
        /// Duration.
        duration_90k: u32,
        /// Keyframe.
        is_key: bool,
        /// Length-prefixed NAL units.
        data: Bytes,
    },
}

/// Takes the next whole message from `buf`: `Ok(None)` when more bytes are
/// needed, an error for a malformed stream.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Message>, String> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let tag = buf[0];
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if len > MAX_MESSAGE {
        return Err(format!("a message of {len} bytes is too long"));
    }
    if buf.len() < 5 + len {
        return Ok(None);
    }
    buf.advance(5);
    let mut body = buf.split_to(len).freeze();
    match tag {
        b'P' => {
            let mut part = || -> Result<Bytes, String> {
                if body.len() < 4 {
                    return Err("truncated parameters".into());
                }
                let n = body.get_u32() as usize;
                if body.len() < n {
                    return Err("truncated parameters".into());
                }
                Ok(body.split_to(n))
            };
            let sps = part()?;
            let pps = part()?;
            let p = VideoParams::from_sps_pps(&sps, &pps).map_err(|e| e.to_string())?;
            Ok(Some(Message::Params(Arc::new(p))))
        }
        b'F' => {
            if body.len() < 13 {
                return Err("truncated frame".into());
            }
            let pts = body.get_i64();
            let duration_90k = body.get_u32();
            let is_key = body.get_u8() == 1;
            Ok(Some(Message::Frame {
                pts_90k: Time90k(pts),
                duration_90k,
                is_key,
                data: body,
            }))
        }
        t => Err(format!("unknown message type {t}")),
    }
}

/// `GET /internal/v1/live/{camera}`: the camera's live frames, while this
/// node holds its lease.
async fn live(State(state): State<InternalState>, Path(camera): Path<String>) -> Response {
    let Ok(id) = camera.parse::<i64>() else {
        return (StatusCode::BAD_REQUEST, "camera: not a camera id").into_response();
    };
    let camera = CameraId(id);
    if state.fence.token(camera).is_none() {
        return (StatusCode::NOT_FOUND, "this node does not hold the camera").into_response();
    }
    let rx = state.live.subscribe(camera);
    struct St {
        rx: tokio::sync::broadcast::Receiver<LiveFrame>,
        fence: Fence,
        camera: CameraId,
        sent: Option<Arc<VideoParams>>,
        need_key: bool,
    }
    let st = St {
        rx,
        fence: state.fence,
        camera,
        sent: None,
        need_key: true,
    };
    let stream = futures::stream::unfold(st, |mut st| async move {
        loop {
            let frame = match st.rx.recv().await {
                Ok(f) => f,
                Err(RecvError::Lagged(_)) => {
                    st.need_key = true;
                    continue;
                }
                Err(RecvError::Closed) => return None,
            };
            // The lease lost (a takeover): the stream ends and the web
            // node's relay looks for the new holder.
            st.fence.token(st.camera)?;
            if st.need_key && !frame.is_key {
                continue;
            }
            st.need_key = false;
            let mut out = BytesMut::with_capacity(frame.data.len() + 64);
            if st.sent.as_deref() != Some(&*frame.params) {
                encode_params(&mut out, &frame.params);
                st.sent = Some(frame.params.clone());
            }
            encode_frame(&mut out, &frame);
            return Some((Ok::<_, std::io::Error>(out.freeze()), st));
        }
    });
    Response::builder()
        .header("content-type", "application/octet-stream")
        .header("cache-control", "no-store")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A web node's relay of live frames from the recorders (see the module
/// documentation).
#[derive(Clone)]
pub struct Relay {
    inner: Arc<RelayInner>,
}

struct RelayInner {
    db: Db,
    live: LiveHub,
    node: String,
    tls: Arc<rustls::ClientConfig>,
    clock: SharedClock,
    running: Mutex<HashSet<CameraId>>,
}

/// How long the relay waits before looking up a camera's holder again.
const RETRY: Duration = Duration::from_secs(1);
/// How often a connected relay checks the lease's holder.
const HOLDER_CHECK: Duration = Duration::from_secs(2);
/// How long the relay waits for a holder's response headers.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the relay waits between two messages of a holder's stream
/// before it ends the upstream (a recorder sends frames continuously).
const READ_TIMEOUT: Duration = Duration::from_secs(10);

impl Relay {
    /// A relay for node `node`, installed as `live`'s demand hook.
    pub fn install(
        db: Db,
        live: LiveHub,
        node: &str,
        tls: &InternalTls,
        clock: SharedClock,
    ) -> Relay {
        let relay = Relay {
            inner: Arc::new(RelayInner {
                db,
                live: live.clone(),
                node: node.to_owned(),
                tls: tls.client.clone(),
                clock,
                running: Mutex::default(),
            }),
        };
        let r = relay.clone();
        live.set_demand_hook(Arc::new(move |camera| r.want(camera)));
        relay
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashSet<CameraId>> {
        self.inner.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A viewer subscribed to `camera`: starts its upstream unless one runs.
    pub fn want(&self, camera: CameraId) {
        if self.running().insert(camera) {
            let r = self.clone();
            tokio::spawn(async move { r.run(camera).await });
        }
    }

    /// Whether the upstream should stop: no viewer is left. Decided under
    /// the `running` lock, so a viewer that arrives meanwhile finds either
    /// this task still running or none and starts one.
    fn done(&self, camera: CameraId) -> bool {
        let mut running = self.running();
        if self.inner.live.receivers(camera) == 0 {
            running.remove(&camera);
            true
        } else {
            false
        }
    }

    async fn run(self, camera: CameraId) {
        loop {
            if self.done(camera) {
                return;
            }
            match self.holder(camera).await {
                // This node records the camera itself: its recorder feeds
                // the hub (checked again, for when the lease moves).
                Ok(Some((holder, _))) if holder == self.inner.node => {}
                Ok(Some((holder, address))) => {
                    if let Err(e) = self.follow(camera, &holder, &address).await {
                        tracing::info!(camera = camera.0, node = %holder, error = %e, "live relay: upstream ended");
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(camera = camera.0, error = %e, "live relay: holder lookup failed")
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// The node holding `camera`'s lease now and its internal address.
    async fn holder(&self, camera: CameraId) -> Result<Option<(String, String)>, String> {
        let db = self.inner.db.clone();
        let clock = self.inner.clock.clone();
        tokio::task::spawn_blocking(move || {
            let now = db
                .database_time()
                .map_err(|e| e.to_string())?
                .unwrap_or_else(|| clock.now());
            let Some(lease) = db
                .leases()
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|l| l.camera_id == camera && l.expires_90k >= now && !l.holder.is_empty())
            else {
                return Ok(None);
            };
            let address = db
                .live_nodes(RECORDER_ROLE, Time90k(0))
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|n| n.id == lease.holder)
                .map(|n| n.address)
                .unwrap_or_default();
            Ok(Some((lease.holder, address)))
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Streams `camera` from `holder` at `address` into the hub until the
    /// stream ends, fails, the holder changes or no viewer is left.
    async fn follow(&self, camera: CameraId, holder: &str, address: &str) -> Result<(), String> {
        if address.is_empty() {
            return Err("the holder published no internal address".into());
        }
        let sock = tokio::net::lookup_host(address)
            .await
            .map_err(|e| format!("cannot resolve {address}: {e}"))?
            .next()
            .ok_or_else(|| format!("{address} resolves to nothing"))?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls((*self.inner.tls).clone())
            .no_proxy()
            .resolve(SERVER_NAME, sock)
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| e.to_string())?;
        let url = format!(
            "https://{SERVER_NAME}:{}/internal/v1/live/{}",
            sock.port(),
            camera.0
        );
        // A recorder that accepts and never answers must not hold the relay.
        let mut resp = tokio::time::timeout(RESPONSE_TIMEOUT, client.get(url).send())
            .await
            .map_err(|_| format!("{address} did not answer within {RESPONSE_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("{address} answered {}", resp.status()));
        }
        let mut buf = BytesMut::new();
        let mut params: Option<Arc<VideoParams>> = None;
        let mut check = tokio::time::interval(HOLDER_CHECK);
        check.reset();
        // A recorder sends frames continuously: silence this long ends the
        // upstream, and the relay looks the holder up again.
        let silence = tokio::time::sleep(READ_TIMEOUT);
        tokio::pin!(silence);
        loop {
            let chunk = tokio::select! {
                c = resp.chunk() => {
                    silence.as_mut().reset(tokio::time::Instant::now() + READ_TIMEOUT);
                    c.map_err(|e| e.to_string())?
                }
                _ = &mut silence => {
                    return Err(format!("{address} sent nothing for {READ_TIMEOUT:?}"));
                }
                _ = check.tick() => {
                    if self.done(camera) {
                        // Restarted by the next viewer.
                        return Ok(());
                    }
                    match self.holder(camera).await {
                        Ok(Some((h, _))) if h == holder => continue,
                        Ok(_) => return Err("the lease moved".into()),
                        Err(e) => return Err(e),
                    }
                }
            };
            let Some(chunk) = chunk else {
                return Err("the stream ended".into());
            };
            buf.extend_from_slice(&chunk);
            while let Some(m) = decode(&mut buf)? {
                match m {
                    Message::Params(p) => params = Some(p),
                    Message::Frame {
                        pts_90k,
                        duration_90k,
                        is_key,
                        data,
                    } => {
                        let Some(p) = &params else {
                            return Err("a frame before the parameters".into());
                        };
                        self.inner.live.publish(
                            camera,
                            LiveFrame {
                                params: p.clone(),
                                pts_90k,
                                duration_90k,
                                is_key,
                                data,
                            },
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_derives_the_same_ca_and_trusts_only_it() {
        let seed = [7u8; 32];
        let a = ca_cert(&ca_key(&seed).unwrap()).unwrap();
        let b = ca_cert(&ca_key(&seed).unwrap()).unwrap();
        // Ed25519 signatures are deterministic: the same certificate bytes.
        assert_eq!(a.der(), b.der());
        let other = ca_cert(&ca_key(&[8u8; 32]).unwrap()).unwrap();
        assert_ne!(a.der(), other.der());
        InternalTls::new(&seed, "n1").unwrap();
    }

    #[test]
    fn messages_round_trip_and_bad_ones_are_refused() {
        let params = Arc::new(
            veil_media::synthetic::SyntheticCamera::new(Default::default())
                .unwrap()
                .params()
                .clone(),
        );
        let frame = LiveFrame {
            params: params.clone(),
            pts_90k: Time90k(123_456),
            duration_90k: 3600,
            is_key: true,
            data: Bytes::from_static(&[0, 0, 0, 2, 0x65, 0x88]),
        };
        let mut out = BytesMut::new();
        encode_params(&mut out, &params);
        encode_frame(&mut out, &frame);
        // Split anywhere: a partial message waits for more bytes.
        let mut buf = BytesMut::from(&out[..7]);
        assert!(decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&out[7..]);
        match decode(&mut buf).unwrap() {
            Some(Message::Params(p)) => assert_eq!(*p, *params),
            m => panic!("{m:?}"),
        }
        match decode(&mut buf).unwrap() {
            Some(Message::Frame {
                pts_90k,
                duration_90k,
                is_key,
                data,
            }) => {
                assert_eq!(pts_90k, Time90k(123_456));
                assert_eq!(duration_90k, 3600);
                assert!(is_key);
                assert_eq!(&data[..], &frame.data[..]);
            }
            m => panic!("{m:?}"),
        }
        assert!(buf.is_empty());
        let mut bad = BytesMut::from(&[b'X', 0, 0, 0, 0][..]);
        assert!(decode(&mut bad).is_err());
        let mut huge = BytesMut::from(&[b'F', 0xff, 0xff, 0xff, 0xff][..]);
        assert!(decode(&mut huge).is_err());
    }

    /// A TLS handshake between `client` and `server` over an in-memory
    /// pipe: whether it completes.
    async fn handshake(
        client: Arc<rustls::ClientConfig>,
        server: Arc<rustls::ServerConfig>,
    ) -> bool {
        let (c, s) = tokio::io::duplex(64 * 1024);
        let acceptor = tokio_rustls::TlsAcceptor::from(server);
        let connector = tokio_rustls::TlsConnector::from(client);
        let name = rustls::pki_types::ServerName::try_from(SERVER_NAME).unwrap();
        let srv = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = acceptor.accept(s).await.ok()?;
            let mut b = [0u8; 1];
            s.read_exact(&mut b).await.ok()?;
            s.write_all(&b).await.ok()?;
            s.flush().await.ok()
        });
        let cli = async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut c = connector.connect(name, c).await.ok()?;
            c.write_all(b"x").await.ok()?;
            c.flush().await.ok()?;
            let mut b = [0u8; 1];
            c.read_exact(&mut b).await.ok()?;
            Some(b[0] == b'x')
        };
        let ok = cli.await == Some(true);
        let _ = srv.await;
        ok
    }

    #[tokio::test]
    async fn only_nodes_of_the_same_root_key_connect() {
        let a = InternalTls::new(&[1u8; 32], "a").unwrap();
        let b = InternalTls::new(&[1u8; 32], "b").unwrap();
        let stranger = InternalTls::new(&[2u8; 32], "x").unwrap();
        assert!(handshake(b.client.clone(), a.server.clone()).await);
        // A client of another root key, in either direction, cannot connect.
        assert!(!handshake(stranger.client.clone(), a.server.clone()).await);
        assert!(!handshake(a.client.clone(), stranger.server.clone()).await);
        // A client without any certificate is refused.
        let roots = {
            let mut r = rustls::RootCertStore::empty();
            r.add(ca_cert(&ca_key(&[1u8; 32]).unwrap()).unwrap().der().clone())
                .unwrap();
            r
        };
        let anonymous = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        assert!(!handshake(Arc::new(anonymous), a.server.clone()).await);
    }
}
