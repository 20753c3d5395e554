//! How a PostgreSQL connection is secured: the one place every connect
//! (the server, `veil migrate-db`, test databases) takes its TLS choice
//! from (`docs/design/scale-out.md`, "Connection security").
//!
//! The URL's `sslmode` decides: `disable` (plaintext; refused unless every
//! host is a loopback address or a Unix socket), `require`/`verify-ca` (TLS,
//! the server's certificate chain verified, not its name) or `verify-full`
//! (TLS, chain and host name verified). Without `sslmode`: plaintext for
//! loopback hosts and Unix sockets, `verify-full` otherwise. The chain is
//! verified against `sslrootcert=FILE` (PEM) where given, else against the
//! system's root certificates. TLS is rustls with the ring provider.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::config::{Host, SslMode};
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use postgres::Socket;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Error;

/// The `sslmode` a URL asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Plaintext (loopback hosts and Unix sockets only).
    Plain,
    /// TLS, certificate chain verified, host name not.
    VerifyChain,
    /// TLS, certificate chain and host name verified.
    VerifyFull,
}

/// A URL split into the client's configuration and its TLS connector.
pub struct Target {
    /// The client configuration (`sslmode`/`sslrootcert` taken out).
    pub config: postgres::Config,
    /// The connector to pass to `config.connect`.
    pub tls: PgTls,
    /// What the URL asked for (after the default).
    pub security: Security,
}

/// Parses `url` and decides its security, without connecting and without
/// reading any file: for configuration checks. Errors never quote the URL.
pub fn check(url: &str) -> Result<(postgres::Config, Security, Option<PathBuf>), Error> {
    let (rest, mode, ca) = split_tls_options(url)?;
    let config: postgres::Config = rest
        .parse()
        .map_err(|_| Error::Invalid("the database URL is not a valid PostgreSQL URL".into()))?;
    if config.get_hosts().is_empty() {
        return Err(Error::Invalid("the database URL names no host".into()));
    }
    let local = is_local(&config);
    let security = match mode.as_deref() {
        None if local => Security::Plain,
        None => Security::VerifyFull,
        Some("disable") if local => Security::Plain,
        Some("disable") => {
            return Err(Error::Invalid(
                "sslmode=disable sends the database traffic unencrypted: only for a loopback \
                 host or a Unix socket (use sslmode=verify-full)"
                    .into(),
            ))
        }
        Some("require" | "verify-ca") => Security::VerifyChain,
        Some("verify-full") => Security::VerifyFull,
        Some(_) => {
            return Err(Error::Invalid(
                "sslmode: disable, require, verify-ca or verify-full".into(),
            ))
        }
    };
    if ca.is_some() && security == Security::Plain {
        return Err(Error::Invalid(
            "sslrootcert is set but the connection is unencrypted (add sslmode=verify-full)".into(),
        ));
    }
    Ok((config, security, ca))
}

/// Parses `url`, decides its security and builds the TLS connector (reading
/// `sslrootcert` or the system's roots).
pub fn target(url: &str) -> Result<Target, Error> {
    let (mut config, security, ca) = check(url)?;
    let tls = match security {
        Security::Plain => {
            config.ssl_mode(SslMode::Disable);
            PgTls { config: None }
        }
        Security::VerifyChain | Security::VerifyFull => {
            config.ssl_mode(SslMode::Require);
            PgTls {
                config: Some(client_config(ca.as_deref(), security)?),
            }
        }
    };
    Ok(Target {
        config,
        tls,
        security,
    })
}

/// Connects to `url` (blocking; call off the async runtime). Errors name the
/// database's address, never its password.
pub fn connect(url: &str) -> Result<postgres::Client, Error> {
    let shown = super::redact_postgres_url(url);
    let t = target(url).map_err(|e| match e {
        Error::Invalid(m) => Error::Invalid(format!("PostgreSQL database {shown}: {m}")),
        e => e,
    })?;
    t.config.connect(t.tls).map_err(|e| {
        let m = e
            .as_db_error()
            .map_or_else(|| error_chain(&e), |d| d.to_string());
        Error::Database(format!(
            "PostgreSQL database {shown}: cannot connect: {}",
            super::redact_message(&m, url)
        ))
    })
}

/// An error with its sources (the TLS handshake's reason is a source).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query (tokio-postgres
/// knows neither `verify-full` nor `sslrootcert`).
fn split_tls_options(url: &str) -> Result<(String, Option<String>, Option<PathBuf>), Error> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None, None));
    };
    let (mut mode, mut ca, mut kept) = (None, None, Vec::new());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "sslmode" => mode = Some(percent_decode(v)?),
            "sslrootcert" => ca = Some(PathBuf::from(percent_decode(v)?)),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, mode, ca))
}

