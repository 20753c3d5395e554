//! A multi-node installation as an operator runs it (issue 17): a real
//! PostgreSQL server, a real S3-compatible server (moto), one
//! `veil serve --role web` and `veil serve --role recorder` processes, each
//! with its own data directory and `[node]`, the same `[database] url`,
//! `[objects] s3` bucket and root key (`[root_key] kind = "env"`).
//! `scale_out.rs` and `live_relay.rs` build on it.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::api::Api;
use super::Demo;

#[path = "../../../veil-store/tests/common/moto.rs"]
pub mod moto;
#[path = "../../../veil-store/tests/common/postgres.rs"]
pub mod postgres_server;

use postgres_server::PgServer;

/// `[recording] segment_seconds` of every node.
pub const SEGMENT_S: f64 = 2.0;
/// The variable holding the shared root key-encryption key.
pub const KEK_VAR: &str = "VEIL_NODES_TEST_KEK";
pub const KEK: &str = "5ca1e0a75ca1e0a75ca1e0a75ca1e0a75ca1e0a75ca1e0a75ca1e0a75ca1e0a7";

/// A `veil serve --role recorder` process; killed (and reaped) on drop.
pub struct Recorder {
    pub id: String,
    pub data: PathBuf,
    pub config: PathBuf,
    /// `[node] internal_listen`.
    pub internal: String,
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Recorder {
    pub fn spawn(id: &str, node: &NodeFiles) -> Recorder {
        let mut child = Command::new(env!("CARGO_BIN_EXE_veil"))
            .args(["serve", "--role", "recorder", "--config"])
            .arg(&node.config)
            .env(KEK_VAR, KEK)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn veil");
        let log = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for pipe in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err) as Box<dyn std::io::Read + Send>,
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(pipe);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match r.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => log
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push_str(&String::from_utf8_lossy(&buf)),
                    }
                }
            });
        }
        Recorder {
            id: id.to_owned(),
            data: node.data.clone(),
            config: node.config.clone(),
            internal: node.internal.clone(),
            child,
            log,
        }
    }

    pub fn output(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits for the line a recorder prints once it runs.
    pub fn wait_started(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let ready = format!("node {} role recorder: ", self.id);
        while !self.output().contains(&ready) {
            if let Ok(Some(st)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                panic!("recorder {} exited with {st}:\n{}", self.id, self.output());
            }
            assert!(
                Instant::now() < deadline,
                "recorder {} did not start within 60 s:\n{}",
                self.id,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends `sig` (e.g. `-STOP`) with `kill`.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {}", self.id);
    }

    /// SIGKILL (which ends a stopped process too), and reaped.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `f` with a fresh PostgreSQL connection on a thread of its own (the
/// `postgres` client must not block a tokio runtime thread).
pub fn with_pg<T: Send + 'static>(
    url: &str,
    f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send + 'static,
) -> Result<T, String> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
        f(&mut c).map_err(|e| e.to_string())
    })
    .join()
    .unwrap()
}

/// A node's `veil.toml`, data directory and `[node] internal_listen`.
pub struct NodeFiles {
    pub config: PathBuf,
    pub data: PathBuf,
    pub internal: String,
}

/// Writes a node's `veil.toml` with `cameras` small synthetic cameras
/// (`Camera 01`, …) of [`SEGMENT_S`]-s segments.
pub fn node_config(dir: &Path, node: &str, url: &str, objects: &str, cameras: usize) -> NodeFiles {
    let data = dir.join(node).join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let config = dir.join(node).join("veil.toml");
    let internal = format!("127.0.0.1:{}", super::free_port());
    let mut tables = String::new();
    for i in 1..=cameras {
        tables.push_str(&format!(
            "[[camera]]\nname = \"Camera {i:02}\"\nsource = {{ kind = \"synthetic\", width = 160, \
             height = 90, fps = 5, bitrate_kbps = 40 }}\n{}\n",
            super::PURPOSE
        ));
    }
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nlisten = \"127.0.0.1:{}\"\nfirst_account = \"first-administrator\"\n\n\
             [recording]\nsegment_seconds = {}\n\n[database]\nurl = \"{url}\"\n\n\
             [node]\nid = \"{node}\"\ninternal_listen = \"{internal}\"\n\n\
             [root_key]\nkind = \"env\"\nvariable = \"{KEK_VAR}\"\n\n{objects}\n{tables}{}",
            data.display(),
            super::free_port(),
            SEGMENT_S as u32,
            super::ORGANISATION,
        ),
    )
    .unwrap();
    NodeFiles {
        config,
        data,
        internal,
    }
}

