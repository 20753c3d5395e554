//! `veil admin …`: user and role administration on a data directory, for the
//! person who runs the machine (they hold the root key anyway). Every change is
//! recorded in the access record, as actor `cli`, before it is made; the
//! commands work while the server runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use veil_audit::{AccessRecord, Action, ClientAddressPolicy, Event};
use veil_base::Clock as _;
use veil_store::Db;

use crate::audit_cli::CLI_ACTOR;
use crate::open::{Access, At};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// List accounts, their roles and warnings.
    Users {
        #[command(flatten)]
        at: At,
    },
    /// Create a personal account; prints a one-time password that must be
    /// changed at first login.
    AddUser {
        /// Login name.
        name: String,
        /// Roles, comma-separated (see `veil admin roles`).
        #[arg(long)]
        roles: String,
        #[command(flatten)]
        at: At,
    },
    /// Replace an account's roles.
    SetRoles {
        /// Login name.
        name: String,
        /// Roles, comma-separated.
        #[arg(long)]
        roles: String,
        #[command(flatten)]
        at: At,
    },
    /// Disable an account and end its sessions.
    Disable {
        /// Login name.
        name: String,
        #[command(flatten)]
        at: At,
    },
    /// Enable a disabled account.
    Enable {
        /// Login name.
        name: String,
        #[command(flatten)]
        at: At,
    },
    /// List roles as JSON (grants, scopes, playback window, hours).
    Roles {
        #[command(flatten)]
        at: At,
    },
    /// Create or replace a role from a JSON file (the format `roles` prints).
    PutRole {
        /// Role name.
        name: String,
        /// The JSON file.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        at: At,
    },
    /// Erase a user's name: the account is disabled, its sessions end, its
    /// password stops working, and the access record keeps only the pseudonym.
    /// Recorded as `user.erase` by `cli`; needs the server stopped.
    EraseUser {
        /// The user's login name (or pseudonym).
        name: String,
        #[command(flatten)]
        at: At,
    },
    /// Publish a new version of the video-surveillance usage policy from a
    /// text file; everyone must acknowledge it before their next video access.
    PublishPolicy {
        /// The text file.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        at: At,
    },
}

struct Admin {
    db: Db,
    record: AccessRecord,
    clock: Arc<veil_base::SystemClock>,
}

impl Admin {
    /// The installation's database, beside a running server (no lock).
    fn open(at: &At) -> anyhow::Result<Admin> {
        // Accounts need no key, but an installation whose root key is lost
        // or wrong is refused here as everywhere, before anything is changed.
        let db = crate::open::database(&at.data, at.config.as_deref(), Access::Write, true)?;
        let clock = Arc::new(veil_base::SystemClock);
        veil_web::roles::setup_roles(&db, clock.now())?;
        let record = AccessRecord::new(db.clone(), clock.clone(), ClientAddressPolicy::None)?;
        Ok(Admin { db, record, clock })
    }

    /// Records, then acts.
    fn record(&self, action: Action, resource: String, detail: String) -> anyhow::Result<()> {
        self.record
            .append(Event::new(CLI_ACTOR, action, resource).detail(detail))
            .context("refused: the change cannot be recorded")?;
        Ok(())
    }

    fn user(&self, name: &str) -> anyhow::Result<veil_store::db::UserRow> {
        self.db
            .user_by_name(name)?
            .ok_or_else(|| anyhow::anyhow!("no account is named {name:?}"))
    }
}

/// `veil admin erase-user`: `who` is a login name or a pseudonym. Prints the
/// pseudonym that stays in the record.
pub fn erase_user(data: &Path, config: Option<&Path>, who: &str) -> anyhow::Result<()> {
    let (store, record) = crate::open::installation_blocking(data, config)?;
    let user = match store.db.user_by_name(who)? {
        Some(u) => u,
        None => store
            .db
            .user_by_pseudonym(who)?
            .context("no user has this name or pseudonym")?,
    };
    let pseudonym = user.pseudonym;
    record
        .append(Event::new(
            CLI_ACTOR,
            Action::UserErase,
            format!("user:{pseudonym}"),
        ))
        .context("the erasure could not be recorded, so it was not done")?;
    store
        .db
        .erase_user(&pseudonym, veil_access::password::ERASED_HASH)?;
    println!("erased: {pseudonym} (name removed, account disabled, sessions ended)");
    Ok(())
}

