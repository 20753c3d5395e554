//! Parsing of the HTTP `Range` header (single byte ranges), pure.

/// What a `Range` header asks for, resolved against a body of `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No header, a malformed one (RFC 9110 says to ignore it), or several
    /// ranges: answered with the whole body.
    Full,
    /// `[start, end)`.
    Partial(u64, u64),
    /// Well-formed but outside the body, or reversed: 416.
    Unsatisfiable,
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        None
    } else {
        s.parse().ok()
    }
}

/// Resolves a `Range` header value for a body of `len` bytes.
pub fn parse(header: Option<&str>, len: u64) -> RangeRequest {
    use RangeRequest::*;
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Full;
    };
    if spec.contains(',') {
        return Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Full;
    };
    match (a, number(a), b, number(b)) {
        // bytes=-N: the last N bytes.
        ("", _, _, Some(n)) => {
            if n == 0 || len == 0 {
                Unsatisfiable
            } else {
                Partial(len.saturating_sub(n), len)
            }
        }
        // bytes=A- and bytes=A-B.
        (_, Some(start), "", _) | (_, Some(start), _, Some(_)) => {
            let end = match number(b) {
                None => len,
                Some(e) if e >= start => e.saturating_add(1).min(len),
                Some(_) => return Unsatisfiable,
            };
            if start >= len {
                Unsatisfiable
            } else {
                Partial(start, end)
            }
        }
        _ => Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeRequest::*;

    #[test]
    fn ranges() {
        let check = |h: Option<&str>, want: RangeRequest| assert_eq!(parse(h, 100), want, "{h:?}");
        check(None, Full);
        check(Some("bytes=0-9"), Partial(0, 10));
        check(Some("bytes=90-"), Partial(90, 100));
        check(Some("bytes=90-500"), Partial(90, 100));
        check(Some("bytes=-10"), Partial(90, 100));
        check(Some("bytes=-1000"), Partial(0, 100));
        check(Some("bytes=100-"), Unsatisfiable);
        check(Some("bytes=200-300"), Unsatisfiable);
        check(Some("bytes=5-4"), Unsatisfiable);
        check(Some("bytes=-0"), Unsatisfiable);
        // Malformed: ignored.
        check(Some("bytes=a-b"), Full);
        check(Some("bytes=1-b"), Full);
        check(Some("items=0-1"), Full);
        check(Some("bytes=-"), Full);
        check(Some("bytes=0-1,5-6"), Full);
    }
}
