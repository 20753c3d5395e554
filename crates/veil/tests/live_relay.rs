//! Live view across nodes (issue 17, item 5; `docs/design/scale-out.md`,
//! "The internal channel"), as an operator runs it: a real PostgreSQL
//! server, a real S3-compatible server (moto), `veil serve --role recorder`
//! processes and one `veil serve --role web`, each with its own data
//! directory and `[node] internal_listen`, the same database, bucket and
//! root key (the approach of `scale_out.rs`, with two small cameras).
//!
//! - a viewer's WebSocket on the web node keeps receiving fragments after
//!   the recorder holding the camera is killed (SIGKILL): the other
//!   recorder takes the lease and the relay follows it, with no close in
//!   between; the access is recorded once;
//! - a recorder's internal listener refuses a TLS client without a
//!   certificate and one whose certificate comes from another root key's
//!   CA: no HTTP answer, nothing in the access record;
//! - a recorder on a shared database without `[node] internal_listen` is
//!   refused at start.
//!
//! The channel's trust and messages are also unit-tested in `veil-web`'s
//! `internal` module.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::nodes::postgres_server::PgServer;
use common::nodes::Cluster;
use common::{free_port, run_veil};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Cameras of the installation.
const CAMERAS: usize = 2;
/// The bound for a dead recorder's cameras to record again (and so
/// for the viewer's stream to resume).
const TAKEOVER: Duration = Duration::from_secs(30);
/// Runs `f` with a fresh PostgreSQL connection on a blocking thread (the
/// `postgres` client must not block a tokio runtime thread).
async fn with_pg<T: Send + 'static>(
    url: &str,
    f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send + 'static,
) -> Result<T, String> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || common::nodes::with_pg(&url, f))
        .await
        .map_err(|e| e.to_string())?
}

/// The installation with [`CAMERAS`] cameras and `recorders` recorders, the
/// administrator signed in on the web node and the policy acknowledged.
async fn start(recorders: usize) -> Cluster {
    let c = Cluster::start(CAMERAS, recorders).await;
    c.api.acknowledge_policy().await.unwrap();
    c
}

impl Cluster {
    /// Lease holders by camera, of leases not expired by the database's
    /// clock (empty when the database does not answer).
    async fn holders(&self) -> BTreeMap<i64, String> {
        with_pg(&self.url, |c| {
            let rows = c.query("SELECT camera_id, holder FROM camera_lease", &[])?;
            Ok(rows
                .iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
                .filter(|(_, h)| !h.is_empty())
                .collect())
        })
        .await
        .unwrap_or_default()
    }

    /// Waits until every camera has a lease holder; returns the holders.
    async fn wait_all_held(&self) -> BTreeMap<i64, String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let h = self.holders().await;
            if h.len() == CAMERAS {
                return h;
            }
            assert!(
                Instant::now() < deadline,
                "cameras not all leased within 60 s: {h:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The access record's entries as (seq, action, resource, client).
    async fn audit(&self) -> Vec<(i64, String, String, String)> {
        with_pg(&self.url, |c| {
            let rows = c.query(
                "SELECT seq, action, resource, client FROM audit ORDER BY seq",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect())
        })
        .await
        .unwrap_or_else(|e| panic!("reading the access record: {e}"))
    }
}

/// A server certificate verifier that accepts any certificate (the web
/// node's is self-signed; the internal listener's is checked by the test
/// only through the handshake's outcome), still checking the handshake's
/// signatures.
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS client that trusts any server and presents no certificate.
fn tls_client() -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider())))
        .with_no_client_auth()
}

