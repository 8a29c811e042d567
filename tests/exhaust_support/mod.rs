//! A witness for the exhaustion tests: tcpdump in a lab namespace, started and listening
//! before the traffic it should see, stopped with SIGINT to learn its own counts, and killed
//! on every other path out (a panicking test must not leave a process holding a namespace).

#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

pub struct Tcpdump {
    child: Option<Child>,
    stderr: BufReader<ChildStderr>,
}

/// What tcpdump said when it stopped.
pub struct Seen {
    /// Frames of the filter that reached its socket (including those its ring then dropped).
    pub received_by_filter: u64,
    /// Frames its ring had no room for: a witness that dropped none saw everything.
    pub dropped_by_kernel: u64,
}

impl Tcpdump {
    /// tcpdump on `iface` in namespace `ns` with `filter`, writing to `file` (unbuffered);
    /// returns once it listens.
    pub fn start(ns: &str, iface: &str, filter: &str, file: &Path) -> Tcpdump {
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "tcpdump",
                "-i",
                iface,
                "-nn",
                "--immediate-mode",
                // 32 MiB of ring: a burst meets room even when tcpdump is slow to read it (an
                // emulated machine); a witness that drops reports it (`Seen::dropped_by_kernel`).
                "-B",
                "32768",
            ])
            .arg("-w")
            .arg(file)
            .arg(filter)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("tcpdump (scripts/setup installs it)");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let mut t = Tcpdump {
            child: Some(child),
            stderr,
        };
        let mut line = String::new();
        while t.stderr.read_line(&mut line).unwrap() > 0 {
            if line.contains("listening on") {
                return t;
            }
            line.clear();
        }
        panic!("tcpdump did not start in {ns}: {line}");
    }

    /// Stops it (SIGINT) and reads its closing counts.
    pub fn stop(mut self) -> Seen {
        let mut child = self.child.take().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        child.wait().unwrap();
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        let count = |what: &str| -> u64 {
            rest.lines()
                .find_map(|l| l.strip_suffix(what))
                .unwrap_or_else(|| panic!("tcpdump said: {rest}"))
                .trim()
                .parse()
                .unwrap()
        };
        Seen {
            received_by_filter: count(" packets received by filter"),
            dropped_by_kernel: count(" packets dropped by kernel"),
        }
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