/// The shared key material an operator copies to every node: the root
/// versions sealed under the key-encryption key and the access record's
/// signing key (everything in the first node's data directory but its lock,
/// its node id, its TLS files and the first password).
pub fn copy_keys(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !e.file_type().unwrap().is_file()
            || name == "veil.lock"
            || name == "node-id"
            || name.contains("password")
        {
            continue;
        }
        std::fs::copy(e.path(), to.join(&name)).unwrap();
    }
}

/// The installation: servers, nodes and the web node's API session. Fields
/// drop in order: processes first, then the servers.
pub struct Cluster {
    /// `rec-1`, `rec-2`, …; `None` once a test has taken one out.
    pub recorders: Vec<Option<Recorder>>,
    pub web: Demo,
    pub api: Api,
    pub web_config: PathBuf,
    pub url: String,
    pub bucket: String,
    pub s3: moto::MotoServer,
    pub pg: PgServer,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts PostgreSQL and moto (together), the web node (which creates
    /// the installation, its `cameras` cameras and the first account), then
    /// `recorders` recorders together; signs the administrator in on the
    /// web node.
    pub async fn start(cameras: usize, recorders: usize) -> Cluster {
        std::env::set_var(KEK_VAR, KEK);
        let dir = tempfile::tempdir().unwrap();
        let (pg, s3) = std::thread::scope(|s| {
            let pg = s.spawn(PgServer::start);
            let s3 = moto::MotoServer::start();
            (pg.join().unwrap(), s3)
        });
        let url = pg.fresh_database();
        let bucket = s3.fresh_bucket();
        let objects = s3.objects_toml(&bucket, dir.path());
        let web_node = node_config(dir.path(), "web", &url, &objects, cameras);
        let web = tokio::task::block_in_place(|| {
            Demo::serve_role(&web_node.config, &web_node.data, "web")
        });
        let mut nodes = Vec::new();
        for i in 1..=recorders {
            let id = format!("rec-{i}");
            let node = node_config(dir.path(), &id, &url, &objects, cameras);
            copy_keys(&web_node.data, &node.data);
            nodes.push(Recorder::spawn(&id, &node));
        }
        tokio::task::block_in_place(|| nodes.iter_mut().for_each(Recorder::wait_started));
        let file = web.password_file.clone().expect("a password file named");
        let first = std::fs::read_to_string(&file).unwrap().trim().to_owned();
        let api = Api::first_login(
            &web,
            &web.user,
            &first,
            "the administrator's own passphrase",
        )
        .await
        .unwrap();
        api.enrol_totp().await.unwrap();
        Cluster {
            recorders: nodes.into_iter().map(Some).collect(),
            web,
            api,
            web_config: web_node.config,
            url,
            bucket,
            s3,
            pg,
            dir,
        }
    }

    /// The running recorder `id`.
    pub fn recorder(&self, id: &str) -> &Recorder {
        self.recorders
            .iter()
            .flatten()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no recorder {id}"))
    }

    /// Every node's output (its last 6000 bytes), for failure messages.
    pub fn logs(&self) -> String {
        let mut s = format!("--- web\n{}\n", tail(&self.web.output()));
        for r in self.recorders.iter().flatten() {
            s.push_str(&format!("--- {}\n{}\n", r.id, tail(&r.output())));
        }
        s
    }
}

/// The last 6000 bytes of `s` (at a character boundary).
pub fn tail(s: &str) -> &str {
    let cut = s.len().saturating_sub(6000);
    let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    &s[cut..]
}

/// A client of the bucket straight at moto (through the `object_store`
/// crate, not Veil): to list, change and delete objects behind Veil's back.
pub fn bucket_client(s3: &moto::MotoServer, bucket: &str) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(s3.endpoint())
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_access_key_id(moto::ACCESS_KEY_ID)
        .with_secret_access_key(moto::SECRET_ACCESS_KEY)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .build()
        .unwrap()
}

/// The keys in the bucket, listed through the S3 API, without Veil's marker
/// and probe objects (at the root or under any prefix).
pub async fn bucket_keys(client: &object_store::aws::AmazonS3) -> BTreeSet<String> {
    use futures::TryStreamExt as _;
    use object_store::ObjectStore as _;
    let all: Vec<_> = client.list(None).try_collect().await.unwrap();
    all.into_iter()
        .map(|m| m.location.to_string())
        .filter(|k| !k.ends_with("VEIL-OBJECTS") && !k.contains("VEIL-PROBE/"))
        .collect()
}
