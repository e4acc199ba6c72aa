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

/// An endpoint is disabled after this many failed attempts in a row.
pub const DISABLE_AFTER_FAILURES: i64 = 10;

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
/// host; unless `allow_private`, not a loopback, private, link-local or
/// otherwise local address (nor `localhost`). Names are checked again,
/// resolved, when a delivery is sent.
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
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| bad("must be an http:// or https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(bad("must not carry credentials"));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b))
    {
        return Err(bad("must name a host"));
    }
    if !allow_private && is_local_host(host) {
        return Err(FieldError::new(
            "url",
            "private_address",
            "must not point at a private, loopback or link-local address",
        ));
    }
    if s.chars().any(char::is_whitespace) {
        return Err(bad("must not contain spaces"));
    }
    Ok(s.to_owned())
}

fn is_local_host(host: &str) -> bool {
    let lower = host.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") || lower.ends_with(".local") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(is_private_ip)
}

/// Loopback, private (RFC 1918, unique local), link-local, unspecified,
/// CGNAT, broadcast and documentation ranges, and IPv4 mapped into IPv6.
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
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private_ip(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
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
    for e in raw {
        let known = e == "*"
            || TYPES.contains(&e.as_str())
            || e.strip_suffix(".*")
                .is_some_and(|r| TYPES.iter().any(|t| t.split('.').next() == Some(r)));
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
        assert!(events(&[]).is_err());
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1), 5 * SECOND);
        assert_eq!(backoff(2), 30 * SECOND);
        assert_eq!(backoff(50), 8 * HOUR);
    }
}
