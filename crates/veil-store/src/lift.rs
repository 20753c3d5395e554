//! Liftable masks at the store: the `original` rendition opens only through
//! the lift path (`docs/design/masks.md`, "Lifting a mask: keys and the lift
//! path").
//!
//! An `original` segment's key is wrapped by its bucket key like every
//! segment key, but what the bucket key wraps is not the segment key itself:
//! it is the segment key sealed with `age` to an X25519 recipient, which is
//!
//! - in the server-held mode ([`LiftMode::Server`]), the installation's lift
//!   key: an identity made on first need, stored only sealed under the root
//!   (table `lift_key`, re-sealed by root rotation), with its public half in
//!   the clear so writes never unseal it;
//! - in the escrow mode ([`LiftMode::Escrow`]), the DPO's offline recipient:
//!   the server cannot open originals at all, and a lift brings the identity
//!   for that request only.
//!
//! So the root key alone opens the bucket key and the outer wrapping, never
//! an original's segment key or index; retention's crypto-shredding of the
//! bucket key still destroys originals, and locks and holds re-wrap the
//! sealed material (not the key) under their own key, so a locked original
//! still needs the lift path. Reading an original needs a [`LiftGrant`],
//! which only [`Store::lift`] (given the access-record entry that recorded
//! the lift) and [`Store::lift_grant`] (an unexpired grant of that user)
//! make.

use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age::x25519::{Identity, Recipient};
use veil_base::{CameraId, Time90k, UserId};
use zeroize::Zeroizing;

use crate::crypto::Key;
use crate::db::{LiftGrantRow, LiftKeyRow, SegmentRow};
use crate::{Error, Segment, Store, ORIGINAL_RENDITION};

/// AAD of the lift key's identity sealed under the root.
pub const LIFT_IDENTITY_AAD: &[u8] = b"veil/lift-identity/v1";

/// How long a lift's access-record entry may precede its grant.
const RECORDED_WITHIN_90K: i64 = 60 * veil_base::TIME_UNITS_PER_SEC;

/// Who can open the `original` rendition (`[masks] lift_key`).
#[derive(Clone, Default)]
pub enum LiftMode {
    /// The installation's lift key, sealed under the root (the default).
    #[default]
    Server,
    /// An offline X25519 recipient (an `age` public key the DPO holds).
    Escrow(Recipient),
}

impl std::fmt::Debug for LiftMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiftMode::Server => f.write_str("Server"),
            LiftMode::Escrow(r) => write!(f, "Escrow({r})"),
        }
    }
}

/// Parses an escrow recipient (`age1…`), with a message that names it.
pub fn parse_recipient(s: &str) -> Result<Recipient, Error> {
    Recipient::from_str(s.trim()).map_err(|_| {
        Error::Invalid(
            "the escrow recipient must be an age X25519 public key (age1… as printed by \
             age-keygen)"
                .into(),
        )
    })
}

/// Parses a lift identity (`AGE-SECRET-KEY-1…`). The error never holds the
/// value.
pub fn parse_identity(s: &str) -> Result<Identity, Error> {
    let s = Zeroizing::new(s.trim().to_owned());
    Identity::from_str(&s).map_err(|_| {
        Error::Lift("the lift identity is not an age X25519 identity (AGE-SECRET-KEY-1…)".into())
    })
}

/// Permission to open the `original` rendition of one camera over one
/// interval until it expires: made only by [`Store::lift`] and
/// [`Store::lift_grant`], from a lift recorded in the access record. In the
/// escrow mode it also carries the request's identity
/// ([`LiftGrant::with_identity`]), dropped with it.
pub struct LiftGrant {
    row: LiftGrantRow,
    identity: Option<Identity>,
}

impl std::fmt::Debug for LiftGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiftGrant")
            .field("row", &self.row)
            .field("identity", &self.identity.as_ref().map(|_| "(given)"))
            .finish()
    }
}

impl LiftGrant {
    /// The grant's row (id, user, camera, interval, expiry, entry).
    pub fn row(&self) -> &LiftGrantRow {
        &self.row
    }

