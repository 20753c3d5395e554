//! Camera leases with fencing tokens, and the node registry (scale-out:
//! several recorder processes over one database; see
//! `docs/design/scale-out.md`, "Leases and fencing").
//!
//! Every camera has one `camera_lease` row: its holder (a node id, `''`
//! when never held), a fencing token that only ever grows (each take adds
//! one) and when the lease expires. A recorder takes a free or expired
//! lease, renews it before it expires, and inserts each segment only while
//! the row still names it with the token it took ([`Db::insert_segment_fenced`]):
//! a paused recorder whose lease was taken meanwhile holds a stale token
//! and its late inserts are refused. Expiry is checked by renewal and by
//! takers, never by the insert: a recorder whose lease merely expired, and
//! was not taken, may still insert, which is safe (nobody else writes the
//! camera). Times are given by the caller: on PostgreSQL the lease keeper
//! passes the database's clock ([`Db::database_time`]), so every node's
//! leases and heartbeats are on one clock whatever its own says; and skew
//! could only move when a lease is taken, never let two recorders write one
//! camera: the token alone fences.

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, SegmentId, Time90k};

use super::{insert_segment_row, Db, SegmentRow};
use crate::Error;

/// One camera's lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRow {
    /// The camera.
    pub camera_id: CameraId,
    /// The node holding (or that last held) it; `''` when never held.
    pub holder: String,
    /// The fencing token of the latest take (0: never taken).
    pub token: i64,
    /// When the lease expires (0: released or never taken).
    pub expires_90k: Time90k,
    /// The camera is enabled and not deleted: it is recorded, so it is
    /// shared between the recorders.
    pub recordable: bool,
}

/// A node in the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRow {
    /// The node's stable id.
    pub id: String,
    /// `recorder` or `web`.
    pub role: String,
    /// Where other nodes reach it (`''`: not given).
    pub address: String,
    /// Its latest heartbeat.
    pub seen_90k: Time90k,
}

impl Db {
    /// The database server's clock in 90 kHz units on PostgreSQL (shared by
    /// every node, so lease and heartbeat times do not depend on the nodes'
    /// clocks agreeing); `None` on SQLite, where the one process's clock is
    /// the only one.
    pub fn database_time(&self) -> Result<Option<Time90k>, Error> {
        self.with(|c| {
            if !c.is_postgres() {
                return Ok(None);
            }
            // PostgreSQL only (the branch above): clock_timestamp() is the
            // time of the call, not of the transaction's start.
            c.query_row(
                "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 90000 AS BIGINT)",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|t| Some(Time90k(t)))
        })
    }

