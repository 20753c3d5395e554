//! Roles, the usage policy and its acknowledgements, and four-eyes approvals.

use crate::db::sql::{params, OptionalExtension};
use veil_base::{Time90k, UserId};

use super::Db;
use crate::Error;

/// A role as stored: its definition is opaque JSON to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRow {
    /// Its id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// The definition (JSON).
    pub definition: String,
}

/// A published usage policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRow {
    /// Version, from 1.
    pub version: i64,
    /// The text.
    pub text: String,
    /// When.
    pub published_90k: Time90k,
    /// Who (pseudonym).
    pub published_by: String,
}

/// A four-eyes request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRow {
    /// Its id.
    pub id: i64,
    /// Who asked.
    pub requester_id: UserId,
    /// The permission id it is for.
    pub permission: String,
    /// On what (e.g. `camera:3`).
    pub resource: String,
    /// Why.
    pub justification: String,
    /// `pending`, `approved`, `rejected` or `used`.
    pub state: String,
    /// When it was asked.
    pub created_90k: Time90k,
    /// When it lapses if not decided or not used.
    pub expires_90k: Time90k,
    /// Who decided.
    pub decided_by: Option<UserId>,
    /// The decider's note.
    pub note: String,
}

fn role_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<RoleRow> {
    Ok(RoleRow {
        id: r.get(0)?,
        name: r.get(1)?,
        definition: r.get(2)?,
    })
}

const APPROVAL_COLUMNS: &str = "id, requester_id, permission, resource, justification, state, \
     created_90k, expires_90k, decided_by, note";

fn approval_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<ApprovalRow> {
    Ok(ApprovalRow {
        id: r.get(0)?,
        requester_id: UserId(r.get(1)?),
        permission: r.get(2)?,
        resource: r.get(3)?,
        justification: r.get(4)?,
        state: r.get(5)?,
        created_90k: Time90k(r.get(6)?),
        expires_90k: Time90k(r.get(7)?),
        decided_by: r.get::<_, Option<i64>>(8)?.map(UserId),
        note: r.get(9)?,
    })
}

/// The advisory lock (PostgreSQL) under which the role templates are
/// created ("veil" "rol" in ASCII).
const ROLES_LOCK: i64 = 0x7665_696c_0072_6f6c;

impl Db {
    /// Creates `templates` (name, definition) if no role exists yet (first
    /// setup), then gives users from before roles existed the roles named in
    /// their old `role` column.
    pub fn ensure_roles(&self, templates: &[(String, String)], now: Time90k) -> Result<(), Error> {
        self.with(|c| {
            // Immediate: it reads, then writes, possibly beside a running
            // server (the account commands); a deferred transaction would
            // fail at once with "database is locked" when the server wrote
            // in between, instead of waiting its turn.
            let tx = c.transaction_with_behavior(crate::db::sql::TransactionBehavior::Immediate)?;
            // PostgreSQL: nodes starting together create the templates once.
            tx.lock(ROLES_LOCK)?;
            let n: i64 = tx.query_row("SELECT COUNT(*) FROM role", [], |r| r.get(0))?;
            if n == 0 {
                for (name, def) in templates {
                    tx.execute(
                        "INSERT INTO role (name, definition, created_90k, updated_90k)
                         VALUES (?1, ?2, ?3, ?3)",
                        params![name, def, now.0],
                    )?;
                }
            }
            // The old column lists names separated by commas; matched here
            // rather than in SQL (no portable `instr`).
            let legacy = tx
                .prepare("SELECT id, role FROM app_user WHERE role != ''")?
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
                .collect::<crate::db::sql::Result<Vec<_>>>()?;
            let roles = tx
                .prepare("SELECT id, name FROM role")?
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
                .collect::<crate::db::sql::Result<Vec<_>>>()?;
            for (user, names) in &legacy {
                let names = names.replace(' ', "");
                for (role, name) in &roles {
                    if names.split(',').any(|n| n == name) {
                        tx.execute(
                            "INSERT INTO user_role (user_id, role_id) VALUES (?1, ?2)
                             ON CONFLICT DO NOTHING",
                            params![user, role],
                        )?;
                    }
                }
            }
            tx.execute("UPDATE app_user SET role = '' WHERE role != ''", [])?;
            tx.commit()
        })
    }

