//! RTSPS: a TLS bridge in front of the RTSP client. `retina` speaks only
//! `rtsp://`, so for an `rtsps://` camera Veil first opens the TLS connection
//! itself (verifying the certificate), then lets retina talk plain RTSP to a
//! one-shot listener on 127.0.0.1 whose bytes are relayed over that TLS
//! connection. RTP travels interleaved in it (TCP only).
//!
//! Verification is on by default (the Mozilla root store, host name checked).
//! A camera with a self-signed certificate can instead be pinned by the
//! SHA-256 fingerprint of its certificate: then exactly that certificate is
//! accepted, whatever its names or dates.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::{TcpListener, TcpStream};

/// The default RTSPS port.
pub const DEFAULT_PORT: u16 = 322;

/// Parses a SHA-256 fingerprint written as 64 hex digits, optionally in
/// colon-separated pairs (as `openssl x509 -fingerprint -sha256` prints it).
pub fn parse_fingerprint(s: &str) -> Result<[u8; 32], String> {
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect::<Option<Vec<u8>>>();
    match bytes {
        Some(b) if b.len() == 32 && hex.len() == 64 => Ok(b.try_into().expect("32 bytes")),
        _ => Err(
            "tls_fingerprint must be a SHA-256 fingerprint: 64 hex digits, colons allowed".into(),
        ),
    }
}

/// Accepts exactly one certificate, by SHA-256 fingerprint; signatures are
/// still checked with the certificate's key.
#[derive(Debug)]
struct PinnedCertificate {
    sha256: [u8; 32],
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
        if got.as_ref() == self.sha256 {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the camera's certificate does not match the pinned fingerprint".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The TLS client settings for one camera.
fn client_config(pin: Option<[u8; 32]>) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let config = match pin {
        Some(sha256) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCertificate { sha256, provider }))
            .with_no_client_auth(),
        None => {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(config)
}

/// Connects to an `rtsps://` camera over TLS and returns the `rtsp://` URL
/// retina should use instead (a one-shot relay on 127.0.0.1 to that TLS
/// connection). TLS errors (refused certificate, wrong fingerprint) surface
/// here, before any RTSP is spoken.
pub async fn bridge(url: &url::Url, pin: Option<[u8; 32]>) -> Result<url::Url, String> {
    let host = url
        .host_str()
        .ok_or("the camera URL has no host")?
        .to_owned();
    let port = url.port().unwrap_or(DEFAULT_PORT);
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot connect to the camera: {e}"))?;
    let name = ServerName::try_from(host.clone()).map_err(|_| format!("bad host name {host:?}"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(pin)?));
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with the camera failed: {e}"))?;
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| format!("cannot open the local RTSPS relay: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot open the local RTSPS relay: {e}"))?;
    tokio::spawn(async move {
        // One client (this camera's RTSP session), then the relay ends with it.
        let accepted =
            tokio::time::timeout(std::time::Duration::from_secs(30), listener.accept()).await;
        if let Ok(Ok((mut plain, _))) = accepted {
            let _ = tokio::io::copy_bidirectional(&mut plain, &mut tls).await;
        }
    });
    let mut relayed = url.clone();
    relayed
        .set_scheme("rtsp")
        .map_err(|_| "cannot rewrite the camera URL".to_owned())?;
    relayed
        .set_host(Some("127.0.0.1"))
        .map_err(|e| format!("cannot rewrite the camera URL: {e}"))?;
    relayed
        .set_port(Some(local.port()))
        .map_err(|_| "cannot rewrite the camera URL".to_owned())?;
    Ok(relayed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_fingerprint(&hex).unwrap(), [0xab; 32]);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_fingerprint(&colons).unwrap(), [0xab; 32]);
        assert!(parse_fingerprint("ab").is_err());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
        assert!(parse_fingerprint(&"a".repeat(63)).is_err());
    }
}
