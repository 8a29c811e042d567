//! Docker container names, from the Docker Engine API over its unix socket: which container
//! owns which process and network namespace (`GET /containers/json`, then `GET
//! /containers/ID/json` for the pid and the sandbox's namespace file), through `docker_api`.
//! GET only: it never asks Docker to change anything. A socket that is missing or does not
//! answer in time is not an error: containers are then named by pid.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::docker_api::Client;
pub use crate::docker_api::DEFAULT_SOCKET;

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

/// The running containers Docker knows, or why it could not say.
pub fn containers(socket: &Path) -> Result<Vec<Container>, String> {
    let client = Client::new(socket, TIMEOUT);
    let get = |path: &str| client.get_json(path).map_err(|e| e.to_string());
    let listed: Vec<Listed> =
        serde_json::from_value(get("/containers/json")?).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for c in listed {
        let i: Inspected = serde_json::from_value(get(&format!("/containers/{}/json", c.id))?)
            .map_err(|e| e.to_string())?;
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
