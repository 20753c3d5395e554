//! The S3-compatible object store against a real S3 server (moto): the
//! trait's operations, create-only writes, a store recording and playing
//! back on S3, recovery both ways, and the start-up check's refusals.

#[path = "common/moto.rs"]
mod moto;

use std::sync::Arc;
use std::time::{Duration, Instant};

use veil_base::{CameraId, SimulatedClock, Time90k};
use veil_media::synthetic::SyntheticConfig;
use veil_store::{
    recorder, Error, NewSegment, ObjectStore, S3Config, S3Credentials, S3Objects, Store,
    MAIN_RENDITION,
};

const T0: i64 = 1_795_000_000 * 90_000;

fn config(s3: &moto::MotoServer, bucket: &str, dir: &std::path::Path) -> S3Config {
    S3Config {
        endpoint: s3.endpoint(),
        bucket: bucket.into(),
        region: "us-east-1".into(),
        prefix: None,
        credentials_file: Some(s3.credentials_file(dir)),
    }
}

fn credentials() -> S3Credentials {
    S3Credentials {
        access_key_id: moto::ACCESS_KEY_ID.into(),
        secret_access_key: moto::SECRET_ACCESS_KEY.into(),
        session_token: None,
    }
}

/// The bucket (or prefix) of `cfg` as a fresh installation's store.
async fn objects(cfg: &S3Config) -> S3Objects {
    let o = raw(cfg).await;
    o.ensure_marker("test-installation", 0).await.unwrap();
    o
}

/// The bucket (or prefix) of `cfg` behind a store's back: its marker is
/// neither checked nor written.
async fn raw(cfg: &S3Config) -> S3Objects {
    let o = S3Objects::open(cfg, &credentials()).unwrap();
    o.check().await.unwrap();
    o
}

async fn open(dir: &std::path::Path, cfg: &S3Config) -> Result<Store, Error> {
    Store::open_dir_objects(
        &dir.join("data"),
        Arc::new(SimulatedClock::new(Time90k(T0))),
        None,
        Some(cfg),
    )
    .await
}

fn segments(camera: CameraId, seconds: u32) -> Vec<NewSegment> {
    let config = SyntheticConfig {
        width: 320,
        height: 240,
        fps: 25,
        gop_frames: 25,
        bitrate_bps: 300_000,
        seed: 1,
    };
    recorder::synthetic_segments(camera, config, Time90k(T0), seconds * 25 + 1, 2 * 90_000).unwrap()
}

fn no_secret(e: &str) {
    assert!(!e.contains(moto::SECRET_ACCESS_KEY), "secret in {e}");
}

