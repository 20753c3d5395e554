//! The client's address behind a reverse proxy.
//!
//! `X-Forwarded-For` and `Forwarded` are believed only when the connection
//! comes from a listed proxy (`trusted_proxies`); from anyone else they are
//! ignored, since a client can send any header. Through a chain of proxies
//! the client is the rightmost address that is not itself a trusted proxy.
//! The address found replaces the connection's peer address for everything
//! after this layer: login throttles, the access record, logs.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::AppState;

/// The proxies whose forwarding headers are believed. Empty by default.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<Vec<IpNet>>);

impl TrustedProxies {
    /// Parses addresses (`10.0.0.5`) and networks (`10.0.0.0/24`, `fd00::/8`).
    /// The error names the entry that is not one.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|e| {
                let e = e.as_ref().trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("trusted_proxies: {e:?} is not an IP address or network (CIDR)")
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| TrustedProxies(Arc::new(v)))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: `peer` itself unless `peer` is a trusted proxy,
    /// in which case the rightmost forwarded address that is not a trusted
    /// proxy (or the leftmost, when all are). Unparseable headers are
    /// ignored, leaving the peer.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if !self.trusts(peer.ip()) {
            return peer;
        }
        let hops = forwarded_for(headers);
        let chosen = hops
            .iter()
            .rev()
            .find(|ip| !self.trusts(**ip))
            .or(hops.first());
        match chosen {
            Some(ip) => SocketAddr::new(*ip, 0),
            None => peer,
        }
    }
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The forwarded-for chain, client first: from `Forwarded` (RFC 7239) if
/// present, else from `X-Forwarded-For`. Empty if either is malformed.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let values = |name: &str| -> Option<Vec<String>> {
        let v: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().map(str::to_owned))
            .collect::<Result<_, _>>()
            .ok()?;
        (!v.is_empty()).then_some(v)
    };
    if let Some(forwarded) = values("forwarded") {
        let mut out = Vec::new();
        for element in forwarded.iter().flat_map(|v| v.split(',')) {
            let Some(node) = element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
            }) else {
                continue;
            };
            match parse_node(node) {
                Some(ip) => out.push(ip),
                None => return Vec::new(),
            }
        }
        return out;
    }
    let Some(xff) = values("x-forwarded-for") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for part in xff.iter().flat_map(|v| v.split(',')) {
        match part.trim().parse::<IpAddr>() {
            Ok(ip) => out.push(canonical(ip)),
            Err(_) => return Vec::new(),
        }
    }
    out
}

/// A `Forwarded` node: `192.0.2.1`, `"192.0.2.1:4711"`, `"[2001:db8::1]:80"`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let n = node.trim_matches('"');
    if let Ok(ip) = n.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = n.parse::<SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    n.strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .and_then(|(ip, _)| ip.parse::<IpAddr>().ok())
        .map(canonical)
}

/// Middleware: replaces the peer address by the client's (see the module).
pub async fn client_address(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let client = state.proxies.client(peer, req.headers());
        if client != peer {
            req.extensions_mut().insert(ConnectInfo(client));
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn client(proxies: &[&str], peer: &str, h: &[(&str, &str)]) -> String {
        TrustedProxies::parse(proxies)
            .unwrap()
            .client(peer.parse().unwrap(), &headers(h))
            .ip()
            .to_string()
    }

    #[test]
    fn headers_count_only_from_trusted_proxies() {
        let xff = [("x-forwarded-for", "203.0.113.9")];
        // Not a listed proxy: the header is the client's word, ignored.
        assert_eq!(client(&[], "198.51.100.1:5000", &xff), "198.51.100.1");
        assert_eq!(
            client(&["10.0.0.0/8"], "198.51.100.1:5000", &xff),
            "198.51.100.1"
        );
        // A listed proxy.
        assert_eq!(
            client(&["10.0.0.0/8"], "10.1.2.3:5000", &xff),
            "203.0.113.9"
        );
        assert_eq!(client(&["10.1.2.3"], "10.1.2.3:5000", &xff), "203.0.113.9");
        // A chain: the rightmost untrusted hop, not what the client prepended.
        let chain = [("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.7")];
        assert_eq!(client(&["10.0.0.0/8"], "10.0.0.1:1", &chain), "203.0.113.9");
        // RFC 7239, quoted, with ports and IPv6; it wins over X-Forwarded-For.
        let fwd = [
            (
                "forwarded",
                "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.9",
            ),
            ("x-forwarded-for", "5.5.5.5"),
        ];
        assert_eq!(client(&["10.0.0.0/8"], "10.0.0.1:1", &fwd), "2001:db8::7");
        // Malformed: the proxy's own address stays.
        let bad = [("x-forwarded-for", "not-an-address")];
        assert_eq!(client(&["10.0.0.0/8"], "10.0.0.1:1", &bad), "10.0.0.1");
        // IPv4-mapped peers match IPv4 networks.
        assert_eq!(
            client(&["127.0.0.1"], "[::ffff:127.0.0.1]:1", &xff),
            "203.0.113.9"
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local"])
            .unwrap_err()
            .contains("proxy.local"));
    }
}
