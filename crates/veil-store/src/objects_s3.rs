//! The S3-compatible object store: Veil's [`ObjectStore`] over the
//! `object_store` crate's Amazon S3 client (any server that speaks the S3
//! API with conditional writes: AWS, MinIO, Ceph RGW, Garage, moto in tests).
//!
//! What it keeps that the local directory keeps (`docs/design/storage.md`,
//! "S3-compatible object store"):
//! - create-only puts (`If-None-Match: *`): an existing key is an error,
//!   never overwritten; a PUT is atomic, so there are no temporary objects;
//! - a marker object ([`MARKER`] under the prefix) written with the
//!   installation's first open: an absent object counts as absent only while
//!   the marker is there, and a database with segments is refused against a
//!   bucket without it (a wrong bucket or prefix, never thousands of
//!   `missing` segments);
//! - a start-up check ([`S3Objects::check`]) that names the failing
//!   operation and the address, never the secret;
//! - bounded timeouts and retries, so an outage is an error within seconds.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore as _, PutMode, PutOptions, PutPayload, RetryConfig,
};
use serde::Deserialize;

use crate::objects::{validate_key, ObjectStore, MARKER};
use crate::Error;

/// Where the start-up check's probe objects go (under the prefix); never
/// listed as objects.
const PROBE_DIR: &str = "VEIL-PROBE";

/// Connect timeout: a reachable endpoint answers a TCP connect in
/// milliseconds; 5 s allows a slow WAN link.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request timeout: a segment (a few MB) uploads in well under a
/// second on a LAN; 30 s allows a slow link without hanging a recorder.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Retries of failed requests: at most 5, backing off from 100 ms doubling
/// to at most 2 s (about 4 s in all), and none started once 10 s have
/// passed since the first attempt. The client (`object_store` 0.12) retries
/// a refused or failed connection, a 5xx, 429 and 408 answer; a request
/// that times out is retried only if it is idempotent (GET, HEAD, DELETE,
/// an overwriting PUT), never a create-only PUT (its first attempt may have
/// been stored). An unreachable endpoint is thus an error in a few seconds;
/// a hung request costs one 30 s request timeout, after which no retry
/// starts (the 10 s have passed): at most about 10 s of fast failures plus
/// one request timeout in all.
const MAX_RETRIES: usize = 5;
const RETRY_TIMEOUT: Duration = Duration::from_secs(10);

/// `[objects] s3 = { … }` in `veil.toml`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// `http://HOST:PORT` (loopback tests only) or `https://HOST[:PORT]`.
    pub endpoint: String,
    /// The bucket (it must exist; Veil never creates one).
    pub bucket: String,
    /// The region signed into requests. Default `us-east-1`.
    #[serde(default = "default_region")]
    pub region: String,
    /// Keys under this prefix (`site-a/` or `site-a`), to share a bucket.
    #[serde(default)]
    pub prefix: Option<String>,
    /// A TOML file (mode 0600 or stricter) with `access_key_id`,
    /// `secret_access_key` and optionally `session_token`. Absent: the
    /// environment variables `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
    /// and `AWS_SESSION_TOKEN`.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
}

fn default_region() -> String {
    "us-east-1".into()
}

impl S3Config {
    /// Checks the fields' syntax; the error names the field.
    pub fn check(&self) -> Result<(), Error> {
        let bad = |field: &str, why: &str| Err(Error::Invalid(format!("objects.s3.{field} {why}")));
        let rest = self
            .endpoint
            .strip_prefix("https://")
            .or_else(|| self.endpoint.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(['@', '?', '#', ' ']) => {}
            _ => {
                return bad(
                    "endpoint",
                    "must be http://HOST[:PORT] or https://HOST[:PORT] (no credentials in it)",
                )
            }
        }
        let b = &self.bucket;
        if !(3..=63).contains(&b.len())
            || !b
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b".-".contains(&c))
        {
            return bad(
                "bucket",
                "must be 3 to 63 lower-case letters, digits, '.' or '-'",
            );
        }
        if self.region.is_empty()
            || !self
                .region
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        {
            return bad("region", "must be letters, digits and '-' (e.g. us-east-1)");
        }
        if let Some(p) = &self.prefix {
            if validate_key(p.trim_end_matches('/')).is_err() {
                return bad(
                    "prefix",
                    "must be '/'-separated names of letters, digits, '.', '_' or '-' (e.g. site-a/)",
                );
            }
        }
        Ok(())
    }

    /// "object store s3 (endpoint …, bucket …)": how errors name the store.
    pub fn address(&self) -> String {
        match &self.prefix {
            Some(p) => format!(
                "object store s3 (endpoint {}, bucket {}, prefix {})",
                self.endpoint, self.bucket, p
            ),
            None => format!(
                "object store s3 (endpoint {}, bucket {})",
                self.endpoint, self.bucket
            ),
        }
    }

    /// The credentials: from `credentials_file`, else the environment.
    pub fn credentials(&self) -> Result<S3Credentials, Error> {
        match &self.credentials_file {
            Some(f) => S3Credentials::from_file(f),
            None => S3Credentials::from_env(),
        }
    }
}

