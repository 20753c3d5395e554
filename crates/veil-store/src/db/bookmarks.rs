//! Bookmarks (V5): moments or intervals of a camera with a note, kept until
//! they expire.

use crate::db::sql::{params, OptionalExtension};
use veil_base::{CameraId, Time90k, UserId};

use super::Db;
use crate::Error;

/// A bookmark (V5): a moment (`end_90k` `None`) or an interval of one
/// camera with a note, kept until `expires_90k`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookmarkRow {
    /// Its id.
    pub id: i64,
    /// The camera.
    pub camera_id: CameraId,
    /// The moment, or the interval's start.
    pub start_90k: Time90k,
    /// The interval's end (exclusive); `None` for a moment.
    pub end_90k: Option<Time90k>,
    /// The note.
    pub note: String,
    /// Who made it (`None` once the account is gone).
    pub author_id: Option<UserId>,
    /// The author's current name (`None` once erased).
    pub author_name: Option<String>,
    /// When it was made.
    pub created_90k: Time90k,
    /// When retention deletes it.
    pub expires_90k: Time90k,
}

/// Which bookmarks to read ([`Db::bookmarks`]); `None` matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BookmarkFilter {
    /// Only this camera.
    pub camera: Option<CameraId>,
    /// Only bookmarks whose moment or interval reaches this time or later.
    pub from: Option<Time90k>,
    /// Only bookmarks that start before this time.
    pub to: Option<Time90k>,
    /// Only notes containing this text (case folded by the database).
    pub text: Option<String>,
    /// Paging cursor: only bookmarks ordered after this `(start, id)`.
    pub before: Option<(Time90k, i64)>,
}

const BOOKMARK_COLUMNS: &str = "b.id, b.camera_id, b.start_90k, b.end_90k, b.note, b.author_id, \
     u.name, b.created_90k, b.expires_90k";

fn bookmark_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<BookmarkRow> {
    Ok(BookmarkRow {
        id: r.get(0)?,
        camera_id: CameraId(r.get(1)?),
        start_90k: Time90k(r.get(2)?),
        end_90k: r.get::<_, Option<i64>>(3)?.map(Time90k),
        note: r.get(4)?,
        author_id: r.get::<_, Option<i64>>(5)?.map(UserId),
        author_name: r.get(6)?,
        created_90k: Time90k(r.get(7)?),
        expires_90k: Time90k(r.get(8)?),
    })
}

