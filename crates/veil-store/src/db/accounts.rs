//! Accounts: users, sessions, API tokens, second factors and erasure of an
//! account's name.

use crate::db::sql::{params, Connection, OptionalExtension};
use veil_base::{Time90k, UserId};

use super::Db;
use crate::Error;

/// A user row.
#[derive(Clone, Debug)]
pub struct UserRow {
    /// Internal id.
    pub id: UserId,
    /// Stable random id used in the access record and logs.
    pub pseudonym: String,
    /// Login name (`None` once erased).
    pub name: Option<String>,
    /// PHC-format argon2id hash.
    pub password_hash: String,
    /// Disabled accounts cannot log in.
    pub disabled: bool,
    /// The password was set by someone else and must be changed at login.
    pub must_change_password: bool,
    /// End of the user's video-surveillance training, if recorded.
    pub training_valid_until: Option<Time90k>,
    /// The usage-policy version the user acknowledged (0: none).
    pub policy_ack_version: i64,
    /// The language the user chose for the web client (`None`: the
    /// browser's).
    pub language: Option<String>,
    /// The processor a maintenance account belongs to.
    pub processor: Option<i64>,
    /// When a time-limited account stops working (`None`: never).
    pub expires: Option<Time90k>,
}

impl UserRow {
    /// Whether the account's time limit has passed at `now`: it can no
    /// longer sign in and its sessions and tokens stop.
    pub fn expired(&self, now: Time90k) -> bool {
        self.expires.is_some_and(|e| now >= e)
    }
}

/// A user's second-factor state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecondFactorRow {
    /// The active TOTP seed, sealed under the root key.
    pub totp_sealed: Option<Vec<u8>>,
    /// A seed being enrolled (confirmed with a first code), sealed.
    pub totp_pending_sealed: Option<Vec<u8>>,
    /// The last TOTP time step accepted (replays are refused).
    pub totp_last_step: Option<i64>,
    /// Hashes of the unused recovery codes (JSON array).
    pub recovery_hashes: String,
    /// The account `veil demo` creates may skip the second factor.
    pub exempt: bool,
}

/// An API token as stored (its hash only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    /// Its id.
    pub id: i64,
    /// Whose.
    pub user_id: UserId,
    /// What it is for.
    pub name: String,
    /// Roles it carries (comma-separated; a subset of the user's).
    pub roles: String,
    /// Created.
    pub created_90k: Time90k,
    /// Expires.
    pub expires_90k: Time90k,
    /// Revoked tokens never authenticate.
    pub revoked: bool,
}

/// A session as listed to its user (never the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The first 16 hex digits of the token's hash: an id safe to show.
    pub id: String,
    /// When it began.
    pub created_90k: Time90k,
    /// Its last request.
    pub last_seen_90k: Time90k,
    /// Its absolute expiry.
    pub expires_90k: Time90k,
}

/// A session row.
#[derive(Clone, Debug)]
pub struct SessionRow {
    /// The user.
    pub user_id: UserId,
    /// The CSRF token bound to this session.
    pub csrf_token: String,
    /// Absolute expiry.
    pub expires_90k: Time90k,
    /// Last request seen (for idle expiry).
    pub last_seen_90k: Time90k,
}

const USER_COLUMNS: &str = "id, pseudonym, name, password_hash, disabled, must_change_password, \
     training_valid_until_90k, policy_ack_version, language, processor_id, expires_90k";

fn user_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<UserRow> {
    Ok(UserRow {
        id: UserId(r.get(0)?),
        pseudonym: r.get(1)?,
        name: r.get(2)?,
        password_hash: r.get(3)?,
        disabled: r.get::<_, i64>(4)? != 0,
        must_change_password: r.get::<_, i64>(5)? != 0,
        training_valid_until: r.get::<_, Option<i64>>(6)?.map(Time90k),
        policy_ack_version: r.get(7)?,
        language: r.get(8)?,
        processor: r.get(9)?,
        expires: r.get::<_, Option<i64>>(10)?.map(Time90k),
    })
}

/// Gives `user` the roles named in `roles` (comma-separated).
fn set_user_roles(
    c: &Connection,
    user: i64,
    roles: &str,
) -> crate::db::sql::Result<Result<(), Error>> {
    for name in roles.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let id: Option<i64> = c
            .query_row("SELECT id FROM role WHERE name = ?1", [name], |r| r.get(0))
            .optional()?;
        let Some(id) = id else {
            return Ok(Err(Error::Invalid(format!("no role is named {name:?}"))));
        };
        c.execute(
            "INSERT INTO user_role (user_id, role_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![user, id],
        )?;
    }
    Ok(Ok(()))
}

