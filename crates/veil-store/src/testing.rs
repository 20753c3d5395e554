//! Test support shared by the integration tests of veil-store, veil-audit
//! and veil-web: each opens its database through here, so one environment
//! variable runs the same suites on either backend. Where
//! `VEIL_TEST_POSTGRES` holds a server's URL, a data directory's metadata is
//! a fresh PostgreSQL database on that server (created the first time the
//! directory is opened in this process, the same one when it is opened
//! again); otherwise SQLite in the directory, as in production.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use veil_base::SharedClock;

use crate::db::{Db, RawValue};
use crate::{root, Error, Store};

/// The PostgreSQL test server's URL, when the tests run on PostgreSQL.
pub fn postgres_server() -> Option<String> {
    std::env::var("VEIL_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The database a test data directory uses on PostgreSQL: a fresh one per
/// directory, remembered for this process; `None` on SQLite.
pub fn database_for(dir: &Path) -> Result<Option<String>, Error> {
    static DATABASES: Mutex<Option<HashMap<PathBuf, String>>> = Mutex::new(None);
    let Some(server) = postgres_server() else {
        return Ok(None);
    };
    let mut map = DATABASES.lock().unwrap_or_else(|p| p.into_inner());
    let map = map.get_or_insert_with(HashMap::new);
    if let Some(url) = map.get(dir) {
        return Ok(Some(url.clone()));
    }
    // A child process of a test, given its parent's database.
    if let (Some(d), Some(url)) = (
        std::env::var_os(CHILD_DIR_ENV),
        std::env::var(CHILD_DATABASE_ENV).ok(),
    ) {
        if Path::new(&d) == dir {
            map.insert(dir.to_path_buf(), url.clone());
            return Ok(Some(url));
        }
    }
    let url = Db::create_test_database(&server)?;
    map.insert(dir.to_path_buf(), url.clone());
    Ok(Some(url))
}

/// The data directory whose database a child process is given.
const CHILD_DIR_ENV: &str = "VEIL_TEST_DATABASE_DIR";
/// That database's URL.
const CHILD_DATABASE_ENV: &str = "VEIL_TEST_DATABASE_URL";

/// Gives a child process (a test binary run again, killed at a crash point)
/// the database of `dir`, so that it opens the same installation: on
/// PostgreSQL the database is otherwise a fresh one per process. Nothing on
/// SQLite, where the database is in the directory.
pub fn pass_database(command: &mut std::process::Command, dir: &Path) -> Result<(), Error> {
    if let Some(url) = database_for(dir)? {
        command.env(CHILD_DIR_ENV, dir).env(CHILD_DATABASE_ENV, url);
    }
    Ok(())
}

/// [`Store::open_dir`] on the test backend.
pub fn open_dir(dir: &Path, clock: SharedClock) -> Result<Store, Error> {
    open_dir_with(dir, clock, None)
}

/// [`Store::open_dir_with`] on the test backend.
pub fn open_dir_with(
    dir: &Path,
    clock: SharedClock,
    source: Option<Arc<dyn root::RootKeySource>>,
) -> Result<Store, Error> {
    let database = database_for(dir)?;
    Store::open_dir_database(dir, clock, source, database.as_deref())
}

/// SQLite only, whatever the backend of the run: for tests about SQLite
/// itself (its file, its WAL, its pragmas). `why` says what the test needs
/// of SQLite, for the reader.
pub fn open_dir_sqlite_only(dir: &Path, clock: SharedClock, why: &str) -> Result<Store, Error> {
    let _ = why;
    Store::open_dir(dir, clock)
}

/// Everything the test database of data directory `dir` holds, as bytes to
/// search for a secret: on SQLite the database file and its WAL as they lie
/// on disk (free pages included), on PostgreSQL every value of every table
/// (text and blobs as they are, numbers in decimal), one after another.
pub fn database_bytes(dir: &Path, db: &Db) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    if !db.is_postgres() {
        for name in ["veil.db", "veil.db-wal"] {
            match std::fs::read(dir.join(name)) {
                Ok(b) => out.extend(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
        return Ok(out);
    }
    let tables = db.raw_query_for_tests(
        "SELECT table_name FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        &[],
    )?;
    for row in tables {
        let Some(RawValue::Text(table)) = row.into_iter().next() else {
            continue;
        };
        for row in db.raw_query_for_tests(&format!("SELECT * FROM \"{table}\""), &[])? {
            for value in row {
                match value {
                    RawValue::Null => {}
                    RawValue::Integer(n) => out.extend(n.to_string().into_bytes()),
                    RawValue::Real(f) => out.extend(f.to_string().into_bytes()),
                    RawValue::Text(t) => out.extend(t.into_bytes()),
                    RawValue::Blob(b) => out.extend(b),
                }
                out.push(0);
            }
        }
    }
    Ok(out)
}
