//! `allowed_outbound_hosts`: which outbound requests a component may make.
//!
//! Patterns as Spin writes them: `scheme://host[:port]`, with `*` for any
//! scheme, host or port, `*.example.com` for subdomains, `http://self` for
//! the app itself and `http://<id>.spin.internal` / `http://*.spin.internal`
//! for local service chaining. Without a port the scheme's default applies.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.suffix`: any subdomain of `suffix` (not `suffix` itself).
    Subdomain(String),
    SelfApp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Exact(u16),
    /// No port written: the scheme's default port.
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    raw: String,
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

/// The target of an outbound request, as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundTarget {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl OutboundTarget {
    pub fn from_uri(uri: &http::Uri) -> Option<Self> {
        let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
        let host = uri
            .host()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = uri.port_u16().or_else(|| default_port(&scheme))?;
        Some(Self { scheme, host, port })
    }

    /// `<component-id>` when the target is `<component-id>.spin.internal`.
    pub fn chained_component(&self) -> Option<&str> {
        self.host
            .strip_suffix(".spin.internal")
            .filter(|id| !id.is_empty() && !id.contains('.'))
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowedHost {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or_else(|| format!("'{raw}': expected scheme://host[:port]"))?;
        if scheme.is_empty() {
            return Err(format!("'{raw}': missing scheme"));
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(format!("'{raw}': paths are not allowed"));
        }
        if rest.contains("{{") {
            return Err(format!(
                "'{raw}': variable templates are not supported by orderhub-host"
            ));
        }
        let scheme = (scheme != "*").then(|| scheme.to_ascii_lowercase());
        let (host, port) =
            split_host_port(rest).ok_or_else(|| format!("'{raw}': invalid host or port"))?;
        let host = match host.as_str() {
            "" => return Err(format!("'{raw}': missing host")),
            "*" => HostPattern::Any,
            "self" | "self.alt" => HostPattern::SelfApp,
            h => match h.strip_prefix("*.") {
                Some(suffix) if !suffix.is_empty() && !suffix.contains('*') => {
                    HostPattern::Subdomain(suffix.to_string())
                }
                Some(_) => return Err(format!("'{raw}': invalid wildcard host")),
                None if h.contains('*') => {
                    return Err(format!(
                        "'{raw}': '*' is only allowed as the whole host or as '*.domain'"
                    ))
                }
                None => HostPattern::Exact(h.to_string()),
            },
        };
        let port = match port {
            None => {
                if scheme.as_deref().and_then(default_port).is_none()
                    && host != HostPattern::SelfApp
                {
                    return Err(format!("'{raw}': a port is required for this scheme"));
                }
                PortPattern::Default
            }
            Some(p) if p == "*" => PortPattern::Any,
            Some(p) => PortPattern::Exact(
                p.parse()
                    .map_err(|_| format!("'{raw}': invalid port '{p}'"))?,
            ),
        };
        Ok(Self {
            raw: raw.to_string(),
            scheme,
            host,
            port,
        })
    }

    fn allows(&self, t: &OutboundTarget) -> bool {
        if let Some(s) = &self.scheme {
            if *s != t.scheme {
                return false;
            }
        }
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => *h == t.host,
            HostPattern::Subdomain(suffix) => t
                .host
                .strip_suffix(suffix.as_str())
                .is_some_and(|p| p.len() > 1 && p.ends_with('.')),
            HostPattern::SelfApp => false,
        };
        if !host_ok {
            return false;
        }
        match self.port {
            PortPattern::Any => true,
            PortPattern::Exact(p) => p == t.port,
            PortPattern::Default => default_port(&t.scheme) == Some(t.port),
        }
    }
}

fn split_host_port(s: &str) -> Option<(String, Option<String>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.to_string()),
        };
        return Some((host.to_ascii_lowercase(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Some((h.to_ascii_lowercase(), Some(p.to_string()))),
        None => Some((s.to_ascii_lowercase(), None)),
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// A component's whole `allowed_outbound_hosts` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<AllowedHost>);

impl AllowedHosts {
    pub fn parse(list: &[String]) -> Result<Self, String> {
        list.iter()
            .map(|s| AllowedHost::parse(s))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn allows(&self, target: &OutboundTarget) -> bool {
        self.0.iter().any(|p| p.allows(target))
    }

    /// `http://self`: relative URLs go back to the app's own listener.
    pub fn allows_self(&self) -> bool {
        self.0.iter().any(|p| p.host == HostPattern::SelfApp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(url: &str) -> OutboundTarget {
        OutboundTarget::from_uri(&url.parse().unwrap()).unwrap()
    }

    fn allows(patterns: &[&str], url: &str) -> bool {
        let list: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        AllowedHosts::parse(&list).unwrap().allows(&t(url))
    }

    #[test]
    fn exact_hosts_and_default_ports() {
        assert!(allows(
            &["https://api.example.com"],
            "https://api.example.com/x"
        ));
        assert!(!allows(
            &["https://api.example.com"],
            "http://api.example.com/x"
        ));
        assert!(!allows(
            &["https://api.example.com"],
            "https://api.example.com:8443/x"
        ));
        assert!(!allows(&["https://api.example.com"], "https://evil.com/x"));
        assert!(allows(
            &["http://127.0.0.1:8080"],
            "http://127.0.0.1:8080/bills"
        ));
        assert!(!allows(
            &["http://127.0.0.1:8080"],
            "http://127.0.0.1:8081/bills"
        ));
        assert!(!allows(&[], "http://127.0.0.1:8080/"));
    }

    #[test]
    fn wildcards() {
        assert!(allows(&["http://localhost:*"], "http://localhost:4567/"));
        assert!(allows(&["*://example.com:*"], "https://example.com:1/"));
        assert!(allows(
            &["https://*.example.com"],
            "https://a.b.example.com/"
        ));
        assert!(!allows(&["https://*.example.com"], "https://example.com/"));
        assert!(!allows(
            &["https://*.example.com"],
            "https://badexample.com/"
        ));
        assert!(allows(&["*://*:*"], "http://10.0.0.1:99/"));
    }

    #[test]
    fn service_chaining_patterns() {
        assert!(allows(
            &["http://*.spin.internal"],
            "http://normalize.spin.internal/x"
        ));
        assert!(allows(
            &["http://normalize.spin.internal"],
            "http://normalize.spin.internal/x"
        ));
        assert!(!allows(
            &["http://normalize.spin.internal"],
            "http://merge.spin.internal/x"
        ));
        assert_eq!(
            t("http://merge.spin.internal/x").chained_component(),
            Some("merge")
        );
        assert_eq!(t("http://example.com/").chained_component(), None);
        let self_only = AllowedHosts::parse(&["http://self".to_string()]).unwrap();
        assert!(self_only.allows_self());
        assert!(!self_only.allows(&t("http://self/")));
    }

    #[test]
    fn bad_patterns_are_rejected() {
        assert!(AllowedHost::parse("example.com").is_err());
        assert!(AllowedHost::parse("https://exa*mple.com").is_err());
        assert!(AllowedHost::parse("https://example.com/path").is_err());
        assert!(AllowedHost::parse("https://example.com:http").is_err());
        assert!(AllowedHost::parse("redis://cache").is_err());
        assert!(AllowedHost::parse("redis://cache:6379").is_ok());
    }
}
