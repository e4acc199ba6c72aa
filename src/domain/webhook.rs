//! Webhooks (SPEC §9): where a workspace's events are sent, which ones, and
//! how a delivery is signed (Standard Webhooks: `webhook-id`,
//! `webhook-timestamp`, `webhook-signature` = `v1,` + base64 of
//! HMAC-SHA256 over `"{id}.{timestamp}.{body}"` under the endpoint's
//! secret).

use std::net::IpAddr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::event::TYPES;
use super::time::{Millis, DAY, HOUR, MINUTE, SECOND};
use super::validation::FieldError;

/// Deliveries are retried for this long after the event, then fail.
pub const RETRY_FOR: Millis = DAY;

/// An endpoint is disabled after this many failed attempts in a row,
/// spread over at least [`DISABLE_AFTER`] (a short outage during a burst of
/// events is not a sustained failure).
pub const DISABLE_AFTER_FAILURES: i64 = 10;
pub const DISABLE_AFTER: Millis = HOUR;

/// The waits between attempts: exponential, from 5 seconds to 8 hours
/// (then every 8 hours, until [`RETRY_FOR`] has passed).
pub fn backoff(attempts: i64) -> Millis {
    const STEPS: [Millis; 9] = [
        5 * SECOND,
        30 * SECOND,
        2 * MINUTE,
        10 * MINUTE,
        30 * MINUTE,
        HOUR,
        2 * HOUR,
        4 * HOUR,
        8 * HOUR,
    ];
    STEPS[(attempts.max(1) as usize - 1).min(STEPS.len() - 1)]
}

/// A new signing secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// `v1,<base64 signature>` of a delivery, as the `webhook-signature` header.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> String {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|b64| STANDARD.decode(b64).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// An endpoint URL: `http` or `https`, at most 2,000 characters, with a
/// host and no credentials; unless `allow_private`, not a loopback,
/// private, link-local or otherwise local address (nor `localhost`). The
/// host is read as the WHATWG URL standard reads it (so `http://2130706433/`
/// and `http://0x7f.1/` are 127.0.0.1). Names are checked again, resolved,
/// when a delivery is sent.
pub fn url(raw: &str, allow_private: bool) -> Result<String, FieldError> {
    let bad = |msg: &str| FieldError::new("url", "invalid", msg);
    let s = raw.trim();
    if s.len() > 2_000 {
        return Err(FieldError::new(
            "url",
            "too_long",
            "must be at most 2000 characters",
        ));
    }
    let parsed = url::Url::parse(s).map_err(|_| bad("must be an http:// or https:// URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("must be an http:// or https:// URL"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    let host = parsed.host().ok_or_else(|| bad("must name a host"))?;
    if !allow_private && is_local_host(&host) {
        return Err(FieldError::new(
            "url",
            "private_address",
            "must not point at a private, loopback or link-local address",
        ));
    }
    Ok(parsed.to_string())
}

/// `localhost` and `.local` names, and private addresses.
pub fn is_local_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d.is_empty() || d == "localhost" || d.ends_with(".localhost") || d.ends_with(".local")
        }
        url::Host::Ipv4(ip) => is_private_ip(IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => is_private_ip(IpAddr::V6(*ip)),
    }
}

/// Loopback, private (RFC 1918, unique local), link-local, unspecified,
/// CGNAT, benchmarking, multicast, reserved, broadcast and documentation
/// ranges; IPv6 forms that carry an IPv4 address (mapped, compatible,
/// NAT64, 6to4) are judged by that address.
pub fn is_private_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || o[0] >= 240
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)
            };
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private_ip(IpAddr::V4(v4));
            }
            if seg[..6] == [0; 6] {
                // ::/96, IPv4-compatible (and :: and ::1).
                return true;
            }
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_private_ip(IpAddr::V4(embedded(seg[6], seg[7])));
            }
            if seg[0] == 0x2002 {
                return is_private_ip(IpAddr::V4(embedded(seg[1], seg[2])));
            }
            v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local
                || (seg[0] & 0xffc0) == 0xfe80 // link-local
                || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        }
    }
}

/// The event types an endpoint subscribes to: at least one; each an event
/// type, `<resource>.*`, or `*` for all. Duplicates folded, sorted.
pub fn events(raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.is_empty() {
        return Err(FieldError::new(
            "events",
            "required",
            "must name at least one event type",
        ));
    }
    let mut out = Vec::new();
    // Organization events reach the endpoints of the organization's
    // workspaces (`store::webhooks::enqueue_deliveries`).
    let types = || TYPES.iter();
    for e in raw {
        let known = e == "*"
            || types().any(|t| t == e)
            || e.strip_suffix(".*")
                .is_some_and(|r| types().any(|t| t.split('.').next() == Some(r)));
        if !known {
            return Err(FieldError::new(
                "events",
                "unknown",
                format!("'{e}' is not an event type (e.g. member.added, member.*, or *)"),
            ));
        }
        out.push(e.clone());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Whether an endpoint subscribed to `subscribed` wants an event of `kind`.
pub fn wants(subscribed: &[String], kind: &str) -> bool {
    let resource = kind.split('.').next().unwrap_or("");
    subscribed
        .iter()
        .any(|s| s == "*" || s == kind || s.strip_suffix(".*") == Some(resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The Standard Webhooks reference example.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn private_urls_are_refused_unless_allowed() {
        for u in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "https://10.1.2.3/",
            "http://192.168.0.1",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:9000/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://localhost./",
            "http://[::]/",
            "http://[64:ff9b::a00:1]/",
            "http://224.0.0.1/",
            "http://198.18.0.1/",
        ] {
            assert_eq!(url(u, false).unwrap_err().code, "private_address", "{u}");
            assert!(url(u, true).is_ok(), "{u}");
        }
        assert!(url("https://hooks.example.com/in?x=1", false).is_ok());
        for u in [
            "ftp://example.com",
            "example.com",
            "http://",
            "http://user:pw@example.com/",
        ] {
            assert_eq!(url(u, false).unwrap_err().code, "invalid", "{u}");
        }
    }

    #[test]
    fn subscriptions_match_types_resources_and_all() {
        let subs = events(&["member.*".into(), "workspace.updated".into()]).unwrap();
        assert!(wants(&subs, "member.added"));
        assert!(wants(&subs, "workspace.updated"));
        assert!(!wants(&subs, "workspace.created"));
        assert!(wants(&["*".into()], "run.failed"));
        assert!(events(&["member.exploded".into()]).is_err());
        assert!(events(&["nothing.*".into()]).is_err());
        assert!(events(&["organization.*".into()]).is_ok());
        assert!(events(&["workspace.purged".into()]).is_ok());
        assert!(events(&["webhook.created".into()]).is_ok());
        assert!(events(&[]).is_err());
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1), 5 * SECOND);
        assert_eq!(backoff(2), 30 * SECOND);
        assert_eq!(backoff(50), 8 * HOUR);
    }
}
