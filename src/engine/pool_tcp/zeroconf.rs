//! Zeroconf (mDNS/DNS-SD) for pool servers (plasma spec section 10), as
//! libPlasma's `pool-server-zeroconf-adapter` announces `pool_tcp_server` and
//! its browser finds it.
//!
//! What libPlasma puts on the wire (zeugma-hamper/plasma
//! `libPlasma/zeroconf/zeroconf-server-avahi.c`, `pool-server-zeroconf-adapter.cpp`):
//! service type `_pool-server._tcp`, instance name = the host name up to its
//! first dot (at most 62 characters), the pool server's port, each subtype
//! registered as `_<sub>._sub._pool-server._tcp`, and **the same subtypes as
//! the TXT record's strings** (bare keys, no `=`). Its browser reports one
//! (name, subtype, host, port) per TXT string, so the TXT strings are what a
//! libPlasma client sees as subtypes.
//!
//! The record building and parsing here are sans-IO and always compiled; the
//! mDNS daemon ([`Announcer`], [`browse`]) needs the `zeroconf` cargo feature
//! (the mdns-sd crate).

use std::net::IpAddr;

/// DNS-SD service type of pool servers.
pub const SERVICE_TYPE: &str = "_pool-server._tcp";

/// libPlasma's default instance name when no host name is known.
pub const DEFAULT_INSTANCE: &str = "TCP Pool Server";

/// Longest instance name (`ZEROCONF_MAX_SERVICE_LEN` 63, minus one as the
/// adapter truncates).
pub const MAX_INSTANCE_LEN: usize = 62;

/// Longest subtype (`ZEROCONF_MAX_SUBTYPE_LEN`).
pub const MAX_SUBTYPE_LEN: usize = 14;

/// Errors in announcement settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A subtype longer than 14 bytes or with characters DNS-SD labels refuse.
    #[error("zeroconf subtype {0:?}: at most 14 characters of letters, digits and '-'")]
    Subtype(String),
    /// An empty instance name.
    #[error("zeroconf instance name is empty")]
    EmptyName,
}

/// The instance name libPlasma's adapter uses for a host name: the part before
/// the first dot, truncated to [`MAX_INSTANCE_LEN`] characters.
pub fn instance_name(hostname: &str) -> String {
    let short = hostname.split('.').next().unwrap_or("").trim();
    if short.is_empty() {
        return DEFAULT_INSTANCE.to_string();
    }
    short.chars().take(MAX_INSTANCE_LEN).collect()
}

/// Parses a subtype list as the adapter does (`--subtypes foo,bar`; commas and
/// spaces separate), refusing what libPlasma would refuse.
pub fn parse_subtypes(list: &str) -> Result<Vec<String>, RecordError> {
    let mut out: Vec<String> = Vec::new();
    for sub in list.split([',', ' ']).filter(|s| !s.is_empty()) {
        let ok = sub.len() <= MAX_SUBTYPE_LEN
            && sub.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(RecordError::Subtype(sub.to_string()));
        }
        if !out.iter().any(|s| s == sub) {
            out.push(sub.to_string());
        }
    }
    Ok(out)
}

/// What a pool server announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// Instance name (the part before `._pool-server._tcp`).
    pub instance: String,
    /// DNS host name the address records use, ending in `.local.`.
    pub host: String,
    /// Addresses; empty = every address of the chosen interfaces.
    pub addresses: Vec<IpAddr>,
    /// The pool server's TCP port.
    pub port: u16,
    /// Subtypes (also the TXT strings, as libPlasma sends them).
    pub subtypes: Vec<String>,
}

