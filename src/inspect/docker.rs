//! Docker container names, from the Docker Engine API over its unix socket: which container
//! owns which process and network namespace (`GET /containers/json`, then `GET
//! /containers/ID/json` for the pid and the sandbox's namespace file). Plain HTTP/1.0 over
//! `std::os::unix::net::UnixStream` (the answer of an HTTP/1.0 request is never chunked, so no
//! HTTP crate is needed). GET only: it never asks Docker to change anything. A socket that is
//! missing or does not answer in time is not an error: containers are then named by pid.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Where Docker listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// A running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    pub pid: u32,
    /// Docker's bind mount of the container's network namespace (`NetworkSettings.SandboxKey`).
    pub sandbox: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Listed {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspected {
    name: String,
    state: State,
    network_settings: Option<NetworkSettings>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct State {
    pid: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkSettings {
    sandbox_key: Option<String>,
}

/// The body of `GET path`, when the answer is `200`.
fn get(socket: &Path, path: &str) -> Result<String, String> {
    let mut stream = UnixStream::connect(socket).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n").map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or("the answer has no end of headers")?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("`GET {path}` answered `{status}`"));
    }
    Ok(body.to_string())
}

/// The running containers Docker knows, or why it could not say.
pub fn containers(socket: &Path) -> Result<Vec<Container>, String> {
    let listed: Vec<Listed> =
        serde_json::from_str(&get(socket, "/containers/json")?).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for c in listed {
        let body = get(socket, &format!("/containers/{}/json", c.id))?;
        let i: Inspected = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        if i.state.pid == 0 {
            continue;
        }
        out.push(Container {
            name: i.name.trim_start_matches('/').to_string(),
            pid: i.state.pid,
            sandbox: i
                .network_settings
                .and_then(|n| n.sandbox_key)
                .filter(|k| !k.is_empty())
                .map(PathBuf::from),
        });
    }
    Ok(out)
}
