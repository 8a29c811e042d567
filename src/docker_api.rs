//! The Docker Engine API over its unix socket: where the socket is (DOCKER_HOST's `unix://` path,
//! or the default), one request at a time as HTTP/1.0 with a JSON body (an HTTP/1.0 answer is
//! never chunked, so no HTTP crate is needed), the API version both sides speak, and the
//! process that listens (whose network namespace is the daemon's). It knows the API's verbs, not
//! what a lab asks of them (that is `lab::docker`) nor what a live host holds (`inspect`).
//!
//! Why not a client crate: Docker's API is version-exact, and the typed models of the crates
//! follow the newest API (bollard's have no container-level `MacAddress`, which engines before
//! 25.0, API 1.44, are the only ones to read); plain JSON speaks every version's words.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// Where Docker listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The newest API version mvlab writes requests for; an older engine is spoken to in its own.
const NEWEST_API: (u32, u32) = (1, 47);

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("DOCKER_HOST is `{0}`; mvlab needs the engine's local unix socket (unix://PATH)")]
    NotLocal(String),
    #[error("talking to the Docker Engine at {socket}: {source}")]
    Io {
        socket: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the Docker Engine at {socket} answered `{method} {path}` with something not HTTP")]
    Garbled {
        socket: String,
        method: String,
        path: String,
    },
    /// The daemon refused: its status and its own words.
    #[error("{message}")]
    Refused { status: u16, message: String },
}

/// The socket DOCKER_HOST names (`unix://PATH`), or the default one.
pub fn socket_from_env() -> Result<PathBuf, ApiError> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => host
            .strip_prefix("unix://")
            .map(PathBuf::from)
            .ok_or(ApiError::NotLocal(host)),
        _ => Ok(PathBuf::from(DEFAULT_SOCKET)),
    }
}

/// One Docker Engine, at a socket.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    /// The API version requests are written in, once negotiated; until then they carry none
    /// (the engine's own).
    api: Option<(u32, u32)>,
    timeout: Duration,
}

impl Client {
    /// A client for the engine at `socket`, each request allowed `timeout`. Nothing is sent yet.
    pub fn new(socket: &Path, timeout: Duration) -> Client {
        Client {
            socket: socket.to_path_buf(),
            api: None,
            timeout,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Asks the engine its version (`GET /version`) and speaks the older of its API version
    /// and mvlab's from then on. Returns the engine's `Version` and API version.
    pub fn negotiate(&mut self) -> Result<(String, String), ApiError> {
        let v = self.get_json("/version")?;
        let engine = v["Version"].as_str().unwrap_or("unknown").to_string();
        let api = v["ApiVersion"].as_str().unwrap_or("1.24").to_string();
        let theirs = parse_api(&api).unwrap_or((1, 24));
        self.api = Some(theirs.min(NEWEST_API));
        Ok((engine, api))
    }

    /// The API version requests are written in, as (major, minor).
    pub fn api(&self) -> (u32, u32) {
        self.api.unwrap_or(NEWEST_API)
    }

    /// The pid of the process listening on the socket (SO_PEERCRED): the daemon, whose network
    /// namespace is where it makes macvlan links.
    pub fn daemon_pid(&self) -> Result<u32, ApiError> {
        let stream = UnixStream::connect(&self.socket).map_err(|e| self.io(e))?;
        let cred =
            nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials)
                .map_err(|e| self.io(e.into()))?;
        Ok(cred.pid() as u32)
    }

    /// `GET path` (unversioned when it starts with `/_` or `/version`), its JSON body.
    pub fn get_json(&self, path: &str) -> Result<Value, ApiError> {
        self.send("GET", path, None).map(|text| json(&text))
    }

    /// `POST path` with a JSON body, or none; the answer's JSON (null when empty). A request
    /// without a body sends none: a handler that reads none (`/containers/ID/start`) would
    /// leave it unread, and the daemon then resets the connection before its answer is read.
    pub fn post_json(&self, path: &str, body: Option<&Value>) -> Result<Value, ApiError> {
        let body = body.map(|b| serde_json::to_vec(b).expect("a JSON value serialises"));
        self.send(
            "POST",
            path,
            body.as_deref().map(|b| ("application/json", b)),
        )
        .map(|text| json(&text))
    }

    /// `POST path` with a raw body of `content_type`; the answer as text.
    pub fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<String, ApiError> {
        self.send("POST", path, Some((content_type, body)))
    }

    /// `DELETE path`. A 404 (already gone) is not an error.
    pub fn delete(&self, path: &str) -> Result<(), ApiError> {
        match self.send("DELETE", path, None) {
            Ok(_) | Err(ApiError::Refused { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<String, ApiError> {
        let versioned = match self.api {
            Some((major, minor)) if !path.starts_with("/_") && path != "/version" => {
                format!("/v{major}.{minor}{path}")
            }
            _ => path.to_string(),
        };
        let mut stream = UnixStream::connect(&self.socket).map_err(|e| self.io(e))?;
        stream
            .set_read_timeout(Some(self.timeout))
            .and_then(|()| stream.set_write_timeout(Some(self.timeout)))
            .map_err(|e| self.io(e))?;
        let mut request = format!("{method} {versioned} HTTP/1.0\r\nHost: docker\r\n");
        if let Some((content_type, bytes)) = body {
            request += &format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            );
        }
        request += "\r\n";
        stream
            .write_all(request.as_bytes())
            .and_then(|()| stream.write_all(body.map_or(&[][..], |(_, b)| b)))
            .map_err(|e| self.io(e))?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).map_err(|e| self.io(e))?;
        let answer = String::from_utf8_lossy(&answer);
        let garbled = || ApiError::Garbled {
            socket: self.socket.display().to_string(),
            method: method.to_string(),
            path: path.to_string(),
        };
        let (head, text) = answer.split_once("\r\n\r\n").ok_or_else(garbled)?;
        let status = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(garbled)?;
        judge(status, text.to_string())
    }

    fn io(&self, source: std::io::Error) -> ApiError {
        ApiError::Io {
            socket: self.socket.display().to_string(),
            source,
        }
    }
}

/// An answer's JSON; null when it has none.
fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The body of a 2xx answer, or the daemon's `message`.
fn judge(status: u16, text: String) -> Result<String, ApiError> {
    if (200..300).contains(&status) {
        return Ok(text);
    }
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.trim().to_string());
    Err(ApiError::Refused { status, message })
}

/// `1.41` as (1, 41).
fn parse_api(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_compare_as_numbers() {
        assert_eq!(parse_api("1.41"), Some((1, 41)));
        assert!(parse_api("1.9").unwrap() < parse_api("1.41").unwrap());
        assert_eq!(parse_api("v1"), None);
    }

    #[test]
    fn a_socket_that_is_not_there_is_an_io_error_naming_it() {
        let c = Client::new(
            Path::new("/nonexistent/docker.sock"),
            Duration::from_secs(1),
        );
        let e = c.get_json("/_ping").unwrap_err().to_string();
        assert!(e.contains("/nonexistent/docker.sock"), "{e}");
    }
}
