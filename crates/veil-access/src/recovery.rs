//! One-time recovery codes: the way back in when the second-factor device is lost.
//!
//! Belongs here: generating codes, hashing them for storage and checking a typed
//! code against the stored hashes. Does not belong here: storing the hashes or
//! striking out a used one (the caller removes the hash at the returned index).
//!
//! A code is 16 symbols in four groups, `xxxx-xxxx-xxxx-xxxx`, from Crockford's
//! Base32 alphabet (digits and lower-case letters without `i`, `l`, `o`, `u`):
//! 80 bits each. When a code is typed, case, spaces and dashes are ignored, and
//! `o` is read as `0`, `i` and `l` as `1`, so look-alikes never fail a login.
//!
//! Hashing: a salted SHA-256, not argon2id. Argon2id protects *guessable* secrets;
//! a uniformly random 80-bit code already needs about 2^79 SHA-256 evaluations per
//! code to find offline, far beyond any attacker, and the per-code salt stops
//! precomputation and cross-code batching. A slow hash would instead cost one
//! argon2 run (19 MiB, tens of milliseconds) per stored code on every attempt,
//! which an attacker could trigger at will.

use rand::Rng;
use ring::digest;
use subtle::ConstantTimeEq;

/// How many codes a user gets at enrolment.
pub const DEFAULT_COUNT: usize = 10;
/// Symbols in a code, without the dashes.
pub const CODE_SYMBOLS: usize = 16;
/// Symbols between dashes.
const GROUP: usize = 4;
/// Crockford's Base32 alphabet, lower case: 32 symbols, 5 bits each.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Salt length in bytes.
const SALT_BYTES: usize = 16;
/// Prefix naming the hash format, so it can change later.
const HASH_PREFIX: &str = "rc1";
/// Domain separation: these digests are never confused with any other SHA-256 use.
const HASH_CONTEXT: &[u8] = b"veil recovery code v1\0";

