//! The SQLite schema as numbered migrations. Released migrations are never
//! edited; a schema change is a new entry at the end.

/// Migrations, in order. Index + 1 is the schema version after applying it.
pub(crate) const MIGRATIONS: &[&str] = &[
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
    // 21 (scale-out, `db/leases.rs`): one lease row per camera (its holder,
    // the fencing token that only ever grows, and when it expires), and the
    // registry of nodes (recorders count each other to share the cameras;
    // web nodes find the recorder holding a camera).
    r#"
    CREATE TABLE camera_lease (
        camera_id INTEGER PRIMARY KEY REFERENCES camera (id) ON DELETE CASCADE,
        holder TEXT NOT NULL,
        token INTEGER NOT NULL,
        expires_90k INTEGER NOT NULL
    );
    CREATE TABLE recorder_node (
        id TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        address TEXT NOT NULL DEFAULT '',
        seen_90k INTEGER NOT NULL
    );
    "#,
    // 22 (scale-out, `db/jobs.rs`): job leases (one node at a time runs the
    // installation's maintenance jobs), and each camera's status as the
    // recorder holding it last wrote it (shown by every node's API).
    r#"
    CREATE TABLE job_lease (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        token INTEGER NOT NULL,
        expires_90k INTEGER NOT NULL
    );
    CREATE TABLE camera_status (
        camera_id INTEGER PRIMARY KEY REFERENCES camera (id) ON DELETE CASCADE,
        node TEXT NOT NULL,
        state TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        updated_90k INTEGER NOT NULL
    );
    "#,
    // 23 (scale-out, `db/export_packages.rs`): the node that runs each
    // export (`''` on the embedded database), so that a node starting
    // fails only the exports it had itself running.
    r#"
    ALTER TABLE export_package ADD COLUMN node TEXT NOT NULL DEFAULT '';
    "#,
];
