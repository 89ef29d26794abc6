//! Webhooks, the pure parts: event type names, the signature a receiver checks, the retry
//! schedule, and which URLs and addresses the hub may call.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{AppError, AppResult};

/// Every event type, dotted lower case (DESIGN.md, "Contract additions").
pub const EVENT_TYPES: [&str; 16] = [
    "points.issued",
    "points.redeemed",
    "points.reversed",
    "points.expiring",
    "hold.authorized",
    "hold.captured",
    "hold.voided",
    "hold.expired",
    "member.enrolled",
    "member.linked",
    "tier.changed",
    "settlement.closed",
    "campaign.created",
    "campaign.updated",
    "campaign.ended",
    "campaign.bonus_awarded",
];

/// Subscribes to every type, including those added later.
pub const ALL_EVENTS: &str = "*";

pub const MAX_URL_LEN: usize = 2000;

/// Checks a subscription's event types: 1 to 50 known names (or `*`), answered sorted
/// without duplicates.
pub fn event_types(requested: &[String]) -> AppResult<Vec<String>> {
    if requested.is_empty() || requested.len() > 50 {
        return Err(AppError::bad_input("give 1 to 50 event types"));
    }
    let mut types = Vec::with_capacity(requested.len());
    for name in requested {
        if name != ALL_EVENTS && !EVENT_TYPES.contains(&name.as_str()) {
            return Err(AppError::bad_input(format!(
                "unknown event type {name:?} (known: {}, or \"*\")",
                EVENT_TYPES.join(", ")
            )));
        }
        types.push(name.clone());
    }
    types.sort();
    types.dedup();
    Ok(types)
}

/// The `Hub-Signature` header of a POST: `t=<unix seconds>,v1=<hex HMAC-SHA256>`, the MAC
/// keyed with the subscription's secret over `"<t>.<body>"` (Stripe's scheme).
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, body))
}

pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// When a failed delivery is tried again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetrySchedule {
    /// The wait after the first failure, doubled after each failure since.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl RetrySchedule {
    /// The wait after the `failures`-th failure in a row (1 for the first), with `jitter`
    /// (0 to 1) taking up to half of it off, so that many receivers failing together do not
    /// come back together.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1u32 << doublings).min(self.max);
        full.mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// Which addresses the hub may call besides public ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Loopback (and plain `http` to it): development and tests.
    pub allow_loopback: bool,
    /// Private, shared, link-local and cloud metadata addresses.
    pub allow_private: bool,
}

impl AddressPolicy {
    /// Why the hub must not connect to `ip`, if it must not.
    pub fn refuses(&self, ip: IpAddr) -> Option<&'static str> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if ip.is_unspecified() || ip.is_multicast() || is_broadcast(ip) {
            return Some("not a host address");
        }
        if ip.is_loopback() {
            return (!self.allow_loopback).then_some("a loopback address");
        }
        if is_private(ip) {
            return (!self.allow_private).then_some("a private or link-local address");
        }
        None
    }
}

fn is_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
}

/// Not reachable from the public internet: private, shared (CGNAT), link-local (cloud
/// metadata lives there), reserved, documentation and benchmark ranges.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_private()
        || ip.is_link_local()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 is a metadata address)
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b // NAT64 of any v4 address
}

/// The parts of a subscription URL the checks need, taken apart by the caller's URL parser.
pub struct UrlParts<'a> {
    pub scheme: &'a str,
    /// Host name or address literal, without brackets.
    pub host: Option<&'a str>,
    pub has_credentials: bool,
    pub has_fragment: bool,
}

