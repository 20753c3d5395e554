//! Rules for new passwords and account names (personal accounts only).
//!
//! Belongs here: deciding whether a new password is acceptable and whether an
//! account name is a generic one. Does not belong here: hashing (see
//! [`crate::password`]), asking the user, storing anything.
//!
//! The password rules follow NIST SP 800-63B §5.1.1.2: a minimum length, a
//! generous maximum, and a check against commonly used passwords and the user's
//! own name, with no composition rules (no "one digit, one symbol").

use std::collections::HashSet;
use std::sync::OnceLock;

/// Fewest characters (Unicode scalar values, not bytes) a password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Most bytes (UTF-8) a password may have; bounds the hashing work per login.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Shortest user name that a password is checked for containing; shorter names
/// ("al", "jo") would reject too many good passwords.
pub const MIN_NAME_CHARS_CHECKED: usize = 3;

/// Why a new password was refused. The messages are for the person choosing it
/// and never repeat the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("the password is too short: it needs at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    #[error("the password is too long: it may have at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    /// On the list of common passwords, possibly with digits or symbols added.
    #[error(
        "the password is too common: it is a well-known password, or one with \
         only digits or symbols added at the end"
    )]
    Common,
    /// Contains the account's user name.
    #[error("the password contains the user name")]
    ContainsUserName,
}

/// The bundled list; see the header of the file for its source and licence.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Whether `lowered` (already lower case) is a common password, either as it is
/// or with trailing digits and ASCII symbols removed ("dragon123456!").
fn is_common(lowered: &str) -> bool {
    let set = common_passwords();
    let stem = lowered.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    set.contains(lowered) || set.contains(stem)
}

/// Checks a password a user has chosen for the account `user_name`.
///
/// In order: at most [`MAX_PASSWORD_BYTES`] bytes, at least
/// [`MIN_PASSWORD_CHARS`] characters, not containing the user name
/// (case-insensitive, when the name has at least [`MIN_NAME_CHARS_CHECKED`]
/// characters), and not a common password (case-insensitive, also with digits or
/// symbols appended). Spaces count like any character and are not trimmed.
pub fn check_new_password(password: &str, user_name: &str) -> Result<(), PasswordRejected> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordRejected::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordRejected::TooShort);
    }
    let lowered = password.to_lowercase();
    let name = user_name.trim().to_lowercase();
    if name.chars().count() >= MIN_NAME_CHARS_CHECKED && lowered.contains(&name) {
        return Err(PasswordRejected::ContainsUserName);
    }
    if is_common(&lowered) {
        return Err(PasswordRejected::Common);
    }
    Ok(())
}

/// Words that name a role, a place or a device rather than a person.
const GENERIC_WORDS: &[&str] = &[
    "admin",
    "administrator",
    "root",
    "operator",
    "guard",
    "security",
    "user",
    "test",
    "guest",
    "demo",
    "camera",
    "cctv",
    "viewer",
    "supervisor",
    "manager",
    "reception",
    "control",
    "monitor",
    "service",
    "support",
    // Beyond the common list: other shared-account names seen on installations.
    "default",
    "shared",
    "staff",
    "sysadmin",
    "superuser",
    "installer",
    "technician",
    "nvr",
    "dvr",
];

/// Whether `name` is a generic account name rather than a personal one.
///
/// The name is split into words at digits and at anything that is not a letter
/// (`security-2` → `security`; `test_user` → `test`, `user`). It is generic when
/// it has at least one word and every word is a generic one (`admin`, `guard`,
/// `cctv`, …) or its plural, case-insensitively. `alice.admin` is personal: it names Alice.
/// Seed 001 §34 and §37: accounts must be personal and non-transferable.
pub fn generic_account_name(name: &str) -> bool {
    let lowered = name.to_lowercase();
    let mut words = lowered
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .peekable();
    words.peek().is_some() && words.all(is_generic_word)
}