/// `count` new random codes, formatted `xxxx-xxxx-xxxx-xxxx`.
pub fn generate_recovery_codes(count: usize) -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..count)
        .map(|_| {
            let symbols: Vec<u8> = (0..CODE_SYMBOLS)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
                .collect();
            symbols
                .chunks(GROUP)
                .map(|g| std::str::from_utf8(g).expect("ASCII alphabet"))
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// The code as its 16 canonical symbols, or `None` if it cannot be a code.
fn normalise(code: &str) -> Option<String> {
    let mut out = String::with_capacity(CODE_SYMBOLS);
    for c in code.chars() {
        let c = match c.to_ascii_lowercase() {
            ' ' | '-' | '\t' => continue,
            'o' => '0',
            'i' | 'l' => '1',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        out.push(c);
    }
    (out.len() == CODE_SYMBOLS).then_some(out)
}

fn digest_of(salt: &[u8], symbols: &str) -> digest::Digest {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(HASH_CONTEXT);
    ctx.update(salt);
    ctx.update(symbols.as_bytes());
    ctx.finish()
}

/// The stored form of a code: `rc1$<salt hex>$<SHA-256 hex>`, over the
/// normalised code with a fresh random salt. A string that is not a code (as
/// `verify_recovery_code` would read it) is hashed as typed, so it never matches.
pub fn hash_recovery_code(code: &str) -> String {
    let mut salt = [0u8; SALT_BYTES];
    rand::rngs::OsRng.fill(&mut salt);
    hash_with_salt(code, &salt)
}

fn hash_with_salt(code: &str, salt: &[u8; SALT_BYTES]) -> String {
    let symbols = normalise(code).unwrap_or_else(|| code.to_owned());
    format!(
        "{HASH_PREFIX}${}${}",
        to_hex(salt),
        to_hex(digest_of(salt, &symbols).as_ref())
    )
}

/// The index in `hashes` of the hash that `code` matches, if any. Malformed
/// hashes never match. Every hash is checked, with constant-time comparison, so
/// timing does not tell which one matched.
pub fn verify_recovery_code(code: &str, hashes: &[String]) -> Option<usize> {
    let symbols = normalise(code)?;
    let mut found = None;
    for (index, stored) in hashes.iter().enumerate() {
        if matches_hash(&symbols, stored) && found.is_none() {
            found = Some(index);
        }
    }
    found
}

fn matches_hash(symbols: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(HASH_PREFIX), Some(salt), Some(expected), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(salt), Some(expected)) = (from_hex(salt), from_hex(expected)) else {
        return false;
    };
    digest_of(&salt, symbols).as_ref().ct_eq(&expected).into()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_have_the_documented_shape() {
        let codes = generate_recovery_codes(DEFAULT_COUNT);
        assert_eq!(codes.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 4);
            for g in groups {
                assert_eq!(g.len(), 4);
                assert!(g.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
            }
        }
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), codes.len());
    }

    #[test]
    fn alphabet_is_unambiguous_and_gives_eighty_bits() {
        assert_eq!(ALPHABET.len(), 32);
        for look_alike in [b'i', b'l', b'o', b'u'] {
            assert!(!ALPHABET.contains(&look_alike));
        }
        let bits = CODE_SYMBOLS as f64 * (ALPHABET.len() as f64).log2();
        assert!(bits >= 80.0);
    }

    #[test]
    fn verify_finds_the_right_index() {
        let codes = generate_recovery_codes(3);
        let hashes: Vec<String> = codes.iter().map(|c| hash_recovery_code(c)).collect();
        for (i, code) in codes.iter().enumerate() {
            assert_eq!(verify_recovery_code(code, &hashes), Some(i));
        }
        let other = generate_recovery_codes(1).remove(0);
        assert_eq!(verify_recovery_code(&other, &hashes), None);
        assert_eq!(verify_recovery_code(&codes[0], &[]), None);
    }

    #[test]
    fn verify_normalises_what_people_type() {
        let hashes = vec![hash_recovery_code("0a1b-c2d3-e4f5-g6h7")];
        for typed in [
            "0a1b-c2d3-e4f5-g6h7",
            "0A1B-C2D3-E4F5-G6H7",
            "0a1bc2d3e4f5g6h7",
            " 0a1b c2d3 e4f5 g6h7 ",
            "oa1b-c2d3-e4f5-g6h7", // o for 0
            "0aib-c2d3-e4f5-g6h7", // i for 1
            "0aLb-c2d3-e4f5-g6h7", // L for 1
        ] {
            assert_eq!(verify_recovery_code(typed, &hashes), Some(0), "{typed:?}");
        }
        for wrong in [
            "0a1b-c2d3-e4f5-g6h8",
            "0a1b-c2d3-e4f5-g6h",
            "0a1b-c2d3-e4f5-g6h7-0",
            "0a1b-c2d3-e4f5-g6hu",
            "0a1b-c2d3-e4f5-g6h7\u{301}",
            "",
        ] {
            assert_eq!(verify_recovery_code(wrong, &hashes), None, "{wrong:?}");
        }
    }

    #[test]
    fn hashes_are_salted_and_do_not_contain_the_code() {
        let a = hash_recovery_code("0a1b-c2d3-e4f5-g6h7");
        let b = hash_recovery_code("0a1b-c2d3-e4f5-g6h7");
        assert_ne!(a, b);
        assert!(a.starts_with("rc1$"));
        assert_eq!(a.len(), 4 + 32 + 1 + 64);
        assert!(!a.contains("0a1b"));
    }

    /// Pins the stored format. The digest was computed independently, in Python:
    /// `hashlib.sha256(b"veil recovery code v1\0" + bytes(range(16)) +
    /// b"0a1bc2d3e4f5g6h7").hexdigest()`.
    #[test]
    fn stored_format_is_pinned() {
        let salt: [u8; SALT_BYTES] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            hash_with_salt("0A1B-C2D3-E4F5-G6H7", &salt),
            "rc1$000102030405060708090a0b0c0d0e0f$13d1fc038bece9cd782215be804a32234a9344192b45931424a9b15df6ae4dd8"
        );
    }

    #[test]
    fn malformed_hashes_never_match() {
        let code = "0a1b-c2d3-e4f5-g6h7";
        let good = hash_recovery_code(code);
        let parts: Vec<&str> = good.split('$').collect();
        let bad = [
            String::new(),
            "rc1$$".to_owned(),
            format!("rc2${}${}", parts[1], parts[2]),
            format!("rc1${}${}$", parts[1], parts[2]),
            format!("rc1${}${}", parts[1], &parts[2][1..]),
            format!("rc1${}${}0", parts[1], parts[2]),
            format!("rc1${}$zz{}", parts[1], &parts[2][2..]),
            password_like_hash(),
        ];
        assert_eq!(verify_recovery_code(code, &bad), None);
        let mut with_good = bad.to_vec();
        with_good.push(good);
        assert_eq!(verify_recovery_code(code, &with_good), Some(bad.len()));
    }

    fn password_like_hash() -> String {
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()
    }

    #[test]
    fn a_non_code_hashed_by_mistake_never_matches() {
        let hashes = vec![hash_recovery_code("not a code")];
        assert_eq!(verify_recovery_code("not a code", &hashes), None);
    }

    proptest! {
        #[test]
        fn any_typed_text_or_stored_text_is_handled(typed in "\\PC{0,30}", stored in "\\PC{0,120}") {
            prop_assert_eq!(verify_recovery_code(&typed, &[stored]), None);
        }

        #[test]
        fn hex_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(from_hex(&to_hex(&bytes)), Some(bytes));
        }

        #[test]
        fn any_generated_code_verifies_in_any_case(upper in any::<bool>()) {
            let code = generate_recovery_codes(1).remove(0);
            let hashes = vec![hash_recovery_code(&code)];
            let typed = if upper { code.to_uppercase() } else { code.replace('-', " ") };
            prop_assert_eq!(verify_recovery_code(&typed, &hashes), Some(0));
        }
    }
}
