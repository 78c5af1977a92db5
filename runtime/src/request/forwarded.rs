//! The client's address behind trusted proxies (opt-in): read from `X-Forwarded-For` or
//! `Forwarded`, right to left, only through hops the service trusts.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

/// The header a service's proxies write the client's address to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    fn name(self) -> http::header::HeaderName {
        match self {
            Self::XForwardedFor => http::header::HeaderName::from_static("x-forwarded-for"),
            Self::Forwarded => http::header::FORWARDED,
        }
    }
}

/// Most hops read from a forwarded header; an address further left is not looked at.
pub const MAX_FORWARDED_HOPS: usize = 32;

/// Which proxies are trusted to say who their client was; none by default.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies {
    header: Option<ForwardedHeader>,
    ranges: Vec<IpNet>,
}

impl TrustedProxies {
    pub(crate) fn new(header: ForwardedHeader, ranges: Vec<IpNet>) -> Self {
        Self { header: Some(header), ranges }
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(&address))
    }

    /// The client's address: the connection's peer, unless the peer is a trusted proxy; then
    /// the rightmost address in the forwarded header that is not a trusted proxy (the last
    /// trusted one when every hop is trusted, or when the next one cannot be read).
    pub(crate) fn client_address(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        let Some(header) = self.header else { return Some(peer) };
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut client = peer;
        let mut examined = 0;
        // Header lines in order, each read right to left: together, right to left.
        'lines: for line in headers.get_all(header.name()).iter().rev() {
            let Ok(text) = line.to_str() else { break };
            for element in text.rsplit(',') {
                if examined == MAX_FORWARDED_HOPS {
                    break 'lines;
                }
                examined += 1;
                let Some(address) = parse_hop(header, element) else { break 'lines };
                client = address;
                if !self.trusts(address) {
                    break 'lines;
                }
            }
        }
        Some(client)
    }
}

fn parse_hop(header: ForwardedHeader, element: &str) -> Option<IpAddr> {
    match header {
        ForwardedHeader::XForwardedFor => parse_address(element.trim()),
        ForwardedHeader::Forwarded => {
            let value = element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.trim().eq_ignore_ascii_case("for").then_some(value.trim())
            })?;
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            parse_address(value)
        }
    }
}

/// An address, with or without a port: `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:80`. `unknown` and obfuscated names are not addresses.
fn parse_address(text: &str) -> Option<IpAddr> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    text.strip_prefix('[')?.strip_suffix(']')?.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn proxies(header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies::new(header, vec!["10.0.0.0/8".parse().unwrap(), "2001:db8:ffff::/48".parse().unwrap()])
    }

    fn headers(name: &str, lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(
                http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(line).unwrap(),
            );
        }
        map
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn only_trusted_hops_are_walked_through() {
        let xff = proxies(ForwardedHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["198.51.100.7, 10.0.0.2"]);
        assert_eq!(xff.client_address(ip("10.0.0.1"), &h), ip("198.51.100.7"));
        // The peer is not a trusted proxy: its header is the client's own claim.
        assert_eq!(xff.client_address(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        // A spoofed address left of the real client is never reached.
        let spoofed = headers("x-forwarded-for", &["1.2.3.4, 198.51.100.7, 10.0.0.2"]);
        assert_eq!(xff.client_address(ip("10.0.0.1"), &spoofed), ip("198.51.100.7"));
        // Several lines read as one list, in order.
        let lines = headers("x-forwarded-for", &["1.2.3.4, 198.51.100.7", "10.0.0.3", "10.0.0.2"]);
        assert_eq!(xff.client_address(ip("10.0.0.1"), &lines), ip("198.51.100.7"));
        // Every hop trusted: the leftmost.
        assert_eq!(xff.client_address(ip("10.0.0.1"), &headers("x-forwarded-for", &["10.9.9.9"])), ip("10.9.9.9"));
        // No header, or no peer known.
        assert_eq!(xff.client_address(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        assert_eq!(xff.client_address(None, &h), None);
    }

    #[test]
    fn an_unreadable_hop_stops_at_the_last_trusted_one() {
        let xff = proxies(ForwardedHeader::XForwardedFor);
        for bad in ["garbage, 10.0.0.2", "198.51.100.7, , 10.0.0.2", "unknown, 10.0.0.2"] {
            let h = headers("x-forwarded-for", &[bad]);
            assert_eq!(xff.client_address(ip("10.0.0.1"), &h), ip("10.0.0.2"), "{bad:?}");
        }
        let mut latin1 = HeaderMap::new();
        latin1.insert("x-forwarded-for", HeaderValue::from_bytes(b"198.51.100.7, \xff").unwrap());
        assert_eq!(xff.client_address(ip("10.0.0.1"), &latin1), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_elements_with_ports_quotes_and_ipv6() {
        let fwd = proxies(ForwardedHeader::Forwarded);
        let h = headers("forwarded", &[r#"for="[2001:db8::17]:4711";proto=https, For=10.0.0.2:8080;by=10.0.0.1"#]);
        assert_eq!(fwd.client_address(ip("10.0.0.1"), &h), ip("2001:db8::17"));
        let h = headers("forwarded", &["for=198.51.100.7, for=\"[2001:db8:ffff::1]\""]);
        assert_eq!(fwd.client_address(ip("2001:db8:ffff::2"), &h), ip("198.51.100.7"));
        let h = headers("forwarded", &["for=_hidden, for=10.0.0.2"]);
        assert_eq!(fwd.client_address(ip("10.0.0.1"), &h), ip("10.0.0.2"), "an obfuscated hop stops the walk");
        // The other header is not read.
        let h = headers("x-forwarded-for", &["198.51.100.7"]);
        assert_eq!(fwd.client_address(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn a_long_chain_is_read_only_so_far() {
        let xff = proxies(ForwardedHeader::XForwardedFor);
        let chain = std::iter::repeat_n("10.1.1.1", 1000).collect::<Vec<_>>().join(",");
        let h = headers("x-forwarded-for", &[&format!("198.51.100.7,{chain}")]);
        assert_eq!(xff.client_address(ip("10.0.0.1"), &h), ip("10.1.1.1"), "the walk stops after MAX_FORWARDED_HOPS");
    }
}