#[tokio::test]
async fn put_get_size_list_delete_round_trip_under_a_prefix() {
    let s3 = moto::MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let bucket = s3.fresh_bucket();
    let mut cfg = config(&s3, &bucket, dir.path());
    cfg.prefix = Some("site-a/".into());
    let o = objects(&cfg).await;
    o.put("v1/cam1/main/a.seg", b"xyz".to_vec()).await.unwrap();
    o.put("v1/cam1/main/b.seg", vec![7; 70_000]).await.unwrap();
    assert_eq!(o.get("v1/cam1/main/a.seg").await.unwrap(), b"xyz");
    assert_eq!(o.size("v1/cam1/main/b.seg").await.unwrap(), Some(70_000));
    assert_eq!(o.size("v1/cam1/main/c.seg").await.unwrap(), None);
    assert!(matches!(
        o.get("v1/cam1/main/c.seg").await,
        Err(Error::NotFound(_))
    ));
    // The marker and probes are not objects; the prefix is not in keys.
    assert_eq!(
        o.list().await.unwrap(),
        vec!["v1/cam1/main/a.seg", "v1/cam1/main/b.seg"]
    );
    // Keys are checked as for the local directory.
    assert!(matches!(
        o.put("../x", b"x".to_vec()).await,
        Err(Error::Invalid(_))
    ));
    o.delete("v1/cam1/main/a.seg").await.unwrap();
    o.delete("v1/cam1/main/a.seg").await.unwrap();
    assert_eq!(o.list().await.unwrap(), vec!["v1/cam1/main/b.seg"]);
    // Another prefix in the same bucket sees none of it.
    cfg.prefix = Some("site-b".into());
    let other = objects(&cfg).await;
    assert!(other.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn puts_are_create_only() {
    let s3 = moto::MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let o = objects(&config(&s3, &s3.fresh_bucket(), dir.path())).await;
    o.put("k/one.seg", b"first".to_vec()).await.unwrap();
    let e = o.put("k/one.seg", b"second".to_vec()).await.unwrap_err();
    assert!(e.to_string().contains("exists already"), "{e}");
    assert_eq!(o.get("k/one.seg").await.unwrap(), b"first");
}

#[tokio::test]
async fn a_store_on_s3_records_plays_back_and_reconciles_both_ways() {
    let s3 = moto::MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&s3, &s3.fresh_bucket(), dir.path());
    let s = open(dir.path(), &cfg).await.unwrap();
    let cam =
        s.db.upsert_camera("c", "synthetic", "{}", Time90k(T0))
            .unwrap();
    let segs = segments(cam, 6);
    assert_eq!(segs.len(), 3);
    for n in &segs {
        s.write_segment(n.clone()).await.unwrap();
    }
    let read = s
        .segments(cam, MAIN_RENDITION, Time90k(T0), Time90k(T0 + 10 * 90_000))
        .unwrap();
    assert_eq!(read.len(), 3);
    for (n, r) in segs.iter().zip(&read) {
        assert_eq!(*s.read_media(r).await.unwrap(), n.media);
    }
    // Nothing of the video is in the data directory.
    assert!(!dir.path().join("data/objects").exists());

    // Behind the store's back: an orphan object (a crash between object and
    // row), a leftover named like a partial write, and a lost object.
    let o = raw(&cfg).await;
    let keys = o.list().await.unwrap();
    assert_eq!(keys.len(), 3);
    o.put(
        "v1/cam1/main/2026010100/0000000000000000-00000000000000aa.seg",
        b"sealed".to_vec(),
    )
    .await
    .unwrap();
    o.put(
        "v1/cam1/main/2026010100/0000000000000000-00000000000000bb.seg.partial",
        b"half".to_vec(),
    )
    .await
    .unwrap();
    let lost = read[0].row.object_key.clone();
    let saved = o.get(&lost).await.unwrap();
    o.delete(&lost).await.unwrap();

    let report = s.recover().await.unwrap();
    assert_eq!(report.orphan_objects_deleted, 1);
    assert_eq!(report.partial_writes_deleted, 1);
    assert_eq!(report.rows_marked_missing, 1);
    let mut left = o.list().await.unwrap();
    left.sort();
    let mut want: Vec<String> = keys.iter().filter(|k| **k != lost).cloned().collect();
    want.sort();
    assert_eq!(left, want);
    assert_eq!(
        s.segments(cam, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
            .unwrap()
            .len(),
        2
    );
    // Still missing until the object is back; restored once it is.
    assert_eq!(s.reverify().await.unwrap(), (0, 1));
    o.put(&lost, saved).await.unwrap();
    assert_eq!(s.reverify().await.unwrap(), (1, 0));
    let again = s
        .segments(cam, MAIN_RENDITION, Time90k(0), Time90k(i64::MAX / 2))
        .unwrap();
    assert_eq!(again.len(), 3);
    assert_eq!(*s.read_media(&again[0]).await.unwrap(), segs[0].media);
    assert_eq!(s.recover().await.unwrap(), Default::default());

    // The same data directory against an empty bucket: refused, so that no
    // segment is marked missing.
    drop(s);
    let empty = config(&s3, &s3.fresh_bucket(), dir.path());
    let e = open(dir.path(), &empty).await.err().unwrap().to_string();
    assert!(
        e.contains("holds no objects of this installation") && e.contains(&empty.bucket),
        "{e}"
    );
    no_secret(&e);
    // The right bucket still opens, with nothing missing.
    let s = open(dir.path(), &cfg).await.unwrap();
    assert_eq!(s.recover().await.unwrap(), Default::default());
}

#[tokio::test]
async fn a_bucket_that_does_not_exist_is_refused_naming_the_operation() {
    let s3 = moto::MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&s3, "no-such-bucket", dir.path());
    let e = open(dir.path(), &cfg).await.err().unwrap().to_string();
    assert!(
        e.contains("object store s3")
            && e.contains(&s3.endpoint())
            && e.contains("bucket no-such-bucket")
            && e.contains("writing a probe object failed: the bucket does not exist"),
        "{e}"
    );
    no_secret(&e);
    // Nothing was created for the installation.
    assert!(!dir.path().join("data").exists());
}

#[tokio::test]
async fn an_unreachable_endpoint_is_an_error_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let port = moto::free_port();
    let cfg = S3Config {
        endpoint: format!("http://127.0.0.1:{port}"),
        bucket: "veil".into(),
        region: "us-east-1".into(),
        prefix: None,
        credentials_file: Some({
            let p = dir.path().join("c.toml");
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&p)
                .unwrap();
            write!(
                f,
                "access_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
                moto::ACCESS_KEY_ID,
                moto::SECRET_ACCESS_KEY
            )
            .unwrap();
            p
        }),
    };
    let t = Instant::now();
    let e = open(dir.path(), &cfg).await.err().unwrap().to_string();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(
        e.contains("object store s3")
            && e.contains(&format!("127.0.0.1:{port}"))
            && e.contains("cannot reach the endpoint"),
        "{e}"
    );
    no_secret(&e);
}