    /// Records that node `id` is alive at `now` (creating its row).
    pub fn heartbeat_node(
        &self,
        id: &str,
        role: &str,
        address: &str,
        now: Time90k,
    ) -> Result<(), Error> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO recorder_node (id, role, address, seen_90k)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE
                     SET role = excluded.role, address = excluded.address,
                         seen_90k = excluded.seen_90k",
            )?
            .execute(params![id, role, address, now.0])
            .map(|_| ())
        })
    }

    /// The nodes of `role` whose latest heartbeat is after `since`, by id.
    pub fn live_nodes(&self, role: &str, since: Time90k) -> Result<Vec<NodeRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, role, address, seen_90k FROM recorder_node
                 WHERE role = ?1 AND seen_90k > ?2 ORDER BY id",
            )?;
            let rows = st.query_map(params![role, since.0], |r| {
                Ok(NodeRow {
                    id: r.get(0)?,
                    role: r.get(1)?,
                    address: r.get(2)?,
                    seen_90k: Time90k(r.get(3)?),
                })
            })?;
            rows.collect()
        })
    }

    /// Gives every camera without a lease row one (never held: holder `''`,
    /// token 0, expired). Returns how many were added.
    pub fn ensure_lease_rows(&self) -> Result<usize, Error> {
        self.with(|c| {
            // `WHERE true`: SQLite needs a WHERE before an upsert's ON
            // CONFLICT after a SELECT; PostgreSQL accepts it as it is.
            c.prepare_cached(
                "INSERT INTO camera_lease (camera_id, holder, token, expires_90k)
                 SELECT id, '', 0, 0 FROM camera WHERE true
                 ON CONFLICT (camera_id) DO NOTHING",
            )?
            .execute([])
        })
    }

    /// Takes `camera`'s lease for `node` until `until` when it has expired
    /// (before `now`) or `node` already holds it; returns the new fencing
    /// token, one more than the last, or `None` when another node holds a
    /// live lease (or the camera has no lease row).
    pub fn take_lease(
        &self,
        camera: CameraId,
        node: &str,
        now: Time90k,
        until: Time90k,
    ) -> Result<Option<i64>, Error> {
        self.with(|c| {
            c.prepare_cached(
                "UPDATE camera_lease SET holder = ?2, token = token + 1, expires_90k = ?4
                 WHERE camera_id = ?1 AND (expires_90k < ?3 OR holder = ?2)
                 RETURNING token",
            )?
            .query_row(params![camera.0, node, now.0, until.0], |r| r.get(0))
            .optional()
        })
    }

    /// Extends each of `node`'s `(camera, token)` leases to `until`, in one
    /// transaction; a lease another node has taken since (the token moved),
    /// or that expired before `now`, is not renewed. Returns the cameras not
    /// renewed: lost.
    pub fn renew_leases(
        &self,
        node: &str,
        held: &[(CameraId, i64)],
        now: Time90k,
        until: Time90k,
    ) -> Result<Vec<CameraId>, Error> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        self.with(|c| {
            let tx = c.transaction()?;
            let mut lost = Vec::new();
            {
                let mut st = tx.prepare_cached(
                    "UPDATE camera_lease SET expires_90k = ?5
                     WHERE camera_id = ?1 AND holder = ?2 AND token = ?3 AND expires_90k >= ?4",
                )?;
                for (camera, token) in held {
                    if st.execute(params![camera.0, node, token, now.0, until.0])? == 0 {
                        lost.push(*camera);
                    }
                }
            }
            tx.commit()?;
            Ok(lost)
        })
    }

    /// Gives up `node`'s lease of `camera` taken with `token`: it expires at
    /// once (free for any taker); holder and token stay, so the token keeps
    /// growing. Returns whether the lease was still `node`'s.
    pub fn release_lease(&self, camera: CameraId, node: &str, token: i64) -> Result<bool, Error> {
        self.with(|c| {
            c.prepare_cached(
                "UPDATE camera_lease SET expires_90k = 0
                 WHERE camera_id = ?1 AND holder = ?2 AND token = ?3",
            )?
            .execute(params![camera.0, node, token])
            .map(|n| n == 1)
        })
    }

    /// Every lease row, by camera.
    pub fn leases(&self) -> Result<Vec<LeaseRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT l.camera_id, l.holder, l.token, l.expires_90k,
                        CASE WHEN c.enabled = 1 AND c.deleted_90k IS NULL THEN 1 ELSE 0 END
                 FROM camera_lease l JOIN camera c ON c.id = l.camera_id
                 ORDER BY l.camera_id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(LeaseRow {
                    camera_id: CameraId(r.get(0)?),
                    holder: r.get(1)?,
                    token: r.get(2)?,
                    expires_90k: Time90k(r.get(3)?),
                    recordable: r.get::<_, i64>(4)? == 1,
                })
            })?;
            rows.collect()
        })
    }

    /// [`Db::insert_segment`] fenced by a lease: in one transaction, only
    /// while the segment's camera's lease row still names `node` with
    /// `token`. The check is an `UPDATE` that changes nothing, so in
    /// PostgreSQL it takes the row's lock: a take of the lease and a late
    /// insert serialise, and the insert sees the take's token. Refused with
    /// [`Error::LeaseLost`] (nothing inserted) when the row names another
    /// holder or token.
    pub fn insert_segment_fenced(
        &self,
        s: &SegmentRow,
        node: &str,
        token: i64,
    ) -> Result<SegmentId, Error> {
        self.insert_segment_fenced_pausing(s, node, token, || {})
    }

    /// Test hook: [`Db::insert_segment_fenced`] calling `pause` inside its
    /// transaction, after the lease check and before the insert and the
    /// commit (a race test holds the transaction open there).
    #[doc(hidden)]
    pub fn insert_segment_fenced_pausing(
        &self,
        s: &SegmentRow,
        node: &str,
        token: i64,
        pause: impl FnOnce(),
    ) -> Result<SegmentId, Error> {
        let inserted = self.with(|c| {
            let tx = c.transaction()?;
            let held = tx
                .prepare_cached(
                    "UPDATE camera_lease SET token = token
                     WHERE camera_id = ?1 AND holder = ?2 AND token = ?3",
                )?
                .execute(params![s.camera_id.0, node, token])?;
            if held != 1 {
                // Dropping the transaction rolls it back.
                return Ok(None);
            }
            pause();
            let id = insert_segment_row(&tx, s)?;
            tx.commit()?;
            Ok(Some(id))
        })?;
        inserted.ok_or_else(|| {
            Error::LeaseLost(format!(
                "camera {}: its lease is no longer held with token {token}",
                s.camera_id.0
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 90_000;

    fn db_with(cameras: usize) -> (Db, Vec<CameraId>) {
        let db = Db::open_for_tests().unwrap();
        let ids = (0..cameras)
            .map(|i| {
                db.upsert_camera(&format!("c{i}"), "synthetic", "{}", Time90k(0))
                    .unwrap()
            })
            .collect();
        (db, ids)
    }

    #[test]
    fn lease_rows_are_made_once_per_camera() {
        let (db, cams) = db_with(3);
        assert_eq!(db.ensure_lease_rows().unwrap(), 3);
        assert_eq!(db.ensure_lease_rows().unwrap(), 0);
        let rows = db.leases().unwrap();
        assert_eq!(rows.iter().map(|r| r.camera_id).collect::<Vec<_>>(), cams);
        assert!(rows
            .iter()
            .all(|r| r.holder.is_empty() && r.token == 0 && r.expires_90k == Time90k(0)));
        assert!(rows.iter().all(|r| r.recordable));
    }

    #[test]
    fn take_renew_release_and_the_token_only_grows() {
        let (db, cams) = db_with(1);
        db.ensure_lease_rows().unwrap();
        let c = cams[0];
        let t1 = db
            .take_lease(c, "a", Time90k(10 * S), Time90k(25 * S))
            .unwrap();
        assert_eq!(t1, Some(1));
        // Held and live: b cannot take it, a's renewal works.
        assert_eq!(
            db.take_lease(c, "b", Time90k(20 * S), Time90k(35 * S))
                .unwrap(),
            None
        );
        assert!(db
            .renew_leases("a", &[(c, 1)], Time90k(20 * S), Time90k(35 * S))
            .unwrap()
            .is_empty());
        // Expired (35 s < 36 s): b takes it with the next token; a's
        // renewal and release now fail.
        assert_eq!(
            db.take_lease(c, "b", Time90k(36 * S), Time90k(51 * S))
                .unwrap(),
            Some(2)
        );
        assert_eq!(
            db.renew_leases("a", &[(c, 1)], Time90k(37 * S), Time90k(52 * S))
                .unwrap(),
            vec![c]
        );
        assert!(!db.release_lease(c, "a", 1).unwrap());
        // b releases: the lease is free at once and keeps its token; a takes
        // it with token 3.
        assert!(db.release_lease(c, "b", 2).unwrap());
        let row = &db.leases().unwrap()[0];
        assert_eq!(
            (row.holder.as_str(), row.token, row.expires_90k),
            ("b", 2, Time90k(0))
        );
        assert_eq!(
            db.take_lease(c, "a", Time90k(38 * S), Time90k(53 * S))
                .unwrap(),
            Some(3)
        );
        // An expired lease that nobody took is not renewed either.
        assert_eq!(
            db.renew_leases("a", &[(c, 3)], Time90k(54 * S), Time90k(69 * S))
                .unwrap(),
            vec![c]
        );
    }

    #[test]
    fn a_camera_disabled_or_deleted_is_not_recordable() {
        let (db, cams) = db_with(2);
        db.ensure_lease_rows().unwrap();
        db.with(|c| c.execute("UPDATE camera SET enabled = 0 WHERE id = ?1", [cams[1].0]))
            .unwrap();
        let rows = db.leases().unwrap();
        assert!(rows[0].recordable);
        assert!(!rows[1].recordable);
    }

    #[test]
    fn nodes_are_live_while_their_heartbeat_is_recent() {
        let (db, _) = db_with(0);
        db.heartbeat_node("r1", "recorder", "", Time90k(10 * S))
            .unwrap();
        db.heartbeat_node("r2", "recorder", "10.0.0.2:8443", Time90k(20 * S))
            .unwrap();
        db.heartbeat_node("w1", "web", "", Time90k(20 * S)).unwrap();
        let ids = |since: i64| {
            db.live_nodes("recorder", Time90k(since))
                .unwrap()
                .into_iter()
                .map(|n| n.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(5 * S), vec!["r1", "r2"]);
        assert_eq!(ids(10 * S), vec!["r2"]);
        db.heartbeat_node("r1", "recorder", "", Time90k(30 * S))
            .unwrap();
        assert_eq!(ids(10 * S), vec!["r1", "r2"]);
        assert_eq!(
            db.live_nodes("recorder", Time90k(0)).unwrap()[1].address,
            "10.0.0.2:8443"
        );
    }
}
