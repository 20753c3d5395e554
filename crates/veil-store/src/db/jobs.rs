//! Scale-out (`docs/design/scale-out.md`, "Roles, singleton jobs and
//! status"): job leases, so that one node at a time runs the
//! installation's maintenance jobs over a shared database, and each
//! camera's status as the recorder holding it last wrote it, so that every
//! node's API shows it.
//!
//! A job lease is a row per job name: its holder (a node id), a token that
//! grows at each change of holder, and when it expires. A node takes or
//! renews it with one conditional upsert; another node's live lease is
//! never taken.

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, Time90k};

use super::Db;
use crate::Error;

/// One camera's status as a recorder wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraStatusRow {
    /// The camera.
    pub camera_id: CameraId,
    /// The node that wrote it (the recorder holding the camera).
    pub node: String,
    /// `connecting`, `recording`, `standby`, `error` or `stopped`.
    pub state: String,
    /// The write fault, the last error or the standby reason; `''` when none.
    pub detail: String,
    /// When it was written (the recorder's clock).
    pub updated_90k: Time90k,
}

impl Db {
    /// Takes job lease `name` for `node` until `until` when it is free,
    /// expired (before `now`) or already `node`'s (a renewal). Returns the
    /// lease's token (one more than the last holder's on a change of
    /// holder, the same on a renewal), or `None` when another node holds a
    /// live lease.
    pub fn take_job_lease(
        &self,
        name: &str,
        node: &str,
        now: Time90k,
        until: Time90k,
    ) -> Result<Option<i64>, Error> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO job_lease (name, holder, token, expires_90k)
                 VALUES (?1, ?2, 1, ?4)
                 ON CONFLICT (name) DO UPDATE
                     SET holder = excluded.holder,
                         token = CASE WHEN job_lease.holder = excluded.holder
                                      THEN job_lease.token ELSE job_lease.token + 1 END,
                         expires_90k = excluded.expires_90k
                     WHERE job_lease.expires_90k < ?3 OR job_lease.holder = excluded.holder
                 RETURNING token",
            )?
            .query_row(params![name, node, now.0, until.0], |r| r.get(0))
            .optional()
        })
    }

    /// Gives up `node`'s job lease `name`: it expires at once. Returns
    /// whether it was `node`'s.
    pub fn release_job_lease(&self, name: &str, node: &str) -> Result<bool, Error> {
        self.with(|c| {
            c.prepare_cached(
                "UPDATE job_lease SET expires_90k = 0 WHERE name = ?1 AND holder = ?2",
            )?
            .execute(params![name, node])
            .map(|n| n == 1)
        })
    }

    /// Whether job lease `name` is still `holder`'s under `token` (no
    /// other node took it since: a take by another bumps the token). The
    /// fencing check a maintenance job makes before it destroys anything;
    /// the expiry is not looked at (an expired lease nobody took is still
    /// safe to act under, as for the camera leases).
    pub fn holds_job_lease(&self, name: &str, holder: &str, token: i64) -> Result<bool, Error> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT COUNT(*) FROM job_lease WHERE name = ?1 AND holder = ?2 AND token = ?3",
            )?
            .query_row(params![name, holder, token], |r| r.get::<_, i64>(0))
            .map(|n| n == 1)
        })
    }

    /// The ids of the nodes of any role whose latest heartbeat is after
    /// `since`, by id.
    pub fn live_node_ids(&self, since: Time90k) -> Result<Vec<String>, Error> {
        self.with(|c| {
            let mut st =
                c.prepare_cached("SELECT id FROM recorder_node WHERE seen_90k > ?1 ORDER BY id")?;
            let rows = st.query_map(params![since.0], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Job lease `name`: its holder, token and expiry, if it was ever taken.
    pub fn job_lease(&self, name: &str) -> Result<Option<(String, i64, Time90k)>, Error> {
        self.with(|c| {
            c.prepare_cached("SELECT holder, token, expires_90k FROM job_lease WHERE name = ?1")?
                .query_row(params![name], |r| {
                    Ok((r.get(0)?, r.get(1)?, Time90k(r.get(2)?)))
                })
                .optional()
        })
    }

    /// Writes `camera`'s status as recorder `node` sees it at `now`.
    pub fn set_camera_status(
        &self,
        camera: CameraId,
        node: &str,
        state: &str,
        detail: &str,
        now: Time90k,
    ) -> Result<(), Error> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO camera_status (camera_id, node, state, detail, updated_90k)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (camera_id) DO UPDATE
                     SET node = excluded.node, state = excluded.state,
                         detail = excluded.detail, updated_90k = excluded.updated_90k",
            )?
            .execute(params![camera.0, node, state, detail, now.0])
            .map(|_| ())
        })
    }

    /// `camera`'s status as a recorder last wrote it, if one ever did.
    pub fn camera_status(&self, camera: CameraId) -> Result<Option<CameraStatusRow>, Error> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT camera_id, node, state, detail, updated_90k FROM camera_status
                 WHERE camera_id = ?1",
            )?
            .query_row(params![camera.0], |r| {
                Ok(CameraStatusRow {
                    camera_id: CameraId(r.get(0)?),
                    node: r.get(1)?,
                    state: r.get(2)?,
                    detail: r.get(3)?,
                    updated_90k: Time90k(r.get(4)?),
                })
            })
            .optional()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 90_000;

    #[test]
    fn one_node_holds_a_job_lease_until_it_expires_or_is_released() {
        let db = Db::open_for_tests().unwrap();
        let t = |s: i64| Time90k(s * S);
        assert_eq!(db.take_job_lease("m", "a", t(10), t(25)).unwrap(), Some(1));
        // Live: b cannot take it; a renews it under the same token.
        assert_eq!(db.take_job_lease("m", "b", t(20), t(35)).unwrap(), None);
        assert_eq!(db.take_job_lease("m", "a", t(20), t(35)).unwrap(), Some(1));
        assert_eq!(db.take_job_lease("m", "b", t(35), t(50)).unwrap(), None);
        assert_eq!(db.job_lease("m").unwrap(), Some(("a".to_owned(), 1, t(35))));
        // Expired: b takes it with the next token; a cannot renew it.
        assert_eq!(db.take_job_lease("m", "b", t(36), t(51)).unwrap(), Some(2));
        assert_eq!(db.take_job_lease("m", "a", t(37), t(52)).unwrap(), None);
        // Released by b (a's release changes nothing): free at once.
        assert!(!db.release_job_lease("m", "a").unwrap());
        assert!(db.release_job_lease("m", "b").unwrap());
        assert_eq!(db.take_job_lease("m", "a", t(38), t(53)).unwrap(), Some(3));
        // Another name is another lease.
        assert_eq!(db.take_job_lease("n", "b", t(38), t(53)).unwrap(), Some(1));
        assert_eq!(db.job_lease("x").unwrap(), None);
        // Fencing: only the holder under its latest token holds it.
        assert!(db.holds_job_lease("m", "a", 3).unwrap());
        assert!(!db.holds_job_lease("m", "a", 1).unwrap());
        assert!(!db.holds_job_lease("m", "b", 3).unwrap());
        db.release_job_lease("m", "a").unwrap();
        assert!(db.holds_job_lease("m", "a", 3).unwrap());
        assert_eq!(db.take_job_lease("m", "b", t(39), t(54)).unwrap(), Some(4));
        assert!(!db.holds_job_lease("m", "a", 3).unwrap());
    }

    #[test]
    fn camera_status_is_kept_per_camera_and_goes_with_it() {
        let db = Db::open_for_tests().unwrap();
        let c = db
            .upsert_camera("c", "synthetic", "{}", Time90k(0))
            .unwrap();
        assert_eq!(db.camera_status(c).unwrap(), None);
        db.set_camera_status(c, "r1", "recording", "", Time90k(5 * S))
            .unwrap();
        db.set_camera_status(c, "r2", "error", "disk full", Time90k(9 * S))
            .unwrap();
        assert_eq!(
            db.camera_status(c).unwrap(),
            Some(CameraStatusRow {
                camera_id: c,
                node: "r2".into(),
                state: "error".into(),
                detail: "disk full".into(),
                updated_90k: Time90k(9 * S),
            })
        );
    }
}