    /// The grant with the identity of this request (escrow mode); never
    /// stored.
    pub fn with_identity(mut self, identity: Identity) -> LiftGrant {
        self.identity = Some(identity);
        self
    }

    /// Whether it opens `row` at `now`: the camera's `original` segment
    /// overlapping the granted interval, before expiry.
    fn admits(&self, row: &SegmentRow, now: Time90k) -> Result<(), Error> {
        let end = row.start_90k.0 + row.duration_90k;
        if row.camera_id != self.row.camera
            || row.rendition != ORIGINAL_RENDITION
            || row.start_90k >= self.row.end
            || end <= self.row.start.0
        {
            return Err(Error::Lift(
                "the lift grant does not cover this recording".into(),
            ));
        }
        if now >= self.row.expires {
            return Err(Error::Lift(
                "the lift grant has expired: lift the masks again".into(),
            ));
        }
        Ok(())
    }
}

impl Store {
    /// Sets who can open the `original` rendition (at start, from `[masks]`).
    pub fn set_lift_mode(&self, mode: LiftMode) {
        *self.lift_mode.write().unwrap_or_else(|p| p.into_inner()) = mode;
    }

    /// Who can open the `original` rendition.
    pub fn lift_mode(&self) -> LiftMode {
        self.lift_mode
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The recipient new `original` segment keys are sealed to: the escrow
    /// recipient, or the lift key's public half (the lift key made on first
    /// need; its identity is sealed under the root and not unsealed here).
    /// Blocks on the database.
    pub(crate) fn original_recipient(&self) -> Result<Recipient, Error> {
        if let LiftMode::Escrow(r) = self.lift_mode() {
            return Ok(r);
        }
        let row = match self.db.lift_key()? {
            Some(row) => row,
            None => {
                let identity = Identity::generate();
                let secret = identity.to_string();
                let version = self.keys.root_version();
                let row = LiftKeyRow {
                    recipient: identity.to_public().to_string(),
                    sealed_identity: self
                        .keys
                        .seal_lift_identity(secret.expose_secret().as_bytes()),
                    key_version: version,
                };
                self.db.insert_lift_key(&row, self.clock.now())?
            }
        };
        Recipient::from_str(&row.recipient)
            .map_err(|_| Error::Corrupt("the stored lift key's recipient does not parse".into()))
    }

    /// The lift key's public half, if the installation has one.
    pub fn lift_recipient(&self) -> Result<Option<String>, Error> {
        Ok(self.db.lift_key()?.map(|r| r.recipient))
    }

    /// Makes a lift grant for `user` on `camera` over `[start, end)`, ending
    /// `lifetime_90k` from now, from the access-record entry `audit_seq`
    /// that recorded the lift (a `mask.lift` entry by that user on
    /// `camera:ID`, less than a minute old, not used for another grant):
    /// [`Error::Lift`] otherwise. Blocks on the database.
    pub fn lift(
        &self,
        user: UserId,
        camera: CameraId,
        start: Time90k,
        end: Time90k,
        audit_seq: i64,
        lifetime_90k: i64,
    ) -> Result<LiftGrant, Error> {
        let now = self.clock.now();
        let row = LiftGrantRow {
            id: 0,
            user,
            camera,
            start,
            end,
            created: now,
            expires: Time90k(now.0.saturating_add(lifetime_90k)),
            audit_seq,
        };
        let _ = self.db.delete_expired_lift_grants(now);
        let row = self
            .db
            .insert_lift_grant(&row, Time90k(now.0 - RECORDED_WITHIN_90K))?
            .ok_or_else(|| {
                Error::Lift("a lift needs its own mask.lift entry in the access record".into())
            })?;
        Ok(LiftGrant {
            row,
            identity: None,
        })
    }

    /// `user`'s unexpired grant on `camera` covering `[start, end)`, if any.
    /// Blocks on the database.
    pub fn lift_grant(
        &self,
        user: UserId,
        camera: CameraId,
        start: Time90k,
        end: Time90k,
    ) -> Result<Option<LiftGrant>, Error> {
        let now = self.clock.now();
        Ok(self
            .db
            .lift_grant_covering(user, camera, start, end, now)?
            .map(|row| LiftGrant {
                row,
                identity: None,
            }))
    }

    /// The readable `original` segments of the grant's camera overlapping
    /// `[start, end)` (inside the grant), their indexes opened through the
    /// lift path. Blocks on the database.
    pub fn original_segments(
        &self,
        grant: &LiftGrant,
        start: Time90k,
        end: Time90k,
    ) -> Result<Vec<Segment>, Error> {
        if start < grant.row.start || end > grant.row.end {
            return Err(Error::Lift(
                "the lift grant does not cover this interval".into(),
            ));
        }
        self.segments_with(
            grant.row.camera,
            ORIGINAL_RENDITION,
            start,
            end,
            Some(grant),
        )
    }

    /// Opens an `original` segment's key through the lift path: the bucket
    /// (or lock) wrapping opened with the root, then the sealed key with the
    /// grant's identity (escrow) or the installation's lift key.
    pub(crate) fn lifted_key(
        &self,
        grant: &LiftGrant,
        row: &SegmentRow,
        material: &[u8],
    ) -> Result<Key, Error> {
        grant.admits(row, self.clock.now())?;
        let mut opened = None;
        if let Some(id) = &grant.identity {
            opened = age::decrypt(id, material).ok().map(Zeroizing::new);
        }
        if opened.is_none() {
            if let Some(k) = self.db.lift_key()? {
                let secret = self.keys.open_lift_identity(&k.sealed_identity)?;
                let text = std::str::from_utf8(&secret)
                    .map_err(|_| Error::Corrupt("the lift key does not parse".into()))?;
                let id = Identity::from_str(text)
                    .map_err(|_| Error::Corrupt("the lift key does not parse".into()))?;
                opened = age::decrypt(&id, material).ok().map(Zeroizing::new);
            }
        }
        let raw = opened.ok_or_else(|| {
            Error::Lift(if grant.identity.is_some() {
                "the lift identity does not open this camera's original recording".into()
            } else {
                "this original recording is escrowed: the lift needs the escrow identity".into()
            })
        })?;
        let arr: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| Error::Corrupt("a sealed original key has the wrong length".into()))?;
        Ok(Key::from_bytes(arr))
    }

