//! Time-based one-time passwords (RFC 6238) as authenticator apps use them:
//! HMAC-SHA-1, 6 digits, 30-second steps, a 160-bit secret.
//!
//! Belongs here: the secret and its Base32 form, code computation, verification
//! with clock drift and replay protection, the `otpauth://` enrolment URI and its
//! QR code as SVG. Does not belong here: storing the secret or the last used step
//! (the store does that), reading the clock (callers pass the time in), HTTP.
//!
//! HMAC-SHA-1 is what RFC 6238 and every authenticator app use; SHA-1's collision
//! weakness does not affect HMAC's use as a pseudo-random function.

use std::fmt;

use rand::RngCore;
use ring::hmac;
use subtle::ConstantTimeEq;

/// Digits in a code.
pub const DIGITS: usize = 6;
/// Seconds per time step.
pub const STEP_SECS: i64 = 30;
/// Steps either side of the current one that are accepted, for clock drift
/// between the server and the phone (RFC 6238 §5.2 recommends at most one).
pub const DRIFT_STEPS: i64 = 1;
/// Length of a secret in bytes (160 bits, the HMAC-SHA-1 block-size-friendly
/// length RFC 4226 §4 recommends).
pub const SECRET_BYTES: usize = 20;

const DIGITS_MODULUS: u32 = 1_000_000;

/// RFC 4648 Base32 alphabet (upper case, as authenticator apps expect).
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A user's TOTP secret. Its `Debug` output never shows the bytes.
#[derive(Clone)]
pub struct TotpSecret([u8; SECRET_BYTES]);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A new random secret from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        TotpSecret(bytes)
    }

    /// A secret from known bytes (tests and test vectors).
    pub fn from_bytes(bytes: [u8; SECRET_BYTES]) -> Self {
        TotpSecret(bytes)
    }

    /// The secret as RFC 4648 Base32 without padding (32 upper-case characters),
    /// the form authenticator apps accept and the form to store.
    pub fn to_base32(&self) -> String {
        let mut out = String::with_capacity(SECRET_BYTES * 8 / 5);
        let mut buffer: u32 = 0;
        let mut bits = 0;
        for &byte in &self.0 {
            buffer = (buffer << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(BASE32_ALPHABET[((buffer >> bits) & 0x1f) as usize] as char);
            }
        }
        // 160 bits is a multiple of 5: nothing is left over.
        debug_assert_eq!(bits, 0);
        out
    }

    /// Parses the Base32 form. Case, spaces and trailing `=` padding are ignored
    /// (people copy secrets in groups); anything else that is not exactly
    /// [`SECRET_BYTES`] bytes of Base32 gives `None`.
    pub fn from_base32(text: &str) -> Option<Self> {
        let mut bytes = [0u8; SECRET_BYTES];
        let mut len = 0;
        let mut buffer: u32 = 0;
        let mut bits = 0;
        let digits = text
            .trim_end_matches(['=', ' '])
            .chars()
            .filter(|c| *c != ' ');
        for c in digits {
            buffer = (buffer << 5) | base32_value(c)?;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                *bytes.get_mut(len)? = (buffer >> bits) as u8;
                len += 1;
            }
            buffer &= (1 << bits) - 1;
        }
        (len == SECRET_BYTES && bits == 0).then_some(TotpSecret(bytes))
    }
}

fn base32_value(c: char) -> Option<u32> {
    match c.to_ascii_uppercase() {
        c @ 'A'..='Z' => Some(c as u32 - 'A' as u32),
        c @ '2'..='7' => Some(c as u32 - '2' as u32 + 26),
        _ => None,
    }
}

/// The time step that `unix_secs` falls in.
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// RFC 4226 HOTP before reduction to digits: HMAC-SHA-1 of the big-endian
/// counter, then dynamic truncation to a 31-bit number.
fn truncated_hmac(secret: &TotpSecret, counter: u64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &secret.0);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let word = [
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ];
    u32::from_be_bytes(word) & 0x7fff_ffff
}

/// The code of one time step. Steps before the epoch do not occur in practice;
/// they are clamped to step 0.
fn code_of_step(secret: &TotpSecret, step: i64) -> u32 {
    let counter = u64::try_from(step).unwrap_or(0);
    truncated_hmac(secret, counter) % DIGITS_MODULUS
}

/// The 6-digit code valid at `unix_secs` (show it with leading zeros:
/// `format!("{:06}", code)`).
pub fn code_at(secret: &TotpSecret, unix_secs: i64) -> u32 {
    code_of_step(secret, step_at(unix_secs))
}

