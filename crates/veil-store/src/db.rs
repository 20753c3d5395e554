//! The metadata repository: every SQL statement Veil runs lives in this module.
//!
//! SQLite is the embedded default (WAL, `synchronous=FULL`, `secure_delete=ON`).
//! Callers see only `Db`'s methods, never SQL, so a PostgreSQL implementation of
//! the same methods can sit beside this one later; the SQL itself is SQLite's
//! dialect (numbered `?N` parameters, `AUTOINCREMENT`, triggers with `RAISE`). Schema changes are numbered migrations applied
//! in order inside a transaction; the applied version is kept in `user_version`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use veil_base::{CameraId, SegmentId, Time90k, UserId};

use crate::Error;

mod breaches;
mod bulk;
mod camera_retention;
mod chain;
pub use chain::{ChainedSegment, UnlinkedSegment};
mod data_sets;
mod destroy;
mod erase;
pub use erase::{Replaced, RunCut, StatedSegment};
mod export_packages;
pub use destroy::{DestroyedChunk, DESTROY_CHUNK};
mod disclosures;
mod dpo;
pub use disclosures::{DisclosureFilter, DisclosureKind, DisclosureRow, NewDisclosure, Requester};
pub use dpo::{
    AccessReview, CameraDpo, ConfigVersion, DocumentReview, ProcessorRow, UserProcessor,
    ORGANISATION_SETTING,
};
pub use export_packages::{ExportRow, ExportState, NewExport};
mod lift;
mod masks;
mod migrations_pg;
pub use migrations_pg::{migrate_postgres, PG_SCHEMA_VERSION};
mod protections;
mod quotas;
mod requests;
mod root_keys;
pub use breaches::{BreachAbout, BreachRow, CandidateRow, CandidateStatus, NewCandidate};
pub use camera_retention::RetentionChange;
pub use data_sets::DataSetStats;
pub use lift::{LiftGrantRow, LiftKeyRow};
pub use masks::MaskVersionRow;
pub use protections::{NewProtection, ProtectedKey, ProtectionKind, ProtectionRow};
pub use quotas::{CameraUsage, GLOBAL_QUOTA_SETTING};
pub use requests::{
    NewSubjectRequest, RequestInterval, RequestKind, RequestRecipient, RequestStatus,
    SubjectRequestRow,
};
pub use root_keys::{BucketKeyToRewrap, RootVersion, UserSecrets, WrappedCounts};