/// Checks a subscription URL before it is stored: `https` (plain `http` to loopback only
/// where loopback is allowed), a host, no credentials or fragment, and an address literal
/// the policy allows. Names are checked again after each DNS lookup, when delivering.
pub fn check_url(url: &UrlParts<'_>, policy: AddressPolicy) -> AppResult<()> {
    let bad = |why: &str| Err(AppError::bad_input(format!("url: {why}")));
    let Some(host) = url.host.filter(|h| !h.is_empty()) else {
        return bad("a host is required");
    };
    if url.has_credentials {
        return bad("no user name or password in the URL; the signature authenticates the hub");
    }
    if url.has_fragment {
        return bad("no fragment (#...)");
    }
    let literal: Option<IpAddr> = host.parse().ok();
    let loopback =
        host.eq_ignore_ascii_case("localhost") || literal.is_some_and(|ip| ip.is_loopback());
    match url.scheme {
        "https" => {}
        "http" if loopback && policy.allow_loopback => {}
        _ => return bad("https is required"),
    }
    if loopback && !policy.allow_loopback {
        return bad("loopback addresses are not allowed");
    }
    if let Some(why) = literal.and_then(|ip| policy.refuses(ip)) {
        return bad(&format!("{host} is {why}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OPEN: AddressPolicy = AddressPolicy {
        allow_loopback: true,
        allow_private: false,
    };

    fn url<'a>(scheme: &'a str, host: &'a str) -> UrlParts<'a> {
        UrlParts {
            scheme,
            host: Some(host),
            has_credentials: false,
            has_fragment: false,
        }
    }

    #[test]
    fn the_signature_is_stripes_scheme() {
        // The example a receiver can check by hand (docs/WEBHOOKS.md):
        // printf '1733400000.{"events":[]}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature_header("whsec_test", 1_733_400_000, br#"{"events":[]}"#),
            "t=1733400000,v1=65be4f96e215f11eec06b3d8e920b5d912b7a2f90e3540ef459fe9e4da43736b"
        );
    }

    #[test]
    fn private_link_local_and_metadata_addresses_are_refused() {
        let policy = AddressPolicy::default();
        for refused in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "127.0.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(policy.refuses(ip).is_some(), "{refused} was allowed");
        }
        for allowed in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "8.8.8.8",
        ] {
            let ip: IpAddr = allowed.parse().unwrap();
            assert_eq!(policy.refuses(ip), None, "{allowed}");
        }
        let private = AddressPolicy {
            allow_loopback: false,
            allow_private: true,
        };
        assert_eq!(private.refuses("169.254.169.254".parse().unwrap()), None);
        assert!(private.refuses("127.0.0.1".parse().unwrap()).is_some());
    }

    #[test]
    fn urls_need_https_except_to_an_allowed_loopback() {
        assert!(check_url(&url("https", "hooks.example.com"), AddressPolicy::default()).is_ok());
        assert!(check_url(&url("http", "hooks.example.com"), OPEN).is_err());
        assert!(check_url(&url("http", "127.0.0.1"), OPEN).is_ok());
        assert!(check_url(&url("http", "localhost"), OPEN).is_ok());
        assert!(check_url(&url("http", "127.0.0.1"), AddressPolicy::default()).is_err());
        assert!(check_url(&url("https", "localhost"), AddressPolicy::default()).is_err());
        assert!(check_url(&url("https", "10.1.2.3"), OPEN).is_err());
        assert!(check_url(&url("ftp", "hooks.example.com"), OPEN).is_err());
        let mut with_password = url("https", "hooks.example.com");
        with_password.has_credentials = true;
        assert!(check_url(&with_password, OPEN).is_err());
    }

    #[test]
    fn event_types_are_known_names_sorted_once() {
        let asked = ["points.redeemed", "points.issued", "points.issued"].map(String::from);
        assert_eq!(
            event_types(&asked).unwrap(),
            vec!["points.issued", "points.redeemed"]
        );
        assert!(event_types(&[]).is_err());
        assert!(event_types(&["points.minted".to_owned()]).is_err());
        assert_eq!(event_types(&["*".to_owned()]).unwrap(), vec!["*"]);
    }

    proptest! {
        #[test]
        fn retries_back_off_exponentially_within_the_cap(
            base_ms in 1u64..60_000,
            max_ms in 1u64..86_400_000,
            failures in 1u32..200,
            jitter in 0.0f64..=1.0,
        ) {
            let schedule = RetrySchedule {
                base: Duration::from_millis(base_ms),
                max: Duration::from_millis(max_ms),
            };
            let full = Duration::from_millis(base_ms)
                .saturating_mul(2u32.saturating_pow(failures.min(31) - 1))
                .min(Duration::from_millis(max_ms));
            let delay = schedule.delay(failures, jitter);
            prop_assert!(delay <= full);
            prop_assert!(delay >= full / 2 - Duration::from_nanos(1));
            // Waits never shrink as failures add up (jitter aside).
            prop_assert!(schedule.delay(failures + 1, 0.0) >= schedule.delay(failures, 0.0));
        }
    }
}
