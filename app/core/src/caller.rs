//! Who is asking: the client's address and the session their cookie names, if any. Domain
//! functions take a `Caller` rather than reading the request, so tests can call them directly.

use std::net::IpAddr;

use crate::{
    account::Patient,
    session::{Browser, Session},
};

#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The client's address as the server worked it out (behind a trusted proxy, the forwarded one).
    pub ip: Option<IpAddr>,
    pub session: Option<Session>,
    /// The browser's `User-Agent`, to name it on the patient's security page.
    pub user_agent: Option<String>,
    /// The token in the browser's remembered-device cookie, if it has one.
    pub device_token: Option<String>,
    /// The handle of the passkey ceremony this browser has under way, if any.
    pub ceremony_token: Option<String>,
    /// The request's ID (`X-Request-Id`), which its log lines carry too.
    pub request_id: Option<String>,
}

impl Caller {
    pub fn new(ip: IpAddr, session: Option<Session>) -> Self {
        Self {
            ip: Some(ip),
            session,
            ..Self::default()
        }
    }

    /// The browser, for a session started in it.
    pub fn browser(&self) -> Browser<'_> {
        Browser {
            previous: self.session.as_ref(),
            user_agent: self.user_agent.as_deref(),
        }
    }

    /// The address as the audit trail records it.
    pub fn ip_text(&self) -> String {
        self.ip
            .map_or_else(|| "unknown".to_string(), |ip| ip.to_string())
    }

    /// The address as per-IP limits count it: IPv4 as it is, IPv6 by its network, so that one
    /// client can't step around a limit by rotating through its own /64.
    pub fn network(&self, ipv6_prefix: u8) -> String {
        match self.ip {
            Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
                let prefix = ipv6_prefix.min(128);
                let bits = u128::from(v6);
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                format!("{}/{prefix}", std::net::Ipv6Addr::from(bits & mask))
            }
            Some(IpAddr::V6(v6)) => v6
                .to_ipv4_mapped()
                .map_or_else(String::new, |v4| v4.to_string()),
            Some(IpAddr::V4(v4)) => v4.to_string(),
            None => "unknown".to_string(),
        }
    }
}

/// A caller with a session, and the patient it belongs to.
pub struct Visit {
    pub caller: Caller,
    pub session: Session,
    pub patient: Patient,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(ip: &str) -> Caller {
        Caller::new(ip.parse().unwrap(), None)
    }

    #[test]
    fn ipv6_clients_count_by_their_network() {
        let a = caller("2001:db8:1:2:aaaa::1").network(64);
        let b = caller("2001:db8:1:2:ffff:ffff:ffff:ffff").network(64);
        let other = caller("2001:db8:1:3::1").network(64);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(caller("2001:db8:1:2::1").network(48), "2001:db8:1::/48");
        assert_eq!(caller("2001:db8::1").network(128), "2001:db8::1/128");
    }

    #[test]
    fn ipv4_clients_count_by_their_address() {
        assert_eq!(caller("203.0.113.7").network(64), "203.0.113.7");
        assert_eq!(caller("::ffff:203.0.113.7").network(64), "203.0.113.7");
        assert_eq!(Caller::default().network(64), "unknown");
    }
}