/// Migrations, in order. Index + 1 is the schema version after applying it.
const MIGRATIONS: &[&str] = &[
    // 1: the foundation schema.
    r#"
    CREATE TABLE camera (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        source_kind TEXT NOT NULL,
        source_config TEXT NOT NULL,
        created_90k INTEGER NOT NULL
    );
    -- Key-encryption keys, one per (camera, rendition, hour). `wrapped` is the KEK
    -- sealed under the root key. Deleting the row is the crypto-shredding step.
    CREATE TABLE bucket_key (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL REFERENCES camera (id),
        rendition TEXT NOT NULL,
        bucket_start_90k INTEGER NOT NULL,
        wrapped BLOB NOT NULL,
        UNIQUE (camera_id, rendition, bucket_start_90k)
    );
    CREATE TABLE segment (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL REFERENCES camera (id),
        rendition TEXT NOT NULL,
        run_start_90k INTEGER NOT NULL,
        start_90k INTEGER NOT NULL,
        duration_90k INTEGER NOT NULL,
        frames INTEGER NOT NULL,
        media_bytes INTEGER NOT NULL,
        object_key TEXT NOT NULL UNIQUE,
        object_bytes INTEGER NOT NULL,
        bucket_key_id INTEGER REFERENCES bucket_key (id) ON DELETE SET NULL,
        wrapped_key BLOB NOT NULL,
        sealed_index BLOB NOT NULL,
        state TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'missing', 'corrupt'))
    );
    CREATE INDEX segment_by_time ON segment (camera_id, rendition, start_90k);
    CREATE TABLE app_user (
        id INTEGER PRIMARY KEY,
        pseudonym TEXT NOT NULL UNIQUE,
        name TEXT UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_90k INTEGER NOT NULL
    );
    CREATE TABLE user_session (
        token_hash BLOB PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES app_user (id),
        csrf_token TEXT NOT NULL,
        created_90k INTEGER NOT NULL,
        last_seen_90k INTEGER NOT NULL,
        expires_90k INTEGER NOT NULL
    );
    -- The access record. Append-only: updates and deletes abort.
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time_90k INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        resource TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        client TEXT NOT NULL
    );
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
    CREATE TABLE setting (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    "#,
    // 2: the access record becomes a hash chain. Rows are immutable once
    // chained; rows written before this version are chained once, at open.
    r#"
    ALTER TABLE audit ADD COLUMN justification TEXT NOT NULL DEFAULT '';
    ALTER TABLE audit ADD COLUMN prev_hash BLOB;
    ALTER TABLE audit ADD COLUMN hash BLOB;
    DROP TRIGGER audit_no_update;
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit WHEN OLD.hash IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
    "#,
    // 3: signed checkpoints and pruning anchors. Entries may only be deleted
    // behind an anchor; anchors are never deleted; nothing is ever updated.
    r#"
    CREATE TABLE audit_checkpoint (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('checkpoint', 'anchor')),
        seq INTEGER NOT NULL,
        time_90k INTEGER NOT NULL,
        hash BLOB NOT NULL,
        public_key BLOB NOT NULL,
        signature BLOB NOT NULL,
        UNIQUE (kind, seq)
    );
    CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
        BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
    CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
        WHEN OLD.kind = 'anchor' OR OLD.seq > (SELECT COALESCE(MAX(seq), 0)
            FROM audit_checkpoint WHERE kind = 'anchor')
        BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
    DROP TRIGGER audit_no_delete;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        WHEN OLD.seq > (SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoint WHERE kind = 'anchor')
        BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
    "#,
    // 4: roles (definitions are JSON interpreted by the policy engine), the
    // roles users hold, the usage policy and its acknowledgements, training,
    // first-login password change, and four-eyes approvals. `app_user.role`
    // is no longer read: its names are moved into `user_role` at setup.
    r#"
    CREATE TABLE role (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        definition TEXT NOT NULL,
        created_90k INTEGER NOT NULL,
        updated_90k INTEGER NOT NULL
    );
    CREATE TABLE user_role (
        user_id INTEGER NOT NULL REFERENCES app_user (id),
        role_id INTEGER NOT NULL REFERENCES role (id) ON DELETE CASCADE,
        PRIMARY KEY (user_id, role_id)
    );
    ALTER TABLE app_user ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE app_user ADD COLUMN training_valid_until_90k INTEGER;
    ALTER TABLE app_user ADD COLUMN policy_ack_version INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE usage_policy (
        version INTEGER PRIMARY KEY,
        text TEXT NOT NULL,
        published_90k INTEGER NOT NULL,
        published_by TEXT NOT NULL
    );
    CREATE TABLE approval (
        id INTEGER PRIMARY KEY,
        requester_id INTEGER NOT NULL REFERENCES app_user (id),
        permission TEXT NOT NULL,
        resource TEXT NOT NULL,
        justification TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'used')),
        created_90k INTEGER NOT NULL,
        expires_90k INTEGER NOT NULL,
        decided_by INTEGER REFERENCES app_user (id),
        decided_90k INTEGER,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX approval_by_state ON approval (state, expires_90k);
    "#,
    // 5: second factor (TOTP seed sealed under the root key, replay guard,
    // hashed recovery codes), the demo account's exemption, and API tokens
    // (hashes only).
    r#"
    ALTER TABLE app_user ADD COLUMN totp_sealed BLOB;
    ALTER TABLE app_user ADD COLUMN totp_pending_sealed BLOB;
    ALTER TABLE app_user ADD COLUMN totp_last_step INTEGER;
    ALTER TABLE app_user ADD COLUMN recovery_hashes TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE app_user ADD COLUMN second_factor_exempt INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE api_token (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES app_user (id),
        name TEXT NOT NULL,
        token_hash BLOB NOT NULL UNIQUE,
        roles TEXT NOT NULL,
        created_90k INTEGER NOT NULL,
        expires_90k INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    "#,
    // 6 (camera management): cameras created over the API (`managed`), their
    // settings, credentials sealed under the root key, and soft deletion (a
    // deleted camera's row stays while its recordings exist).
    r#"
    ALTER TABLE camera ADD COLUMN managed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE camera ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE camera ADD COLUMN recording_mode TEXT NOT NULL DEFAULT 'continuous';
    ALTER TABLE camera ADD COLUMN camera_group TEXT NOT NULL DEFAULT '';
    ALTER TABLE camera ADD COLUMN segment_seconds INTEGER;
    ALTER TABLE camera ADD COLUMN sealed_credentials BLOB;
    ALTER TABLE camera ADD COLUMN deleted_90k INTEGER;
    "#,
    // 7 (scheduled and motion recording): the recording mode's settings as
    // JSON (a weekly schedule or motion settings); NULL for continuous.
    r#"
    ALTER TABLE camera ADD COLUMN recording_config TEXT;
    "#,
    // 8: audio and ONVIF metadata recording, off by default; enabling one
    // needs a documented purpose (checked above the store).
    r#"
    ALTER TABLE camera ADD COLUMN audio_enabled INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE camera ADD COLUMN audio_purpose TEXT NOT NULL DEFAULT '';
    ALTER TABLE camera ADD COLUMN metadata_enabled INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE camera ADD COLUMN metadata_purpose TEXT NOT NULL DEFAULT '';
    "#,
    // 9: bucket key ids are never reused (AUTOINCREMENT), so a segment row
    // left pointing at a destroyed key can never meet a new key with the same
    // id. SQLite cannot alter a primary key: the table is rebuilt with its
    // ids (foreign keys are off while migrations run, so segments keep theirs).
    r#"
    CREATE TABLE bucket_key_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        camera_id INTEGER NOT NULL REFERENCES camera (id),
        rendition TEXT NOT NULL,
        bucket_start_90k INTEGER NOT NULL,
        wrapped BLOB NOT NULL,
        UNIQUE (camera_id, rendition, bucket_start_90k)
    );
    INSERT INTO bucket_key_new (id, camera_id, rendition, bucket_start_90k, wrapped)
        SELECT id, camera_id, rendition, bucket_start_90k, wrapped FROM bucket_key;
    DROP TABLE bucket_key;
    ALTER TABLE bucket_key_new RENAME TO bucket_key;
    "#,
    // 10: the web client: each user's language (NULL: the browser's),
    // bookmarks (V5) with their own expiry, and the recording gate's motion
    // events (start; end NULL while the motion lasts).
    r#"
    ALTER TABLE app_user ADD COLUMN language TEXT;
    CREATE TABLE bookmark (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL REFERENCES camera (id),
        start_90k INTEGER NOT NULL,
        end_90k INTEGER,
        note TEXT NOT NULL,
        author_id INTEGER REFERENCES app_user (id),
        created_90k INTEGER NOT NULL,
        expires_90k INTEGER NOT NULL
    );
    CREATE INDEX bookmark_by_time ON bookmark (camera_id, start_90k);
    CREATE TABLE motion_event (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL REFERENCES camera (id),
        start_90k INTEGER NOT NULL,
        end_90k INTEGER
    );
    CREATE INDEX motion_event_by_time ON motion_event (camera_id, start_90k);
    "#,
    // 11: retention finds a bucket's segments and the keyless ones (their key
    // destroyed) by this index; it also keeps `ON DELETE SET NULL` from
    // scanning every segment when a bucket key is destroyed.
    r#"
    CREATE INDEX segment_by_bucket ON segment (bucket_key_id);
    "#,
    // 12 (retention that destroys): root key versions (every value wrapped
    // under the root names the version it was wrapped with, so a rotation
    // can re-wrap and then destroy the old root); per-camera, per-rendition
    // retention with its justification; the camera's area and storage quota;
    // when an account was disabled and anonymised; evidence locks and
    // restriction holds ("protections") with their own keys, the cameras
    // they cover and the segment keys re-wrapped under them.
    r#"
    CREATE TABLE root_key (
        version INTEGER PRIMARY KEY,
        created_90k INTEGER NOT NULL,
        destroyed_90k INTEGER
    );
    ALTER TABLE bucket_key ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE camera ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE app_user ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1;
    CREATE TABLE camera_retention (
        camera_id INTEGER NOT NULL REFERENCES camera (id),
        rendition TEXT NOT NULL,
        hours INTEGER NOT NULL CHECK (hours >= 1),
        justification TEXT NOT NULL DEFAULT '',
        updated_90k INTEGER NOT NULL,
        PRIMARY KEY (camera_id, rendition)
    );
    ALTER TABLE camera ADD COLUMN area TEXT NOT NULL DEFAULT 'private';
    ALTER TABLE camera ADD COLUMN quota_bytes INTEGER;
    ALTER TABLE app_user ADD COLUMN disabled_90k INTEGER;
    ALTER TABLE app_user ADD COLUMN anonymised_90k INTEGER;
    ALTER TABLE api_token ADD COLUMN revoked_90k INTEGER;
    CREATE TABLE protection (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('lock', 'hold')),
        start_90k INTEGER NOT NULL,
        end_90k INTEGER NOT NULL,
        reason TEXT NOT NULL,
        owner_id INTEGER REFERENCES app_user (id),
        created_90k INTEGER NOT NULL,
        review_90k INTEGER,
        on_review TEXT NOT NULL DEFAULT 'release' CHECK (on_review IN ('release', 'notify')),
        review_notified_90k INTEGER,
        extended_90k INTEGER,
        extension_reason TEXT,
        wrapped_key BLOB,
        key_version INTEGER NOT NULL DEFAULT 1,
        released_90k INTEGER,
        released_by INTEGER REFERENCES app_user (id),
        release_reason TEXT
    );
    CREATE TABLE protection_camera (
        protection_id INTEGER NOT NULL REFERENCES protection (id),
        camera_id INTEGER NOT NULL REFERENCES camera (id),
        PRIMARY KEY (protection_id, camera_id)
    );
    CREATE INDEX protection_camera_by_camera ON protection_camera (camera_id);
    CREATE TABLE protected_segment (
        protection_id INTEGER NOT NULL REFERENCES protection (id),
        segment_id INTEGER NOT NULL REFERENCES segment (id) ON DELETE CASCADE,
        wrapped_key BLOB NOT NULL,
        PRIMARY KEY (protection_id, segment_id)
    );
    CREATE INDEX protected_segment_by_segment ON protected_segment (segment_id);
    "#,
    // 13 (privacy masks): each change of a camera's masks is a new version
    // (the masks as checked JSON, author, time); every segment names the
    // version it was made with (NULL: no masks), so playback and export apply
    // the masks of recording time.
    r#"
    CREATE TABLE mask_version (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        camera_id INTEGER NOT NULL REFERENCES camera (id),
        masks TEXT NOT NULL,
        author_id INTEGER REFERENCES app_user (id),
        created_90k INTEGER NOT NULL
    );
    CREATE INDEX mask_version_by_camera ON mask_version (camera_id, id);
    ALTER TABLE segment ADD COLUMN mask_version_id INTEGER REFERENCES mask_version (id);
    "#,
    // 14 (liftable masks): the installation's lift key, an X25519 identity
    // sealed under the root (its public half in the clear), to which the
    // `original` rendition's segment keys are sealed inside their bucket
    // wrapping in the server-held mode (`docs/design/masks.md`); and the lift
    // grants: who lifted the masks of which camera over which interval,
    // until when, and the access-record entry that recorded it.
    r#"
    CREATE TABLE lift_key (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        recipient TEXT NOT NULL,
        sealed_identity BLOB NOT NULL,
        key_version INTEGER NOT NULL,
        created_90k INTEGER NOT NULL
    );
    CREATE TABLE lift_grant (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES app_user (id),
        camera_id INTEGER NOT NULL REFERENCES camera (id),
        start_90k INTEGER NOT NULL,
        end_90k INTEGER NOT NULL,
        created_90k INTEGER NOT NULL,
        expires_90k INTEGER NOT NULL,
        audit_seq INTEGER NOT NULL UNIQUE
    );
    CREATE INDEX lift_grant_by_user ON lift_grant (user_id, camera_id, expires_90k);
    "#,
    // 15 (PTZ and static masks): whether a camera can pan, tilt and zoom,
    // and whether PTZ control is enabled; the web layer keeps control off
    // while the camera has privacy masks, which are fixed to the picture.
    r#"
    ALTER TABLE camera ADD COLUMN ptz_capable INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE camera ADD COLUMN ptz_control INTEGER NOT NULL DEFAULT 0;
    "#,
    // 16 (evidence export, `docs/design/export.md`): export packages (the
    // request without its secrets, the job's state and progress, the stored
    // encrypted copy until it expires) and the register of transfers and
    // disclosures: one entry per export (kind `copy`) and per showing or
    // telling (`shown`, `verbal`), with the requesting party, who authorised
    // it, why, the legal basis and safeguards outside the EEA, and the
    // package's life (downloaded, expired, destruction confirmed).
    r#"
    CREATE TABLE export_package (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        package_id TEXT NOT NULL UNIQUE,
        requested_by INTEGER REFERENCES app_user (id),
        created_90k INTEGER NOT NULL,
        request TEXT NOT NULL,
        rendition TEXT NOT NULL,
        encryption TEXT NOT NULL,
        state TEXT NOT NULL,
        total_bytes INTEGER NOT NULL DEFAULT 0,
        done_bytes INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        object_name TEXT,
        package_bytes INTEGER,
        package_sha256 TEXT,
        manifest_sha256 TEXT,
        finished_90k INTEGER,
        expires_90k INTEGER NOT NULL,
        destroyed_90k INTEGER,
        audit_seq INTEGER NOT NULL
    );
    CREATE INDEX export_package_by_state ON export_package (state, expires_90k);
    CREATE TABLE disclosure (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        created_90k INTEGER NOT NULL,
        recorded_by INTEGER REFERENCES app_user (id),
        start_90k INTEGER NOT NULL,
        end_90k INTEGER NOT NULL,
        cameras TEXT NOT NULL,
        intervals TEXT NOT NULL,
        requester_name TEXT NOT NULL,
        requester_title TEXT NOT NULL,
        requester_organisation TEXT NOT NULL,
        requester_country TEXT NOT NULL,
        authorised_by TEXT NOT NULL,
        content TEXT NOT NULL,
        request_reason TEXT NOT NULL,
        grant_reason TEXT NOT NULL,
        legal_basis TEXT,
        safeguards TEXT,
        export_id INTEGER UNIQUE REFERENCES export_package (id),
        package_id TEXT,
        package_sha256 TEXT,
        expires_90k INTEGER,
        downloaded_90k INTEGER,
        expired_90k INTEGER,
        destruction_confirmed_90k INTEGER,
        destruction_confirmed_by INTEGER REFERENCES app_user (id),
        destruction_note TEXT,
        audit_seq INTEGER NOT NULL
    );
    CREATE INDEX disclosure_by_time ON disclosure (created_90k);
    "#,
    // 17 (the recording integrity chain, `crate::chain`): each segment's
    // object hash, and a hash chain per (camera, rendition) of segment links
    // and removal links (append-only; no foreign key: a link outlives its
    // row), with each chain's head. Rows stored before are chained once, at
    // start (`Store::chain_unlinked_segments`).
    r#"
    ALTER TABLE segment ADD COLUMN object_sha256 BLOB;
    CREATE TABLE recording_link (
        id INTEGER PRIMARY KEY,
        camera_id INTEGER NOT NULL,
        rendition TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind INTEGER NOT NULL CHECK (kind IN (1, 2)),
        segment_id INTEGER,
        start_90k INTEGER NOT NULL,
        end_90k INTEGER NOT NULL,
        object_sha256 BLOB NOT NULL,
        detail TEXT NOT NULL,
        prev_hash BLOB NOT NULL,
        hash BLOB NOT NULL,
        UNIQUE (camera_id, rendition, seq)
    );
    CREATE INDEX recording_link_by_segment ON recording_link (segment_id);
    CREATE TRIGGER recording_link_no_update BEFORE UPDATE ON recording_link
        BEGIN SELECT RAISE(ABORT, 'recording links are append-only'); END;
    CREATE TRIGGER recording_link_no_delete BEFORE DELETE ON recording_link
        BEGIN SELECT RAISE(ABORT, 'recording links are append-only'); END;
    CREATE TABLE recording_chain (
        camera_id INTEGER NOT NULL,
        rendition TEXT NOT NULL,
        head_seq INTEGER NOT NULL,
        head_hash BLOB NOT NULL,
        PRIMARY KEY (camera_id, rendition)
    );
    "#,
    // 18 (the DPO's desk, `db/dpo.rs`): each camera's documented purpose
    // and what was found about its password when it was set (JSON, never
    // the password); the configuration versions the documents state; the
    // reviews of documents and of accounts' roles; the register of
    // processors, and maintenance accounts tied to one with an expiry. The
    // organisation profile is the `setting` row `organisation`.
    r#"
    ALTER TABLE camera ADD COLUMN purpose TEXT;
    ALTER TABLE camera ADD COLUMN credential_check TEXT;
    CREATE TABLE config_version (
        id INTEGER PRIMARY KEY,
        digest BLOB NOT NULL,
        snapshot TEXT NOT NULL,
        since_90k INTEGER NOT NULL
    );
    CREATE TABLE document_review (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        version INTEGER NOT NULL REFERENCES config_version (id),
        reviewed_90k INTEGER NOT NULL,
        reviewer_id INTEGER NOT NULL REFERENCES app_user (id),
        note TEXT NOT NULL
    );
    CREATE INDEX document_review_by_kind ON document_review (kind, id);
    CREATE TABLE access_review (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES app_user (id),
        reviewed_90k INTEGER NOT NULL,
        reviewer_id INTEGER NOT NULL REFERENCES app_user (id),
        outcome TEXT NOT NULL CHECK (outcome IN ('confirmed', 'revoked')),
        roles TEXT NOT NULL
    );
    CREATE INDEX access_review_by_user ON access_review (user_id, reviewed_90k);
    CREATE TABLE processor (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        agreement_date TEXT NOT NULL,
        scope TEXT NOT NULL,
        country TEXT NOT NULL,
        transfer_basis TEXT NOT NULL,
        created_90k INTEGER NOT NULL,
        removed_90k INTEGER
    );
    ALTER TABLE app_user ADD COLUMN processor_id INTEGER REFERENCES processor (id);
    ALTER TABLE app_user ADD COLUMN expires_90k INTEGER;
    "#,
    // 19 (data-subject requests, `db/requests.rs`): the register of
    // requests (D1) with the identity check (method and who checked, never a
    // copy of a document), the subject's own description (removed 30 days
    // after closing, the row kept for the request retention), the due
    // date and its Art. 12(3) extension, the search scope (cameras as a
    // comma-separated list of ids, and a window), the status, the decision
    // (with the access-record entry of a linked change) or the refusal; the
    // intervals marked as showing the person, with what an erasure removed
    // or why it could not (JSON), and the hold a restriction created; and,
    // per disclosure-register entry that covered them, whether its
    // recipient was told (Art. 19).
    r#"
    CREATE TABLE subject_request (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('access', 'erasure', 'restriction', 'objection', 'rectification', 'portability')),
        status TEXT NOT NULL CHECK (status IN ('received', 'verified', 'searching', 'decided', 'completed', 'refused')),
        received_90k INTEGER NOT NULL,
        due_90k INTEGER NOT NULL,
        extended_due_90k INTEGER,
        extension_reason TEXT,
        subject TEXT NOT NULL,
        contact TEXT NOT NULL,
        description TEXT,
        description_removed_90k INTEGER,
        verification_method TEXT,
        verified_by INTEGER REFERENCES app_user (id),
        verified_90k INTEGER,
        search_cameras TEXT,
        search_start_90k INTEGER,
        search_end_90k INTEGER,
        decision TEXT CHECK (decision IN ('upheld', 'rejected')),
        decision_reason TEXT,
        linked_change_seq INTEGER,
        decided_by INTEGER REFERENCES app_user (id),
        decided_90k INTEGER,
        refusal_reason TEXT,
        created_by INTEGER REFERENCES app_user (id),
        created_90k INTEGER NOT NULL,
        updated_90k INTEGER NOT NULL,
        closed_90k INTEGER
    );
    CREATE INDEX subject_request_by_due ON subject_request (status, due_90k);
    CREATE TABLE subject_request_interval (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id INTEGER NOT NULL REFERENCES subject_request (id) ON DELETE CASCADE,
        camera_id INTEGER NOT NULL REFERENCES camera (id),
        start_90k INTEGER NOT NULL,
        end_90k INTEGER NOT NULL,
        marked_by INTEGER REFERENCES app_user (id),
        marked_90k INTEGER NOT NULL,
        hold_id INTEGER REFERENCES protection (id),
        erased_90k INTEGER,
        erased TEXT,
        erasure_blocked TEXT
    );
    CREATE INDEX subject_request_interval_by_request ON subject_request_interval (request_id);
    CREATE TABLE subject_request_recipient (
        request_id INTEGER NOT NULL REFERENCES subject_request (id) ON DELETE CASCADE,
        disclosure_id INTEGER NOT NULL REFERENCES disclosure (id),
        informed INTEGER NOT NULL CHECK (informed IN (0, 1)),
        note TEXT NOT NULL,
        recorded_by INTEGER REFERENCES app_user (id),
        recorded_90k INTEGER NOT NULL,
        PRIMARY KEY (request_id, disclosure_id)
    );
    ALTER TABLE export_package ADD COLUMN subject_request_id INTEGER REFERENCES subject_request (id);
    "#,
    // 20 (the breach register, `db/breaches.rs`, D8): candidates raised
    // from the system's own signals, each with the access-record ranges
    // that are its evidence and a key that raises it once, dismissed with a
    // reason or promoted; and breaches: detection time (the start of the
    // 72-hour clock), the assessment as checked JSON, the decisions to
    // notify the authority and the data subjects with their reasons, and
    // when each was notified (and, past the 72 hours, the reasons for the
    // delay, Art. 33(1)).
    r#"
    CREATE TABLE breach (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        detected_90k INTEGER NOT NULL,
        created_by INTEGER REFERENCES app_user (id),
        created_90k INTEGER NOT NULL,
        updated_90k INTEGER NOT NULL,
        assessment TEXT NOT NULL,
        notify_authority INTEGER CHECK (notify_authority IN (0, 1)),
        authority_reason TEXT,
        authority_notified_90k INTEGER,
        authority_late_reason TEXT,
        notify_subjects INTEGER CHECK (notify_subjects IN (0, 1)),
        subjects_reason TEXT,
        subjects_notified_90k INTEGER,
        closed_90k INTEGER
    );
    CREATE TABLE breach_candidate (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        signal TEXT NOT NULL,
        dedupe_key TEXT NOT NULL UNIQUE,
        raised_90k INTEGER NOT NULL,
        summary TEXT NOT NULL,
        evidence TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed', 'promoted')),
        decided_by INTEGER REFERENCES app_user (id),
        decided_90k INTEGER,
        reason TEXT,
        breach_id INTEGER REFERENCES breach (id)
    );
    CREATE INDEX breach_candidate_by_status ON breach_candidate (status, raised_90k);
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// A unique-name violation as a clear `Invalid` error.
fn unique_name(e: Error) -> Error {
    match e {
        Error::Database(m) if m.contains("UNIQUE") && m.contains("camera.name") => {
            Error::Invalid("a camera with this name exists".into())
        }
        e => e,
    }
}