const TOKEN_COLUMNS: &str = "id, user_id, name, roles, created_90k, expires_90k, revoked";

fn token_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        user_id: UserId(r.get(1)?),
        name: r.get(2)?,
        roles: r.get(3)?,
        created_90k: Time90k(r.get(4)?),
        expires_90k: Time90k(r.get(5)?),
        revoked: r.get::<_, i64>(6)? != 0,
    })
}

/// Erases one account in `tx`: the name becomes NULL, the account is
/// disabled, its password hash is replaced by `unusable_hash` and its
/// sessions are deleted (erasure on request and anonymisation by retention).
pub(super) fn erase_account(
    tx: &crate::db::sql::Transaction<'_>,
    id: i64,
    unusable_hash: &str,
) -> crate::db::sql::Result<()> {
    tx.execute(
        "UPDATE app_user SET name = NULL, disabled = 1, password_hash = ?2 WHERE id = ?1",
        params![id, unusable_hash],
    )?;
    tx.execute("DELETE FROM user_session WHERE user_id = ?1", [id])?;
    Ok(())
}

impl Db {
    /// Number of user accounts.
    pub fn user_count(&self) -> Result<i64, Error> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM app_user", [], |r| r.get(0)))
    }

    /// Creates a user holding the roles named in `roles` (comma-separated;
    /// every name must exist).
    pub fn insert_user(
        &self,
        pseudonym: &str,
        name: &str,
        password_hash: &str,
        roles: &str,
        now: Time90k,
    ) -> Result<UserId, Error> {
        self.with(|c| {
            // Immediate: the account commands run it beside a server.
            let tx = c.transaction_with_behavior(crate::db::sql::TransactionBehavior::Immediate)?;
            let rowid: i64 = tx.query_row(
                "INSERT INTO app_user (pseudonym, name, password_hash, role, created_90k)
                 VALUES (?1, ?2, ?3, '', ?4)
                 RETURNING id",
                params![pseudonym, name, password_hash, now.0],
                |r| r.get(0),
            )?;
            let id = rowid;
            if let Err(e) = set_user_roles(&tx, id, roles)? {
                return Ok(Err(e));
            }
            tx.commit()?;
            Ok(Ok(UserId(id)))
        })?
    }

    fn user_where(
        &self,
        clause: &str,
        arg: crate::db::sql::types::Value,
    ) -> Result<Option<UserRow>, Error> {
        let sql = format!("SELECT {USER_COLUMNS} FROM app_user WHERE {clause}");
        self.with(|c| c.query_row(&sql, [arg], user_row).optional())
    }

    /// Every user, by id.
    pub fn users(&self) -> Result<Vec<UserRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare(&format!("SELECT {USER_COLUMNS} FROM app_user ORDER BY id"))?;
            let rows = st.query_map([], user_row)?;
            rows.collect()
        })
    }

    /// The user with this pseudonym.
    pub fn user_by_pseudonym(&self, pseudonym: &str) -> Result<Option<UserRow>, Error> {
        self.user_where("pseudonym = ?1", pseudonym.to_owned().into())
    }

    /// Replaces a user's roles (comma-separated names; every one must exist).
    pub fn set_user_roles(&self, user: UserId, roles: &str) -> Result<(), Error> {
        self.with(|c| {
            // Immediate: the account commands run it beside a server.
            let tx = c.transaction_with_behavior(crate::db::sql::TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM user_role WHERE user_id = ?1", [user.0])?;
            let r = set_user_roles(&tx, user.0, roles)?;
            if r.is_ok() {
                tx.commit()?;
            }
            Ok(r)
        })?
    }

    /// Changes the flags an administrator sets on an account. Disabling
    /// starts the countdown to anonymisation (`disabled_90k`, kept when the
    /// account was already disabled); enabling clears it.
    pub fn update_user(
        &self,
        user: UserId,
        disabled: bool,
        training_valid_until: Option<Time90k>,
        now: Time90k,
    ) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                // The flag twice (?2, ?5): PostgreSQL gives one parameter
                // one type, and the column and the comparison differ.
                "UPDATE app_user SET disabled = ?2, training_valid_until_90k = ?3,
                     disabled_90k = CASE WHEN ?5 = 0 THEN NULL
                         WHEN disabled = 1 AND disabled_90k IS NOT NULL THEN disabled_90k
                         ELSE ?4 END
                 WHERE id = ?1",
                params![
                    user.0,
                    disabled as i64,
                    training_valid_until.map(|t| t.0),
                    now.0,
                    disabled as i64
                ],
            )
            .map(|_| ())
        })
    }

    /// Sets the language a user chose for the web client (`None`: follow
    /// the browser).
    pub fn set_user_language(&self, user: UserId, language: Option<&str>) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE app_user SET language = ?2 WHERE id = ?1",
                params![user.0, language],
            )
            .map(|_| ())
        })
    }

    /// A user's own password change, in one transaction: the new hash, the
    /// end of every other session of the account (all but `keep`, the
    /// session that made the change), and, if `revoke_tokens`, the
    /// revocation of its API tokens. Returns (sessions ended, tokens revoked).
    pub fn change_password(
        &self,
        user: UserId,
        hash: &str,
        keep: &[u8],
        revoke_tokens: bool,
        now: Time90k,
    ) -> Result<(usize, usize), Error> {
        self.with(|c| {
            // Immediate: the account commands run it beside a server.
            let tx = c.transaction_with_behavior(crate::db::sql::TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE app_user SET password_hash = ?2, must_change_password = 0 WHERE id = ?1",
                params![user.0, hash],
            )?;
            let ended = tx.execute(
                "DELETE FROM user_session WHERE user_id = ?1 AND token_hash <> ?2",
                params![user.0, keep],
            )?;
            let revoked = if revoke_tokens {
                tx.execute(
                    "UPDATE api_token SET revoked = 1, revoked_90k = ?2
                     WHERE user_id = ?1 AND revoked = 0",
                    params![user.0, now.0],
                )?
            } else {
                0
            };
            tx.commit()?;
            Ok((ended, revoked))
        })
    }

    /// Marks that the user must change the password at the next login.
    pub fn require_password_change(&self, user: UserId) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE app_user SET must_change_password = 1 WHERE id = ?1",
                [user.0],
            )
            .map(|_| ())
        })
    }

    /// The user with this login name.
    pub fn user_by_name(&self, name: &str) -> Result<Option<UserRow>, Error> {
        self.user_where("name = ?1", name.to_owned().into())
    }

    /// The user with this id.
    pub fn user(&self, id: UserId) -> Result<Option<UserRow>, Error> {
        self.user_where("id = ?1", id.0.into())
    }

    /// The oldest account (the one `veil demo` created).
    pub fn first_user(&self) -> Result<Option<UserRow>, Error> {
        self.user_where(
            "id = (SELECT MIN(id) FROM app_user) AND 1 = ?1",
            1i64.into(),
        )
    }

    /// Stores a session (by the hash of its token only).
    pub fn insert_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        csrf_token: &str,
        now: Time90k,
        expires: Time90k,
    ) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO user_session (token_hash, user_id, csrf_token, created_90k,
                     last_seen_90k, expires_90k) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                params![token_hash, user.0, csrf_token, now.0, expires.0],
            )
            .map(|_| ())
        })
    }

    /// The session with this token hash.
    pub fn session(&self, token_hash: &[u8]) -> Result<Option<SessionRow>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT user_id, csrf_token, expires_90k, last_seen_90k
                 FROM user_session WHERE token_hash = ?1",
                [token_hash],
                |r| {
                    Ok(SessionRow {
                        user_id: UserId(r.get(0)?),
                        csrf_token: r.get(1)?,
                        expires_90k: Time90k(r.get(2)?),
                        last_seen_90k: Time90k(r.get(3)?),
                    })
                },
            )
            .optional()
        })
    }

    /// Records activity on a session.
    pub fn touch_session(&self, token_hash: &[u8], now: Time90k) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE user_session SET last_seen_90k = ?2 WHERE token_hash = ?1",
                params![token_hash, now.0],
            )
            .map(|_| ())
        })
    }

    /// Ends a session.
    pub fn delete_session(&self, token_hash: &[u8]) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "DELETE FROM user_session WHERE token_hash = ?1",
                [token_hash],
            )
            .map(|_| ())
        })
    }

    /// `user`'s second-factor state.
    pub fn second_factor(&self, user: UserId) -> Result<SecondFactorRow, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT totp_sealed, totp_pending_sealed, totp_last_step, recovery_hashes,
                     second_factor_exempt FROM app_user WHERE id = ?1",
                [user.0],
                |r| {
                    Ok(SecondFactorRow {
                        totp_sealed: r.get(0)?,
                        totp_pending_sealed: r.get(1)?,
                        totp_last_step: r.get(2)?,
                        recovery_hashes: r.get(3)?,
                        exempt: r.get::<_, i64>(4)? != 0,
                    })
                },
            )
        })
    }

    /// Stores `user`'s second-factor state (not the exemption).
    pub fn set_second_factor(&self, user: UserId, f: &SecondFactorRow) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE app_user SET totp_sealed = ?2, totp_pending_sealed = ?3,
                     totp_last_step = ?4, recovery_hashes = ?5 WHERE id = ?1",
                params![
                    user.0,
                    f.totp_sealed,
                    f.totp_pending_sealed,
                    f.totp_last_step,
                    f.recovery_hashes
                ],
            )
            .map(|_| ())
        })
    }

    /// Uses up TOTP time step `step` for `user`: one conditional update, true
    /// only for the one caller whose update changed the row (the step is
    /// newer than the last one used), so two logins racing with the same code
    /// cannot both pass.
    pub fn consume_totp_step(&self, user: UserId, step: i64) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE app_user SET totp_last_step = ?2
                 WHERE id = ?1 AND totp_sealed IS NOT NULL
                   AND (totp_last_step IS NULL OR totp_last_step < ?2)",
                params![user.0, step],
            )
            .map(|n| n == 1)
        })
    }

    /// Replaces `user`'s recovery-code hashes `old` by `new` (one code used
    /// up) only if they are still `old`: true for exactly one of two racing
    /// uses of the same code.
    pub fn consume_recovery_code(&self, user: UserId, old: &str, new: &str) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE app_user SET recovery_hashes = ?3
                 WHERE id = ?1 AND recovery_hashes = ?2",
                params![user.0, old, new],
            )
            .map(|n| n == 1)
        })
    }

    /// Exempts `user` from a role's second-factor requirement (the demo
    /// account only).
    pub fn exempt_from_second_factor(&self, user: UserId) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE app_user SET second_factor_exempt = 1 WHERE id = ?1",
                [user.0],
            )
            .map(|_| ())
        })
    }

    /// `user`'s sessions, newest first.
    pub fn sessions_of(&self, user: UserId) -> Result<Vec<SessionInfo>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT substr(token_hash, 1, 8), created_90k, last_seen_90k, expires_90k
                 FROM user_session WHERE user_id = ?1 ORDER BY created_90k DESC",
            )?;
            let rows = st.query_map([user.0], |r| {
                Ok(SessionInfo {
                    id: hex::encode(r.get::<_, Vec<u8>>(0)?),
                    created_90k: Time90k(r.get(1)?),
                    last_seen_90k: Time90k(r.get(2)?),
                    expires_90k: Time90k(r.get(3)?),
                })
            })?;
            rows.collect()
        })
    }

    /// Ends `user`'s session whose id ([`SessionInfo::id`]) is `id`; false if
    /// there is none.
    pub fn delete_session_by_id(&self, user: UserId, id: &str) -> Result<bool, Error> {
        let Some(prefix) = hex::decode(id).ok().filter(|p| p.len() == 8) else {
            return Ok(false);
        };
        self.with(|c| {
            Ok(c.execute(
                "DELETE FROM user_session WHERE user_id = ?1
                     AND substr(token_hash, 1, 8) = ?2",
                params![user.0, prefix],
            )? > 0)
        })
    }

    /// Stores an API token (by hash); returns its id.
    pub fn insert_token(&self, t: &TokenRow, token_hash: &[u8]) -> Result<i64, Error> {
        self.with(|c| {
            let rowid: i64 = c.query_row(
                "INSERT INTO api_token (user_id, name, token_hash, roles, created_90k, expires_90k)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 RETURNING id",
                params![
                    t.user_id.0,
                    t.name,
                    token_hash,
                    t.roles,
                    t.created_90k.0,
                    t.expires_90k.0
                ],
                |r| r.get(0),
            )?;
            Ok(rowid)
        })
    }

    /// The token with this hash, revoked or not.
    pub fn token_by_hash(&self, token_hash: &[u8]) -> Result<Option<TokenRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_token WHERE token_hash = ?1"),
                [token_hash],
                token_row,
            )
            .optional()
        })
    }

    /// `user`'s tokens.
    pub fn tokens_of(&self, user: UserId) -> Result<Vec<TokenRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {TOKEN_COLUMNS} FROM api_token WHERE user_id = ?1 ORDER BY id"
            ))?;
            let rows = st.query_map([user.0], token_row)?;
            rows.collect()
        })
    }

    /// Every account's tokens, revoked or not (for administrators).
    pub fn all_tokens(&self) -> Result<Vec<TokenRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {TOKEN_COLUMNS} FROM api_token ORDER BY id"
            ))?;
            let rows = st.query_map([], token_row)?;
            rows.collect()
        })
    }

    /// The token with this id, revoked or not.
    pub fn token(&self, id: i64) -> Result<Option<TokenRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_token WHERE id = ?1"),
                [id],
                token_row,
            )
            .optional()
        })
    }

    /// Revokes `user`'s token `id` at `now` (retention counts from then);
    /// false if there is none.
    pub fn revoke_token(&self, user: UserId, id: i64, now: Time90k) -> Result<bool, Error> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE api_token SET revoked = 1,
                     revoked_90k = CASE WHEN revoked = 1 THEN revoked_90k ELSE ?3 END
                 WHERE id = ?1 AND user_id = ?2",
                params![id, user.0, now.0],
            )? > 0)
        })
    }

    /// Ends every session of `user` (disabled accounts, revocation).
    pub fn delete_sessions_of(&self, user: UserId) -> Result<usize, Error> {
        self.with(|c| c.execute("DELETE FROM user_session WHERE user_id = ?1", [user.0]))
    }

    /// Erases a user's name (GDPR erasure of the link between the pseudonym and
    /// the person): in one transaction the name becomes NULL, the account is
    /// disabled, its password hash is replaced by `unusable_hash` and its
    /// sessions are deleted. The pseudonym stays, so the access record keeps
    /// verifying. Then the write-ahead log is checkpointed and truncated so no
    /// copy of the old row stays in the log (`secure_delete` has zeroed the
    /// freed bytes in the main file). Returns `NotFound` for an unknown
    /// pseudonym.
    pub fn erase_user(&self, pseudonym: &str, unusable_hash: &str) -> Result<(), Error> {
        let found = self.with(|c| {
            let tx = c.transaction()?;
            let id: Option<i64> = tx
                .query_row(
                    "SELECT id FROM app_user WHERE pseudonym = ?1",
                    [pseudonym],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = id else { return Ok(false) };
            erase_account(&tx, id, unusable_hash)?;
            tx.commit()?;
            Ok(true)
        })?;
        if !found {
            return Err(Error::NotFound(format!("no user {pseudonym}")));
        }
        self.truncate_wal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::UserName;

    /// A TOTP step or a recovery code is used up by the one update that
    /// changes the row: a second use of the same step, an older step, or a
    /// code list that changed meanwhile changes nothing and is refused.
    #[test]
    fn second_factor_codes_are_consumed_once() {
        let db = Db::open_for_tests().unwrap();
        let u = db
            .insert_user("u-1", "gina", "hash", "", Time90k(0))
            .unwrap();
        assert!(!db.consume_totp_step(u, 100).unwrap(), "no TOTP enrolled");
        db.set_second_factor(
            u,
            &SecondFactorRow {
                totp_sealed: Some(vec![1]),
                recovery_hashes: "[\"a\",\"b\"]".into(),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(db.consume_totp_step(u, 100).unwrap());
        assert!(
            !db.consume_totp_step(u, 100).unwrap(),
            "the same step twice"
        );
        assert!(!db.consume_totp_step(u, 99).unwrap(), "an older step");
        assert!(db.consume_totp_step(u, 101).unwrap());
        let (old, left) = ("[\"a\",\"b\"]", "[\"b\"]");
        assert!(db.consume_recovery_code(u, old, left).unwrap());
        assert!(
            !db.consume_recovery_code(u, old, left).unwrap(),
            "the same code from the same old list"
        );
    }

    #[test]
    fn erasing_a_user_keeps_the_pseudonym_only() {
        let db = Db::open_for_tests().unwrap();
        let id = db
            .insert_user("u-1", "eve.example", "$argon2id$x", "", Time90k(0))
            .unwrap();
        db.insert_session(b"tok", id, "csrf", Time90k(0), Time90k(100))
            .unwrap();
        db.erase_user("u-1", "!erased").unwrap();
        let u = db.user_by_pseudonym("u-1").unwrap().unwrap();
        assert_eq!(u.name, None);
        assert!(u.disabled);
        assert_eq!(u.password_hash, "!erased");
        assert!(db.session(b"tok").unwrap().is_none());
        assert!(db.user_by_name("eve.example").unwrap().is_none());
        assert_eq!(
            db.user_names().unwrap(),
            vec![UserName {
                pseudonym: "u-1".into(),
                name: None
            }]
        );
        assert!(matches!(
            db.erase_user("u-nobody", "!"),
            Err(Error::NotFound(_))
        ));
    }
}
