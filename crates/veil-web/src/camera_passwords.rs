//! What was found about each camera's password when it was set (D9): a
//! factory default, and a fingerprint to see the same password on two
//! cameras. Stored on the camera as JSON `{"set", "factory_default",
//! "fingerprint"}` (`Db::set_camera_credential_check`); the password itself
//! is only ever stored sealed, with the camera's credentials.
//!
//! Called wherever a password is set: API cameras on create and update
//! (`cameras`), configuration cameras at start (`veil serve`). The
//! compliance lint reads [`credential_checks`].

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use veil_access::camera_password;
use veil_base::CameraId;
use veil_dpo::model::CredentialCheck;
use veil_store::Db;

/// The `setting` holding the installation's fingerprint salt (hex), made
/// on first use.
pub const SALT_SETTING: &str = "camera_password_salt";

/// Serialises the first use, so two cameras set at once never make two
/// salts (one process per database).
static SALT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// What is stored on the camera.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheck {
    /// It has credentials.
    pub set: bool,
    /// The password is a known factory default.
    pub factory_default: bool,
    /// Hex argon2id of the password under the installation's salt ("" when
    /// not set).
    pub fingerprint: String,
}

/// The installation's salt, made and stored on first use. Blocking.
pub fn salt(db: &Db) -> Result<Vec<u8>, veil_store::Error> {
    let _one = SALT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(hex) = db.setting(SALT_SETTING)? {
        if let Ok(s) = hex::decode(hex.trim()) {
            if s.len() >= 16 {
                return Ok(s);
            }
        }
        tracing::warn!("unreadable camera password salt; making a new one");
    }
    let s = camera_password::new_salt().to_vec();
    db.set_setting(SALT_SETTING, &hex::encode(&s))?;
    Ok(s)
}

/// The check of `credentials` (user name and password; `None`: none set).
pub fn check(db: &Db, credentials: Option<(&str, &str)>) -> Result<StoredCheck, veil_store::Error> {
    Ok(match credentials {
        None => StoredCheck::default(),
        Some((user, password)) => StoredCheck {
            set: true,
            factory_default: camera_password::factory_default(user, password),
            fingerprint: hex::encode(camera_password::fingerprint(password, &salt(db)?)),
        },
    })
}

/// Checks `credentials` and stores the result on `camera`. Blocking (one
/// argon2id computation).
pub fn record(
    db: &Db,
    camera: CameraId,
    credentials: Option<(&str, &str)>,
) -> Result<(), veil_store::Error> {
    let c = check(db, credentials)?;
    let json = serde_json::to_string(&c).expect("a check serialises");
    db.set_camera_credential_check(camera, Some(&json))
}

/// Every camera's (not deleted) password check for the lint: set, factory
/// default, and reused (another camera that is not deleted has the same
/// fingerprint). A camera whose password was never checked counts as not
/// set. Blocking.
pub fn credential_checks(db: &Db) -> Result<HashMap<CameraId, CredentialCheck>, veil_store::Error> {
    let stored: Vec<(CameraId, StoredCheck)> = db
        .camera_dpo()?
        .into_iter()
        .map(|c| {
            let check = c
                .credential_check
                .as_deref()
                .and_then(|j| serde_json::from_str::<StoredCheck>(j).ok())
                .unwrap_or_default();
            (c.camera, check)
        })
        .collect();
    let mut seen: HashMap<&str, u32> = HashMap::new();
    for (_, c) in &stored {
        if c.set && !c.fingerprint.is_empty() {
            *seen.entry(c.fingerprint.as_str()).or_default() += 1;
        }
    }
    Ok(stored
        .iter()
        .map(|(id, c)| {
            let reused = c.set && seen.get(c.fingerprint.as_str()).is_some_and(|n| *n > 1);
            (
                *id,
                CredentialCheck {
                    set: c.set,
                    factory_default: c.set && c.factory_default,
                    reused,
                },
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use veil_base::Time90k;

    fn db_with(n: usize) -> (Db, Vec<CameraId>) {
        let db = Db::open_in_memory().unwrap();
        let ids = (0..n)
            .map(|i| {
                db.upsert_camera(&format!("c{i}"), "synthetic", "{}", Time90k(1))
                    .unwrap()
            })
            .collect();
        (db, ids)
    }

    #[test]
    fn defaults_are_flagged_and_the_same_password_twice_is_reused() {
        let (db, c) = db_with(5);
        record(&db, c[0], Some(("admin", "admin"))).unwrap();
        record(&db, c[1], Some(("viewer", "Tv7!pQ2#wZ9x-door"))).unwrap();
        record(&db, c[2], Some(("viewer2", "Tv7!pQ2#wZ9x-door"))).unwrap();
        record(&db, c[3], Some(("viewer", "another strong 1 pass"))).unwrap();
        record(&db, c[4], None).unwrap();
        let got = credential_checks(&db).unwrap();
        let of = |i: usize| got[&c[i]].clone();
        let check = |set, factory_default, reused| CredentialCheck {
            set,
            factory_default,
            reused,
        };
        assert_eq!(of(0), check(true, true, false));
        assert_eq!(of(1), check(true, false, true));
        assert_eq!(of(2), check(true, false, true));
        assert_eq!(of(3), check(true, false, false));
        assert_eq!(of(4), check(false, false, false));
        // Changing one camera's password ends the reuse for both.
        record(&db, c[2], Some(("viewer2", "a third strong pass 9"))).unwrap();
        let got = credential_checks(&db).unwrap();
        assert!(!got[&c[1]].reused && !got[&c[2]].reused);
    }

    #[test]
    fn the_salt_is_made_once_and_the_fingerprint_changes_with_it() {
        let (db, c) = db_with(1);
        let s = salt(&db).unwrap();
        assert_eq!(salt(&db).unwrap(), s);
        let a = check(&db, Some(("u", "Tv7!pQ2#wZ9x-door"))).unwrap();
        db.set_setting(SALT_SETTING, &hex::encode([7u8; 16]))
            .unwrap();
        let b = check(&db, Some(("u", "Tv7!pQ2#wZ9x-door"))).unwrap();
        assert_ne!(a.fingerprint, b.fingerprint);
        assert_eq!(a.fingerprint.len(), 64);
        record(&db, c[0], Some(("u", "Tv7!pQ2#wZ9x-door"))).unwrap();
        let stored = db.camera_dpo().unwrap()[0]
            .credential_check
            .clone()
            .unwrap();
        assert!(!stored.contains("Tv7!"), "{stored}");
    }
}
