//! A throwaway Docker Engine for the tests: Debian's `containerd` and `dockerd` (docker.io)
//! started inside a network namespace of their own (`nsenter --net`, not `ip netns exec`, which
//! remounts /sys and hides the cgroups dockerd needs), with every path of their own under one
//! directory, no iptables, no bridge, the vfs storage driver; a tiny image imported from this
//! machine's busybox-static (no registry). `Engine` is a guard: dropping it, on every exit path
//! of a test including a panic, removes the containers and networks, stops both daemons and
//! whatever they left (shims, orphaned container processes found by command line and cgroup),
//! unmounts, and removes the directory, the namespace and the cgroups. The logic is that of
//! research/dockerd-in-netns.sh. Needs root.

#![allow(dead_code)] // each test binary uses its own subset

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod cases;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

/// The docker CLI that matches the daemon (/usr/local/bin/docker may be a newer client).
pub const DOCKER: &str = "/usr/bin/docker";
/// The image every container runs: busybox-static, sleeping.
pub const IMAGE: &str = "mvtest/busybox:1";
/// The Docker API version of 20.10.
const API: &str = "/v1.41";

pub struct Engine {
    pub ns: String,
    pub dir: PathBuf,
    sock: PathBuf,
    cgroup: String,
    containerd: Option<Child>,
    dockerd: Option<Child>,
    /// Container processes are confined by AppArmor on this kernel (Debian's, in the guests),
    /// whose profile loader is not installed: containers run unconfined.
    apparmor: bool,
}

fn sh(cmd: &mut Command) -> std::process::Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// Whether the process `pid` runs (a zombie counts as gone).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Whether `pid`'s command line names a path under `dir` (a recycled pid never does).
fn owned(pid: i32, dir: &Path) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains(&format!("{}/", dir.display())))
        .unwrap_or(false)
}