#[tokio::test]
async fn credentials_are_required_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = S3Config {
        endpoint: "http://127.0.0.1:9".into(),
        bucket: "veil".into(),
        region: "us-east-1".into(),
        prefix: None,
        credentials_file: Some(dir.path().join("absent.toml")),
    };
    let e = open(dir.path(), &cfg).await.err().unwrap().to_string();
    assert!(e.contains("objects.s3.credentials_file"), "{e}");
    // A readable-by-others file is refused before anything is sent.
    let p = dir.path().join("c.toml");
    std::fs::write(
        &p,
        format!(
            "access_key_id = \"a\"\nsecret_access_key = \"{}\"\n",
            moto::SECRET_ACCESS_KEY
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    cfg.credentials_file = Some(p);
    let e = open(dir.path(), &cfg).await.err().unwrap().to_string();
    assert!(e.contains("chmod 600"), "{e}");
    no_secret(&e);
    no_secret(&format!("{cfg:?}"));
}

/// A second installation (a copied configuration: same bucket, same prefix)
/// is refused before recovery could delete the first one's objects; keys
/// Veil would not write survive recovery; an installation at the bucket's
/// root leaves another's prefix alone.
#[tokio::test]
async fn another_installations_bucket_is_refused_and_foreign_keys_survive() {
    let s3 = moto::MotoServer::start();
    let bucket = s3.fresh_bucket();
    let a_dir = tempfile::tempdir().unwrap();
    let mut a_cfg = config(&s3, &bucket, a_dir.path());
    a_cfg.prefix = Some("site-b/".into());
    let a = open(a_dir.path(), &a_cfg).await.unwrap();
    let cam =
        a.db.upsert_camera("c", "synthetic", "{}", Time90k(T0))
            .unwrap();
    for n in segments(cam, 4) {
        a.write_segment(n).await.unwrap();
    }
    let a_objects = raw(&a_cfg).await;
    let a_keys = a_objects.list().await.unwrap();
    assert_eq!(a_keys.len(), 2);
    // An operator's file under A's prefix, not of the shape Veil writes.
    let whole = |k: &str| object_store::path::Path::from(format!("site-b/{k}"));
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(s3.endpoint())
        .with_bucket_name(&bucket)
        .with_region("us-east-1")
        .with_allow_http(true)
        .with_access_key_id(moto::ACCESS_KEY_ID)
        .with_secret_access_key(moto::SECRET_ACCESS_KEY)
        .build()
        .unwrap();
    use object_store::ObjectStore as _;
    store
        .put(&whole("notes/readme.txt"), b"not Veil's".to_vec().into())
        .await
        .unwrap();
    assert_eq!(a.recover().await.unwrap(), Default::default());
    let listing = &store;
    let everything = move || async move {
        let mut v: Vec<String> = futures::TryStreamExt::try_collect::<Vec<_>>(listing.list(None))
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.location.to_string())
            .collect();
        v.sort();
        v
    };
    let before = everything().await;
    assert!(
        before.contains(&"site-b/notes/readme.txt".to_string()),
        "{before:?}"
    );
    assert!(
        before.contains(&"site-b/VEIL-OBJECTS".to_string()),
        "{before:?}"
    );

    // B: a new installation with A's configuration (same bucket and prefix).
    let b_dir = tempfile::tempdir().unwrap();
    let e = open(b_dir.path(), &a_cfg).await.err().unwrap().to_string();
    assert!(e.contains("another Veil installation"), "{e}");
    no_secret(&e);
    assert_eq!(everything().await, before);

    // C: a new installation at the bucket's root, next to A under site-b/.
    let c_dir = tempfile::tempdir().unwrap();
    let mut c_cfg = config(&s3, &bucket, c_dir.path());
    c_cfg.prefix = None;
    let c = open(c_dir.path(), &c_cfg).await.unwrap();
    let report = c.recover().await.unwrap();
    assert_eq!(report, Default::default());
    let after = everything().await;
    for k in &before {
        assert!(after.contains(k), "{k} was deleted: {after:?}");
    }
    drop(c);

    // A is unharmed: it reopens and finds nothing missing.
    drop(a);
    let a = open(a_dir.path(), &a_cfg).await.unwrap();
    assert_eq!(a.recover().await.unwrap(), Default::default());
    let left = raw(&a_cfg).await.list().await.unwrap();
    for k in &a_keys {
        assert!(left.contains(k), "{k}: {left:?}");
    }
}

