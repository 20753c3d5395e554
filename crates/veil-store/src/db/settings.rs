//! Settings: a key-value store for small configuration values.

use crate::db::sql::{params, OptionalExtension};

use super::Db;
use crate::Error;

impl Db {
    /// A stored setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>, Error> {
        self.with(|c| {
            c.query_row("SELECT value FROM setting WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// Stores a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO setting (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = ?2",
                params![key, value],
            )
            .map(|_| ())
        })
    }

    /// This installation's id: random, created at the first call and kept
    /// in `setting` (`installation_id`) from then on; every node sharing
    /// the database reads the same. The object store's marker names it, so
    /// that a store of another installation is never adopted (and its
    /// objects never deleted by recovery).
    pub fn installation_id(&self) -> Result<String, Error> {
        let fresh = format!("{:032x}", rand::random::<u128>());
        self.with(|c| {
            // Two nodes creating it at once: the first insert wins and both
            // read the same value back.
            c.execute(
                "INSERT INTO setting (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO NOTHING",
                params![INSTALLATION_ID, fresh],
            )?;
            c.query_row(
                "SELECT value FROM setting WHERE key = ?1",
                [INSTALLATION_ID],
                |r| r.get(0),
            )
        })
    }
}

/// The `setting` key of [`Db::installation_id`].
const INSTALLATION_ID: &str = "installation_id";
