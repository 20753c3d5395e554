//! A fixed, realistic configuration for the tests of the documents and the
//! lint: a small shop with two sites. Tests change a copy to make a rule
//! fire; the documents' snapshots pin what it renders to.

#![allow(dead_code)] // used by the documents' and the lint's tests

use veil_base::{Time90k, TIME_UNITS_PER_SEC};

use crate::model::*;

/// 2026-11-02T10:00:00Z.
pub const NOW: Time90k = Time90k(1_793_613_600 * TIME_UNITS_PER_SEC);

/// Days as 90 kHz ticks.
pub fn days(n: i64) -> i64 {
    n * 86_400 * TIME_UNITS_PER_SEC
}

/// The stamp documents in tests carry.
pub fn stamp() -> Stamp {
    Stamp {
        version: 7,
        since: Time90k(NOW.0 - days(2)),
        generated: NOW,
    }
}

/// A compliant configuration: every rule of the lint passes on it.
pub fn snapshot() -> Snapshot {
    let purpose = |purposes: &[&str], basis, detail, site: &str| Purpose {
        purposes: purposes.iter().map(|s| s.to_string()).collect(),
        legal_basis: basis,
        balancing_note: if basis == LegalBasis::LegitimateInterests {
            "Staff and customers expect cameras at the tills; the view excludes the street, \
             rest areas and toilets; recordings are opened only after an incident."
                .into()
        } else {
            String::new()
        },
        detail,
        site: site.into(),
        retention_justification: "Incidents are reported to the manager within 72 hours.".into(),
    };
    let camera = |id, name: &str, area: &str, p| Camera {
        id,
        name: name.into(),
        area: area.into(),
        purpose: Some(p),
        enabled: true,
        recording_mode: "continuous".into(),
        retention_hours: 72,
        retention_rule_justification: String::new(),
        original_retention_hours: None,
        masks: 0,
        liftable_masks: 0,
        ptz_control: false,
        audio: None,
        metadata: None,
        credentials: CredentialCheck {
            set: true,
            factory_default: false,
            reused: false,
        },
        analytics: Vec::new(),
    };
    let mut entrance = camera(
        1,
        "Entrance",
        "public_facing",
        purpose(
            &["Protection of property against theft and vandalism"],
            LegalBasis::LegitimateInterests,
            Detail::Recognition,
            "shop",
        ),
    );
    entrance.retention_hours = 48;
    entrance.masks = 1;
    let till = camera(
        2,
        "Till",
        "workplace",
        purpose(
            &[
                "Protection of staff against robbery",
                "Investigation of cash-desk incidents",
            ],
            LegalBasis::LegitimateInterests,
            Detail::Identification,
            "shop",
        ),
    );
    let mut yard = camera(
        3,
        "Yard",
        "residential_adjacent",
        purpose(
            &["Protection of the goods yard against intrusion at night"],
            LegalBasis::LegitimateInterests,
            Detail::Detection,
            "depot",
        ),
    );
    yard.masks = 2;
    yard.liftable_masks = 1;
    yard.original_retention_hours = Some(24);
    yard.recording_mode = "motion".into();
    let role = |name: &str, description: &str, permissions: &[&str], mfa, holders| Role {
        name: name.into(),
        description: description.into(),
        permissions: permissions.iter().map(|s| s.to_string()).collect(),
        all_cameras: true,
        playback_window_hours: None,
        limited_hours: false,
        require_second_factor: mfa,
        holders,
    };
    let mut operator = role(
        "operator",
        "Watches live video and recent recordings.",
        &["live.view", "playback"],
        false,
        3,
    );
    operator.playback_window_hours = Some(72);
    Snapshot {
        organisation: Organisation {
            controller: Party {
                name: "Mercearia Lobo, Lda.".into(),
                address: "Rua Augusta 10, 1100-053 Lisboa".into(),
                email: "privacy@mercearia-lobo.example".into(),
                phone: "+351 21 000 0000".into(),
            },
            dpo: Party {
                name: "Data Protection Office".into(),
                address: String::new(),
                email: "dpo@mercearia-lobo.example".into(),
                phone: String::new(),
            },
            authority: Authority {
                name: "Comissão Nacional de Proteção de Dados".into(),
                contact: "https://www.cnpd.pt".into(),
            },
            sites: vec![
                Site {
                    id: "shop".into(),
                    name: "Shop".into(),
                    address: "Rua Augusta 10, Lisboa".into(),
                },
                Site {
                    id: "depot".into(),
                    name: "Depot".into(),
                    address: "Rua do Armazém 2, Loures".into(),
                },
            ],
            storage: Storage {
                data_country: "PT".into(),
                object_store_country: String::new(),
                backups: vec![Backup {
                    description: "Nightly encrypted copy to the depot's server".into(),
                    country: "PT".into(),
                    off_site: true,
                }],
                transfer_basis: String::new(),
            },
            information_at: "https://mercearia-lobo.example/cctv and at the shop's counter".into(),
        },
        cameras: vec![entrance, till, yard],
        roles: vec![
            operator,
            role(
                "administrator",
                "Runs the system.",
                &[
                    "live.view",
                    "cameras.admin",
                    "masks.admin",
                    "retention.admin",
                    "users.admin",
                ],
                true,
                1,
            ),
            role(
                "auditor",
                "Reads the access record.",
                &["audit.read"],
                true,
                1,
            ),
            role(
                "investigator",
                "Reviews and exports recordings for an incident.",
                &["playback", "export", "masks.lift"],
                true,
                1,
            ),
        ],
        processors: vec![Processor {
            id: 1,
            name: "Segurança Alfa, S.A.".into(),
            kind: "maintenance".into(),
            agreement_date: "2026-01-15".into(),
            scope: "Installation and repair of cameras and the recorder; no access to recordings."
                .into(),
            country: "PT".into(),
            transfer_basis: String::new(),
            active_accounts: 0,
        }],
        security: Security {
            tls: "self_signed".into(),
            trusted_proxies: 0,
            root_key_source: "file".into(),
            root_key_rotation_days: 30,
            audit_retention_days: 365,
            audit_checkpoint_copy: true,
            client_address: "truncated".into(),
            four_eyes: vec!["export".into(), "masks.lift".into(), "locks.release".into()],
            lift_key: "server".into(),
            policy_version: 2,
            access_review_months: 6,
            max_administrators: 3,
        },
        retention: Retention {
            hours: 72,
            justification: String::new(),
            original_hours: 24,
        },
    }
}

/// The accounts of [`snapshot`]: each with its policy acknowledged,
/// training valid and a recent access review.
pub fn accounts() -> Vec<Account> {
    let account = |id, login: &str, roles: &[&str]| Account {
        id,
        login: login.into(),
        roles: roles.iter().map(|s| s.to_string()).collect(),
        disabled: false,
        created: Time90k(NOW.0 - days(400)),
        policy_ack_version: 2,
        training_valid_until: Some(Time90k(NOW.0 + days(100))),
        last_access_review: Some(Time90k(NOW.0 - days(30))),
        processor: None,
        expires: None,
        pseudonym: format!("u-{id:016x}"),
    };
    vec![
        account(1, "maria.santos", &["administrator"]),
        account(2, "joao.pereira", &["operator"]),
        account(3, "ana.costa", &["operator"]),
        account(4, "rui.almeida", &["operator", "investigator"]),
        account(5, "teresa.lima", &["auditor"]),
    ]
}