fn set_disabled(at: &At, name: &str, disabled: bool) -> anyhow::Result<()> {
    let a = Admin::open(at)?;
    let u = a.user(name)?;
    a.record(
        Action::UserChange,
        format!("user:{}", u.pseudonym),
        format!("disabled={disabled}"),
    )?;
    a.db.update_user(u.id, disabled, u.training_valid_until, a.clock.now())?;
    if disabled {
        a.db.delete_sessions_of(u.id)?;
    }
    println!("{name}: {}", if disabled { "disabled" } else { "enabled" });
    Ok(())
}

/// Runs an admin subcommand.
pub fn run(cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::Users { at } => {
            let a = Admin::open(&at)?;
            for u in a.db.users()? {
                let roles: Vec<String> =
                    a.db.user_roles(u.id)?.into_iter().map(|r| r.name).collect();
                let name = u.name.clone().unwrap_or_else(|| "(erased)".into());
                let mut flags = Vec::new();
                if u.disabled {
                    flags.push("disabled".to_owned());
                }
                if u.must_change_password {
                    flags.push("must change password".into());
                }
                flags.extend(veil_web::admin::name_warnings(&name));
                println!(
                    "{}\t{name}\t{}\t{}",
                    u.pseudonym,
                    roles.join(","),
                    flags.join("; ")
                );
            }
        }
        AdminCommand::AddUser { name, roles, at } => {
            let a = Admin::open(&at)?;
            if a.db.user_by_name(&name)?.is_some() {
                anyhow::bail!("an account named {name:?} exists");
            }
            let pseudonym = format!("u-{:016x}", rand::random::<u64>());
            a.record(
                Action::UserChange,
                format!("user:{pseudonym}"),
                format!("create roles={roles}"),
            )?;
            let password = veil_access::password::generate();
            let id = a.db.insert_user(
                &pseudonym,
                &name,
                &veil_access::password::hash(&password),
                &roles,
                a.clock.now(),
            )?;
            a.db.require_password_change(id)?;
            for w in veil_web::admin::name_warnings(&name) {
                eprintln!("warning: {w}");
            }
            println!("user: {name} password: {password} (must be changed at first login)");
        }
        AdminCommand::SetRoles { name, roles, at } => {
            let a = Admin::open(&at)?;
            let u = a.user(&name)?;
            a.record(
                Action::PermissionChange,
                format!("user:{}", u.pseudonym),
                format!("roles={roles}"),
            )?;
            a.db.set_user_roles(u.id, &roles)?;
            println!("{name}: roles {roles}");
        }
        AdminCommand::Disable { name, at } => set_disabled(&at, &name, true)?,
        AdminCommand::Enable { name, at } => set_disabled(&at, &name, false)?,
        AdminCommand::EraseUser { name, at } => erase_user(&at.data, at.config.as_deref(), &name)?,
        AdminCommand::Roles { at } => {
            let a = Admin::open(&at)?;
            let roles: Vec<veil_access::Role> =
                a.db.roles()?
                    .iter()
                    .filter_map(veil_web::roles::parse_role)
                    .collect();
            println!("{}", serde_json::to_string_pretty(&roles)?);
        }
        AdminCommand::PutRole { name, file, at } => {
            let a = Admin::open(&at)?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let mut role = veil_access::Role::from_json(&text)
                .map_err(|e| anyhow::anyhow!("{} is not a role definition: {e}", file.display()))?;
            role.name = name.clone();
            role.validate().map_err(|e| anyhow::anyhow!(e))?;
            a.record(Action::RoleChange, format!("role:{name}"), "put".into())?;
            let created =
                a.db.upsert_role(&name, &serde_json::to_string(&role)?, a.clock.now())?;
            println!(
                "role {name} {}",
                if created { "created" } else { "replaced" }
            );
        }
        AdminCommand::PublishPolicy { file, at } => {
            let a = Admin::open(&at)?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            if text.trim().len() < 20 {
                anyhow::bail!("the policy text must say something (at least 20 characters)");
            }
            a.record(Action::PolicyPublish, "policy".into(), String::new())?;
            let v = a.db.publish_policy(&text, CLI_ACTOR, a.clock.now())?;
            println!("usage policy version {v} published");
        }
    }
    Ok(())
}
