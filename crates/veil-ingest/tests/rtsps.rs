//! RTSPS against a real GStreamer RTSP server with a self-signed certificate:
//! recorded when its fingerprint is pinned, refused (nothing recorded, a
//! clear status) when it is not trusted or the pin is wrong.

mod common;

use common::*;
use veil_ingest::{IngestState, RtspTransport};

/// A self-signed certificate in `dir`: (cert path, key path, SHA-256 of DER).
fn self_signed(dir: &std::path::Path) -> (String, String, [u8; 32]) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, ck.cert.der());
    (
        cert.to_str().unwrap().to_owned(),
        key.to_str().unwrap().to_owned(),
        digest.as_ref().try_into().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rtsps_records_with_a_pinned_certificate_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, fingerprint) = self_signed(dir.path());
    let server = RtspServer::start(
        free_port(),
        &[
            "--live",
            "320x240",
            "--bitrate",
            "400000",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
    );
    let url = format!("rtsps://127.0.0.1:{}/stream", server.port);

    // Pinned: records.
    let (store, camera) = common::store(&dir.path().join("pinned"));
    let mut src = source(camera, &url, RtspTransport::Tcp);
    src.tls_fingerprint = Some(fingerprint);
    let ingest = Ingest::start(&store, src);
    ingest
        .wait_for(60, "recording over TLS", |s| {
            s.state == IngestState::Recording
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    ingest.stop().await;
    let r = runs(&store, camera);
    assert_eq!(r.len(), 1, "{r:?}");
    let file = dir.path().join("rtsps.mp4");
    std::fs::write(&file, mp4(&store, camera, r[0].0, r[0].1).await).unwrap();
    decodes_cleanly(&file);
    assert!(packets(&file).len() > 40);

    // Verified against the public roots (the default): refused.
    let (store, camera) = common::store(&dir.path().join("default"));
    let ingest = Ingest::start(&store, source(camera, &url, RtspTransport::Tcp));
    ingest
        .wait_for(60, "a certificate error", |s| {
            s.state == IngestState::Error
                && s.last_error
                    .as_deref()
                    .unwrap_or("")
                    .contains("TLS handshake")
        })
        .await;
    ingest.stop().await;
    assert!(runs(&store, camera).is_empty());

    // A wrong pin: refused, saying so.
    let (store, camera) = common::store(&dir.path().join("wrong"));
    let mut src = source(camera, &url, RtspTransport::Tcp);
    let mut wrong = fingerprint;
    wrong[0] ^= 1;
    src.tls_fingerprint = Some(wrong);
    let ingest = Ingest::start(&store, src);
    ingest
        .wait_for(60, "a fingerprint error", |s| {
            s.state == IngestState::Error
                && s.last_error
                    .as_deref()
                    .unwrap_or("")
                    .contains("fingerprint")
        })
        .await;
    ingest.stop().await;
    assert!(runs(&store, camera).is_empty());

    // UDP is refused for RTSPS.
    let (store, camera) = common::store(&dir.path().join("udp"));
    let mut src = source(camera, &url, RtspTransport::Udp);
    src.tls_fingerprint = Some(fingerprint);
    let ingest = Ingest::start(&store, src);
    ingest
        .wait_for(30, "a transport error", |s| {
            s.last_error.as_deref().unwrap_or("").contains("tcp")
        })
        .await;
    ingest.stop().await;
}
