//! `mvlab run --push` against the real Prometheus Pushgateway (Debian's `prometheus-pushgateway`,
//! installed by scripts/setup), started here on a loopback port with its storage in a temporary
//! directory and stopped on every exit path: the run's metrics are read back from the gateway's
//! own /metrics under job `mvlab` and the scenario, instance and kernel labels; two hosts' pushes
//! stay apart; a gateway that is not there fails the run with exit 4 and says what to check; a
//! bad address is refused before any lab is built. Needs root (it builds labs).

mod lab_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use lab_support::{mvlab, require_root, scenario_path, scratch_dir, unique};

/// A pushgateway of this test's own; killed and reaped when dropped (a failing test included).
struct Pushgateway {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Pushgateway {
    fn start() -> Pushgateway {
        let port = free_port();
        let dir = scratch_dir("pushgateway");
        let child = Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--persistence.file={}",
                dir.join("metrics.data").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-pushgateway (scripts/setup installs it)");
        let gateway = Pushgateway { child, port, dir };
        // Until it answers (bounded: a gateway that never comes up fails the test).
        for _ in 0..600 {
            if gateway
                .get("/-/ready")
                .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
            {
                return gateway;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the pushgateway on port {port} never became ready");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The raw HTTP reply to a GET of `path`, or None when nothing listens yet.
    fn get(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut reply = String::new();
        s.read_to_string(&mut reply).ok()?;
        Some(reply)
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run_pushing(url: &str, extra: &[&str]) -> std::process::Output {
    mvlab()
        .arg("run")
        .arg(scenario_path("vepa"))
        .args(["--name", &unique("push")])
        .args(["--push", url])
        .args(extra)
        .output()
        .unwrap()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_run_pushes_its_metrics_to_a_real_pushgateway() {
    require_root();
    let gateway = Pushgateway::start();
    let kernel = mvlab::lab::probe::release();
    for extra in [&[][..], &["--push-instance", "node-7"][..]] {
        let out = run_pushing(&gateway.url(), extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("pushed the metrics to"), "{stderr}");
    }
    let metrics = gateway.get("/metrics").expect("the gateway answers");
    for instance in [hostname(), "node-7".to_string()] {
        let series = format!(
            "mvlab_run_passed{{instance=\"{instance}\",job=\"mvlab\",kernel=\"{kernel}\",mvlab=\"{}\",scenario=\"vepa\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        assert!(metrics.contains(&series), "{series} not in\n{metrics}");
        let pushed = format!(
            "push_time_seconds{{instance=\"{instance}\",job=\"mvlab\",kernel=\"{kernel}\",scenario=\"vepa\"}}"
        );
        assert!(metrics.contains(&pushed), "{pushed} not in\n{metrics}");
    }
    assert!(
        metrics.contains("mvlab_matrix_received_frames{"),
        "the cells are there too"
    );
}

#[test]
fn a_gateway_that_is_not_there_fails_the_run_and_says_what_to_check() {
    require_root();
    let out = run_pushing(&format!("http://127.0.0.1:{}", free_port()), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("cannot reach the Pushgateway"), "{stderr}");
    assert!(stderr.contains("is it running"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASSED"));
}

#[test]
fn a_bad_address_is_refused_before_any_lab_is_built() {
    require_root();
    for (url, says) in [
        ("https://gw:9091", "plain http only"),
        ("gw:9091", "http://HOST[:PORT]"),
    ] {
        let out = run_pushing(url, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(out.stdout.is_empty(), "nothing ran");
    }
}