fn percent_decode(s: &str) -> Result<String, Error> {
    let bad = || Error::Invalid("the database URL has a malformed %-escape".into());
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Whether every host (and `hostaddr`) is loopback or a Unix socket.
fn is_local(config: &postgres::Config) -> bool {
    let hosts = config.get_hosts().iter().all(|h| match h {
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    });
    hosts && config.get_hostaddrs().iter().all(|a| a.is_loopback())
}

fn client_config(ca: Option<&Path>, security: Security) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            let unreadable = |e: &dyn std::fmt::Display| {
                Error::Invalid(format!("sslrootcert {}: {e}", path.display()))
            };
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))? {
                roots
                    .add(cert.map_err(|e| unreadable(&e))?)
                    .map_err(|e| unreadable(&e))?;
            }
            if roots.is_empty() {
                return Err(unreadable(&"no certificate in the file"));
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(Error::Invalid(
                    "no system root certificates to verify the database server: set \
                     sslrootcert=FILE"
                        .into(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Invalid(format!("database TLS: {e}")))?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Invalid(format!("database TLS: {e}")))?;
    let config = match security {
        Security::VerifyChain => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki))),
        _ => builder.with_webpki_verifier(webpki),
    }
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// `sslmode=require`: the chain must verify; a name mismatch is accepted.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The chain is checked before the name: a name error means the
        // chain verified.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The connector handed to `postgres::Config::connect`.
#[derive(Clone)]
pub struct PgTls {
    config: Option<Arc<ClientConfig>>,
}

impl MakeTlsConnect<Socket> for PgTls {
    type Stream = PgTlsStream;
    type TlsConnect = PgTlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<PgTlsConnect, io::Error> {
        let Some(config) = self.config.clone() else {
            return Ok(PgTlsConnect(None));
        };
        let name = ServerName::try_from(domain.to_owned()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{domain}: not a host name for TLS"),
            )
        })?;
        Ok(PgTlsConnect(Some((config, name))))
    }
}

/// One connection's TLS handshake.
pub struct PgTlsConnect(Option<(Arc<ClientConfig>, ServerName<'static>)>);

type Handshake = Pin<Box<dyn Future<Output = io::Result<PgTlsStream>> + Send>>;

impl TlsConnect<Socket> for PgTlsConnect {
    type Stream = PgTlsStream;
    type Error = io::Error;
    type Future = Handshake;

    fn connect(self, stream: Socket) -> Handshake {
        Box::pin(async move {
            let Some((config, name)) = self.0 else {
                return Err(io::Error::other("TLS is off for this connection"));
            };
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await?;
            Ok(PgTlsStream(Box::new(tls)))
        })
    }
}

/// A TLS-wrapped connection to the database.
pub struct PgTlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl TlsStream for PgTlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl AsyncRead for PgTlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for PgTlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_defaults_to_plain_and_remote_to_verify_full() {
        let s = |u: &str| check(u).map(|(_, s, _)| s);
        assert_eq!(s("postgres://u@127.0.0.1:5432/d").unwrap(), Security::Plain);
        assert_eq!(s("postgres://u@localhost/d").unwrap(), Security::Plain);
        assert_eq!(s("postgres://u@[::1]:5432/d").unwrap(), Security::Plain);
        assert_eq!(
            s("postgres://u@db.example.org/d").unwrap(),
            Security::VerifyFull
        );
        assert_eq!(
            s("postgres://u@db.example.org/d?sslmode=require").unwrap(),
            Security::VerifyChain
        );
        assert_eq!(
            s("postgres://u@127.0.0.1/d?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem").unwrap(),
            Security::VerifyFull
        );
        let (_, _, ca) = check("postgres://u@h/d?sslrootcert=%2Fa%20b.pem").unwrap();
        assert_eq!(ca.unwrap(), PathBuf::from("/a b.pem"));
    }

    #[test]
    fn plaintext_to_a_remote_host_and_unknown_modes_are_refused() {
        let e = check("postgres://u:secret@db.example.org/d?sslmode=disable")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("sslmode=disable"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        // A loopback name with a remote hostaddr is not loopback.
        assert!(check("postgres://u@localhost/d?hostaddr=10.0.0.1&sslmode=disable").is_err());
        assert!(check("postgres://u@db.example.org/d?sslmode=prefer").is_err());
        assert!(check("postgres://u@127.0.0.1/d?sslmode=disable").is_ok());
    }
}