/// Missing permissions and refused credentials against moto enforcing IAM
/// (`docs/design/storage.md`): opening a store is refused, naming the
/// operation that failed and the store's address, never the secret or the
/// key id; a user with the four permissions Veil needs opens and records.
#[tokio::test]
async fn missing_permissions_are_refused_at_start_naming_the_operation() {
    const READ: &[&str] = &["s3:GetObject", "s3:ListBucket"];
    const NO_DELETE: &[&str] = &["s3:PutObject", "s3:GetObject", "s3:ListBucket"];
    const ALL: &[&str] = &[
        "s3:PutObject",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:DeleteObject",
    ];
    let bucket = "veil-perm";
    let (s3, users) = moto::MotoServer::start_with_iam(
        bucket,
        &[
            ("reader", READ),
            ("no-delete", NO_DELETE),
            ("recorder", ALL),
        ],
    );
    let cfg_for = |dir: &std::path::Path, user: &moto::IamUser| S3Config {
        endpoint: s3.endpoint(),
        bucket: bucket.into(),
        region: "us-east-1".into(),
        prefix: Some("site-a/".into()),
        credentials_file: Some(user.credentials_file(dir)),
    };
    let refused = |e: &str, user: &moto::IamUser, operation: &str, why: &str| {
        assert!(
            e.contains(&format!("object store s3 (endpoint {}", s3.endpoint()))
                && e.contains(&format!("bucket {bucket}"))
                && e.contains(&format!("{operation} failed: {why}")),
            "{e}"
        );
        assert!(!e.contains(&user.secret_access_key), "secret in {e}");
        assert!(!e.contains(&user.access_key_id), "key id in {e}");
    };

    // Read and list only: the first write is refused.
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), &cfg_for(dir.path(), &users[0]))
        .await
        .err()
        .unwrap()
        .to_string();
    refused(&e, &users[0], "writing a probe object", "access denied");
    assert!(!dir.path().join("data").exists(), "{e}");

    // Everything but delete: the probe's delete is refused.
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), &cfg_for(dir.path(), &users[1]))
        .await
        .err()
        .unwrap()
        .to_string();
    refused(&e, &users[1], "deleting a probe object", "access denied");
    assert!(!dir.path().join("data").exists(), "{e}");

    // A key moto never issued: the credentials are refused.
    let dir = tempfile::tempdir().unwrap();
    let stranger = moto::IamUser {
        name: "stranger".into(),
        access_key_id: "AKIAVEILNEVERISSUED1".into(),
        secret_access_key: "never-issued-secret-9d2b4f".into(),
    };
    let e = open(dir.path(), &cfg_for(dir.path(), &stranger))
        .await
        .err()
        .unwrap()
        .to_string();
    refused(
        &e,
        &stranger,
        "writing a probe object",
        "the credentials were refused",
    );

    // An issued key with a wrong secret: the signature does not match
    // (moto's answer quotes the key id; the error does not).
    let dir = tempfile::tempdir().unwrap();
    let wrong = moto::IamUser {
        name: "wrong-secret".into(),
        access_key_id: users[2].access_key_id.clone(),
        secret_access_key: "not-the-secret-4e7a1c".into(),
    };
    let e = open(dir.path(), &cfg_for(dir.path(), &wrong))
        .await
        .err()
        .unwrap()
        .to_string();
    refused(
        &e,
        &wrong,
        "writing a probe object",
        "the credentials were refused",
    );
    assert!(!e.contains(&users[2].secret_access_key), "{e}");

    // All four: opens, records and plays back; the probes are gone.
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg_for(dir.path(), &users[2]);
    let s = open(dir.path(), &cfg).await.unwrap();
    let cam =
        s.db.upsert_camera("c", "synthetic", "{}", Time90k(T0))
            .unwrap();
    let segs = segments(cam, 2);
    s.write_segment(segs[0].clone()).await.unwrap();
    let read = s
        .segments(cam, MAIN_RENDITION, Time90k(T0), Time90k(T0 + 10 * 90_000))
        .unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(*s.read_media(&read[0]).await.unwrap(), segs[0].media);
    let creds = S3Credentials::from_file(cfg.credentials_file.as_ref().unwrap()).unwrap();
    let o = S3Objects::open(&cfg, &creds).unwrap();
    let keys = o.list().await.unwrap();
    assert_eq!(keys, vec![read[0].row.object_key.clone()]);
    // The reader cannot delete what the recorder stored.
    let reader_creds = S3Credentials::from_file(&users[0].credentials_file(dir.path())).unwrap();
    let reader = S3Objects::open(&cfg, &reader_creds).unwrap();
    let e = reader.delete(&keys[0]).await.err().unwrap().to_string();
    assert!(e.contains("access denied"), "{e}");
    assert_eq!(o.list().await.unwrap().len(), 1);
}