impl Announcement {
    /// An announcement for a server listening on `listen`, named after
    /// `hostname` unless `name` is given.
    pub fn new(
        hostname: &str,
        name: Option<&str>,
        listen: std::net::SocketAddr,
        subtypes: Vec<String>,
    ) -> Result<Self, RecordError> {
        let instance = match name {
            Some(n) => n.chars().take(MAX_INSTANCE_LEN).collect::<String>(),
            None => instance_name(hostname),
        };
        if instance.trim().is_empty() {
            return Err(RecordError::EmptyName);
        }
        let short = hostname.split('.').next().unwrap_or("");
        let label: String = short
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(63)
            .collect();
        let host = format!(
            "{}.local.",
            if label.is_empty() { "tidepool" } else { &label }
        );
        let addresses = if listen.ip().is_unspecified() {
            Vec::new()
        } else {
            vec![listen.ip()]
        };
        Ok(Announcement {
            instance,
            host,
            addresses,
            port: listen.port(),
            subtypes,
        })
    }

    /// The full service type with the domain: `_pool-server._tcp.local.`, or
    /// `_<sub>._sub._pool-server._tcp.local.` for the first subtype (mdns-sd
    /// registers one subtype per service; the TXT strings carry all of them).
    pub fn ty_domain(&self) -> String {
        match self.subtypes.first() {
            Some(sub) => format!("_{sub}._sub.{SERVICE_TYPE}.local."),
            None => format!("{SERVICE_TYPE}.local."),
        }
    }

    /// The service's full name: `<instance>._pool-server._tcp.local.`.
    pub fn fullname(&self) -> String {
        format!("{}.{SERVICE_TYPE}.local.", self.instance)
    }

    /// The TXT strings: the subtypes, as bare keys.
    pub fn txt(&self) -> Vec<String> {
        self.subtypes.clone()
    }

    /// Whether only loopback interfaces should carry the announcement (the
    /// server listens on loopback only, so nobody else could connect).
    pub fn is_loopback_only(&self) -> bool {
        !self.addresses.is_empty() && self.addresses.iter().all(IpAddr::is_loopback)
    }
}

/// A pool server found by browsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Instance name (as announced: untrusted text).
    pub instance: String,
    /// DNS host name, e.g. `host.local.`.
    pub host: String,
    /// Addresses, sorted (IPv4 first).
    pub addresses: Vec<IpAddr>,
    /// TCP port.
    pub port: u16,
    /// Subtypes: the TXT strings, as libPlasma's browser reports them.
    pub subtypes: Vec<String>,
}

impl Service {
    /// Builds a service from a resolved record: `fullname` is
    /// `<instance>._pool-server._tcp.local.` (the instance may itself contain
    /// dots); `txt` are the TXT strings' keys. `None` when the name is not of
    /// our service type.
    pub fn from_record(
        fullname: &str,
        host: &str,
        port: u16,
        addresses: impl IntoIterator<Item = IpAddr>,
        txt: impl IntoIterator<Item = String>,
    ) -> Option<Service> {
        let suffix = format!(".{SERVICE_TYPE}.local.");
        let instance = fullname
            .strip_suffix(&suffix)
            .or_else(|| fullname.strip_suffix(&suffix[..suffix.len() - 1]))?;
        if instance.is_empty() {
            return None;
        }
        let mut addresses: Vec<IpAddr> = addresses.into_iter().collect();
        addresses.sort_by_key(|a| (a.is_ipv6(), *a));
        addresses.dedup();
        Some(Service {
            instance: unescape(instance),
            host: host.to_string(),
            addresses,
            port,
            subtypes: txt.into_iter().filter(|t| !t.is_empty()).collect(),
        })
    }

    /// The server URI to reach it: `tcp://ADDR:PORT/` with the first address
    /// (IPv6 in brackets), or the host name when no address resolved.
    pub fn uri(&self) -> String {
        match self.addresses.first() {
            Some(IpAddr::V6(a)) => format!("tcp://[{a}]:{}/", self.port),
            Some(IpAddr::V4(a)) => format!("tcp://{a}:{}/", self.port),
            None => format!("tcp://{}:{}/", self.host.trim_end_matches('.'), self.port),
        }
    }
}

/// DNS-SD instance names escape dots and backslashes with a backslash.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(feature = "zeroconf")]
pub use daemon::{browse, Announcer, Error};