/// A handle to the metadata database. Cheap to clone; calls block, so async
/// callers run them on a blocking thread.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

/// A camera row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraRow {
    /// Its id.
    pub id: CameraId,
    /// Display name.
    pub name: String,
    /// `synthetic` now; `rtsp` later.
    pub source_kind: String,
    /// The source's settings as JSON (never credentials in clear).
    pub source_config: String,
    /// Its group, for scoped grants (`None` when it has none).
    pub group: Option<String>,
}

/// A camera's managed settings (cameras created over the API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraSettings {
    /// Display name (unique among cameras that are not deleted).
    pub name: String,
    /// `rtsp`.
    pub source_kind: String,
    /// Source settings as JSON, without credentials.
    pub source_config: String,
    /// Whether it records.
    pub enabled: bool,
    /// `continuous`, `scheduled` or `motion`.
    pub recording_mode: String,
    /// Group name (empty for none).
    pub group: String,
    /// Target segment length, if not the server's default.
    pub segment_seconds: Option<u32>,
    /// The recording mode's settings as JSON (schedule or motion), stored
    /// without being interpreted; `None` for continuous recording.
    pub recording_config: Option<String>,
    /// Whether the camera's audio track is recorded, and why.
    pub audio: TrackConsent,
    /// Whether the camera's ONVIF metadata track is recorded, and why.
    pub metadata: TrackConsent,
    /// What it looks at (`retention_rule::AREAS`), checked by the caller.
    pub area: String,
    /// Whether it can pan, tilt and zoom, and whether Veil may move it.
    pub ptz: Ptz,
}

/// A camera's pan-tilt-zoom flags (migration 15). Static privacy masks are
/// fixed to the picture, so the web layer refuses `control` while the
/// camera has masks, and masks while `control` is on; `control` needs
/// `capable`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ptz {
    /// The camera can pan, tilt or zoom.
    pub capable: bool,
    /// PTZ control is enabled (the picture may move).
    pub control: bool,
}

/// Whether an optional track (audio, ONVIF metadata) is recorded, with the
/// documented purpose. Off with an empty purpose by default; the web layer
/// refuses `enabled` without a purpose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackConsent {
    /// Whether the track is set up and recorded.
    pub enabled: bool,
    /// Why (the text the records of processing quote).
    pub purpose: String,
}

/// A camera's stored settings as SQL parameters ?1..?15, in the column order
/// that inserting and updating a managed camera both use.
fn camera_settings_params(s: &CameraSettings) -> Vec<&dyn rusqlite::ToSql> {
    vec![
        &s.name,
        &s.source_kind,
        &s.source_config,
        &s.enabled,
        &s.recording_mode,
        &s.group,
        &s.segment_seconds,
        &s.recording_config,
        &s.audio.enabled,
        &s.audio.purpose,
        &s.metadata.enabled,
        &s.metadata.purpose,
        &s.area,
        &s.ptz.capable,
        &s.ptz.control,
    ]
}

/// A camera with its settings, as camera management sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraDetail {
    /// Its id.
    pub id: CameraId,
    /// Whether it was created over the API (else from the configuration file).
    pub managed: bool,
    /// Its settings.
    pub settings: CameraSettings,
    /// Credentials sealed under the root key (see `Keyring::seal_camera_secret`).
    pub sealed_credentials: Option<Vec<u8>>,
}

/// What a segment row stores.
#[derive(Clone, Debug)]
pub struct SegmentRow {
    /// Its id (`SegmentId(0)` before insertion).
    pub id: SegmentId,
    /// The camera.
    pub camera_id: CameraId,
    /// Rendition name (`main` for the foundation).
    pub rendition: String,
    /// Start of the recording run this segment belongs to.
    pub run_start_90k: Time90k,
    /// Wall-clock time of the first frame.
    pub start_90k: Time90k,
    /// Sum of the frame durations.
    pub duration_90k: i64,
    /// Number of frames.
    pub frames: u32,
    /// Plaintext media bytes (the sample data).
    pub media_bytes: u64,
    /// The object holding the sealed media.
    pub object_key: String,
    /// Size of that object.
    pub object_bytes: u64,
    /// The bucket key that wraps the segment key; `None` once destroyed.
    pub bucket_key_id: Option<i64>,
    /// The segment key wrapped by the bucket key.
    pub wrapped_key: Vec<u8>,
    /// The sample index sealed under the segment key.
    pub sealed_index: Vec<u8>,
    /// The mask version it was made with (`None`: no masks).
    pub mask_version_id: Option<i64>,
    /// SHA-256 of the sealed object (`None`: stored before the recording
    /// chain, not yet chained). A row inserted with one gets its segment
    /// link in the same transaction.
    pub object_sha256: Option<[u8; 32]>,
}

/// A motion event of the recording gate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MotionEventRow {
    /// Its id.
    pub id: i64,
    /// The camera.
    pub camera_id: CameraId,
    /// The keyframe where motion was first seen.
    pub start_90k: Time90k,
    /// Where the gate ended the motion run; `None` while it lasts.
    pub end_90k: Option<Time90k>,
}

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

/// One access-record entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    /// Sequence number (assigned on append).
    pub seq: i64,
    /// When.
    pub time_90k: Time90k,
    /// Pseudonymous actor id (never a name).
    pub actor: String,
    /// What was done, e.g. `playback`.
    pub action: String,
    /// On what, e.g. `camera:1`.
    pub resource: String,
    /// `ok`, `denied`, `failed`.
    pub outcome: String,
    /// Extra facts (interval, rendition), no personal data.
    pub detail: String,
    /// Client address as configured (may be empty).
    pub client: String,
    /// Why, where the action requires a justification (else empty).
    pub justification: String,
    /// Hash of the entry before (empty until chained).
    pub prev_hash: Vec<u8>,
    /// This entry's chain hash (empty until chained).
    pub hash: Vec<u8>,
}

/// The last chained entry: `(seq, hash)`.
pub type AuditTail = Option<(i64, Vec<u8>)>;

/// A signed statement about the access record: "the entry with this sequence
/// number has this hash" (`kind = "checkpoint"`), or "every entry up to and
/// including this one was pruned; the chain goes on from this hash"
/// (`kind = "anchor"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRow {
    /// `checkpoint` or `anchor`.
    pub kind: String,
    /// The sequence number it covers.
    pub seq: i64,
    /// When it was signed.
    pub time_90k: Time90k,
    /// The chain hash at `seq`.
    pub hash: Vec<u8>,
    /// The Ed25519 public key that signed it.
    pub public_key: Vec<u8>,
    /// The Ed25519 signature.
    pub signature: Vec<u8>,
}

