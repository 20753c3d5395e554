//! What was found about cameras' passwords when they were set, as the
//! compliance lint reads it: a factory default, or the same password as
//! another camera. The `camera.credential_check` column holds JSON
//! `{"set", "factory_default", "fingerprint"}`, never the password.

use std::collections::HashMap;

use serde::Deserialize;
use veil_base::CameraId;
use veil_dpo::model::CredentialCheck;
use veil_store::Db;

use crate::error::ApiError;

/// The stored check of one camera's password.
#[derive(Clone, Debug, Default, Deserialize)]
struct Stored {
    #[serde(default)]
    set: bool,
    #[serde(default)]
    factory_default: bool,
    #[serde(default)]
    fingerprint: String,
}

/// Every camera's check (cameras never checked are absent); `reused`
/// when another camera that is not deleted has the same fingerprint.
pub fn credential_checks(db: &Db) -> Result<HashMap<CameraId, CredentialCheck>, ApiError> {
    let stored: Vec<(CameraId, Stored)> = db
        .camera_dpo()?
        .into_iter()
        .filter_map(|c| Some((c.camera, c.credential_check?)))
        .map(|(id, json)| Ok((id, serde_json::from_str(&json).map_err(ApiError::internal)?)))
        .collect::<Result<_, ApiError>>()?;
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (_, s) in &stored {
        if s.set && !s.fingerprint.is_empty() {
            *count.entry(s.fingerprint.as_str()).or_default() += 1;
        }
    }
    Ok(stored
        .iter()
        .map(|(id, s)| {
            let check = CredentialCheck {
                set: s.set,
                factory_default: s.set && s.factory_default,
                reused: s.set && count.get(s.fingerprint.as_str()).is_some_and(|n| *n > 1),
            };
            (*id, check)
        })
        .collect())
}