    /// Reads and decrypts an `original` segment's media through the lift
    /// path (see [`Store::read_media`]).
    pub async fn read_original_media(
        &self,
        grant: &LiftGrant,
        seg: &Segment,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.read_media_with(seg, Some(grant)).await
    }
}

/// Seals an `original` segment's key to `recipient` (what its bucket key
/// then wraps).
pub(crate) fn seal_original_key(recipient: &Recipient, key: &Key) -> Result<Vec<u8>, Error> {
    age::encrypt(recipient, key.as_bytes())
        .map_err(|e| Error::Invalid(format!("cannot seal an original segment key: {e}")))
}

/// Whether `material` (what a segment's bucket or lock wrapping holds) is
/// a plain 32-byte segment key.
pub(crate) fn is_plain_key(material: &[u8]) -> bool {
    material.len() == 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipient_and_an_identity_parse_and_errors_hold_no_secret() {
        let id = Identity::generate();
        let secret = id.to_string();
        assert!(parse_recipient(&id.to_public().to_string()).is_ok());
        assert!(parse_recipient("age1nope").is_err());
        assert!(parse_identity(secret.expose_secret()).is_ok());
        let bad = format!("{}x", secret.expose_secret());
        let e = match parse_identity(&bad) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a bad identity parsed"),
        };
        assert!(!e.contains(&bad[20..]), "{e}");
        let k = Key::generate();
        let sealed = seal_original_key(&id.to_public(), &k).unwrap();
        assert!(!is_plain_key(&sealed));
        assert_eq!(age::decrypt(&id, &sealed).unwrap(), k.as_bytes());
    }
}