/// An access key. Its `Debug` prints `***`: the secret never reaches a log.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Credentials {
    /// The access key id (not secret, but printed as `***` too).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// A temporary session's token.
    #[serde(default)]
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("S3Credentials(***)")
    }
}

impl S3Credentials {
    /// Reads a credentials file, refused unless private to its owner (like
    /// the root key). Errors name the file and the field, never a value.
    pub fn from_file(path: &FsPath) -> Result<S3Credentials, Error> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::Invalid(format!(
                "objects.s3.credentials_file {}: {e}",
                path.display()
            ))
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::Invalid(format!(
                "objects.s3.credentials_file {} has permissions {mode:o}: group or others could \
                 read the object store's secret. Make it private: chmod 600 {}",
                path.display(),
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Invalid(format!(
                "objects.s3.credentials_file {}: {e}",
                path.display()
            ))
        })?;
        // toml's error messages quote the offending line, which may hold
        // the secret: only the message's first line's position is kept.
        let c: S3Credentials = toml::from_str(&text).map_err(|e| {
            let field = if text.contains("access_key_id") && text.contains("secret_access_key") {
                "a value or an unknown key"
            } else {
                "access_key_id and secret_access_key are both required"
            };
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            Error::Invalid(format!(
                "objects.s3.credentials_file {} is not valid{at}: {field} \
                 (a TOML file with access_key_id, secret_access_key and optional session_token)",
                path.display()
            ))
        })?;
        c.check(&format!("objects.s3.credentials_file {}", path.display()))?;
        Ok(c)
    }

    /// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally
    /// `AWS_SESSION_TOKEN`.
    pub fn from_env() -> Result<S3Credentials, Error> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => {
                let c = S3Credentials {
                    access_key_id: id,
                    secret_access_key: secret,
                    session_token: var("AWS_SESSION_TOKEN"),
                };
                c.check("the environment")?;
                Ok(c)
            }
            _ => Err(Error::Invalid(
                "the S3 object store has no credentials: set objects.s3.credentials_file \
                 (a 0600 TOML file with access_key_id and secret_access_key) or the \
                 environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .into(),
            )),
        }
    }

    fn check(&self, from: &str) -> Result<(), Error> {
        if self.access_key_id.trim().is_empty() || self.secret_access_key.trim().is_empty() {
            return Err(Error::Invalid(format!(
                "{from}: access_key_id and secret_access_key must not be empty"
            )));
        }
        Ok(())
    }
}

/// Objects in an S3 bucket (under an optional prefix).
#[derive(Clone)]
pub struct S3Objects {
    inner: Arc<dyn object_store::ObjectStore>,
    /// The key prefix without its trailing `/` (`None`: the bucket's root).
    prefix: Option<String>,
    address: Arc<str>,
}

impl std::fmt::Debug for S3Objects {
    // The client's own `Debug` would print its credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Objects({})", self.address)
    }
}