/// Checks a code typed by the user at `unix_secs`.
///
/// Accepts the current step and [`DRIFT_STEPS`] either side; rejects any step at
/// or before `last_used_step`, so a code works once (RFC 6238 §5.2). Returns the
/// matched step, which the caller stores as the new `last_used_step`. The code
/// must be exactly 6 ASCII digits; comparison is constant-time and every
/// candidate step is computed, so timing tells nothing about which one matched.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    unix_secs: i64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(unix_secs);
    let mut matched = None;
    for step in current - DRIFT_STEPS..=current + DRIFT_STEPS {
        let expected = format!("{:0DIGITS$}", code_of_step(secret, step));
        let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        let fresh = last_used_step.is_none_or(|last| step > last);
        if equal && fresh && step >= 0 {
            // The latest matching step wins, so the stored step is as late as possible.
            matched = Some(step);
        }
    }
    matched
}

/// The `otpauth://` URI that authenticator apps enrol from (Google's Key URI
/// format): label `Issuer:account`, the secret, the issuer again, and the
/// algorithm, digits and period spelled out. Issuer and account are
/// percent-encoded (everything but RFC 3986 unreserved characters).
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
         &algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        account = percent_encode(account),
        secret = secret.to_base32(),
    )
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The text does not fit in a QR code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the text is too long for a QR code ({size_bytes} bytes)")]
pub struct QrTooLong {
    /// Length of the text that did not fit.
    pub size_bytes: usize,
}

/// Smallest side of the rendered SVG, in pixels.
const QR_MIN_SIDE_PX: u32 = 240;

