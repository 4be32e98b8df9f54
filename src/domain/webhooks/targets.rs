//! Where a webhook may deliver: the URL's form, and the addresses that are never a target
//! (unless `WEBHOOK_ALLOW_PRIVATE_TARGETS=true`), so that a webhook cannot be aimed at the
//! server's own network or at a cloud metadata service. A host name is resolved when the
//! webhook is created and again before every delivery (against DNS rebinding): every address
//! it resolves to must be allowed ([`forbidden_reason`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;
use url::{Host, Url};

/// Longest target URL.
pub const MAX_URL_BYTES: usize = 2_048;

/// Why a URL is not a webhook target.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    #[error("the url is not an absolute URL: {0}")]
    Malformed(String),
    #[error("the url takes more than {MAX_URL_BYTES} bytes")]
    TooLong,
    #[error("the url's scheme must be http or https, not {0:?}")]
    Scheme(String),
    #[error("the url must not carry a user name or password")]
    Credentials,
    #[error("the url has no host")]
    NoHost,
    #[error(
        "the url's host {host} is {reason}, which webhooks may not reach (WEBHOOK_ALLOW_PRIVATE_TARGETS=true allows it)"
    )]
    Forbidden { host: String, reason: &'static str },
}

/// A target URL of an allowed form (its host's addresses still to be checked when resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    url: Url,
}

/// A target's host: an address, or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetHost {
    Address(IpAddr),
    Name(String),
}