impl S3Objects {
    /// Builds the client (no request is sent: see [`S3Objects::check`]).
    pub fn open(config: &S3Config, credentials: &S3Credentials) -> Result<S3Objects, Error> {
        config.check()?;
        let address: Arc<str> = config.address().into();
        let client = ClientOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT)
            // Plain HTTP only where the operator wrote http:// (loopback
            // tests); https:// endpoints never fall back.
            .with_allow_http(config.endpoint.starts_with("http://"));
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: MAX_RETRIES,
            retry_timeout: RETRY_TIMEOUT,
        };
        let mut b = AmazonS3Builder::new()
            .with_endpoint(config.endpoint.trim_end_matches('/'))
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_virtual_hosted_style_request(false)
            .with_access_key_id(&credentials.access_key_id)
            .with_secret_access_key(&credentials.secret_access_key)
            .with_client_options(client)
            .with_retry(retry);
        if let Some(t) = &credentials.session_token {
            b = b.with_token(t);
        }
        // The builder's errors describe configuration; they never quote
        // the secret, but only the address is kept, to be sure.
        let inner = b
            .build()
            .map_err(|_| Error::Invalid(format!("{address}: the configuration is not usable")))?;
        Ok(S3Objects {
            inner: Arc::new(inner),
            prefix: config
                .prefix
                .as_ref()
                .map(|p| p.trim_end_matches('/').to_owned()),
            address,
        })
    }

    /// "object store s3 (endpoint …, bucket …)".
    pub fn address(&self) -> &str {
        &self.address
    }

    fn full(&self, key: &str) -> Path {
        match &self.prefix {
            Some(p) => Path::from(format!("{p}/{key}")),
            None => Path::from(key),
        }
    }

    fn path(&self, key: &str) -> Result<Path, Error> {
        validate_key(key)?;
        Ok(self.full(key))
    }

    /// An error for people: the address, the operation and what went
    /// wrong, in words where the cause is known.
    fn error(&self, operation: &str, e: &object_store::Error) -> Error {
        Error::Unavailable(format!(
            "{}: {operation} failed: {}",
            self.address,
            describe(e)
        ))
    }

    /// Ok while the marker is in place; a missing bucket or marker is
    /// [`Error::Unavailable`], so an absent object is never taken for lost
    /// because the store itself is not there.
    async fn available(&self) -> Result<(), Error> {
        match self.inner.head(&self.full(MARKER)).await {
            Ok(_) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => Err(Error::Unavailable(format!(
                "{}: the bucket has lost its {MARKER} object (wrong bucket or prefix, or emptied?)",
                self.address
            ))),
            Err(e) => Err(self.error("reading the marker", &e)),
        }
    }

    async fn put_create(&self, path: &Path, data: Vec<u8>) -> Result<(), object_store::Error> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        self.inner
            .put_opts(path, PutPayload::from(data), opts)
            .await
            .map(|_| ())
    }

    /// The start-up check: a create-only put of a probe object, a head, a
    /// get, a list and a delete, each named when it fails. Meets "a wrong
    /// bucket or missing permissions: refused at start with the failing
    /// operation named".
    pub async fn check(&self) -> Result<(), Error> {
        let key = format!("{PROBE_DIR}/{:016x}", rand::random::<u64>());
        let path = self.full(&key);
        let body = b"Veil start-up check\n".to_vec();
        let n = body.len() as u64;
        self.put_create(&path, body.clone())
            .await
            .map_err(|e| self.error("writing a probe object", &e))?;
        let result = async {
            let meta = self
                .inner
                .head(&path)
                .await
                .map_err(|e| self.error("reading a probe object's size (head)", &e))?;
            if meta.size != n {
                return Err(Error::Unavailable(format!(
                    "{}: the probe object reads back {} bytes instead of {n}",
                    self.address, meta.size
                )));
            }
            let got = self
                .inner
                .get(&path)
                .await
                .map_err(|e| self.error("reading a probe object", &e))?
                .bytes()
                .await
                .map_err(|e| self.error("reading a probe object", &e))?;
            if got.as_ref() != body.as_slice() {
                return Err(Error::Unavailable(format!(
                    "{}: the probe object reads back different bytes",
                    self.address
                )));
            }
            match self.put_create(&path, b"again".to_vec()).await {
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => {}
                Ok(()) => {
                    return Err(Error::Unavailable(format!(
                        "{}: the server overwrote an object on a create-only write \
                         (If-None-Match is not supported): Veil needs conditional writes",
                        self.address
                    )))
                }
                Err(e) => return Err(self.error("refusing to overwrite a probe object", &e)),
            }
            let probe_dir = self.full(PROBE_DIR);
            let _: Vec<_> = self
                .inner
                .list(Some(&probe_dir))
                .try_collect()
                .await
                .map_err(|e| self.error("listing objects", &e))?;
            Ok(())
        }
        .await;
        let deleted = self
            .inner
            .delete(&path)
            .await
            .map_err(|e| self.error("deleting a probe object", &e));
        result.and(deleted)
    }

    /// Checks the marker against this installation (`installation`, from
    /// [`crate::db::Db::installation_id`]) and writes it if it is missing
    /// and that is safe. The marker names the installation that owns the
    /// bucket (or prefix):
    /// - a marker naming another installation is refused (a copied
    ///   configuration or a wrong prefix: recovery would otherwise delete
    ///   the other installation's objects);
    /// - a marker without an id (written before markers named one) is
    ///   adopted, and rewritten with the id, only by a database that lists
    ///   segments (`segments`); a new database is refused;
    /// - no marker: written (create-only) while the database holds no
    ///   segment; a database with segments is refused (a wrong bucket or
    ///   prefix would otherwise mark every segment missing).
    pub async fn ensure_marker(&self, installation: &str, segments: u64) -> Result<(), Error> {
        let path = self.full(MARKER);
        let wanted = marker_text(installation);
        for _ in 0..2 {
            match self.marker_owner().await? {
                Some(MarkerOwner::Installation(id)) if id == installation => return Ok(()),
                Some(MarkerOwner::Installation(_)) => {
                    return Err(Error::Unavailable(format!(
                        "{}: the bucket (or prefix) belongs to another Veil installation (its \
                         {MARKER} object names another installation id): wrong bucket or prefix, \
                         or a configuration copied from another site? Veil does not start, so \
                         that none of its objects is touched",
                        self.address
                    )))
                }
                Some(MarkerOwner::Unnamed) if segments > 0 => {
                    // An installation from before markers named one: its
                    // marker gets the id (the one overwrite Veil makes).
                    return self
                        .inner
                        .put(&path, PutPayload::from(wanted.into_bytes()))
                        .await
                        .map(|_| ())
                        .map_err(|e| self.error("writing the marker", &e));
                }
                Some(MarkerOwner::Unnamed) => {
                    return Err(Error::Unavailable(format!(
                        "{}: the bucket (or prefix) holds another Veil installation's objects \
                         (a {MARKER} object) and this database is new: wrong bucket or prefix? \
                         Veil does not adopt them, so that none is deleted",
                        self.address
                    )))
                }
                None => {}
            }
            if segments > 0 {
                return Err(Error::Unavailable(format!(
                    "{}: the bucket holds no objects of this installation (no {MARKER} object), \
                     but the database lists {segments} segments: wrong bucket or prefix? Veil \
                     does not start, so that no recording is marked missing",
                    self.address
                )));
            }
            match self.put_create(&path, wanted.clone().into_bytes()).await {
                Ok(()) => return Ok(()),
                // Another node (or installation) wrote one first: read it.
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => continue,
                Err(e) => return Err(self.error("writing the marker", &e)),
            }
        }
        Err(Error::Unavailable(format!(
            "{}: the {MARKER} object changed while it was read",
            self.address
        )))
    }

    /// Whose the marker is: `None` without one.
    async fn marker_owner(&self) -> Result<Option<MarkerOwner>, Error> {
        let got = match self.inner.get(&self.full(MARKER)).await {
            Ok(g) => g.bytes().await,
            Err(e) => Err(e),
        };
        match got {
            Ok(b) => Ok(Some(marker_owner(&b))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error("reading the marker", &e)),
        }
    }
}