/// `text` as a QR code in a standalone SVG document (black on white, with the
/// quiet zone), for showing an enrolment URI without any script or external
/// service. Medium error correction, as authenticator apps' scanners expect.
pub fn qr_svg(text: &str) -> Result<String, QrTooLong> {
    let code =
        qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).map_err(|_| {
            QrTooLong {
                size_bytes: text.len(),
            }
        })?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(QR_MIN_SIDE_PX, QR_MIN_SIDE_PX)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The RFC 6238 appendix B / RFC 4226 appendix D secret: ASCII "1234567890" twice.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(*b"12345678901234567890")
    }

    #[test]
    fn rfc4226_hotp_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, want) in expected.into_iter().enumerate() {
            assert_eq!(
                truncated_hmac(&rfc_secret(), counter as u64) % DIGITS_MODULUS,
                want,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        // (unix seconds, 8-digit code from RFC 6238 appendix B, SHA-1 column).
        let vectors = [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ];
        for (t, eight_digits) in vectors {
            let step = step_at(t);
            assert_eq!(
                truncated_hmac(&rfc_secret(), step as u64) % 100_000_000,
                eight_digits
            );
            assert_eq!(code_at(&rfc_secret(), t), eight_digits % 1_000_000, "t={t}");
        }
    }

    #[test]
    fn steps_are_thirty_seconds() {
        assert_eq!(step_at(0), 0);
        assert_eq!(step_at(29), 0);
        assert_eq!(step_at(30), 1);
        assert_eq!(step_at(59), 1);
        assert_eq!(step_at(-1), -1);
        assert_eq!(code_at(&rfc_secret(), 30), code_at(&rfc_secret(), 59));
    }

    #[test]
    fn base32_known_value() {
        let secret = rfc_secret();
        assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let parsed = TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap();
        assert_eq!(parsed.0, secret.0);
        let padded = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====").unwrap();
        assert_eq!(padded.0, secret.0);
    }

    #[test]
    fn base32_rejects_wrong_input() {
        for bad in [
            "",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ", // 31 characters: 155 bits
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQA", // 33 characters
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1", // '1' is not Base32
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ0",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBV", // 25 bytes
            "GEZDGNBVGY3TQOJQ-GEZDGNBVGY3TQOJQ",
        ] {
            assert!(TotpSecret::from_base32(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let secret = rfc_secret();
        let debug = format!("{secret:?}");
        assert_eq!(debug, "TotpSecret(..)");
        assert!(!debug.contains(&secret.to_base32()));
    }

    #[test]
    fn generated_secrets_differ() {
        let a = TotpSecret::generate();
        let b = TotpSecret::generate();
        assert_ne!(a.0, b.0);
        assert_eq!(a.to_base32().len(), 32);
    }

    fn code(secret: &TotpSecret, unix_secs: i64) -> String {
        format!("{:06}", code_at(secret, unix_secs))
    }

    #[test]
    fn verify_accepts_one_step_of_drift_and_no_more() {
        let s = rfc_secret();
        let now = 1_700_000_015; // the middle of a step
        let step = step_at(now);
        assert_eq!(verify(&s, &code(&s, now), now, None), Some(step));
        assert_eq!(verify(&s, &code(&s, now - 30), now, None), Some(step - 1));
        assert_eq!(verify(&s, &code(&s, now + 30), now, None), Some(step + 1));
        assert_eq!(verify(&s, &code(&s, now - 60), now, None), None);
        assert_eq!(verify(&s, &code(&s, now + 60), now, None), None);
    }

    #[test]
    fn verify_rejects_replay() {
        let s = rfc_secret();
        let now = 1_700_000_015;
        let c = code(&s, now);
        let used = verify(&s, &c, now, None).unwrap();
        assert_eq!(verify(&s, &c, now, Some(used)), None);
        assert_eq!(verify(&s, &c, now + 20, Some(used)), None);
        // An older code, still inside the drift window, is refused too.
        assert_eq!(verify(&s, &code(&s, now - 30), now, Some(used)), None);
        // The next step's code is still good.
        assert_eq!(
            verify(&s, &code(&s, now + 30), now + 30, Some(used)),
            Some(used + 1)
        );
    }

    #[test]
    fn verify_requires_exactly_six_ascii_digits() {
        let s = rfc_secret();
        let now = 1_700_000_015;
        let c = code(&s, now);
        assert!(verify(&s, &c, now, None).is_some());
        for bad in [
            String::new(),
            c[..5].to_owned(),
            format!("{c}0"),
            format!(" {c}"),
            format!("{} {}", &c[..3], &c[3..]),
            format!("+{}", &c[1..]),
            // Arabic-Indic digits are digits, but not ASCII ones.
            "٠١٢٣٤٥".to_owned(),
        ] {
            assert_eq!(verify(&s, &bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn verify_rejects_another_secret() {
        let now = 1_700_000_015;
        let other = TotpSecret::from_bytes([7; SECRET_BYTES]);
        let c = code(&rfc_secret(), now);
        if code(&other, now - 30) != c && code(&other, now) != c && code(&other, now + 30) != c {
            assert_eq!(verify(&other, &c, now, None), None);
        }
    }

    #[test]
    fn uri_has_every_parameter_and_encodes_labels() {
        let uri = otpauth_uri(&rfc_secret(), "Veil Site A", "alice@example.org");
        assert_eq!(
            uri,
            "otpauth://totp/Veil%20Site%20A:alice%40example.org\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Veil%20Site%20A\
             &algorithm=SHA1&digits=6&period=30"
        );
        let odd = otpauth_uri(&rfc_secret(), "A:B&C", "é/x?");
        assert!(
            odd.starts_with("otpauth://totp/A%3AB%26C:%C3%A9%2Fx%3F?"),
            "{odd}"
        );
    }

    #[test]
    fn qr_svg_is_a_standalone_svg() {
        let uri = otpauth_uri(&rfc_secret(), "Veil", "alice");
        let svg = qr_svg(&uri).unwrap();
        assert!(
            svg.starts_with("<?xml") || svg.starts_with("<svg"),
            "{svg:.80}"
        );
        assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("<script"));
    }

    #[test]
    fn qr_svg_refuses_too_long_text() {
        let long = "x".repeat(5000);
        assert_eq!(qr_svg(&long), Err(QrTooLong { size_bytes: 5000 }));
        assert_eq!(
            QrTooLong { size_bytes: 5000 }.to_string(),
            "the text is too long for a QR code (5000 bytes)"
        );
    }

    proptest! {
        #[test]
        fn parsing_and_verifying_any_text_never_panics(text in "\\PC{0,40}", t in any::<i64>()) {
            let _ = TotpSecret::from_base32(&text);
            let _ = verify(&rfc_secret(), &text, t, None);
        }

        #[test]
        fn base32_round_trips(bytes in proptest::array::uniform20(any::<u8>())) {
            let secret = TotpSecret::from_bytes(bytes);
            let text = secret.to_base32();
            prop_assert_eq!(text.len(), 32);
            prop_assert_eq!(TotpSecret::from_base32(&text).unwrap().0, bytes);
            prop_assert_eq!(TotpSecret::from_base32(&text.to_lowercase()).unwrap().0, bytes);
        }

        #[test]
        fn codes_have_six_digits_and_verify(
            bytes in proptest::array::uniform20(any::<u8>()),
            t in 0i64..4_000_000_000,
        ) {
            let secret = TotpSecret::from_bytes(bytes);
            let c = code_at(&secret, t);
            prop_assert!(c < 1_000_000);
            let typed = format!("{c:06}");
            let step = verify(&secret, &typed, t, None);
            // Usually the current step; a lucky collision can pick the next one.
            prop_assert!(step == Some(step_at(t)) || step == Some(step_at(t) + 1));
            // Once used, the same code never verifies at that step or before.
            let replay = verify(&secret, &typed, t, step);
            prop_assert!(replay.is_none_or(|again| again > step.unwrap()));
        }
    }
}