impl Target {
    /// Parses `raw`; an address given literally is checked here, unless `allow_private`.
    pub fn parse(raw: &str, allow_private: bool) -> Result<Self, TargetError> {
        if raw.len() > MAX_URL_BYTES {
            return Err(TargetError::TooLong);
        }
        let url = Url::parse(raw).map_err(|e| TargetError::Malformed(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TargetError::Scheme(url.scheme().to_string()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Credentials);
        }
        let target = Target { url };
        if let TargetHost::Address(ip) = target.host()?
            && !allow_private
            && let Some(reason) = forbidden_reason(ip)
        {
            return Err(TargetError::Forbidden { host: ip.to_string(), reason });
        }
        Ok(target)
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn host(&self) -> Result<TargetHost, TargetError> {
        match self.url.host() {
            Some(Host::Ipv4(ip)) => Ok(TargetHost::Address(IpAddr::V4(ip))),
            Some(Host::Ipv6(ip)) => Ok(TargetHost::Address(IpAddr::V6(ip))),
            Some(Host::Domain(name)) if !name.is_empty() => Ok(TargetHost::Name(name.to_string())),
            _ => Err(TargetError::NoHost),
        }
    }

    /// The port a delivery connects to (the scheme's default when the URL names none).
    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(80)
    }

    /// Checks the addresses the host resolved to: every one must be allowed.
    pub fn check_resolved(&self, addresses: &[IpAddr]) -> Result<(), TargetError> {
        let host = self.url.host_str().unwrap_or_default().to_string();
        if addresses.is_empty() {
            return Err(TargetError::Malformed(format!("the host {host} resolves to no address")));
        }
        // The address itself is not named: a project owner must not learn the internal
        // network's addresses from the answer.
        match addresses.iter().find_map(|ip| forbidden_reason(*ip)) {
            Some(reason) => Err(TargetError::Forbidden { host: format!("{host} (resolved)"), reason }),
            None => Ok(()),
        }
    }
}

/// Why a delivery may not reach `ip`, or `None` when it may (a public unicast address).
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, network: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(network)) & mask
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: [([u8; 4], u32, &str); 15] = [
        ([0, 0, 0, 0], 8, "an unspecified address (0.0.0.0/8)"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([169, 254, 0, 0], 16, "a link-local address (where cloud metadata services answer)"),
        ([100, 64, 0, 0], 10, "a shared (carrier-grade NAT) address, where some cloud metadata services answer"),
        ([192, 0, 0, 0], 24, "an IETF protocol address"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([192, 88, 99, 0], 24, "a relay (6to4 anycast) address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([240, 0, 0, 0], 4, "a reserved or broadcast address"),
    ];
    RANGES.iter().find(|(network, prefix, _)| in_v4(ip, *network, *prefix)).map(|(_, _, reason)| *reason)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    let bits = u128::from(ip);
    let in_v6 = |network: u128, prefix: u32| (bits ^ network) >> (128 - prefix) == 0;
    // Addresses that carry an IPv4 address: judged by it.
    let embedded = |shift: u32| Ipv4Addr::from(((bits >> shift) & 0xffff_ffff) as u32);
    if in_v6(0xffff_0000_0000, 96) {
        return forbidden_v4(embedded(0)); // ::ffff:a.b.c.d, IPv4-mapped
    }
    if in_v6(0x0064_ff9b << 96, 96) {
        return forbidden_v4(embedded(0)); // 64:ff9b::a.b.c.d, NAT64
    }
    if in_v6(0x0064_ff9b_0001 << 80, 48) {
        // 64:ff9b:1::/48, local-use NAT64 (RFC 8215): its translations reach local networks.
        return Some("a local-use NAT64 address");
    }
    if in_v6(0xffff_0000_0000_0000, 96) {
        return forbidden_v4(embedded(0)); // ::ffff:0:a.b.c.d, IPv4-translated
    }
    if segments[0] == 0x2002 {
        return forbidden_v4(embedded(80)).or(Some("a 6to4 address")); // 2002:a.b.c.d::/48
    }
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if in_v6(0, 96) {
        return Some("an IPv4-compatible address (deprecated)");
    }
    const RANGES: [(u128, u32, &str); 8] = [
        (0xfc00 << 112, 7, "a unique local (private) address"),
        (0xfe80 << 112, 10, "a link-local address"),
        (0xfec0 << 112, 10, "a site-local address (deprecated)"),
        (0xff00 << 112, 8, "a multicast address"),
        (0x2001_0db8 << 96, 32, "a documentation address"),
        (0x2001_0000 << 96, 32, "a Teredo tunnel address"),
        (0x0100 << 112, 64, "a discard-only address"),
        (0x2001_0010 << 96, 28, "an ORCHID address"),
    ];
    RANGES.iter().find(|(network, prefix, _)| in_v6(*network, *prefix)).map(|(_, _, reason)| *reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(ip: &str) -> Option<&'static str> {
        forbidden_reason(ip.parse().unwrap())
    }

    #[test]
    fn loopback_private_link_local_and_metadata_addresses_are_never_targets() {
        for ip in [
            "127.0.0.1",
            "127.255.0.1",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::10.0.0.1",
            "2002:7f00:1::",
            "64:ff9b:1::808:808",
            "::ffff:0:7f00:1",
            "2001:db8::1",
            "::127.0.0.1",
        ] {
            assert!(reason(ip).is_some(), "{ip} must be refused");
        }
        assert_eq!(reason("169.254.169.254"), Some("a link-local address (where cloud metadata services answer)"));
    }

    #[test]
    fn public_unicast_addresses_are_targets() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "172.15.255.255",
            "100.63.255.255",
            "100.128.0.0",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
        ] {
            assert_eq!(reason(ip), None, "{ip} must be allowed");
        }
    }

    #[test]
    fn a_target_is_an_http_or_https_url_with_a_host_and_no_credentials() {
        let target = Target::parse("https://hooks.example.com/in?x=1", false).unwrap();
        assert_eq!(target.host(), Ok(TargetHost::Name("hooks.example.com".into())));
        assert_eq!(target.port(), 443);
        assert_eq!(Target::parse("http://example.com:8080/", false).unwrap().port(), 8080);
        assert!(matches!(Target::parse("ftp://example.com/", false), Err(TargetError::Scheme(s)) if s == "ftp"));
        assert!(matches!(Target::parse("file:///etc/passwd", false), Err(TargetError::Scheme(_))));
        assert_eq!(Target::parse("https://user:pw@example.com/", false), Err(TargetError::Credentials));
        assert!(matches!(Target::parse("not a url", false), Err(TargetError::Malformed(_))));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        assert_eq!(Target::parse(&long, false), Err(TargetError::TooLong));
    }

    #[test]
    fn a_literal_private_address_is_refused_unless_private_targets_are_allowed() {
        for url in ["http://127.0.0.1:9000/hook", "http://[::1]/", "http://0x7f.1/", "http://2130706433/"] {
            assert!(matches!(Target::parse(url, false), Err(TargetError::Forbidden { .. })), "{url}");
            assert!(Target::parse(url, true).is_ok(), "{url}");
        }
    }

    #[test]
    fn every_resolved_address_must_be_allowed() {
        let target = Target::parse("https://rebind.example/", false).unwrap();
        let public: IpAddr = "93.184.216.34".parse().unwrap();
        let private: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(target.check_resolved(&[public]), Ok(()));
        let err = target.check_resolved(&[public, private]).unwrap_err();
        assert!(err.to_string().contains("rebind.example (resolved) is a private address"), "{err}");
        assert!(!err.to_string().contains("10.0.0.5"), "the internal address is not told: {err}");
        assert!(matches!(target.check_resolved(&[]), Err(TargetError::Malformed(_))));
    }
}