fn stop_pid(pid: i32, patience: Duration) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    let until = Instant::now() + patience;
    while alive(pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

impl Engine {
    /// Starts containerd and dockerd in a new namespace `mvtest-dk-<tag>-<pid>`; fails the test
    /// when they do not come up (the guard then removes what was made).
    pub fn start(tag: &str) -> Engine {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the Docker tests start a Docker Engine in a namespace and must run as root"
        );
        let id = format!("{tag}-{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("mvtest-dockerd-{id}"));
        let ns = format!("mvtest-dk-{id}");
        let mut engine = Engine {
            sock: dir.join("docker.sock"),
            cgroup: format!("mvtest-dockerd-{id}"),
            ns,
            dir,
            containerd: None,
            dockerd: None,
            apparmor: Path::new("/sys/kernel/security/apparmor").exists(),
        };
        for d in ["data", "exec", "containerd/root", "containerd/state"] {
            std::fs::create_dir_all(engine.dir.join(d)).unwrap();
        }
        assert!(
            sh(Command::new("ip").args(["netns", "add", &engine.ns]))
                .status
                .success()
        );
        sh(Command::new("ip").args(["-n", &engine.ns, "link", "set", "lo", "up"]));
        let d = engine.dir.display().to_string();
        let ctrd_sock = format!("{d}/containerd/containerd.sock");
        std::fs::write(
            engine.dir.join("containerd/config.toml"),
            format!(
                "version = 2\nroot = \"{d}/containerd/root\"\nstate = \"{d}/containerd/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{ctrd_sock}\"\n[ttrpc]\n  address = \"{ctrd_sock}.ttrpc\"\n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{d}/containerd/opt\"\n"
            ),
        )
        .unwrap();
        // 20.10 keeps its trust key in /etc/docker unless told otherwise (removed in 24.0).
        let version = String::from_utf8_lossy(&sh(Command::new("dockerd").arg("--version")).stdout)
            .to_string();
        let major: u32 = version
            .split("version ")
            .nth(1)
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        let config = if (20..24).contains(&major) {
            format!("{{\"deprecated-key-path\": \"{d}/key.json\"}}\n")
        } else {
            "{}\n".to_string()
        };
        std::fs::write(engine.dir.join("daemon.json"), config).unwrap();
        let netns = format!("--net=/run/netns/{}", engine.ns);
        let log = |name: &str| std::fs::File::create(engine.dir.join(name)).unwrap();
        engine.containerd = Some(
            Command::new("nsenter")
                .args([
                    &netns,
                    "containerd",
                    "--config",
                    &format!("{d}/containerd/config.toml"),
                ])
                .stdout(log("containerd.log"))
                .stderr(log("containerd.err"))
                .spawn()
                .expect("containerd starts (scripts/setup installs containerd)"),
        );
        engine.wait_for(|| Path::new(&ctrd_sock).exists(), "containerd");
        engine.dockerd = Some(
            Command::new("nsenter")
                .args([
                    &netns,
                    "dockerd",
                    "--config-file",
                    &format!("{d}/daemon.json"),
                    "--containerd",
                    &ctrd_sock,
                ])
                .args([
                    "--data-root",
                    &format!("{d}/data"),
                    "--exec-root",
                    &format!("{d}/exec"),
                ])
                .args([
                    "--pidfile",
                    &format!("{d}/docker.pid"),
                    "-H",
                    &format!("unix://{}", engine.sock.display()),
                ])
                .args([
                    "--iptables=false",
                    "--ip6tables=false",
                    "--ip-forward=false",
                    "--ip-masq=false",
                ])
                .args([
                    "--bridge=none",
                    "--storage-driver=vfs",
                    "--cgroup-parent",
                    &format!("/{}", engine.cgroup),
                ])
                .stdout(log("dockerd.log"))
                .stderr(log("dockerd.err"))
                .spawn()
                .expect("dockerd starts (scripts/setup installs docker.io)"),
        );
        engine.wait_for(|| engine.api("GET", "/_ping", None).0 == 200, "dockerd");
        engine.import_image();
        engine
    }

    /// The DOCKER_HOST that names this engine.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    fn wait_for(&self, ready: impl Fn() -> bool, what: &str) {
        let until = Instant::now() + Duration::from_secs(60);
        while !ready() {
            assert!(
                Instant::now() < until,
                "{what} did not start: see {}",
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The docker CLI against this engine.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        sh(Command::new(DOCKER)
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args))
    }

    /// One request to the Engine API: the status and the body (JSON, or `null`).
    pub fn api(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let Ok(mut s) = UnixStream::connect(&self.sock) else {
            return (0, Value::Null);
        };
        let body = body.map_or(String::new(), Value::to_string);
        let request = format!(
            "{method} {API}{path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if s.write_all(request.as_bytes()).is_err() {
            return (0, Value::Null);
        }
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw);
        let Some((head, payload)) = text.split_once("\r\n\r\n") else {
            return (0, Value::Null);
        };
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let payload = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(payload)
        } else {
            payload.to_string()
        };
        (
            status,
            serde_json::from_str(&payload).unwrap_or(Value::Null),
        )
    }

    fn import_image(&self) {
        let root = self.dir.join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", root.join("bin/busybox"))
            .expect("/bin/busybox (busybox-static, scripts/setup installs it)");
        for tool in ["sh", "sleep"] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(tool)).unwrap();
        }
        let mut tar = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Command::new(DOCKER)
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(["import", "-c", "CMD [\"/bin/sleep\",\"3600\"]", "-", IMAGE])
            .stdin(tar.stdout.take().unwrap())
            .output()
            .unwrap();
        let _ = tar.wait();
        assert!(
            out.status.success(),
            "docker import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A veth pair `NAME` / `NAMEp` inside the engine's namespace, both up: a macvlan parent.
    pub fn veth(&self, name: &str) {
        let peer = format!("{name}p");
        let out = sh(Command::new("ip").args([
            "-n", &self.ns, "link", "add", name, "type", "veth", "peer", "name", &peer,
        ]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for l in [name, peer.as_str()] {
            sh(Command::new("ip").args(["-n", &self.ns, "link", "set", l, "up"]));
        }
    }

    /// Creates a network (`POST /networks/create`): its ID, or the daemon's words.
    pub fn create_network(&self, request: &Value) -> Result<String, String> {
        match self.api("POST", "/networks/create", Some(request)) {
            (201, v) => Ok(v["Id"].as_str().unwrap_or_default().to_string()),
            (_, v) => Err(v["message"].as_str().unwrap_or("no answer").to_string()),
        }
    }

    /// `docker run -d --name NAME --network NET [--ip] [--ip6] [--mac-address]` through the API
    /// (create, then start): the container's inspect JSON, or the daemon's words (a container
    /// that could not start is removed).
    pub fn run(
        &self,
        name: &str,
        network: &str,
        ip: Option<&str>,
        ip6: Option<&str>,
        mac: Option<&str>,
    ) -> Result<Value, String> {
        let mut ipam = json!({});
        if let Some(ip) = ip {
            ipam["IPv4Address"] = json!(ip);
        }
        if let Some(ip6) = ip6 {
            ipam["IPv6Address"] = json!(ip6);
        }
        let mut request = json!({
            "Image": IMAGE,
            "HostConfig": { "NetworkMode": network },
            "NetworkingConfig": { "EndpointsConfig": { network: { "IPAMConfig": ipam } } },
        });
        if let Some(mac) = mac {
            request["MacAddress"] = json!(mac);
        }
        if self.apparmor {
            request["HostConfig"]["SecurityOpt"] = json!(["apparmor=unconfined"]);
        }
        let (status, v) = self.api(
            "POST",
            &format!("/containers/create?name={name}"),
            Some(&request),
        );
        if status != 201 {
            return Err(v["message"].as_str().unwrap_or("no answer").to_string());
        }
        match self.api("POST", &format!("/containers/{name}/start"), None) {
            (204, _) => Ok(self.api("GET", &format!("/containers/{name}/json"), None).1),
            (_, v) => {
                self.api("DELETE", &format!("/containers/{name}?force=1"), None);
                Err(v["message"].as_str().unwrap_or("no answer").to_string())
            }
        }
    }

    /// `cmd` run inside a container's network namespace.
    pub fn in_container(&self, inspect: &Value, cmd: &[&str]) -> String {
        let pid = inspect["State"]["Pid"]
            .as_i64()
            .expect("a running container");
        let out = sh(Command::new("nsenter")
            .arg(format!("--net=/proc/{pid}/ns/net"))
            .args(cmd));
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// `docker network inspect NAMES...` as the CLI prints it: a JSON array.
    pub fn inspect_networks(&self, names: &[&str]) -> String {
        let all: Vec<Value> = names
            .iter()
            .map(|n| self.api("GET", &format!("/networks/{n}"), None).1)
            .collect();
        serde_json::to_string_pretty(&all).unwrap()
    }

    /// Removes every container and network: the engine is as new (save the 20.10 leak of a
    /// subnet whose aux address was refused, which lasts until a restart).
    pub fn reset(&self) {
        let (_, list) = self.api("GET", "/containers/json?all=1", None);
        for c in list.as_array().into_iter().flatten() {
            let id = c["Id"].as_str().unwrap_or_default();
            self.api("DELETE", &format!("/containers/{id}?force=1"), None);
        }
        let (_, nets) = self.api("GET", "/networks", None);
        for n in nets.as_array().into_iter().flatten() {
            if n["Driver"] == "macvlan" {
                let id = n["Id"].as_str().unwrap_or_default();
                self.api("DELETE", &format!("/networks/{id}"), None);
            }
        }
    }

    fn stop(&mut self) {
        if self.sock.exists() {
            self.reset();
        }
        for child in [self.dockerd.take(), self.containerd.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            stop_pid(child.id() as i32, Duration::from_secs(30));
            let _ = child.wait();
        }
        // Shims, and anything else holding our paths.
        let pids = || -> Vec<i32> {
            std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|p| *p != std::process::id() as i32 && owned(*p, &self.dir))
                .collect()
        };
        for p in pids() {
            stop_pid(p, Duration::from_secs(10));
        }
        // Container processes a crashed shim orphaned: whatever is left in our cgroup.
        for procs in self.cgroup_dirs().iter().map(|d| d.join("cgroup.procs")) {
            for p in std::fs::read_to_string(procs).unwrap_or_default().lines() {
                if let Ok(p) = p.parse::<i32>() {
                    let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
                }
            }
        }
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut under: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(1))
            .filter(|m| m.starts_with(&format!("{}/", self.dir.display())))
            .collect();
        under.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in under {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        sh(Command::new("ip").args(["netns", "del", &self.ns]));
        for d in [
            "/run/containerd/s",
            "/run/containerd",
            "/run/docker/plugins",
            "/run/docker",
        ] {
            let _ = std::fs::remove_dir(d);
        }
        for d in self.cgroup_dirs() {
            remove_dirs(&d);
        }
    }

    fn cgroup_dirs(&self) -> Vec<PathBuf> {
        let mut out = vec![Path::new("/sys/fs/cgroup").join(&self.cgroup)];
        for e in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            out.push(e.path().join(&self.cgroup));
        }
        out.into_iter().filter(|d| d.is_dir()).collect()
    }
}

/// Removes an emptied cgroup tree, deepest first.
fn remove_dirs(d: &Path) {
    for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            remove_dirs(&e.path());
        }
    }
    let _ = std::fs::remove_dir(d);
}

/// A chunked HTTP body put back together.
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}
