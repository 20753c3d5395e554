//! Parsing of the HTTP `Range` header (single byte ranges), pure.

/// What a `Range` header asks for, resolved against a body of `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No header, or several ranges (answered with the whole body).
    Full,
    /// `[start, end)`.
    Partial(u64, u64),
    /// Malformed or outside the body: 416.
    Unsatisfiable,
}

/// Resolves a `Range` header value for a body of `len` bytes.
pub fn parse(header: Option<&str>, len: u64) -> RangeRequest {
    let Some(h) = header else {
        return RangeRequest::Full;
    };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return RangeRequest::Unsatisfiable;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeRequest::Unsatisfiable;
    };
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    match (a.is_empty(), b.is_empty()) {
        (true, true) => RangeRequest::Unsatisfiable,
        (true, false) => match num(b) {
            Some(n) if n > 0 && len > 0 => RangeRequest::Partial(len.saturating_sub(n), len),
            _ => RangeRequest::Unsatisfiable,
        },
        (false, _) => {
            let Some(start) = num(a) else {
                return RangeRequest::Unsatisfiable;
            };
            let end = if b.is_empty() {
                len
            } else {
                match num(b) {
                    Some(e) if e >= start => e.saturating_add(1).min(len),
                    _ => return RangeRequest::Unsatisfiable,
                }
            };
            if start >= len {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial(start, end)
            }
        }
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
        check(Some("bytes=5-4"), Unsatisfiable);
        check(Some("bytes=-0"), Unsatisfiable);
        check(Some("bytes=a-b"), Unsatisfiable);
        check(Some("items=0-1"), Unsatisfiable);
        check(Some("bytes=0-1,5-6"), Full);
        check(Some("bytes=-"), Unsatisfiable);
    }
}