#[cfg(feature = "zeroconf")]
mod daemon {
    use std::time::Duration;

    use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};

    use super::{Announcement, Service, SERVICE_TYPE};

    /// mDNS failures.
    #[derive(Debug, thiserror::Error)]
    #[error("zeroconf: {0}")]
    pub struct Error(String);

    fn err(e: impl std::fmt::Display) -> Error {
        Error(e.to_string())
    }

    /// Which interfaces a daemon uses: loopback only, or every interface.
    fn restrict(daemon: &ServiceDaemon, loopback_only: bool) -> Result<(), Error> {
        if loopback_only {
            daemon.disable_interface(IfKind::All).map_err(err)?;
            daemon
                .enable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])
                .map_err(err)?;
        }
        Ok(())
    }

    /// A registered announcement; unregistered (with an mDNS goodbye) by
    /// [`Announcer::stop`] or on drop.
    pub struct Announcer {
        daemon: ServiceDaemon,
        fullname: String,
        stopped: bool,
    }

    impl Announcer {
        /// Registers `a` with a new mDNS daemon (its own thread). A server
        /// listening on loopback is announced on loopback interfaces only.
        pub fn start(a: &Announcement) -> Result<Announcer, Error> {
            let daemon = ServiceDaemon::new().map_err(err)?;
            restrict(&daemon, a.is_loopback_only())?;
            let txt: Vec<mdns_sd::TxtProperty> = a
                .txt()
                .iter()
                .map(|k| mdns_sd::TxtProperty::from(k.as_str()))
                .collect();
            let info = ServiceInfo::new(
                &a.ty_domain(),
                &a.instance,
                &a.host,
                a.addresses.as_slice(),
                a.port,
                txt,
            )
            .map_err(err)?;
            let info = if a.addresses.is_empty() {
                info.enable_addr_auto()
            } else {
                info
            };
            let fullname = info.get_fullname().to_string();
            daemon.register(info).map_err(err)?;
            Ok(Announcer {
                daemon,
                fullname,
                stopped: false,
            })
        }

        /// The registered full name.
        pub fn fullname(&self) -> &str {
            &self.fullname
        }

        /// Unregisters (sending the goodbye) and stops the daemon, waiting at
        /// most `wait` for the goodbye to go out.
        pub async fn stop(mut self, wait: Duration) {
            self.stopped = true;
            if let Ok(rx) = self.daemon.unregister(&self.fullname) {
                let _ = tokio::time::timeout(wait, rx.recv_async()).await;
            }
            if let Ok(rx) = self.daemon.shutdown() {
                let _ = tokio::time::timeout(wait, rx.recv_async()).await;
            }
        }
    }

    impl Drop for Announcer {
        fn drop(&mut self) {
            if !self.stopped {
                let _ = self.daemon.unregister(&self.fullname);
                let _ = self.daemon.shutdown();
            }
        }
    }

    /// Browses for pool servers for `wait`, returning each resolved service
    /// once (latest record wins), sorted by instance name. `loopback_only`
    /// keeps the queries off real interfaces.
    pub async fn browse(wait: Duration, loopback_only: bool) -> Result<Vec<Service>, Error> {
        let daemon = ServiceDaemon::new().map_err(err)?;
        restrict(&daemon, loopback_only)?;
        let rx = daemon
            .browse(&format!("{SERVICE_TYPE}.local."))
            .map_err(err)?;
        let mut found: Vec<Service> = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let ev = tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                ev = rx.recv_async() => match ev {
                    Ok(ev) => ev,
                    Err(_) => break,
                },
            };
            match ev {
                ServiceEvent::ServiceResolved(r) => {
                    let txt = r.txt_properties.iter().map(|p| p.key().to_string());
                    let addrs = r.addresses.iter().map(|a| a.to_ip_addr());
                    if let Some(s) = Service::from_record(&r.fullname, &r.host, r.port, addrs, txt)
                    {
                        found.retain(|f| f.instance != s.instance);
                        found.push(s);
                    }
                }
                ServiceEvent::ServiceRemoved(_, fullname) => {
                    found.retain(|f| !fullname.starts_with(&format!("{}.", f.instance)));
                }
                _ => {}
            }
        }
        let _ = daemon.stop_browse(&format!("{SERVICE_TYPE}.local."));
        if let Ok(rx) = daemon.shutdown() {
            let _ = tokio::time::timeout(Duration::from_secs(1), rx.recv_async()).await;
        }
        found.sort_by(|a, b| a.instance.cmp(&b.instance));
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_is_the_host_before_its_first_dot() {
        assert_eq!(instance_name("foo.oblong.com"), "foo");
        assert_eq!(instance_name("bar"), "bar");
        assert_eq!(instance_name(""), DEFAULT_INSTANCE);
        assert_eq!(instance_name(&"x".repeat(100)).len(), MAX_INSTANCE_LEN);
    }

    #[test]
    fn subtypes_split_on_commas_and_spaces_and_are_checked() {
        assert_eq!(
            parse_subtypes("a,b c,,a").unwrap(),
            vec!["a".to_string(), "b".into(), "c".into()]
        );
        assert!(parse_subtypes("fifteen-chars-x").is_err());
        assert!(parse_subtypes("no_under").is_err());
        assert_eq!(parse_subtypes("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn announcement_records_follow_libplasma() {
        let a = Announcement::new(
            "host.example.com",
            None,
            "127.0.0.1:65456".parse().unwrap(),
            vec!["west".into(), "lab".into()],
        )
        .unwrap();
        assert_eq!(a.instance, "host");
        assert_eq!(a.host, "host.local.");
        assert_eq!(a.fullname(), "host._pool-server._tcp.local.");
        assert_eq!(a.ty_domain(), "_west._sub._pool-server._tcp.local.");
        assert_eq!(a.txt(), vec!["west".to_string(), "lab".into()]);
        assert!(a.is_loopback_only());
        let wide =
            Announcement::new("h", Some("Pools"), "0.0.0.0:1".parse().unwrap(), vec![]).unwrap();
        assert_eq!(wide.ty_domain(), "_pool-server._tcp.local.");
        assert!(wide.addresses.is_empty());
        assert!(!wide.is_loopback_only());
        assert!(Announcement::new("h", Some(" "), "0.0.0.0:1".parse().unwrap(), vec![]).is_err());
    }

    #[test]
    fn resolved_records_parse_into_services() {
        let s = Service::from_record(
            "my\\.pools._pool-server._tcp.local.",
            "host.local.",
            65456,
            ["::1".parse().unwrap(), "127.0.0.1".parse().unwrap()],
            ["west".to_string(), String::new()],
        )
        .unwrap();
        assert_eq!(s.instance, "my.pools");
        assert_eq!(s.uri(), "tcp://127.0.0.1:65456/");
        assert_eq!(s.subtypes, vec!["west".to_string()]);
        let v6 = Service::from_record(
            "x._pool-server._tcp.local",
            "h.local.",
            1,
            ["fe80::1".parse().unwrap()],
            [],
        )
        .unwrap();
        assert_eq!(v6.uri(), "tcp://[fe80::1]:1/");
        let none = Service::from_record("x._pool-server._tcp.local.", "h.local.", 7, [], []);
        assert_eq!(none.unwrap().uri(), "tcp://h.local:7/");
        assert!(Service::from_record("x._http._tcp.local.", "h", 1, [], []).is_none());
        assert!(Service::from_record("._pool-server._tcp.local.", "h", 1, [], []).is_none());
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn record_parsing_never_panics(name in ".{0,80}", host in ".{0,40}", txt in proptest::collection::vec(".{0,20}", 0..4)) {
                let _ = Service::from_record(&name, &host, 1, [], txt);
                let _ = parse_subtypes(&name);
                let _ = instance_name(&host);
            }
        }
    }
}