const CHECKPOINT_COLUMNS: &str = "kind, seq, time_90k, hash, public_key, signature";

/// A wrapped bucket key with its scope: camera, rendition, hour, wrapped key.
pub type ScopedBucketKey = (CameraId, String, Time90k, Vec<u8>);

/// The columns [`segment_row`] reads, in its order.
const SEGMENT_COLUMNS: &str = "id, camera_id, rendition, run_start_90k, start_90k, duration_90k,
     frames, media_bytes, object_key, object_bytes, bucket_key_id, wrapped_key, sealed_index,
     mask_version_id, object_sha256";

fn segment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SegmentRow> {
    Ok(SegmentRow {
        id: SegmentId(r.get(0)?),
        camera_id: CameraId(r.get(1)?),
        rendition: r.get(2)?,
        run_start_90k: Time90k(r.get(3)?),
        start_90k: Time90k(r.get(4)?),
        duration_90k: r.get(5)?,
        frames: r.get(6)?,
        media_bytes: r.get::<_, i64>(7)? as u64,
        object_key: r.get(8)?,
        object_bytes: r.get::<_, i64>(9)? as u64,
        bucket_key_id: r.get(10)?,
        wrapped_key: r.get(11)?,
        sealed_index: r.get(12)?,
        mask_version_id: r.get(13)?,
        object_sha256: r
            .get::<_, Option<Vec<u8>>>(14)?
            .and_then(|v| <[u8; 32]>::try_from(v).ok()),
    })
}

/// Inserts a segment row and, when it has an object hash, its segment link,
/// inside the caller's transaction (as [`Db::insert_segment`] does).
fn insert_segment_row(tx: &rusqlite::Connection, s: &SegmentRow) -> rusqlite::Result<SegmentId> {
    tx.prepare_cached(
        "INSERT INTO segment (camera_id, rendition, run_start_90k, start_90k,
             duration_90k, frames, media_bytes, object_key, object_bytes,
             bucket_key_id, wrapped_key, sealed_index, mask_version_id, object_sha256)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        s.camera_id.0,
        s.rendition,
        s.run_start_90k.0,
        s.start_90k.0,
        s.duration_90k,
        s.frames,
        s.media_bytes as i64,
        s.object_key,
        s.object_bytes as i64,
        s.bucket_key_id,
        s.wrapped_key,
        s.sealed_index,
        s.mask_version_id,
        s.object_sha256.as_ref().map(|h| &h[..]),
    ])?;
    let id = SegmentId(tx.last_insert_rowid());
    if let Some(sha) = s.object_sha256 {
        chain::append_segment_link(tx, s, id, sha)?;
    }
    Ok(id)
}

/// The columns [`stored_segment`] reads, in its order.
const RETENTION_SEGMENT_COLUMNS: &str =
    "id, camera_id, rendition, bucket_key_id, start_90k, start_90k + duration_90k";

fn stored_segment(r: &rusqlite::Row<'_>) -> rusqlite::Result<crate::retention::StoredSegment> {
    Ok(crate::retention::StoredSegment {
        id: SegmentId(r.get(0)?),
        camera: CameraId(r.get(1)?),
        rendition: r.get(2)?,
        bucket: r.get(3)?,
        start: Time90k(r.get(4)?),
        end: Time90k(r.get(5)?),
    })
}

fn checkpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CheckpointRow> {
    Ok(CheckpointRow {
        kind: r.get(0)?,
        seq: r.get(1)?,
        time_90k: Time90k(r.get(2)?),
        hash: r.get(3)?,
        public_key: r.get(4)?,
        signature: r.get(5)?,
    })
}

fn insert_checkpoint(c: &Connection, k: &CheckpointRow) -> rusqlite::Result<()> {
    c.execute(
        &format!(
            "INSERT INTO audit_checkpoint ({CHECKPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (kind, seq) DO NOTHING"
        ),
        params![
            k.kind,
            k.seq,
            k.time_90k.0,
            k.hash,
            k.public_key,
            k.signature
        ],
    )
    .map(|_| ())
}

fn latest_anchor(c: &Connection) -> rusqlite::Result<Option<CheckpointRow>> {
    c.query_row(
        &format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoint WHERE kind = 'anchor'
             ORDER BY seq DESC LIMIT 1"
        ),
        [],
        checkpoint_row,
    )
    .optional()
}

const AUDIT_COLUMNS: &str = "seq, time_90k, actor, action, resource, outcome, detail, client, \
     justification, COALESCE(prev_hash, x''), COALESCE(hash, x'')";

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        time_90k: Time90k(r.get(1)?),
        actor: r.get(2)?,
        action: r.get(3)?,
        resource: r.get(4)?,
        outcome: r.get(5)?,
        detail: r.get(6)?,
        client: r.get(7)?,
        justification: r.get(8)?,
        prev_hash: r.get(9)?,
        hash: r.get(10)?,
    })
}

const USER_COLUMNS: &str = "id, pseudonym, name, password_hash, disabled, must_change_password, \
     training_valid_until_90k, policy_ack_version, language, processor_id, expires_90k";

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
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

fn role_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RoleRow> {
    Ok(RoleRow {
        id: r.get(0)?,
        name: r.get(1)?,
        definition: r.get(2)?,
    })
}

/// Gives `user` the roles named in `roles` (comma-separated).
fn set_user_roles(c: &Connection, user: i64, roles: &str) -> rusqlite::Result<Result<(), Error>> {
    for name in roles.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let id: Option<i64> = c
            .query_row("SELECT id FROM role WHERE name = ?1", [name], |r| r.get(0))
            .optional()?;
        let Some(id) = id else {
            return Ok(Err(Error::Invalid(format!("no role is named {name:?}"))));
        };
        c.execute(
            "INSERT OR IGNORE INTO user_role (user_id, role_id) VALUES (?1, ?2)",
            params![user, id],
        )?;
    }
    Ok(Ok(()))
}

const TOKEN_COLUMNS: &str = "id, user_id, name, roles, created_90k, expires_90k, revoked";

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
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

const APPROVAL_COLUMNS: &str = "id, requester_id, permission, resource, justification, state, \
     created_90k, expires_90k, decided_by, note";

fn approval_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApprovalRow> {
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

fn audit_tail(c: &Connection) -> rusqlite::Result<AuditTail> {
    let last = c
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<Vec<u8>>>(1)?)),
        )
        .optional()?
        .map(|(s, h)| (s, h.unwrap_or_default()));
    match last {
        Some(t) => Ok(Some(t)),
        None => Ok(latest_anchor(c)?.map(|a| (a.seq, a.hash))),
    }
}

fn sql_err(e: rusqlite::Error) -> Error {
    Error::Database(e.to_string())
}

impl Db {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Db, Error> {
        let conn = Connection::open(path).map_err(sql_err)?;
        Self::init(conn)
    }

    /// Opens an existing database for reading only (verification while a server
    /// may be running). Refuses a schema other than this build's.
    pub fn open_read_only(path: &Path) -> Result<Db, Error> {
        if !path.exists() {
            return Err(Error::NotFound(format!("{} (no database)", path.display())));
        }
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sql_err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql_err)?;
        if version != SCHEMA_VERSION as i64 {
            return Err(Error::Invalid(format!(
                "database schema version {version}, this build reads {SCHEMA_VERSION}; start the server once to migrate"
            )));
        }
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> Result<Db, Error> {
        Self::init(Connection::open_in_memory().map_err(sql_err)?)
    }