/// The top-level MP4 box types of `b` (each a 32-bit size and a type).
fn boxes(b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 8 <= b.len() {
        let size = u32::from_be_bytes(b[i..i + 4].try_into().unwrap()) as usize;
        out.push(String::from_utf8_lossy(&b[i + 4..i + 8]).into_owned());
        if size < 8 {
            out.push("<bad size>".into());
            break;
        }
        i += size;
    }
    if i != b.len() {
        out.push("<truncated>".into());
    }
    out
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the live WebSocket of `camera` on the web node as a browser page
/// of that node would (session cookie, the node's own `Origin`).
async fn open_live(c: &Cluster, camera: i64) -> Ws {
    let base = c.web.url.trim_end_matches('/');
    let authority = base.strip_prefix("https://").expect("an https URL");
    let mut req = format!("wss://{authority}/api/v1/cameras/{camera}/live")
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    h.insert(
        "cookie",
        format!("veil_session={}", c.api.token).parse().unwrap(),
    );
    h.insert("origin", base.parse().unwrap());
    let connector = tokio_tungstenite::Connector::Rustls(Arc::new(tls_client()));
    let (ws, resp) =
        tokio_tungstenite::connect_async_tls_with_config(req, None, false, Some(connector))
            .await
            .unwrap_or_else(|e| panic!("opening the live WebSocket: {e}\n{}", c.logs()));
    assert_eq!(resp.status(), 101);
    ws
}

/// What the viewer received next: `Ok(None)` after `limit` without a
/// message; an error for a close, an end or a failure of the socket.
async fn next_message(ws: &mut Ws, limit: Duration) -> Result<Option<Message>, String> {
    match tokio::time::timeout(limit, ws.next()).await {
        Err(_) => Ok(None),
        Ok(None) => Err("the WebSocket ended".into()),
        Ok(Some(Err(e))) => Err(format!("the WebSocket failed: {e}")),
        Ok(Some(Ok(Message::Close(f)))) => Err(format!("the server closed the WebSocket: {f:?}")),
        Ok(Some(Ok(m))) => Ok(Some(m)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_on_the_web_node_follows_the_camera_across_a_takeover() {
    let mut c = start(2).await;
    let holders = c.wait_all_held().await;
    let (&camera, first_holder) = holders.iter().next().unwrap();
    let first_holder = first_holder.clone();
    let resource = format!("camera:{camera}");

    let mut ws = open_live(&c, camera).await;
    // The codec message, the init segment, then fragments.
    let hello = match next_message(&mut ws, Duration::from_secs(20)).await {
        Ok(Some(Message::Text(t))) => t,
        m => panic!("wanted the codec message, got {m:?}\n{}", c.logs()),
    };
    let hello: serde_json::Value = serde_json::from_str(&hello).unwrap();
    assert!(
        hello["codec"]
            .as_str()
            .is_some_and(|s| s.starts_with("avc1.")),
        "{hello}"
    );
    assert!(hello["start"].is_string(), "{hello}");
    match next_message(&mut ws, Duration::from_secs(10)).await {
        Ok(Some(Message::Binary(b))) => assert_eq!(boxes(&b), ["ftyp", "moov"]),
        m => panic!("wanted the init segment, got {m:?}"),
    }
    let mut fragments = 0;
    while fragments < 5 {
        match next_message(&mut ws, Duration::from_secs(10)).await {
            Ok(Some(Message::Binary(b))) => {
                assert_eq!(boxes(&b), ["moof", "mdat"]);
                fragments += 1;
            }
            Ok(Some(Message::Ping(_) | Message::Pong(_))) => {}
            m => panic!("wanted a fragment, got {m:?}\n{}", c.logs()),
        }
    }

    // The holder dies.
    let holder = c.holders().await.get(&camera).cloned();
    assert_eq!(holder.as_deref(), Some(first_holder.as_str()));
    let killed = Instant::now();
    c.recorders
        .iter_mut()
        .flatten()
        .find(|r| r.id == first_holder)
        .expect("the holder is one of the recorders")
        .kill();

    // The same socket delivers fragments again, once the other recorder
    // holds the camera (so from it: the killed one sends nothing more).
    let mut taken_over: Option<(Instant, String)> = None;
    let mut resumed = None;
    let mut after_kill = 0;
    while resumed.is_none() {
        let left = TAKEOVER.saturating_sub(killed.elapsed());
        assert!(
            !left.is_zero(),
            "no fragment from a new holder within {TAKEOVER:?} of the kill \
             (holder change seen: {taken_over:?}; {after_kill} fragments after the kill)\n{}",
            c.logs()
        );
        if taken_over.is_none() {
            if let Some(h) = c.holders().await.get(&camera) {
                if *h != first_holder {
                    taken_over = Some((Instant::now(), h.clone()));
                }
            }
        }
        match next_message(&mut ws, left.min(Duration::from_millis(500))).await {
            Ok(None) | Ok(Some(Message::Ping(_) | Message::Pong(_))) => {}
            Ok(Some(Message::Binary(b))) => {
                assert_eq!(boxes(&b), ["moof", "mdat"], "{}", c.logs());
                after_kill += 1;
                if taken_over.is_some() {
                    resumed = Some(killed.elapsed());
                }
            }
            Ok(Some(m)) => panic!("unexpected message after the kill: {m:?}"),
            Err(e) => panic!(
                "{e} after the kill ({:?}; holder change seen: {taken_over:?})\n{}",
                killed.elapsed(),
                c.logs()
            ),
        }
    }
    let (_, new_holder) = taken_over.unwrap();
    let other = c
        .recorders
        .iter()
        .flatten()
        .find(|r| r.id != first_holder)
        .unwrap()
        .id
        .clone();
    assert_eq!(new_holder, other);
    eprintln!(
        "camera {camera}: {first_holder} killed, fragments again from {new_holder} after {:?}",
        resumed.unwrap()
    );
    // It goes on streaming from there.
    for _ in 0..3 {
        match next_message(&mut ws, Duration::from_secs(5)).await {
            Ok(Some(Message::Binary(b))) => assert_eq!(boxes(&b), ["moof", "mdat"]),
            m => panic!(
                "wanted a fragment after the takeover, got {m:?}\n{}",
                c.logs()
            ),
        }
    }

    // The access is recorded once, on the web node's request, although the
    // stream came from two recorders.
    let views = |a: &[(i64, String, String, String)], action: &str| {
        a.iter()
            .filter(|(_, act, res, _)| act == action && *res == resource)
            .count()
    };
    let audit = c.audit().await;
    assert_eq!(views(&audit, "live_view"), 1, "{audit:?}");
    assert_eq!(views(&audit, "live_view.stop"), 0, "{audit:?}");
    // Closing it records the end, once.
    ws.send(Message::Close(None)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let audit = c.audit().await;
        if views(&audit, "live_view.stop") == 1 {
            assert_eq!(views(&audit, "live_view"), 1, "{audit:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no end of the view: {audit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether a TLS client `config` gets an HTTP answer from `addr` to a
/// request of the live route (the handshake and a request, as the relay
/// makes them); the error or end met otherwise.
async fn internal_answer(addr: &str, config: Arc<rustls::ClientConfig>) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("tcp: {e}"))?;
    let name = rustls::pki_types::ServerName::try_from(veil_web::internal::SERVER_NAME).unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    // With TLS 1.3 the server judges the client's certificate after the
    // client has finished: its refusal arrives as the answer to the first
    // request.
    tls.write_all(b"GET /internal/v1/live/1 HTTP/1.1\r\nhost: veil-internal\r\n\r\n")
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = vec![0u8; 64];
    match tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buf)).await {
        Err(_) => Err("no answer within 10 s".into()),
        Ok(Err(e)) => Err(format!("read: {e}")),
        Ok(Ok(0)) => Err("closed without an answer".into()),
        Ok(Ok(n)) => Ok(String::from_utf8_lossy(&buf[..n]).into_owned()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorders_internal_listener_refuses_peers_without_the_root_key() {
    let c = start(1).await;
    c.wait_all_held().await;
    let addr = c.recorder("rec-1").internal.clone();
    let before = c.audit().await;

    // No certificate at all.
    let anonymous = internal_answer(&addr, Arc::new(tls_client())).await;
    // A node certificate of the CA another root key derives (presented by
    // a client that trusts any server, so that only the server judges).
    let stranger = veil_web::internal::InternalTls::new(&[0x5a; 32], "stranger").unwrap();
    let mut foreign = tls_client();
    foreign.client_auth_cert_resolver = stranger.client.client_auth_cert_resolver.clone();
    assert!(foreign.client_auth_cert_resolver.has_certs());
    let strange = internal_answer(&addr, Arc::new(foreign)).await;
    // The same client, trusting the node's certificate only through another
    // root key's CA, cannot even finish its side.
    let distrusting = {
        let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let name =
            rustls::pki_types::ServerName::try_from(veil_web::internal::SERVER_NAME).unwrap();
        tokio_rustls::TlsConnector::from(stranger.client.clone())
            .connect(name, tcp)
            .await
            .map(|_| ())
    };
    for (who, r) in [("no certificate", &anonymous), ("another CA", &strange)] {
        assert!(
            r.is_err(),
            "a client with {who} got an answer: {r:?}\n{}",
            c.logs()
        );
    }
    assert!(
        distrusting.is_err(),
        "another root key's CA trusted the node"
    );
    // The listener is there and speaks TLS: the refusals are the server's
    // alerts at the end of the handshake, not a closed port.
    assert!(
        anonymous
            .as_ref()
            .unwrap_err()
            .contains("CertificateRequired"),
        "{anonymous:?}"
    );
    let e = strange.as_ref().unwrap_err();
    assert!(
        e.starts_with("read") || e.starts_with("write") || e.starts_with("closed"),
        "{strange:?}"
    );
    eprintln!(
        "no certificate: {anonymous:?}; another CA: {strange:?}; distrusting: {distrusting:?}"
    );

    // Nothing of them reached the access record.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = c.audit().await;
    assert_eq!(
        after.len(),
        before.len(),
        "entries appended: {:?}",
        &after[before.len()..]
    );
}

#[test]
fn a_recorder_on_a_shared_database_without_internal_listen_is_refused() {
    let pg = PgServer::start();
    let url = pg.fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let file = dir.path().join("veil.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = \"{}\"\nlisten = \"127.0.0.1:{}\"\n\n[database]\nurl = \"{url}\"\n\n\
             [node]\nid = \"rec-1\"\n",
            data.display(),
            free_port()
        ),
    )
    .unwrap();
    let (ok, out) = run_veil(&[
        "serve",
        "--config",
        file.to_str().unwrap(),
        "--role",
        "recorder",
    ]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("[node] internal_listen = \"HOST:PORT\" is required"),
        "{out}"
    );
}
