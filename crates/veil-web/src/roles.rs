//! Glue between stored roles (opaque JSON to the store) and the policy
//! engine: role templates at setup, and the [`Subject`] of a user.

use veil_access::{Role, Subject};
use veil_base::Time90k;
use veil_store::db::{RoleRow, UserRow};
use veil_store::Db;

/// Creates the role templates on first setup and moves users' old role
/// names into role assignments.
pub fn setup_roles(db: &Db, now: Time90k) -> Result<(), veil_store::Error> {
    let templates: Vec<(String, String)> = veil_access::role::templates()
        .into_iter()
        .map(|r| {
            let json = serde_json::to_string(&r).expect("roles serialise");
            (r.name, json)
        })
        .collect();
    db.ensure_roles(&templates, now)
}

/// A stored role as the policy engine sees it. A definition that does not
/// parse grants nothing (default deny) and is logged.
pub fn parse_role(row: &RoleRow) -> Option<Role> {
    match serde_json::from_str::<Role>(&row.definition) {
        Ok(mut r) => {
            r.name = row.name.clone();
            Some(r)
        }
        Err(e) => {
            tracing::error!(role = %row.name, error = %e, "unreadable role definition; it grants nothing");
            None
        }
    }
}

/// Everything [`veil_access::decide`] needs to know about `user`.
pub fn subject_for(db: &Db, user: &UserRow) -> Result<Subject, veil_store::Error> {
    let roles: Vec<Role> = db
        .user_roles(user.id)?
        .iter()
        .filter_map(parse_role)
        .collect();
    let current = db.current_policy_version()?;
    let second = db.second_factor(user.id)?;
    let needs_second = roles.iter().any(|r| r.require_second_factor);
    Ok(Subject {
        user: user.id,
        pseudonym: user.pseudonym.clone(),
        roles,
        disabled: user.disabled,
        policy_acknowledged: current == 0 || user.policy_ack_version >= current,
        training_valid_until: user.training_valid_until,
        must_change_password: user.must_change_password,
        second_factor_missing: needs_second && second.totp_sealed.is_none() && !second.exempt,
    })
}