    fn init(mut conn: Connection) -> Result<Db, Error> {
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA secure_delete = ON;",
        )
        .map_err(sql_err)?;
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .map_err(sql_err)? as usize;
        if version > SCHEMA_VERSION {
            return Err(Error::Invalid(format!(
                "database schema version {version} is newer than this build ({SCHEMA_VERSION}); upgrade Veil"
            )));
        }
        // Foreign keys are off while migrations run (a rebuilt table must not
        // cascade into the rows that reference it) and checked before each
        // commit.
        conn.execute_batch("PRAGMA foreign_keys = OFF")
            .map_err(sql_err)?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction().map_err(sql_err)?;
            tx.execute_batch(m).map_err(sql_err)?;
            let broken: i64 = tx
                .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })
                .map_err(sql_err)?;
            if broken != 0 {
                return Err(Error::Database(format!(
                    "migration {} would leave {broken} rows with a broken reference; nothing was changed",
                    i + 1
                )));
            }
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .map_err(sql_err)?;
            tx.commit().map_err(sql_err)?;
        }
        conn.execute_batch("PRAGMA foreign_keys = ON")
            .map_err(sql_err)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, Error> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c).map_err(sql_err)
    }

    /// `PRAGMA integrity_check`: `"ok"` when healthy.
    pub fn integrity_check(&self) -> Result<String, Error> {
        self.with(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0)))
    }

    /// The schema version in the file.
    pub fn schema_version(&self) -> Result<i64, Error> {
        self.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
    }

    // --- cameras ---

    /// Inserts a camera, or updates its source if one with that name exists.
    pub fn upsert_camera(
        &self,
        name: &str,
        source_kind: &str,
        source_config: &str,
        now: Time90k,
    ) -> Result<CameraId, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO camera (name, source_kind, source_config, created_90k)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET source_kind = ?2, source_config = ?3",
                params![name, source_kind, source_config, now.0],
            )?;
            c.query_row("SELECT id FROM camera WHERE name = ?1", [name], |r| {
                Ok(CameraId(r.get(0)?))
            })
        })
    }

    /// Creates a camera over the API; its credentials are set separately
    /// (sealing binds the id, known only now).
    pub fn insert_managed_camera(
        &self,
        s: &CameraSettings,
        now: Time90k,
    ) -> Result<CameraId, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO camera (name, source_kind, source_config, enabled, recording_mode,
                    camera_group, segment_seconds, recording_config, audio_enabled,
                    audio_purpose, metadata_enabled, metadata_purpose, area, ptz_capable,
                    ptz_control, created_90k, managed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, 1)",
                rusqlite::params_from_iter(
                    camera_settings_params(s).into_iter().chain([&now.0 as _]),
                ),
            )?;
            Ok(CameraId(c.last_insert_rowid()))
        })
        .map_err(unique_name)
    }

    /// Replaces a managed camera's settings. False if no such live camera.
    pub fn update_managed_camera(&self, id: CameraId, s: &CameraSettings) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET name = ?1, source_kind = ?2, source_config = ?3, enabled = ?4,
                    recording_mode = ?5, camera_group = ?6, segment_seconds = ?7,
                    recording_config = ?8, audio_enabled = ?9, audio_purpose = ?10,
                    metadata_enabled = ?11, metadata_purpose = ?12, area = ?13,
                    ptz_capable = ?14, ptz_control = ?15
                 WHERE id = ?16 AND managed = 1 AND deleted_90k IS NULL",
                rusqlite::params_from_iter(
                    camera_settings_params(s).into_iter().chain([&id.0 as _]),
                ),
            )
            .map(|n| n == 1)
        })
        .map_err(unique_name)
    }

    /// Sets (or clears) a camera's sealed credentials.
    pub fn set_camera_credentials(&self, id: CameraId, sealed: Option<&[u8]>) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET sealed_credentials = ?2 WHERE id = ?1",
                params![id.0, sealed],
            )
            .map(|_| ())
        })
    }

    /// Sets a camera's audio and metadata recording settings (for cameras
    /// from the configuration file, whose other settings are not stored).
    pub fn set_camera_tracks(
        &self,
        id: CameraId,
        audio: &TrackConsent,
        metadata: &TrackConsent,
    ) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET audio_enabled = ?2, audio_purpose = ?3, metadata_enabled = ?4,
                    metadata_purpose = ?5
                 WHERE id = ?1",
                params![
                    id.0,
                    audio.enabled,
                    audio.purpose,
                    metadata.enabled,
                    metadata.purpose
                ],
            )
            .map(|_| ())
        })
    }

    /// Sets a camera's PTZ flags (for cameras from the configuration file,
    /// whose other settings are not stored here).
    pub fn set_camera_ptz(&self, id: CameraId, ptz: Ptz) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET ptz_capable = ?2, ptz_control = ?3 WHERE id = ?1",
                params![id.0, ptz.capable, ptz.control],
            )
            .map(|_| ())
        })
    }

    /// Deletes a managed camera: it stops being listed and its name is freed;
    /// the row stays for its recordings (retention removes those). Its sealed
    /// credentials are erased. False if no such live managed camera.
    pub fn delete_managed_camera(&self, id: CameraId, now: Time90k) -> Result<bool, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE camera SET deleted_90k = ?2, enabled = 0, sealed_credentials = NULL,
                    name = name || ' [deleted ' || id || ']'
                 WHERE id = ?1 AND managed = 1 AND deleted_90k IS NULL",
                params![id.0, now.0],
            )
            .map(|n| n == 1)
        })
    }

    /// Every camera that is not deleted, with its settings, by id.
    pub fn camera_details(&self) -> Result<Vec<CameraDetail>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, managed, name, source_kind, source_config, enabled, recording_mode,
                    camera_group, segment_seconds, sealed_credentials, recording_config,
                    audio_enabled, audio_purpose, metadata_enabled, metadata_purpose, area,
                    ptz_capable, ptz_control
                 FROM camera WHERE deleted_90k IS NULL ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(CameraDetail {
                    id: CameraId(r.get(0)?),
                    managed: r.get(1)?,
                    settings: CameraSettings {
                        name: r.get(2)?,
                        source_kind: r.get(3)?,
                        source_config: r.get(4)?,
                        enabled: r.get(5)?,
                        recording_mode: r.get(6)?,
                        group: r.get(7)?,
                        segment_seconds: r.get(8)?,
                        recording_config: r.get(10)?,
                        audio: TrackConsent {
                            enabled: r.get(11)?,
                            purpose: r.get(12)?,
                        },
                        metadata: TrackConsent {
                            enabled: r.get(13)?,
                            purpose: r.get(14)?,
                        },
                        area: r.get(15)?,
                        ptz: Ptz {
                            capable: r.get(16)?,
                            control: r.get(17)?,
                        },
                    },
                    sealed_credentials: r.get(9)?,
                })
            })?;
            rows.collect()
        })
    }

    /// One camera that is not deleted, with its settings.
    pub fn camera_detail(&self, id: CameraId) -> Result<Option<CameraDetail>, Error> {
        Ok(self.camera_details()?.into_iter().find(|c| c.id == id))
    }

    /// All cameras that are not deleted, by id.
    pub fn cameras(&self) -> Result<Vec<CameraRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, name, source_kind, source_config, camera_group FROM camera
                 WHERE deleted_90k IS NULL ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                let group: String = r.get(4)?;
                Ok(CameraRow {
                    id: CameraId(r.get(0)?),
                    name: r.get(1)?,
                    source_kind: r.get(2)?,
                    source_config: r.get(3)?,
                    group: (!group.is_empty()).then_some(group),
                })
            })?;
            rows.collect()
        })
    }

    // --- keys ---

    /// The wrapped bucket key for a scope, if one exists.
    pub fn bucket_key(
        &self,
        camera: CameraId,
        rendition: &str,
        bucket_start: Time90k,
    ) -> Result<Option<(i64, Vec<u8>)>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT id, wrapped FROM bucket_key
                 WHERE camera_id = ?1 AND rendition = ?2 AND bucket_start_90k = ?3",
                params![camera.0, rendition, bucket_start.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    /// The wrapped bucket key with this id, if not destroyed.
    pub fn bucket_key_by_id(&self, id: i64) -> Result<Option<Vec<u8>>, Error> {
        self.with(|c| {
            c.query_row("SELECT wrapped FROM bucket_key WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// Some stored bucket key with its scope (camera, rendition, hour), to
    /// check a root key against a database that has no check value yet.
    pub fn any_bucket_key(&self) -> Result<Option<ScopedBucketKey>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT camera_id, rendition, bucket_start_90k, wrapped FROM bucket_key
                 ORDER BY id LIMIT 1",
                [],
                |r| {
                    Ok((
                        CameraId(r.get(0)?),
                        r.get(1)?,
                        Time90k(r.get(2)?),
                        r.get(3)?,
                    ))
                },
            )
            .optional()
        })
    }

    /// Stores a new wrapped bucket key and returns its id.
    pub fn insert_bucket_key(
        &self,
        camera: CameraId,
        rendition: &str,
        bucket_start: Time90k,
        wrapped: &[u8],
    ) -> Result<i64, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO bucket_key (camera_id, rendition, bucket_start_90k, wrapped)
                 VALUES (?1, ?2, ?3, ?4)",
                params![camera.0, rendition, bucket_start.0, wrapped],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Destroys a bucket key: the row is deleted (secure_delete overwrites the
    /// page) and the WAL is checkpointed and truncated so no copy of the wrapped
    /// key stays in the log. Every segment it wrapped becomes unreadable.
    pub fn destroy_bucket_key(&self, id: i64) -> Result<(), Error> {
        self.with(|c| {
            c.execute("DELETE FROM bucket_key WHERE id = ?1", [id])?;
            // The checkpoint copies the overwritten page into the main file and
            // empties the log; "busy" means a reader kept it from finishing.
            for _ in 0..50 {
                let busy: i64 = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
                if busy == 0 {
                    return Ok(true);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(false)
        })
        .and_then(|done| {
            if done {
                Ok(())
            } else {
                Err(Error::Database(
                    "the key was deleted but the write-ahead log could not be truncated; retry"
                        .into(),
                ))
            }
        })
    }

    /// Destroys a batch of bucket keys (retention): the rows are deleted in one
    /// transaction (secure_delete overwrites the freed bytes; the segments'
    /// `bucket_key_id` become NULL), then the WAL is checkpointed and
    /// truncated once for the whole batch. Returns how many keys existed and
    /// were deleted (an id already gone is skipped).
    pub fn destroy_bucket_keys(&self, ids: &[i64]) -> Result<usize, Error> {
        if ids.is_empty() {
            return Ok(0);
        }
        let n = self.with(|c| {
            let tx = c.transaction()?;
            let mut n = 0;
            {
                let mut st = tx.prepare_cached("DELETE FROM bucket_key WHERE id = ?1")?;
                for id in ids {
                    n += st.execute([id])?;
                }
            }
            tx.commit()?;
            Ok(n)
        })?;
        self.truncate_wal()?;
        Ok(n)
    }

    /// The (camera, rendition) pairs that have bucket keys.
    pub fn bucket_key_scopes(&self) -> Result<Vec<(CameraId, String)>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT DISTINCT camera_id, rendition FROM bucket_key
                 ORDER BY camera_id, rendition",
            )?;
            let rows = st.query_map([], |r| Ok((CameraId(r.get(0)?), r.get(1)?)))?;
            rows.collect()
        })
    }

    /// A page of one scope's bucket keys whose hour starts in `(after, until]`,
    /// oldest first, at most `limit` (for retention).
    pub fn bucket_keys_page(
        &self,
        camera: CameraId,
        rendition: &str,
        after: Time90k,
        until: Time90k,
        limit: usize,
    ) -> Result<Vec<crate::retention::StoredBucket>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, camera_id, rendition, bucket_start_90k FROM bucket_key
                 WHERE camera_id = ?1 AND rendition = ?2
                   AND bucket_start_90k > ?3 AND bucket_start_90k <= ?4
                 ORDER BY bucket_start_90k LIMIT ?5",
            )?;
            let rows = st.query_map(
                params![camera.0, rendition, after.0, until.0, limit as i64],
                |r| {
                    Ok(crate::retention::StoredBucket {
                        id: r.get(0)?,
                        camera: CameraId(r.get(1)?),
                        rendition: r.get(2)?,
                        start: Time90k(r.get(3)?),
                    })
                },
            )?;
            rows.collect()
        })
    }

    /// The segments a bucket key wraps, oldest first (for retention).
    pub fn bucket_segments(
        &self,
        bucket: i64,
    ) -> Result<Vec<crate::retention::StoredSegment>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {RETENTION_SEGMENT_COLUMNS} FROM segment
                 WHERE bucket_key_id = ?1 ORDER BY start_90k, id"
            ))?;
            let rows = st.query_map([bucket], stored_segment)?;
            rows.collect()
        })
    }

    /// A page of segments whose bucket key is destroyed and that no active
    /// lock or hold keeps, by id after `after`, at most `limit` (for
    /// retention: rows kept by a long lock must not fill every page).
    pub fn keyless_segments_page(
        &self,
        after: SegmentId,
        limit: usize,
    ) -> Result<Vec<crate::retention::StoredSegment>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {RETENTION_SEGMENT_COLUMNS} FROM segment
                 WHERE bucket_key_id IS NULL AND id > ?1
                   AND NOT EXISTS (
                       SELECT 1 FROM protected_segment ps
                       JOIN protection p ON p.id = ps.protection_id
                       WHERE ps.segment_id = segment.id AND p.released_90k IS NULL)
                 ORDER BY id LIMIT ?2"
            ))?;
            let rows = st.query_map(params![after.0, limit as i64], stored_segment)?;
            rows.collect()
        })
    }

    /// Deletes a batch of segment rows in one transaction and returns the
    /// object key and size of each row that existed (ids already gone are
    /// skipped), for the caller to delete the objects afterwards. Each
    /// recording chain it touches gets a removal link saying `reason`
    /// (`retention`, `decommission`, …) in the same transaction.
    pub fn delete_segments(
        &self,
        ids: &[SegmentId],
        reason: &str,
    ) -> Result<Vec<(String, u64)>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.with(|c| {
            let tx = c.transaction()?;
            let mut out = Vec::with_capacity(ids.len());
            let mut removed = Vec::with_capacity(ids.len());
            {
                let mut get = tx.prepare_cached(
                    "SELECT object_key, object_bytes, camera_id, rendition, start_90k,
                         start_90k + duration_90k
                     FROM segment WHERE id = ?1",
                )?;
                let mut del = tx.prepare_cached("DELETE FROM segment WHERE id = ?1")?;
                for id in ids {
                    let found: Option<(String, i64, i64, String, i64, i64)> = get
                        .query_row([id.0], |r| {
                            Ok((
                                r.get(0)?,
                                r.get(1)?,
                                r.get(2)?,
                                r.get(3)?,
                                r.get(4)?,
                                r.get(5)?,
                            ))
                        })
                        .optional()?;
                    if let Some((key, bytes, camera, rendition, start, end)) = found {
                        del.execute([id.0])?;
                        out.push((key, bytes.max(0) as u64));
                        removed.push((
                            CameraId(camera),
                            rendition,
                            *id,
                            Time90k(start),
                            Time90k(end),
                        ));
                    }
                }
            }
            chain::append_removals(&tx, reason, &removed)?;
            tx.commit()?;
            Ok(out)
        })
    }

    // --- segments ---

    /// Inserts a segment row (after its object is durable) and, when it has
    /// an object hash, its segment link in the same transaction.
    pub fn insert_segment(&self, s: &SegmentRow) -> Result<SegmentId, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let id = insert_segment_row(&tx, s)?;
            tx.commit()?;
            Ok(id)
        })
    }

    /// Readable (`ok`) segments of a camera and rendition overlapping
    /// `[start, end)`, oldest first.
    pub fn segments(
        &self,
        camera: CameraId,
        rendition: &str,
        start: Time90k,
        end: Time90k,
    ) -> Result<Vec<SegmentRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {SEGMENT_COLUMNS} FROM segment
                 WHERE camera_id = ?1 AND rendition = ?2 AND state = 'ok'
                   AND start_90k < ?4 AND start_90k > ?3 - ?5
                   AND start_90k + duration_90k > ?3
                 ORDER BY start_90k"
            ))?;
            let rows = st.query_map(
                params![
                    camera.0,
                    rendition,
                    start.0,
                    end.0,
                    crate::segment::MAX_SEGMENT_90K
                ],
                segment_row,
            )?;
            rows.collect()
        })
    }

    /// Segments marked `missing` or `corrupt`, oldest first (for `veil check`).
    pub fn unreadable_segments(&self) -> Result<Vec<SegmentRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {SEGMENT_COLUMNS} FROM segment WHERE state <> 'ok' ORDER BY id"
            ))?;
            let rows = st.query_map([], segment_row)?;
            rows.collect()
        })
    }

    /// Number of segment rows in any state.
    pub fn segment_count(&self) -> Result<u64, Error> {
        self.with(|c| {
            c.query_row("SELECT COUNT(*) FROM segment", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
    }

    /// Bytes of every segment object the database lists (what recordings
    /// take in the object store).
    pub fn segment_object_bytes(&self) -> Result<u64, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT COALESCE(SUM(object_bytes), 0) FROM segment",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
        })
    }

    /// `(id, object key, object size, state)` of every segment row.
    pub fn segment_objects(&self) -> Result<Vec<(SegmentId, String, u64, String)>, Error> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT id, object_key, object_bytes, state FROM segment ORDER BY id")?;
            let rows = st.query_map([], |r| {
                Ok((
                    SegmentId(r.get(0)?),
                    r.get(1)?,
                    r.get::<_, i64>(2)? as u64,
                    r.get(3)?,
                ))
            })?;
            rows.collect()
        })
    }

    /// Marks a segment `missing` or `corrupt` (never served again), or `ok`
    /// again once `veil check` finds it opens.
    pub fn mark_segment(&self, id: SegmentId, state: &str) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE segment SET state = ?2 WHERE id = ?1",
                params![id.0, state],
            )
            .map(|_| ())
        })
    }

    // --- motion events ---

    /// Records that motion started on `camera` at `start`; returns the
    /// event's id, to end it with [`Db::end_motion_event`].
    pub fn insert_motion_event(&self, camera: CameraId, start: Time90k) -> Result<i64, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO motion_event (camera_id, start_90k) VALUES (?1, ?2)",
                params![camera.0, start.0],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Sets the end of motion event `id` (once: an ended event keeps its end).
    pub fn end_motion_event(&self, id: i64, end: Time90k) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "UPDATE motion_event SET end_90k = ?2 WHERE id = ?1 AND end_90k IS NULL",
                params![id, end.0],
            )
            .map(|_| ())
        })
    }

    /// Ends every motion event of `camera` still open, at `end` (or at its
    /// start, if later): after a disconnection or a restart.
    pub fn end_open_motion_events(&self, camera: CameraId, end: Time90k) -> Result<usize, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE motion_event SET end_90k = CASE WHEN start_90k > ?2 THEN start_90k ELSE ?2 END
                 WHERE camera_id = ?1 AND end_90k IS NULL",
                params![camera.0, end.0],
            )
        })
    }

    /// Ends every open motion event (none is open before ingest starts, so
    /// these were left by a crash) at its camera's last recorded frame, or at
    /// its own start if nothing was recorded after it. Returns how many.
    pub fn close_interrupted_motion_events(&self) -> Result<usize, Error> {
        self.with(|c| {
            c.execute(
                "UPDATE motion_event SET end_90k = (
                     SELECT CASE WHEN MAX(s.start_90k + s.duration_90k) > motion_event.start_90k
                                 THEN MAX(s.start_90k + s.duration_90k)
                                 ELSE motion_event.start_90k END
                     FROM segment s WHERE s.camera_id = motion_event.camera_id)
                 WHERE end_90k IS NULL",
                [],
            )
        })
    }

    /// Motion events of `camera` overlapping `[start, end)` (an open event
    /// overlaps everything after its start), oldest first, at most `limit`.
    pub fn motion_events(
        &self,
        camera: CameraId,
        start: Time90k,
        end: Time90k,
        limit: i64,
    ) -> Result<Vec<MotionEventRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, camera_id, start_90k, end_90k FROM motion_event
                 WHERE camera_id = ?1 AND start_90k < ?3
                   AND (end_90k IS NULL OR end_90k > ?2)
                 ORDER BY start_90k, id LIMIT ?4",
            )?;
            let rows = st.query_map(params![camera.0, start.0, end.0, limit], |r| {
                Ok(MotionEventRow {
                    id: r.get(0)?,
                    camera_id: CameraId(r.get(1)?),
                    start_90k: Time90k(r.get(2)?),
                    end_90k: r.get::<_, Option<i64>>(3)?.map(Time90k),
                })
            })?;
            rows.collect()
        })
    }

    // --- users and sessions ---

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
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO app_user (pseudonym, name, password_hash, role, created_90k)
                 VALUES (?1, ?2, ?3, '', ?4)",
                params![pseudonym, name, password_hash, now.0],
            )?;
            let id = tx.last_insert_rowid();
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
        arg: rusqlite::types::Value,
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
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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
                "UPDATE app_user SET disabled = ?2, training_valid_until_90k = ?3,
                     disabled_90k = CASE WHEN ?2 = 0 THEN NULL
                         WHEN disabled = 1 AND disabled_90k IS NOT NULL THEN disabled_90k
                         ELSE ?4 END
                 WHERE id = ?1",
                params![
                    user.0,
                    disabled as i64,
                    training_valid_until.map(|t| t.0),
                    now.0
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
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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

    // --- roles ---

    /// Creates `templates` (name, definition) if no role exists yet (first
    /// setup), then gives users from before roles existed the roles named in
    /// their old `role` column.
    pub fn ensure_roles(&self, templates: &[(String, String)], now: Time90k) -> Result<(), Error> {
        self.with(|c| {
            // Immediate: it reads, then writes, possibly beside a running
            // server (the account commands); a deferred transaction would
            // fail at once with "database is locked" when the server wrote
            // in between, instead of waiting its turn.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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
            tx.execute(
                "INSERT OR IGNORE INTO user_role (user_id, role_id)
                 SELECT u.id, r.id FROM app_user u JOIN role r
                   ON instr(',' || replace(u.role, ' ', '') || ',', ',' || r.name || ',') > 0
                 WHERE u.role != ''",
                [],
            )?;
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
            c.execute(
                "INSERT INTO approval (requester_id, permission, resource, justification, state,
                     created_90k, expires_90k) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6)",
                params![
                    a.requester_id.0,
                    a.permission,
                    a.resource,
                    a.justification,
                    a.created_90k.0,
                    a.expires_90k.0
                ],
            )?;
            Ok(c.last_insert_rowid())
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
                "SELECT {APPROVAL_COLUMNS} FROM approval WHERE ?1 IS NULL OR state = ?1
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
                "SELECT hex(token_hash), created_90k, last_seen_90k, expires_90k
                 FROM user_session WHERE user_id = ?1 ORDER BY created_90k DESC",
            )?;
            let rows = st.query_map([user.0], |r| {
                Ok(SessionInfo {
                    id: r.get::<_, String>(0)?[..16].to_ascii_lowercase(),
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
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        self.with(|c| {
            Ok(c.execute(
                "DELETE FROM user_session WHERE user_id = ?1
                     AND substr(lower(hex(token_hash)), 1, 16) = lower(?2)",
                params![user.0, id],
            )? > 0)
        })
    }

    /// Stores an API token (by hash); returns its id.
    pub fn insert_token(&self, t: &TokenRow, token_hash: &[u8]) -> Result<i64, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO api_token (user_id, name, token_hash, roles, created_90k, expires_90k)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    t.user_id.0,
                    t.name,
                    token_hash,
                    t.roles,
                    t.created_90k.0,
                    t.expires_90k.0
                ],
            )?;
            Ok(c.last_insert_rowid())
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

    // --- access record ---

    /// Appends a batch of entries in one durable transaction (group commit: one
    /// fsync for the whole batch). `build` receives the chain's tail and returns
    /// the rows to insert, with `seq`, `prev_hash` and `hash` filled in.
    pub fn append_audit_batch(
        &self,
        build: impl FnOnce(AuditTail) -> Result<Vec<AuditRow>, Error>,
    ) -> Result<Vec<i64>, Error> {
        self.with(|c| {
            // Immediate: another process (a CLI export) may append too.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let tail = audit_tail(&tx)?;
            let rows = match build(tail) {
                Ok(rows) => rows,
                Err(e) => return Ok(Err(e)),
            };
            let mut seqs = Vec::with_capacity(rows.len());
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO audit (seq, time_90k, actor, action, resource, outcome, detail,
                         client, justification, prev_hash, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?;
                for e in &rows {
                    st.execute(params![
                        e.seq,
                        e.time_90k.0,
                        e.actor,
                        e.action,
                        e.resource,
                        e.outcome,
                        e.detail,
                        e.client,
                        e.justification,
                        e.prev_hash,
                        e.hash
                    ])?;
                    seqs.push(e.seq);
                }
            }
            tx.commit()?;
            Ok(Ok(seqs))
        })?
    }

    /// Chains entries written before the chain existed (schema version 1), in
    /// one transaction: `hash_of(prev_hash, row)` computes each hash.
    pub fn chain_unchained_audit(
        &self,
        mut hash_of: impl FnMut(&[u8], &AuditRow) -> Vec<u8>,
    ) -> Result<usize, Error> {
        self.with(|c| {
            let tx = c.transaction()?;
            let rows: Vec<AuditRow> = {
                let mut st = tx.prepare(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit WHERE hash IS NULL ORDER BY seq"
                ))?;
                let rows = st.query_map([], audit_row)?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for r in &rows {
                let prev: Vec<u8> = tx
                    .query_row("SELECT hash FROM audit WHERE seq = ?1", [r.seq - 1], |x| {
                        x.get::<_, Option<Vec<u8>>>(0)
                    })
                    .optional()?
                    .flatten()
                    .unwrap_or_else(|| vec![0; 32]);
                let h = hash_of(&prev, r);
                tx.execute(
                    "UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE seq = ?1",
                    params![r.seq, prev, h],
                )?;
            }
            tx.commit()?;
            Ok(rows.len())
        })
    }

    /// Entries with `from <= seq <= to`, oldest first, at most `limit`.
    pub fn audit_range(&self, from: i64, to: i64, limit: i64) -> Result<Vec<AuditRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3"
            ))?;
            let rows = st.query_map(params![from, to, limit], audit_row)?;
            rows.collect()
        })
    }

    /// Entries with `seq > after`, oldest first, at most `limit`.
    pub fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<AuditRow>, Error> {
        self.audit_range(after + 1, i64::MAX, limit)
    }

    /// The chain's tail: the last entry, or the latest anchor when every entry
    /// has been pruned.
    pub fn audit_tail(&self) -> Result<AuditTail, Error> {
        self.with(|c| audit_tail(c))
    }

    /// Stores a signed checkpoint.
    pub fn insert_audit_checkpoint(&self, k: &CheckpointRow) -> Result<(), Error> {
        self.with(|c| insert_checkpoint(c, k))
    }

    /// Checkpoints and anchors with `from <= seq <= to`, by sequence number.
    pub fn audit_checkpoints(&self, from: i64, to: i64) -> Result<Vec<CheckpointRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoint WHERE seq >= ?1 AND seq <= ?2
                 ORDER BY seq, kind"
            ))?;
            let rows = st.query_map(params![from, to], checkpoint_row)?;
            rows.collect()
        })
    }

    /// The latest checkpoint (not anchor), if any.
    pub fn latest_audit_checkpoint(&self) -> Result<Option<CheckpointRow>, Error> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoint WHERE kind = 'checkpoint'
                     ORDER BY seq DESC LIMIT 1"
                ),
                [],
                checkpoint_row,
            )
            .optional()
        })
    }

    /// The latest pruning anchor, if any: the chain starts after it.
    pub fn latest_audit_anchor(&self) -> Result<Option<CheckpointRow>, Error> {
        self.with(|c| latest_anchor(c))
    }

    /// The last entry written strictly before `time`, as `(seq, hash)`.
    pub fn last_audit_entry_before(&self, time: Time90k) -> Result<AuditTail, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT seq, hash FROM audit WHERE time_90k < ?1 ORDER BY seq DESC LIMIT 1",
                [time.0],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get::<_, Option<Vec<u8>>>(1)?.unwrap_or_default(),
                    ))
                },
            )
            .optional()
        })
    }

    /// The first entry written at or after `time`, by sequence number.
    pub fn first_audit_seq_at_or_after(&self, time: Time90k) -> Result<Option<i64>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT MIN(seq) FROM audit WHERE time_90k >= ?1",
                [time.0],
                |r| r.get(0),
            )
        })
    }

    /// Prunes behind `anchor` in one transaction: stores the anchor, then
    /// deletes every entry and checkpoint up to its sequence number (the
    /// triggers allow deletion only behind an anchor). Returns the number of
    /// entries deleted.
    pub fn prune_audit(&self, anchor: &CheckpointRow) -> Result<usize, Error> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            insert_checkpoint(&tx, anchor)?;
            let n = tx.execute("DELETE FROM audit WHERE seq <= ?1", [anchor.seq])?;
            tx.execute(
                "DELETE FROM audit_checkpoint WHERE kind = 'checkpoint' AND seq <= ?1",
                [anchor.seq],
            )?;
            tx.commit()?;
            Ok(n)
        })
    }

    // --- settings ---

    /// A stored setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>, Error> {
        self.with(|c| {
            c.query_row("SELECT value FROM setting WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// Stores a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO setting (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = ?2",
                params![key, value],
            )
            .map(|_| ())
        })
    }
}