fn is_generic_word(word: &str) -> bool {
    let singular = word.strip_suffix('s').unwrap_or(word);
    GENERIC_WORDS.contains(&word) || GENERIC_WORDS.contains(&singular)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(password: &str, user: &str, expected: Result<(), PasswordRejected>) {
        assert_eq!(
            check_new_password(password, user),
            expected,
            "password {password:?}, user {user:?}"
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        check("mqxv-tbrw-k7", "alice", Ok(()));
        check("mqxv-tbrw-k", "alice", Err(PasswordRejected::TooShort));
        // 11 two-byte characters: 22 bytes, still too short.
        check("ñçéüößàèìòù", "alice", Err(PasswordRejected::TooShort));
        check("ñçéüößàèìòùä", "alice", Ok(()));
        // Emoji are four bytes each; twelve of them are twelve characters.
        check(&"🦀".repeat(11), "alice", Err(PasswordRejected::TooShort));
        check("🦀🐢🦉🐙🦊🐝🦀🐢🦉🐙🦊🐝", "alice", Ok(()));
        check("", "alice", Err(PasswordRejected::TooShort));
    }

    #[test]
    fn at_most_1024_bytes() {
        let max = "qz7-vmw-kpt-".repeat(85) + "abcd";
        assert_eq!(max.len(), MAX_PASSWORD_BYTES);
        check(&max, "alice", Ok(()));
        check(&(max + "x"), "alice", Err(PasswordRejected::TooLong));
        // The limit is in bytes: 257 four-byte characters are 1028 bytes.
        check(&"🦀".repeat(257), "alice", Err(PasswordRejected::TooLong));
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        check("qwertyuiop123", "alice", Err(PasswordRejected::Common));
        check("1qaz2wsx3edc", "alice", Err(PasswordRejected::Common));
        check("1QAZ2WSX3EDC", "alice", Err(PasswordRejected::Common));
        check("LeaveMeAlone", "alice", Err(PasswordRejected::Common));
        check("123456789987654321", "alice", Err(PasswordRejected::Common));
    }

    #[test]
    fn common_passwords_with_digits_or_symbols_appended_are_refused() {
        check("password1234", "alice", Err(PasswordRejected::Common));
        check("Password2024!", "alice", Err(PasswordRejected::Common));
        check("dragon123456", "alice", Err(PasswordRejected::Common));
        check("iloveyou!!!!!!", "alice", Err(PasswordRejected::Common));
        // A common word inside a longer passphrase is fine.
        check("dragon under the bridge", "alice", Ok(()));
        check("1234password", "alice", Ok(()));
    }

    #[test]
    fn user_name_inside_is_refused() {
        check(
            "alice-likes-tea",
            "alice",
            Err(PasswordRejected::ContainsUserName),
        );
        check(
            "xALICEx-2-tea-time",
            "Alice",
            Err(PasswordRejected::ContainsUserName),
        );
        check(
            "tea with bob and jo",
            "bob",
            Err(PasswordRejected::ContainsUserName),
        );
        // Names shorter than three characters are not checked.
        check("tea with bob and jo", "jo", Ok(()));
        check("tea with bob and jo", "  ", Ok(()));
        check("tea with bob and jo", "", Ok(()));
        check(
            "café olé crème brûlée",
            "BRÛLÉE",
            Err(PasswordRejected::ContainsUserName),
        );
    }

    #[test]
    fn messages_say_what_is_wrong_and_never_echo() {
        let password = "password1234";
        let err = check_new_password(password, "alice").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("too common"), "{message}");
        assert!(!message.contains(password));
        assert!(!format!("{err:?}").contains(password));
        assert_eq!(
            PasswordRejected::TooShort.to_string(),
            "the password is too short: it needs at least 12 characters"
        );
        assert_eq!(
            PasswordRejected::TooLong.to_string(),
            "the password is too long: it may have at most 1024 bytes"
        );
        assert_eq!(
            PasswordRejected::ContainsUserName.to_string(),
            "the password contains the user name"
        );
    }

    #[test]
    fn bundled_list_is_complete_and_clean() {
        let set = common_passwords();
        assert_eq!(set.len(), 30_000);
        assert!(set.contains("123456"));
        assert!(set.contains("password"));
        assert!(set.iter().all(|p| !p.is_empty() && *p == p.to_lowercase()));
        assert!(set.iter().all(|p| !p.starts_with('#') && p.trim() == *p));
    }

    #[test]
    fn generated_passwords_pass() {
        for _ in 0..20 {
            let p = crate::password::generate();
            check(&p, "alice", Ok(()));
        }
    }

    #[test]
    fn generic_names() {
        for name in [
            "admin",
            "Admin",
            "ADMINISTRATOR",
            "root",
            "operator",
            "guard",
            "security",
            "user",
            "test",
            "guest",
            "demo",
            "camera",
            "CCTV",
            "viewer",
            "supervisor",
            "manager",
            "reception",
            "control",
            "monitor",
            "service",
            "support",
            "admin1",
            "admin01",
            "security-2",
            "test_user",
            "guard 3",
            "cctv.operator",
            "Camera-Viewer_2",
            "  admin  ",
            "admin!",
            "admins",
            "Guards-2",
            "users",
        ] {
            assert!(generic_account_name(name), "{name:?} should be generic");
        }
    }

    #[test]
    fn personal_names() {
        for name in [
            "alice",
            "alice.admin",
            "admin-alice",
            "j.smith",
            "guardian",
            "administrators1x",
            "rootbeer",
            "Zoë Müller",
            "",
            "42",
            "-_-",
        ] {
            assert!(!generic_account_name(name), "{name:?} should be personal");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_length_rules_hold(password in ".{0,40}", user in ".{0,10}") {
            let result = check_new_password(&password, &user);
            let chars = password.chars().count();
            if chars < MIN_PASSWORD_CHARS {
                prop_assert_eq!(result, Err(PasswordRejected::TooShort));
            } else {
                prop_assert_ne!(result, Err(PasswordRejected::TooShort));
            }
        }

        #[test]
        fn generic_word_with_any_digits_is_generic(
            word in proptest::sample::select(GENERIC_WORDS),
            digits in "[0-9]{0,4}",
            sep in "[-_. ]?",
        ) {
            let name = format!("{word}{sep}{digits}");
            prop_assert!(generic_account_name(&name));
        }
    }
}