/// Who a marker says owns the store.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MarkerOwner {
    /// `installation <id>`.
    Installation(String),
    /// A marker written before markers named their installation.
    Unnamed,
}

/// The marker's text for `installation`.
pub(crate) fn marker_text(installation: &str) -> String {
    format!("Veil object store: do not delete this object.\ninstallation {installation}\n")
}

/// Reads a marker's text ([`marker_text`]).
pub(crate) fn marker_owner(text: &[u8]) -> MarkerOwner {
    String::from_utf8_lossy(text)
        .lines()
        .find_map(|l| l.strip_prefix("installation "))
        .map(|id| MarkerOwner::Installation(id.trim().to_owned()))
        .unwrap_or(MarkerOwner::Unnamed)
}

/// The error's whole chain as one line, with the known causes in words
/// first. The chain holds URLs (endpoint, bucket, key) and the server's
/// answer, never the signing secret.
fn describe(e: &object_store::Error) -> String {
    let mut chain = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !chain.contains(&t) {
            chain.push_str(": ");
            chain.push_str(&t);
        }
        src = s.source();
    }
    let lower = chain.to_ascii_lowercase();
    let cause = if chain.contains("NoSuchBucket") {
        Some("the bucket does not exist")
    } else if lower.contains("connection refused") {
        Some("cannot reach the endpoint: connection refused")
    } else if lower.contains("dns error") || lower.contains("failed to lookup") {
        Some("cannot reach the endpoint: its name does not resolve")
    } else if lower.contains("timed out") || lower.contains("timeout") {
        Some("cannot reach the endpoint: timed out")
    } else if matches!(e, object_store::Error::Unauthenticated { .. })
        || chain.contains("InvalidAccessKeyId")
        || chain.contains("SignatureDoesNotMatch")
    {
        Some("the credentials were refused")
    } else if matches!(e, object_store::Error::PermissionDenied { .. })
        || chain.contains("AccessDenied")
    {
        Some("access denied (a missing permission?)")
    } else if matches!(e, object_store::Error::AlreadyExists { .. })
        || matches!(e, object_store::Error::Precondition { .. })
    {
        Some("the object exists already (create-only writes never overwrite)")
    } else if lower.contains("error sending request") || lower.contains("connect") {
        Some("cannot reach the endpoint")
    } else {
        None
    };
    // The server's answer can be a long XML document: only its harmless
    // elements are kept (a SignatureDoesNotMatch answer carries the access
    // key id, the string to sign and the canonical request), then enough
    // to diagnose.
    let chain = redact_xml(&chain);
    let mut detail: String = chain.chars().take(400).collect();
    if detail.len() < chain.len() {
        detail.push('…');
    }
    match cause {
        Some(c) => format!("{c} ({detail})"),
        None => detail,
    }
}

