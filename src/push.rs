//! Sending a run's Prometheus metrics to a Prometheus Pushgateway (`mvlab run --push URL`), where
//! fleets already look: one HTTP/1.1 PUT of the text exposition `report::prom` renders, under the
//! grouping key job `mvlab`, `scenario`, `instance` (the host) and `kernel`, so the runs of every
//! machine, kernel and scenario stay apart and a re-run replaces its own group only. Label values
//! travel base64url-encoded (the gateway's `@base64` form), so any name is safe in the path.
//!
//! Plain `http://` only, over a `TcpStream` with timeouts: the body is a few kilobytes to a
//! gateway on the fleet's own network, which needs no TLS stack in mvlab (put a TLS-terminating
//! proxy in front for anything else). Owns no metrics and no formatting of them.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Longest wait to connect, and for each read or write.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where to push: a gateway's address and the path its API sits under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// `host:port` as written (the Host header), brackets kept on an IPv6 literal.
    authority: String,
    host: String,
    port: u16,
    /// A path prefix before `/metrics` (a gateway behind a proxy), without a trailing slash.
    base: String,
}

/// Why a push did not happen; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(
        "`{0}` is not a Pushgateway address: give http://HOST[:PORT][/PATH], e.g. http://pushgateway:9091"
    )]
    BadUrl(String),
    #[error(
        "`{0}`: mvlab pushes over plain http only; give the gateway's http:// address (or a proxy's that forwards to it)"
    )]
    NotHttp(String),
    #[error(
        "cannot reach the Pushgateway at {url}: {source}; is it running and listening there (`prometheus-pushgateway --web.listen-address=:9091`)?"
    )]
    Unreachable {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the Pushgateway at {url} refused the metrics: HTTP {status}: {body}; its log says more"
    )]
    Refused {
        url: String,
        status: u16,
        body: String,
    },
}

impl Gateway {
    /// Parses `http://HOST[:PORT][/PATH]` (port 9091, the gateway's own, by default).
    pub fn parse(url: &str) -> Result<Gateway, PushError> {
        let bad = || PushError::BadUrl(url.to_string());
        let rest = match url.split_once("://") {
            Some(("http", rest)) => rest,
            Some(_) => return Err(PushError::NotHttp(url.to_string())),
            None => return Err(bad()),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') || path.contains(['?', '#']) {
            return Err(bad());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !p.contains(']') => {
                (h, p.parse::<u16>().map_err(|_| bad())?)
            }
            _ => (authority, 9091),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(Gateway {
            authority: authority.to_string(),
            host: host.to_string(),
            port,
            base: path.trim_end_matches('/').to_string(),
        })
    }

    /// The URL a run's group lives at.
    pub fn group_url(&self, group: &Group) -> String {
        format!("http://{}{}", self.authority, self.group_path(group))
    }

    fn group_path(&self, group: &Group) -> String {
        let mut path = format!("{}/metrics/job@base64/{}", self.base, base64url("mvlab"));
        for (name, value) in [
            ("scenario", &group.scenario),
            ("instance", &group.instance),
            ("kernel", &group.kernel),
        ] {
            path += &format!("/{name}@base64/{}", base64url(value));
        }
        path
    }

    /// Replaces the run's group on the gateway with `metrics` (text exposition 0.0.4).
    pub fn push(&self, group: &Group, metrics: &str) -> Result<(), PushError> {
        let url = self.group_url(group);
        let unreachable = |source| PushError::Unreachable {
            url: url.clone(),
            source,
        };
        let address = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(unreachable)?
            .next()
            .ok_or_else(|| {
                unreachable(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the name has no address",
                ))
            })?;
        let mut stream = TcpStream::connect_timeout(&address, TIMEOUT).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .map_err(unreachable)?;
        stream
            .set_write_timeout(Some(TIMEOUT))
            .map_err(unreachable)?;
        let request = format!(
            "PUT {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: mvlab/{}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.group_path(group),
            self.authority,
            env!("CARGO_PKG_VERSION"),
            metrics.len()
        );
        stream
            .write_all(request.as_bytes())
            .and_then(|()| stream.write_all(metrics.as_bytes()))
            .map_err(unreachable)?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).map_err(unreachable)?;
        let reply = String::from_utf8_lossy(&reply);
        let status = reply
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = reply
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .trim()
            .chars()
            .take(500)
            .collect();
        Err(PushError::Refused { url, status, body })
    }
}

/// A run's grouping key on the gateway (besides job `mvlab`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub scenario: String,
    /// The host the run measured (the machine's name unless told otherwise).
    pub instance: String,
    /// `uname -r` of the kernel measured.
    pub kernel: String,
}

impl Group {
    /// The group of a run: its scenario and kernel, and `instance` or else this machine's name.
    pub fn of(scenario: &str, kernel: &str, instance: Option<&str>) -> Group {
        let instance = instance.map_or_else(
            || {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map_or_else(|_| "unknown".to_string(), |h| h.trim().to_string())
            },
            str::to_string,
        );
        Group {
            scenario: scenario.to_string(),
            instance,
            kernel: kernel.to_string(),
        }
    }
}

/// RFC 4648 base64url with padding, as the Pushgateway decodes `label@base64` values.
fn base64url(s: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if s.is_empty() {
        return "=".into();
    }
    let mut out = String::with_capacity(s.len().div_ceil(3) * 4);
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_or_say_what_to_write() {
        let g = Gateway::parse("http://127.0.0.1:9191").unwrap();
        assert_eq!(
            (g.host.as_str(), g.port, g.base.as_str()),
            ("127.0.0.1", 9191, "")
        );
        let g = Gateway::parse("http://gw.example/prom/").unwrap();
        assert_eq!((g.port, g.base.as_str()), (9091, "/prom"));
        let g = Gateway::parse("http://[::1]:9300").unwrap();
        assert_eq!((g.host.as_str(), g.port), ("::1", 9300));
        assert_eq!(g.authority, "[::1]:9300");
        let g = Gateway::parse("http://[::1]").unwrap();
        assert_eq!((g.host.as_str(), g.port), ("::1", 9091));
        assert!(matches!(
            Gateway::parse("https://gw:9091"),
            Err(PushError::NotHttp(_))
        ));
        for bad in [
            "gw:9091",
            "http://",
            "http://gw:port",
            "http://gw:0",
            "http://u@gw",
            "http://gw/?x",
        ] {
            let e = Gateway::parse(bad).unwrap_err();
            assert!(e.to_string().contains("http://HOST[:PORT]"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_group_path_carries_every_label_base64url_encoded() {
        let g = Gateway::parse("http://gw:9091/base").unwrap();
        let group = Group {
            scenario: "a/b".into(),
            instance: "node-1".into(),
            kernel: "6.1.0-57-amd64".into(),
        };
        assert_eq!(
            g.group_url(&group),
            "http://gw:9091/base/metrics/job@base64/bXZsYWI=/scenario@base64/YS9i/instance@base64/bm9kZS0x/kernel@base64/Ni4xLjAtNTctYW1kNjQ="
        );
    }

    #[test]
    fn base64url_matches_rfc4648() {
        for (plain, encoded) in [
            ("", "="),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("\u{fb}\u{ff}", "w7vDvw=="),
            ("??>", "Pz8-"),
            ("???", "Pz8_"),
        ] {
            assert_eq!(base64url(plain), encoded, "{plain:?}");
        }
    }
}
