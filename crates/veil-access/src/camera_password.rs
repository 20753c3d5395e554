//! Camera passwords, checked when they are set (D9): whether one is a
//! maker's factory default, and a fingerprint that shows the same password
//! on two cameras without keeping it in clear.
//!
//! The fingerprint is argon2id of the password under a salt of the
//! installation (random, kept by the caller): slow to invert by guessing,
//! and useless outside the installation, since nobody can compare it with
//! another installation's.

use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

/// User and password pairs IP cameras and recorders ship with.
const DEFAULT_PAIRS: &[(&str, &str)] = &[
    ("admin", ""),
    ("admin", "admin"),
    ("admin", "1234"),
    ("admin", "12345"),
    ("admin", "123456"),
    ("admin", "4321"),
    ("admin", "1111"),
    ("admin", "1111111"),
    ("admin", "9999"),
    ("admin", "password"),
    ("admin", "pass"),
    ("admin", "admin123"),
    ("admin", "admin1234"),
    ("admin", "meinsm"),
    ("admin", "jvc"),
    ("admin", "fliradmin"),
    ("admin", "system"),
    ("admin", "camera"),
    ("admin", "ikwd"),
    ("admin", "wbox123"),
    ("admin", "default"),
    ("Admin", "1234"),
    ("Admin", "123456"),
    ("administrator", "1234"),
    ("Administrator", ""),
    ("root", ""),
    ("root", "pass"),
    ("root", "root"),
    ("root", "admin"),
    ("root", "camera"),
    ("root", "system"),
    ("root", "12345"),
    ("root", "ikwb"),
    ("root", "xc3511"),
    ("ubnt", "ubnt"),
    ("service", "service"),
    ("supervisor", "supervisor"),
    ("user", "user"),
    ("guest", "guest"),
    ("operator", "operator"),
    ("viewer", "viewer"),
    ("default", "default"),
    ("888888", "888888"),
    ("666666", "666666"),
];

/// Passwords that are a factory default whatever the user name.
const DEFAULT_PASSWORDS: &[&str] = &[
    "",
    "888888",
    "666666",
    "123456",
    "12345",
    "1234",
    "4321",
    "1111",
    "9999",
    "0000",
    "admin",
    "password",
    "pass",
    "root",
    "ubnt",
    "service",
    "supervisor",
    "meinsm",
    "ikwd",
    "ikwb",
    "xc3511",
    "wbox123",
    "admin123",
    "admin1234",
    "fliradmin",
    "camera",
    "system",
    "default",
];

/// Whether `username`/`password` is a known factory default: one of the
/// pairs cameras ship with, a password cameras ship with for any user, or
/// the user name repeated as the password. User names compare without case,
/// passwords exactly.
pub fn factory_default(username: &str, password: &str) -> bool {
    DEFAULT_PASSWORDS.contains(&password)
        || password == username
        || DEFAULT_PAIRS
            .iter()
            .any(|(u, p)| u.eq_ignore_ascii_case(username) && *p == password)
}

/// A new installation salt for [`fingerprint`].
pub fn new_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    salt
}

/// The fingerprint of `password` under the installation's `salt` (at least
/// 8 bytes): argon2id with the account passwords' parameters, 32 bytes.
pub fn fingerprint(password: &str, salt: &[u8]) -> [u8; 32] {
    let argon = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(
            crate::password::MEMORY_KIB,
            crate::password::ITERATIONS,
            crate::password::LANES,
            Some(32),
        )
        .expect("valid argon2 parameters"),
    );
    let mut out = [0u8; 32];
    argon
        .hash_password_into(password.as_bytes(), salt, &mut out)
        .expect("argon2 with a salt of at least 8 bytes");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factory_defaults_are_flagged_and_strong_passwords_are_not() {
        for (u, p) in [
            ("admin", "admin"),
            ("ADMIN", "12345"),
            ("admin", ""),
            ("root", "pass"),
            ("ubnt", "ubnt"),
            ("anyone", "888888"),
            ("camera7", "camera7"),
        ] {
            assert!(factory_default(u, p), "{u}/{p}");
        }
        for (u, p) in [
            ("admin", "Tv7!pQ2#wZ9x"),
            ("viewer", "correct horse battery staple"),
            ("root", "Pass"),
        ] {
            assert!(!factory_default(u, p), "{u}/{p}");
        }
    }

    #[test]
    fn the_fingerprint_depends_on_password_and_salt() {
        let (a, b) = (new_salt(), new_salt());
        assert_ne!(a, b);
        let f = fingerprint("Tv7!pQ2#wZ9x", &a);
        assert_eq!(f, fingerprint("Tv7!pQ2#wZ9x", &a));
        assert_ne!(f, fingerprint("Tv7!pQ2#wZ9y", &a));
        assert_ne!(f, fingerprint("Tv7!pQ2#wZ9x", &b));
        assert!(!f.windows(4).any(|w| w == b"Tv7!"));
    }
}