// --- bookmarks ---

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

fn bookmark_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BookmarkRow> {
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
            c.execute(
                "INSERT INTO bookmark
                   (camera_id, start_90k, end_90k, note, author_id, created_90k, expires_90k)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    b.camera_id.0,
                    b.start_90k.0,
                    b.end_90k.map(|t| t.0),
                    b.note,
                    b.author_id.map(|u| u.0),
                    b.created_90k.0,
                    b.expires_90k.0
                ],
            )?;
            Ok(c.last_insert_rowid())
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
                 WHERE (?1 IS NULL OR b.camera_id = ?1)
                   AND COALESCE(b.end_90k, b.start_90k) >= ?2
                   AND b.start_90k < ?3
                   AND (?4 IS NULL OR LOWER(b.note) LIKE LOWER(?4) ESCAPE '\\')
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

/// Erases one account in `tx`: the name becomes NULL, the account is
/// disabled, its password hash is replaced by `unusable_hash` and its
/// sessions are deleted (erasure on request and anonymisation by retention).
fn erase_account(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    unusable_hash: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE app_user SET name = NULL, disabled = 1, password_hash = ?2 WHERE id = ?1",
        params![id, unusable_hash],
    )?;
    tx.execute("DELETE FROM user_session WHERE user_id = ?1", [id])?;
    Ok(())
}

