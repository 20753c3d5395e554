//! Keeping credentials out of logs, status and errors.
//!
//! Camera URLs are stored and shown without their user-info part; messages
//! that may echo a URL or a header (errors from the RTSP library) are cut to
//! their first line, stripped of any `user:password@`, and any known secret is
//! masked.

/// `url` with any `user[:password]@` user-info removed. Text that is not a URL
/// is returned unchanged except for user-info-looking parts.
pub fn strip_credentials(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => out.push_str(&authority[at + 1..]),
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// A one-line, credential-free version of `message` for logs and status:
/// the first line, user-info removed, every non-empty `secret` replaced by `***`,
/// at most 300 characters.
pub fn redact(message: &str, secrets: &[&str]) -> String {
    let first = message.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut s = strip_credentials(first.trim());
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        s = s.replace(secret, "***");
    }
    if s.chars().count() > 300 {
        s = s.chars().take(300).collect::<String>() + "…";
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_removed() {
        let check = |a: &str, b: &str| assert_eq!(strip_credentials(a), b);
        check("rtsp://cam:554/s", "rtsp://cam:554/s");
        check("rtsp://admin:hunter2@cam:554/s?x=1", "rtsp://cam:554/s?x=1");
        check("rtsps://a%40b:p@ss@10.0.0.1/x", "rtsps://10.0.0.1/x");
        check(
            "failed rtsp://u:p@h/a then rtsp://v@k",
            "failed rtsp://h/a then rtsp://k",
        );
        check("no url here", "no url here");
    }

    #[test]
    fn redact_keeps_one_clean_line() {
        let m = "401 Unauthorized to DESCRIBE rtsp://u:s3cret@h/x: s3cret\n\nconn: 1.2.3.4";
        assert_eq!(
            redact(m, &["s3cret", ""]),
            "401 Unauthorized to DESCRIBE rtsp://h/x: ***"
        );
        assert_eq!(redact(&"x".repeat(400), &[]).chars().count(), 301);
    }
}