    /// Every role, by name.
    pub fn roles(&self) -> Result<Vec<RoleRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare("SELECT id, name, definition FROM role ORDER BY name")?;
            let rows = st.query_map([], role_row)?;
            rows.collect()
        })
    }

    /// The roles a user holds.
    pub fn user_roles(&self, user: UserId) -> Result<Vec<RoleRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT r.id, r.name, r.definition FROM role r
                 JOIN user_role ur ON ur.role_id = r.id WHERE ur.user_id = ?1 ORDER BY r.name",
            )?;
            let rows = st.query_map([user.0], role_row)?;
            rows.collect()
        })
    }

    /// Creates a role, or replaces the definition of the one with this name.
    /// Returns true if it was created.
    pub fn upsert_role(&self, name: &str, definition: &str, now: Time90k) -> Result<bool, Error> {
        self.with(|c| {
            let changed = c.execute(
                "UPDATE role SET definition = ?2, updated_90k = ?3 WHERE name = ?1",
                params![name, definition, now.0],
            )?;
            if changed == 0 {
                c.execute(
                    "INSERT INTO role (name, definition, created_90k, updated_90k)
                     VALUES (?1, ?2, ?3, ?3)",
                    params![name, definition, now.0],
                )?;
            }
            Ok(changed == 0)
        })
    }

    /// Deletes a role (its holders lose it). Returns false if none had the name.
    pub fn delete_role(&self, name: &str) -> Result<bool, Error> {
        self.with(|c| Ok(c.execute("DELETE FROM role WHERE name = ?1", [name])? > 0))
    }

    // --- usage policy ---

    /// Publishes a new version of the usage policy; returns its number.
    pub fn publish_policy(&self, text: &str, by: &str, now: Time90k) -> Result<i64, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO usage_policy (version, text, published_90k, published_by)
                 SELECT COALESCE(MAX(version), 0) + 1, ?1, ?2, ?3 FROM usage_policy",
                params![text, now.0, by],
            )?;
            c.query_row("SELECT MAX(version) FROM usage_policy", [], |r| r.get(0))
        })
    }

    /// The current usage policy, if one is published.
    pub fn current_policy(&self) -> Result<Option<PolicyRow>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT version, text, published_90k, published_by FROM usage_policy
                 ORDER BY version DESC LIMIT 1",
                [],
                |r| {
                    Ok(PolicyRow {
                        version: r.get(0)?,
                        text: r.get(1)?,
                        published_90k: Time90k(r.get(2)?),
                        published_by: r.get(3)?,
                    })
                },
            )
            .optional()
        })
    }

    /// The current policy's version (0 when none is published).
    pub fn current_policy_version(&self) -> Result<i64, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT COALESCE(MAX(version), 0) FROM usage_policy",
                [],
                |r| r.get(0),
            )
        })
    }

    /// Records that `user` acknowledged policy `version`.
    pub fn acknowledge_policy(&self, user: UserId, version: i64) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE app_user SET policy_ack_version = ?2 WHERE id = ?1",
                params![user.0, version],
            )
            .map(|_| ())
        })
    }

    // --- four-eyes approvals ---

    /// Stores a pending request; returns its id.
    pub fn insert_approval(&self, a: &ApprovalRow) -> Result<i64, Error> {
        self.with(|c| {
            let rowid: i64 = c.query_row(
                "INSERT INTO approval (requester_id, permission, resource, justification, state,
                     created_90k, expires_90k) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6)
                 RETURNING id",
                params![
                    a.requester_id.0,
                    a.permission,
                    a.resource,
                    a.justification,
                    a.created_90k.0,
                    a.expires_90k.0
                ],
                |r| r.get(0),
            )?;
            Ok(rowid)
        })
    }

    /// One request.
    pub fn approval(&self, id: i64) -> Result<Option<ApprovalRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {APPROVAL_COLUMNS} FROM approval WHERE id = ?1"),
                [id],
                approval_row,
            )
            .optional()
        })
    }

    /// Requests, newest first: all, or only those in `state`.
    pub fn approvals(&self, state: Option<&str>) -> Result<Vec<ApprovalRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {APPROVAL_COLUMNS} FROM approval WHERE CAST(?1 AS TEXT) IS NULL OR state = ?1
                 ORDER BY id DESC LIMIT 1000"
            ))?;
            let rows = st.query_map([state], approval_row)?;
            rows.collect()
        })
    }

    /// Moves a request from `from` to `to` (a decision, or use); false if it
    /// was not in `from` any more (someone else acted first).
    pub fn transition_approval(
        &self,
        id: i64,
        from: &str,
        to: &str,
        by: Option<UserId>,
        note: &str,
        now: Time90k,
    ) -> Result<bool, Error> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE approval SET state = ?3,
                     decided_by = COALESCE(?4, decided_by),
                     decided_90k = CASE WHEN ?4 IS NULL THEN decided_90k ELSE ?6 END,
                     note = CASE WHEN ?5 = '' THEN note ELSE ?5 END
                 WHERE id = ?1 AND state = ?2",
                params![id, from, to, by.map(|u| u.0), note, now.0],
            )?;
            Ok(n == 1)
        })
    }
}