// --- reading the access record ---

/// Which access-record entries to read ([`Db::audit_query`]). Every field that
/// is `Some` must match; `None` matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Exact actor (a pseudonym, `anonymous` or `cli`).
    pub actor: Option<String>,
    /// Exact resource, e.g. `camera:1`.
    pub resource: Option<String>,
    /// Exact action id, e.g. `playback`.
    pub action: Option<String>,
    /// Exact outcome, e.g. `denied`.
    pub outcome: Option<String>,
    /// Entries at or after this time.
    pub from: Option<Time90k>,
    /// Entries strictly before this time.
    pub to: Option<Time90k>,
    /// Entries with a sequence number below this one (paging cursor).
    pub before_seq: Option<i64>,
}

/// An account as the access record's readers see it: the pseudonym and the
/// current name (`None` once erased).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserName {
    /// Stable random id used in the access record.
    pub pseudonym: String,
    /// Current login name, if not erased.
    pub name: Option<String>,
}

impl Db {
    /// Entries matching `f`, newest first, at most `limit`.
    pub fn audit_query(&self, f: &AuditFilter, limit: i64) -> Result<Vec<AuditRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit
                 WHERE seq < ?1
                   AND (?2 IS NULL OR actor = ?2)
                   AND (?3 IS NULL OR resource = ?3)
                   AND (?4 IS NULL OR action = ?4)
                   AND (?5 IS NULL OR outcome = ?5)
                   AND time_90k >= ?6 AND time_90k < ?7
                 ORDER BY seq DESC LIMIT ?8"
            ))?;
            let rows = st.query_map(
                params![
                    f.before_seq.unwrap_or(i64::MAX),
                    f.actor,
                    f.resource,
                    f.action,
                    f.outcome,
                    f.from.map_or(i64::MIN, |t| t.0),
                    f.to.map_or(i64::MAX, |t| t.0),
                    limit
                ],
                audit_row,
            )?;
            rows.collect()
        })
    }

    /// Entries with `from <= time < to` and `seq > after_seq`, oldest first, at
    /// most `limit`: page through a period by passing the last `seq` seen.
    pub fn audit_in_period(
        &self,
        from: Time90k,
        to: Time90k,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, Error> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit
                 WHERE seq > ?1 AND time_90k >= ?2 AND time_90k < ?3
                 ORDER BY seq LIMIT ?4"
            ))?;
            let rows = st.query_map(params![after_seq, from.0, to.0, limit], audit_row)?;
            rows.collect()
        })
    }

    /// Every account's pseudonym and current name.
    pub fn user_names(&self) -> Result<Vec<UserName>, Error> {
        self.with(|c| {
            let mut st = c.prepare("SELECT pseudonym, name FROM app_user ORDER BY id")?;
            let rows = st.query_map([], |r| {
                Ok(UserName {
                    pseudonym: r.get(0)?,
                    name: r.get(1)?,
                })
            })?;
            rows.collect()
        })
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

    /// Copies the write-ahead log into the main file and truncates it, retrying
    /// briefly while a reader keeps the checkpoint from finishing.
    fn truncate_wal(&self) -> Result<(), Error> {
        let done = self.with(|c| {
            for _ in 0..50 {
                let busy: i64 = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
                if busy == 0 {
                    return Ok(true);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(false)
        })?;
        if done {
            Ok(())
        } else {
            Err(Error::Database(
                "the change was committed but the write-ahead log could not be truncated; retry"
                    .into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_and_audit_is_append_only() {
        let db = Db::open_in_memory().unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION as i64);
        let e = AuditRow {
            seq: 1,
            time_90k: Time90k(1),
            actor: "u-1".into(),
            action: "login".into(),
            resource: "session".into(),
            outcome: "ok".into(),
            detail: String::new(),
            client: String::new(),
            justification: String::new(),
            prev_hash: vec![0; 32],
            hash: vec![7; 32],
        };
        let seqs = db
            .append_audit_batch(|tail| {
                assert_eq!(tail, None);
                Ok(vec![e.clone()])
            })
            .unwrap();
        assert_eq!(seqs, vec![1]);
        let err = db
            .with(|c| c.execute("UPDATE audit SET outcome = 'x'", []))
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        assert!(db.with(|c| c.execute("DELETE FROM audit", [])).is_err());
        assert_eq!(db.audit_entries(0, 10).unwrap(), vec![e]);
    }

    /// Ids of destroyed bucket keys are never handed out again, and
    /// migration 9 keeps every id and every segment's reference.
    #[test]
    fn bucket_key_ids_are_never_reused_and_migration_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v8.db");
        {
            let mut c = Connection::open(&path).unwrap();
            let tx = c.transaction().unwrap();
            for m in &MIGRATIONS[..8] {
                tx.execute_batch(m).unwrap();
            }
            tx.execute_batch(
                "PRAGMA user_version = 8;
                 INSERT INTO camera (id, name, source_kind, source_config, created_90k)
                     VALUES (1, 'c', 'synthetic', '{}', 0);
                 INSERT INTO bucket_key (id, camera_id, rendition, bucket_start_90k, wrapped)
                     VALUES (1, 1, 'main', 0, x'00'), (2, 1, 'main', 1, x'00');
                 INSERT INTO segment (camera_id, rendition, run_start_90k, start_90k,
                     duration_90k, frames, media_bytes, object_key, object_bytes,
                     bucket_key_id, wrapped_key, sealed_index)
                     VALUES (1, 'main', 0, 0, 1, 1, 1, 'k', 1, 2, x'00', x'00');",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION as i64);
        let refs: Option<i64> = db
            .with(|c| c.query_row("SELECT bucket_key_id FROM segment", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(refs, Some(2), "the segment keeps its bucket key");
        db.destroy_bucket_key(2).unwrap();
        let refs: Option<i64> = db
            .with(|c| c.query_row("SELECT bucket_key_id FROM segment", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(refs, None, "foreign keys are on again after migrating");
        let cam = CameraId(1);
        let next = db.insert_bucket_key(cam, "main", Time90k(1), b"w").unwrap();
        assert_eq!(next, 3, "id 2 was destroyed and is not reused");
        db.destroy_bucket_key(next).unwrap();
        assert_eq!(
            db.insert_bucket_key(cam, "main", Time90k(1), b"w").unwrap(),
            4
        );
    }

    /// A TOTP step or a recovery code is used up by the one update that
    /// changes the row: a second use of the same step, an older step, or a
    /// code list that changed meanwhile changes nothing and is refused.
    #[test]
    fn second_factor_codes_are_consumed_once() {
        let db = Db::open_in_memory().unwrap();
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
    fn reopening_keeps_version() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("veil.db");
        Db::open(&p)
            .unwrap()
            .upsert_camera("a", "synthetic", "{}", Time90k(0))
            .unwrap();
        let db = Db::open(&p).unwrap();
        assert_eq!(db.cameras().unwrap().len(), 1);
        let mode: String = db
            .with(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(mode, "wal");
        let sd: i64 = db
            .with(|c| c.query_row("PRAGMA secure_delete", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(sd, 1);
    }
}

#[cfg(test)]
mod reading_tests {
    use super::*;

    fn row(seq: i64, t: i64, actor: &str, action: &str, resource: &str, outcome: &str) -> AuditRow {
        AuditRow {
            seq,
            time_90k: Time90k(t),
            actor: actor.into(),
            action: action.into(),
            resource: resource.into(),
            outcome: outcome.into(),
            detail: String::new(),
            client: String::new(),
            justification: String::new(),
            prev_hash: vec![0; 32],
            hash: vec![seq as u8; 32],
        }
    }

    fn filled() -> Db {
        let db = Db::open_in_memory().unwrap();
        db.append_audit_batch(|_| {
            Ok(vec![
                row(1, 10, "u-a", "login", "session", "ok"),
                row(2, 20, "u-a", "playback", "camera:1", "ok"),
                row(3, 30, "u-b", "login", "session", "denied"),
                row(4, 40, "u-b", "live_view", "camera:2", "ok"),
                row(5, 50, "u-a", "playback", "camera:2", "ok"),
            ])
        })
        .unwrap();
        db
    }

    fn seqs(db: &Db, f: AuditFilter, limit: i64) -> Vec<i64> {
        db.audit_query(&f, limit)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect()
    }

    #[test]
    fn query_filters_newest_first_and_pages() {
        let db = filled();
        assert_eq!(seqs(&db, AuditFilter::default(), 100), [5, 4, 3, 2, 1]);
        assert_eq!(seqs(&db, AuditFilter::default(), 2), [5, 4]);
        let page2 = AuditFilter {
            before_seq: Some(4),
            ..Default::default()
        };
        assert_eq!(seqs(&db, page2, 2), [3, 2]);
        let actor = AuditFilter {
            actor: Some("u-a".into()),
            ..Default::default()
        };
        assert_eq!(seqs(&db, actor, 100), [5, 2, 1]);
        let cam = AuditFilter {
            resource: Some("camera:2".into()),
            action: Some("playback".into()),
            ..Default::default()
        };
        assert_eq!(seqs(&db, cam, 100), [5]);
        let denied = AuditFilter {
            outcome: Some("denied".into()),
            ..Default::default()
        };
        assert_eq!(seqs(&db, denied, 100), [3]);
        let period = AuditFilter {
            from: Some(Time90k(20)),
            to: Some(Time90k(40)),
            ..Default::default()
        };
        assert_eq!(seqs(&db, period, 100), [3, 2]);
        let in_period = db.audit_in_period(Time90k(20), Time90k(50), 2, 10).unwrap();
        assert_eq!(in_period.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4]);
    }

    #[test]
    fn motion_events_open_end_once_and_overlap_queries() {
        let db = Db::open_in_memory().unwrap();
        let a = db
            .upsert_camera("a", "synthetic", "{}", Time90k(0))
            .unwrap();
        let b = db
            .upsert_camera("b", "synthetic", "{}", Time90k(0))
            .unwrap();
        let e1 = db.insert_motion_event(a, Time90k(100)).unwrap();
        let e2 = db.insert_motion_event(a, Time90k(500)).unwrap();
        let other = db.insert_motion_event(b, Time90k(100)).unwrap();
        db.end_motion_event(e1, Time90k(200)).unwrap();
        // An ended event keeps its first end.
        db.end_motion_event(e1, Time90k(900)).unwrap();
        let all = db
            .motion_events(a, Time90k(0), Time90k(10_000), 100)
            .unwrap();
        assert_eq!(
            all,
            vec![
                MotionEventRow {
                    id: e1,
                    camera_id: a,
                    start_90k: Time90k(100),
                    end_90k: Some(Time90k(200)),
                },
                MotionEventRow {
                    id: e2,
                    camera_id: a,
                    start_90k: Time90k(500),
                    end_90k: None,
                },
            ]
        );
        // Overlap: [150, 160) touches the first; the open one from 500 on.
        let ids = |s, e| -> Vec<i64> {
            db.motion_events(a, Time90k(s), Time90k(e), 100)
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(ids(150, 160), [e1]);
        assert_eq!(ids(200, 500), Vec::<i64>::new(), "end and start exclusive");
        assert_eq!(ids(5000, 6000), [e2], "an open event lasts");
        assert_eq!(ids(0, 100), Vec::<i64>::new());
        assert_eq!(
            db.motion_events(a, Time90k(0), Time90k(10_000), 1)
                .unwrap()
                .len(),
            1
        );
        // Open events are closed after a disconnection, never before they began.
        assert_eq!(db.end_open_motion_events(a, Time90k(400)).unwrap(), 1);
        let closed = db
            .motion_events(a, Time90k(0), Time90k(10_000), 100)
            .unwrap();
        assert_eq!(closed[1].end_90k, Some(Time90k(500)));
        let b_events = db
            .motion_events(b, Time90k(0), Time90k(10_000), 100)
            .unwrap();
        assert_eq!(b_events[0].id, other);
        assert_eq!(b_events[0].end_90k, None, "other cameras are untouched");
    }

    #[test]
    fn motion_events_left_open_by_a_crash_end_at_the_last_recorded_frame() {
        let db = Db::open_in_memory().unwrap();
        let a = db
            .upsert_camera("a", "synthetic", "{}", Time90k(0))
            .unwrap();
        let b = db
            .upsert_camera("b", "synthetic", "{}", Time90k(0))
            .unwrap();
        db.insert_segment(&SegmentRow {
            id: SegmentId(0),
            camera_id: a,
            rendition: "main".into(),
            run_start_90k: Time90k(100),
            start_90k: Time90k(100),
            duration_90k: 1000,
            frames: 25,
            media_bytes: 1,
            object_key: "a/1".into(),
            object_bytes: 1,
            bucket_key_id: None,
            wrapped_key: vec![0],
            sealed_index: vec![0],
            mask_version_id: None,
            object_sha256: None,
        })
        .unwrap();
        let ended = db.insert_motion_event(a, Time90k(150)).unwrap();
        db.end_motion_event(ended, Time90k(300)).unwrap();
        let open = db.insert_motion_event(a, Time90k(500)).unwrap();
        let unrecorded = db.insert_motion_event(b, Time90k(700)).unwrap();
        assert_eq!(db.close_interrupted_motion_events().unwrap(), 2);
        let end_of = |camera, id| {
            db.motion_events(camera, Time90k(0), Time90k(10_000), 10)
                .unwrap()
                .into_iter()
                .find(|e| e.id == id)
                .unwrap()
                .end_90k
        };
        assert_eq!(end_of(a, open), Some(Time90k(1100)), "the last frame's end");
        assert_eq!(
            end_of(a, ended),
            Some(Time90k(300)),
            "an ended event keeps its end"
        );
        assert_eq!(
            end_of(b, unrecorded),
            Some(Time90k(700)),
            "nothing recorded: its start"
        );
        assert_eq!(db.close_interrupted_motion_events().unwrap(), 0);
    }

    #[test]
    fn erasing_a_user_keeps_the_pseudonym_only() {
        let db = Db::open_in_memory().unwrap();
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

    #[test]
    fn bookmarks_filter_page_and_expire() {
        let db = Db::open_in_memory().unwrap();
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

    fn segment_in(
        db: &Db,
        camera: CameraId,
        bucket: Option<i64>,
        start: i64,
        key: &str,
    ) -> SegmentId {
        db.insert_segment(&SegmentRow {
            id: SegmentId(0),
            camera_id: camera,
            rendition: "main".into(),
            run_start_90k: Time90k(start),
            start_90k: Time90k(start),
            duration_90k: 900,
            frames: 9,
            media_bytes: 10,
            object_key: key.into(),
            object_bytes: 40,
            bucket_key_id: bucket,
            wrapped_key: vec![0],
            sealed_index: vec![0],
            mask_version_id: None,
            object_sha256: None,
        })
        .unwrap()
    }

    #[test]
    fn retention_reads_pages_and_destroys_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("veil.db")).unwrap();
        let a = db
            .upsert_camera("a", "synthetic", "{}", Time90k(0))
            .unwrap();
        let b = db
            .upsert_camera("b", "synthetic", "{}", Time90k(0))
            .unwrap();
        let hour = crate::segment::BUCKET_90K;
        let keys: Vec<i64> = (0..4)
            .map(|h| {
                db.insert_bucket_key(a, "main", Time90k(h * hour), &[h as u8; 8])
                    .unwrap()
            })
            .collect();
        let kb = db
            .insert_bucket_key(b, "main", Time90k(0), &[9; 8])
            .unwrap();
        let s0 = segment_in(&db, a, Some(keys[0]), 10, "a/0");
        let s1 = segment_in(&db, a, Some(keys[0]), 5, "a/1");
        let s2 = segment_in(&db, a, Some(keys[1]), hour + 5, "a/2");
        segment_in(&db, b, Some(kb), 7, "b/0");

        assert_eq!(
            db.bucket_key_scopes().unwrap(),
            [(a, "main".to_owned()), (b, "main".to_owned())]
        );
        // Bounded pages, oldest first, within (after, until].
        let page = db
            .bucket_keys_page(a, "main", Time90k(i64::MIN), Time90k(2 * hour), 2)
            .unwrap();
        assert_eq!(page.iter().map(|b| b.id).collect::<Vec<_>>(), keys[..2]);
        assert_eq!(page[1].start, Time90k(hour));
        let next = db
            .bucket_keys_page(a, "main", Time90k(hour), Time90k(i64::MAX), 10)
            .unwrap();
        assert_eq!(next.iter().map(|b| b.id).collect::<Vec<_>>(), keys[2..]);
        let segs = db.bucket_segments(keys[0]).unwrap();
        assert_eq!(segs.iter().map(|s| s.id).collect::<Vec<_>>(), [s1, s0]);
        assert_eq!((segs[0].start, segs[0].end), (Time90k(5), Time90k(905)));
        assert_eq!(segs[0].bucket, Some(keys[0]));
        assert!(db
            .keyless_segments_page(SegmentId(0), 10)
            .unwrap()
            .is_empty());

        // One batch: both keys gone, an unknown id skipped, their segments keyless.
        assert_eq!(db.destroy_bucket_keys(&[keys[0], keys[1], 999]).unwrap(), 2);
        assert_eq!(db.bucket_key_by_id(keys[0]).unwrap(), None);
        assert!(db.bucket_key_by_id(keys[2]).unwrap().is_some());
        let keyless = db.keyless_segments_page(SegmentId(0), 2).unwrap();
        assert_eq!(keyless.iter().map(|s| s.id).collect::<Vec<_>>(), [s0, s1]);
        assert!(keyless.iter().all(|s| s.bucket.is_none()));
        let rest = db.keyless_segments_page(s1, 2).unwrap();
        assert_eq!(rest.iter().map(|s| s.id).collect::<Vec<_>>(), [s2]);
        // The WAL was truncated once the batch was committed.
        let wal = dir.path().join("veil.db-wal");
        assert_eq!(std::fs::metadata(&wal).map_or(0, |m| m.len()), 0);

        // Rows deleted in one transaction; their objects returned.
        let gone = db
            .delete_segments(&[s0, s2, SegmentId(999)], "retention")
            .unwrap();
        assert_eq!(gone, [("a/0".to_owned(), 40), ("a/2".to_owned(), 40)]);
        assert_eq!(db.segment_count().unwrap(), 2);
        assert!(db.delete_segments(&[], "retention").unwrap().is_empty());
        assert_eq!(db.destroy_bucket_keys(&[]).unwrap(), 0);
        // The single-key destroy still works for its callers.
        db.destroy_bucket_key(kb).unwrap();
        assert_eq!(db.bucket_key_by_id(kb).unwrap(), None);
    }
}