/// Elements of an S3 error answer kept in error details; every other leaf
/// element (`<AWSAccessKeyId>`, `<StringToSign>`, `<StringToSignBytes>`,
/// `<CanonicalRequest>`, `<SignatureProvided>`, request and host ids, any
/// token) is left out whole.
const KEPT_ELEMENTS: [&str; 5] = ["Code", "Message", "BucketName", "Key", "Resource"];

/// `text` without the leaf XML elements `<Name>…</Name>` whose name is not
/// in [`KEPT_ELEMENTS`]; everything else unchanged.
fn redact_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        let name = &after[..name_len];
        let leaf = (name_len > 0 && after[name_len..].starts_with('>'))
            .then(|| {
                let body = &after[name_len + 1..];
                let close = format!("</{name}>");
                let end = body.find(&close)?;
                (!body[..end].contains('<')).then_some(name_len + 1 + end + close.len())
            })
            .flatten();
        match leaf {
            Some(len) => {
                if KEPT_ELEMENTS.contains(&name) {
                    out.push_str(&rest[open..open + 1 + len]);
                }
                rest = &after[len..];
            }
            None => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether the object `meta` describes is the one a create-only put of
/// `len` bytes with MD5 `md5` wrote (a retried PUT finding its own first
/// attempt): the same size and, where the ETag is a plain MD5 (a
/// single-part upload without SSE-KMS), the same MD5. An ETag of another
/// form (multipart, encrypted) cannot be compared and is not held against
/// it.
fn own_object(len: u64, md5: &[u8; 16], meta: &object_store::ObjectMeta) -> bool {
    if meta.size != len {
        return false;
    }
    match meta.e_tag.as_deref().map(|t| t.trim_matches('"')) {
        Some(t) if t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) => {
            t.eq_ignore_ascii_case(&hex::encode(md5))
        }
        _ => true,
    }
}