/// `text` as a `LIKE` pattern matching it anywhere, with `\` escaping the
/// pattern characters it contains.
fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Db {
    /// Stores a new bookmark (its `id` and `author_name` are ignored);
    /// returns its id.
    pub fn insert_bookmark(&self, b: &BookmarkRow) -> Result<i64, Error> {
        self.with(|c| {
            let rowid: i64 = c.query_row(
                "INSERT INTO bookmark
                   (camera_id, start_90k, end_90k, note, author_id, created_90k, expires_90k)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 RETURNING id",
                params![
                    b.camera_id.0,
                    b.start_90k.0,
                    b.end_90k.map(|t| t.0),
                    b.note,
                    b.author_id.map(|u| u.0),
                    b.created_90k.0,
                    b.expires_90k.0
                ],
                |r| r.get(0),
            )?;
            Ok(rowid)
        })
    }

    /// One bookmark.
    pub fn bookmark(&self, id: i64) -> Result<Option<BookmarkRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {BOOKMARK_COLUMNS} FROM bookmark b
                     LEFT JOIN app_user u ON u.id = b.author_id WHERE b.id = ?1"
                ),
                [id],
                bookmark_row,
            )
            .optional()
        })
    }

    /// Bookmarks matching `f`, newest (latest start) first, at most `limit`.
    pub fn bookmarks(&self, f: &BookmarkFilter, limit: i64) -> Result<Vec<BookmarkRow>, Error> {
        let (before_start, before_id) = f.before.map_or((i64::MAX, i64::MAX), |(t, id)| (t.0, id));
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {BOOKMARK_COLUMNS} FROM bookmark b
                 LEFT JOIN app_user u ON u.id = b.author_id
                 WHERE (CAST(?1 AS BIGINT) IS NULL OR b.camera_id = ?1)
                   AND COALESCE(b.end_90k, b.start_90k) >= ?2
                   AND b.start_90k < ?3
                   AND (CAST(?4 AS TEXT) IS NULL OR LOWER(b.note) LIKE LOWER(?4) ESCAPE '\\')
                   AND (b.start_90k < ?5 OR (b.start_90k = ?5 AND b.id < ?6))
                 ORDER BY b.start_90k DESC, b.id DESC LIMIT ?7"
            ))?;
            let rows = st.query_map(
                params![
                    f.camera.map(|c| c.0),
                    f.from.map_or(i64::MIN, |t| t.0),
                    f.to.map_or(i64::MAX, |t| t.0),
                    f.text.as_deref().map(contains_pattern),
                    before_start,
                    before_id,
                    limit
                ],
                bookmark_row,
            )?;
            rows.collect()
        })
    }

    /// Replaces a bookmark's note. False if there is no such bookmark.
    pub fn update_bookmark_note(&self, id: i64, note: &str) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE bookmark SET note = ?2 WHERE id = ?1",
                params![id, note],
            )
            .map(|n| n == 1)
        })
    }

    /// Deletes a bookmark. False if there is no such bookmark.
    pub fn delete_bookmark(&self, id: i64) -> Result<bool, Error> {
        self.with(|c| {
            c.execute("DELETE FROM bookmark WHERE id = ?1", [id])
                .map(|n| n == 1)
        })
    }

    /// Gives every bookmark the expiry `created + retention_90k` (a changed
    /// retention period applies to the bookmarks kept so far too).
    pub fn set_bookmark_retention(&self, retention_90k: i64) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE bookmark SET expires_90k = created_90k + ?1",
                [retention_90k],
            )
            .map(|_| ())
        })
    }

    /// How many bookmarks expire at or before `now`.
    pub fn expired_bookmark_count(&self, now: Time90k) -> Result<u64, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM bookmark WHERE expires_90k <= ?1",
                [now.0],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
        })
    }

    /// Deletes the bookmarks that expire at or before `now`; returns how many.
    pub fn delete_expired_bookmarks(&self, now: Time90k) -> Result<u64, Error> {
        self.with(|c| {
            c.execute("DELETE FROM bookmark WHERE expires_90k <= ?1", [now.0])
                .map(|n| n as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookmarks_filter_page_and_expire() {
        let db = Db::open_for_tests().unwrap();
        let a = db
            .upsert_camera("A", "synthetic", "{}", Time90k(0))
            .unwrap();
        let b = db
            .upsert_camera("B", "synthetic", "{}", Time90k(0))
            .unwrap();
        let eve = db
            .insert_user("u-1", "eve.example", "$argon2id$x", "", Time90k(0))
            .unwrap();
        let mut ids = Vec::new();
        for (cam, start, end, note, expires) in [
            (a, 100, None, "Red van at the gate", 1000),
            (a, 200, Some(400), "100% sure: a_b", 2000),
            (b, 300, None, "red bicycle", 3000),
        ] {
            ids.push(
                db.insert_bookmark(&BookmarkRow {
                    id: 0,
                    camera_id: cam,
                    start_90k: Time90k(start),
                    end_90k: end.map(Time90k),
                    note: note.into(),
                    author_id: Some(eve),
                    author_name: None,
                    created_90k: Time90k(50),
                    expires_90k: Time90k(expires),
                })
                .unwrap(),
            );
        }
        let found = |f: BookmarkFilter, limit| -> Vec<i64> {
            db.bookmarks(&f, limit)
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(
            found(BookmarkFilter::default(), 10),
            [ids[2], ids[1], ids[0]]
        );
        let one = db.bookmark(ids[1]).unwrap().unwrap();
        assert_eq!(one.author_name.as_deref(), Some("eve.example"));
        assert_eq!(one.end_90k, Some(Time90k(400)));
        let by = |camera, from: Option<i64>, to: Option<i64>, text: Option<&str>| BookmarkFilter {
            camera,
            from: from.map(Time90k),
            to: to.map(Time90k),
            text: text.map(str::to_owned),
            before: None,
        };
        assert_eq!(found(by(Some(a), None, None, None), 10), [ids[1], ids[0]]);
        assert_eq!(
            found(by(None, None, None, Some("RED")), 10),
            [ids[2], ids[0]]
        );
        // Pattern characters are literal text.
        assert_eq!(found(by(None, None, None, Some("100%")), 10), [ids[1]]);
        assert_eq!(found(by(None, None, None, Some("a_b")), 10), [ids[1]]);
        assert_eq!(found(by(None, None, None, Some("%")), 10), [ids[1]]);
        // An interval counts where it overlaps; a moment where it lies.
        assert_eq!(found(by(None, Some(350), Some(1000), None), 10), [ids[1]]);
        assert_eq!(found(by(None, Some(100), Some(101), None), 10), [ids[0]]);
        assert!(found(by(None, Some(401), Some(1000), None), 10).is_empty());
        // Paging: the next page starts after the cursor.
        let first = db.bookmarks(&BookmarkFilter::default(), 2).unwrap();
        let next = BookmarkFilter {
            before: Some((first[1].start_90k, first[1].id)),
            ..Default::default()
        };
        assert_eq!(found(next, 2), [ids[0]]);

        assert!(db.update_bookmark_note(ids[0], "white van").unwrap());
        assert!(!db.update_bookmark_note(999, "x").unwrap());
        assert_eq!(db.bookmark(ids[0]).unwrap().unwrap().note, "white van");

        assert_eq!(db.expired_bookmark_count(Time90k(999)).unwrap(), 0);
        assert_eq!(db.expired_bookmark_count(Time90k(2000)).unwrap(), 2);
        assert_eq!(db.delete_expired_bookmarks(Time90k(2000)).unwrap(), 2);
        assert_eq!(found(BookmarkFilter::default(), 10), [ids[2]]);
        // A new retention period applies to the bookmarks kept.
        db.set_bookmark_retention(10).unwrap();
        assert_eq!(
            db.bookmark(ids[2]).unwrap().unwrap().expires_90k,
            Time90k(60)
        );
        assert!(db.delete_bookmark(ids[2]).unwrap());
        assert!(!db.delete_bookmark(ids[2]).unwrap());
    }
}