impl ObjectStore for S3Objects {
    fn put(&self, key: &str, data: Vec<u8>) -> BoxFuture<'_, Result<(), Error>> {
        let path = self.path(key);
        let key = key.to_owned();
        Box::pin(async move {
            let path = path?;
            let len = data.len() as u64;
            let md5: [u8; 16] = {
                use md5::Digest as _;
                md5::Md5::digest(&data).into()
            };
            match self.put_create(&path, data).await {
                Ok(()) => Ok(()),
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => {
                    // The client retries a PUT after a server error; if the
                    // first attempt was stored, the retry is refused as
                    // existing. Our own object is success, never a lost
                    // segment.
                    match self.inner.head(&path).await {
                        Ok(meta) if own_object(len, &md5, &meta) => Ok(()),
                        Ok(_) | Err(object_store::Error::NotFound { .. }) => {
                            Err(Error::Invalid(format!(
                                "object {key} exists already: create-only writes never overwrite"
                            )))
                        }
                        Err(e) => Err(self.error("reading an existing object's size (head)", &e)),
                    }
                }
                Err(e) => Err(self.error("writing an object", &e)),
            }
        })
    }

    fn get(&self, key: &str) -> BoxFuture<'_, Result<Vec<u8>, Error>> {
        let path = self.path(key);
        let key = key.to_owned();
        Box::pin(async move {
            let path = path?;
            let got = match self.inner.get(&path).await {
                Ok(g) => g.bytes().await,
                Err(e) => Err(e),
            };
            match got {
                Ok(b) => Ok(b.to_vec()),
                Err(object_store::Error::NotFound { .. }) => {
                    self.available().await?;
                    Err(Error::NotFound(key))
                }
                Err(e) => Err(self.error("reading an object", &e)),
            }
        })
    }

    fn size(&self, key: &str) -> BoxFuture<'_, Result<Option<u64>, Error>> {
        let path = self.path(key);
        Box::pin(async move {
            match self.inner.head(&path?).await {
                Ok(m) => Ok(Some(m.size)),
                Err(object_store::Error::NotFound { .. }) => {
                    self.available().await?;
                    Ok(None)
                }
                Err(e) => Err(self.error("reading an object's size (head)", &e)),
            }
        })
    }

    fn delete(&self, key: &str) -> BoxFuture<'_, Result<(), Error>> {
        let path = self.path(key);
        Box::pin(async move {
            match self.inner.delete(&path?).await {
                // S3 answers 204 for an absent key; some servers 404.
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(self.error("deleting an object", &e)),
            }
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<String>, Error>> {
        Box::pin(async move {
            self.available().await?;
            let prefix = self.prefix.as_deref().map(Path::from);
            let metas: Vec<_> = self
                .inner
                .list(prefix.as_ref())
                .try_collect()
                .await
                .map_err(|e| self.error("listing objects", &e))?;
            let mut out = Vec::with_capacity(metas.len());
            for m in metas {
                let full = m.location.as_ref();
                let key = match &self.prefix {
                    Some(p) => match full
                        .strip_prefix(p.as_str())
                        .and_then(|k| k.strip_prefix('/'))
                    {
                        Some(k) => k,
                        None => continue,
                    },
                    None => full,
                };
                if key == MARKER || key.starts_with(&format!("{PROBE_DIR}/")) {
                    continue;
                }
                if validate_key(key).is_ok() {
                    out.push(key.to_owned());
                } else {
                    // Not something Veil wrote: left alone, never served.
                    tracing::warn!("ignoring a foreign object in the bucket");
                }
            }
            out.sort();
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> S3Config {
        S3Config {
            endpoint: "http://127.0.0.1:9000".into(),
            bucket: "veil".into(),
            region: "us-east-1".into(),
            prefix: None,
            credentials_file: None,
        }
    }

    #[test]
    fn fields_are_checked_by_name() {
        config().check().unwrap();
        type Change = fn(&mut S3Config);
        let cases: [(Change, &str); 5] = [
            (|c| c.endpoint = "ftp://x".into(), "objects.s3.endpoint"),
            (
                |c| c.endpoint = "https://user:pw@host".into(),
                "objects.s3.endpoint",
            ),
            (|c| c.bucket = "Veil_Bucket".into(), "objects.s3.bucket"),
            (|c| c.region = "".into(), "objects.s3.region"),
            (|c| c.prefix = Some("../x".into()), "objects.s3.prefix"),
        ];
        for (change, field) in cases {
            let mut c = config();
            change(&mut c);
            let e = c.check().unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
        let mut c = config();
        c.prefix = Some("site-a/cams/".into());
        c.check().unwrap();
        assert!(c.address().contains("prefix site-a/cams/"));
    }

    #[test]
    fn a_retried_put_that_finds_its_own_object_succeeds() {
        use md5::Digest as _;
        let body = b"sealed segment bytes".to_vec();
        let md5: [u8; 16] = md5::Md5::digest(&body).into();
        let meta = |size: u64, e_tag: Option<&str>| object_store::ObjectMeta {
            location: Path::from("v1/k.seg"),
            last_modified: chrono::Utc::now(),
            size,
            e_tag: e_tag.map(str::to_owned),
            version: None,
        };
        let n = body.len() as u64;
        let etag = format!("\"{}\"", hex::encode(md5));
        assert!(own_object(n, &md5, &meta(n, Some(&etag))));
        assert!(own_object(n, &md5, &meta(n, Some(&etag.to_uppercase()))));
        // No comparable ETag: the size decides.
        assert!(own_object(n, &md5, &meta(n, None)));
        assert!(own_object(n, &md5, &meta(n, Some("\"abc-2\""))));
        // Another object under the key: refused.
        assert!(!own_object(n, &md5, &meta(n + 1, Some(&etag))));
        assert!(!own_object(
            n,
            &md5,
            &meta(n, Some("\"0123456789abcdef0123456789abcdef\""))
        ));
    }

    #[test]
    fn error_answers_keep_their_code_and_message_only() {
        let body = "Client error with status 403 Forbidden: <?xml version=\"1.0\" \
            encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request \
            signature we calculated does not match</Message><AWSAccessKeyId>AKIDEXAMPLE\
            </AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n20261130T000000Z\nabc</StringToSign>\
            <SignatureProvided>0f1e2d</SignatureProvided><StringToSignBytes>41 57 53\
            </StringToSignBytes><CanonicalRequest>PUT\n/veil/k\nx-amz-security-token:SECRETTOKEN\
            </CanonicalRequest><CanonicalRequestBytes>50 55 54</CanonicalRequestBytes>\
            <SessionToken>SECRETTOKEN</SessionToken><RequestId>r1</RequestId></Error>";
        let out = redact_xml(body);
        for gone in [
            "AKIDEXAMPLE",
            "AWS4-HMAC-SHA256",
            "0f1e2d",
            "41 57 53",
            "SECRETTOKEN",
            "50 55 54",
            "StringToSign",
            "CanonicalRequest",
        ] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert!(
            out.contains("<Code>SignatureDoesNotMatch</Code>")
                && out.contains(
                    "<Message>The request signature we calculated does not match</Message>"
                )
                && out.starts_with("Client error with status 403 Forbidden: <?xml"),
            "{out}"
        );
        // Text without XML, or with a lone '<', is unchanged.
        for plain in ["connection refused", "a < b", "<", "x <Code>open"] {
            assert_eq!(redact_xml(plain), plain);
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<S3Config>(
            "endpoint = \"http://h\"\nbucket = \"veil\"\nsecret_access_key = \"x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn the_secret_is_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s3.toml");
        let secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";
        std::fs::write(
            &f,
            format!("access_key_id = \"AKIDEXAMPLE\"\nsecret_access_key = \"{secret}\"\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = S3Credentials::from_file(&f).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        assert!(!e.contains(secret), "{e}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = S3Credentials::from_file(&f).unwrap();
        assert_eq!(c.secret_access_key, secret);
        assert_eq!(format!("{c:?}"), "S3Credentials(***)");
        let mut cfg = config();
        cfg.credentials_file = Some(f.clone());
        let o = S3Objects::open(&cfg, &c).unwrap();
        let shown = format!("{o:?} {cfg:?} {c:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains("AKIDEXAMPLE"), "{shown}");
        // A malformed file: the error names the line, not its value.
        std::fs::write(
            &f,
            format!("access_key_id = \"AKIDEXAMPLE\"\nsecret_access_key = {secret}\n"),
        )
        .unwrap();
        let e = S3Credentials::from_file(&f).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(!e.contains(secret), "{e}");
        // An unknown key (a typo) is refused without quoting the file.
        std::fs::write(
            &f,
            format!("access_key_id = \"AKIDEXAMPLE\"\nsecret_access_key = \"{secret}\"\nregion = \"x\"\n"),
        )
        .unwrap();
        let e = S3Credentials::from_file(&f).unwrap_err().to_string();
        assert!(!e.contains(secret), "{e}");
        // Missing fields.
        std::fs::write(&f, "access_key_id = \"AKIDEXAMPLE\"\n").unwrap();
        let e = S3Credentials::from_file(&f).unwrap_err().to_string();
        assert!(e.contains("secret_access_key"), "{e}");
    }
}
