//! Shared helper of the emulated switch's integration tests: a tcpdump on a station's interface,
//! the independent view of what the switch delivered. Needs root, like every lab test.

#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A tcpdump writing what an interface of a namespace receives to a pcap file; dropping it
/// stops tcpdump (on every exit path of a test, a panic's included).
pub struct Tap {
    child: Child,
    file: PathBuf,
}

impl Tap {
    /// On `eth0` of `netns`; returns once tcpdump listens.
    pub fn start(netns: &str, name: &str) -> Tap {
        Tap::on(netns, "eth0", name, &[])
    }

    /// On `iface` of `netns`, with `extra` tcpdump options (`-Q in`: only what arrives);
    /// returns once tcpdump listens.
    pub fn on(netns: &str, iface: &str, name: &str, extra: &[&str]) -> Tap {
        let file = std::env::temp_dir().join(format!("mvtest-{name}-{}.pcap", std::process::id()));
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                netns,
                "tcpdump",
                "-i",
                iface,
                "-U",
                "-n",
                "--immediate-mode",
            ])
            .args(extra)
            .arg("-w")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump");
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("listening on"), "tcpdump: {line}");
        Tap { child, file }
    }

    /// Stops tcpdump unless it has ended already.
    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
            let _ = self.child.wait();
        }
    }

    /// Stops the capture (after the kernel had a moment to deliver what was sent) and returns
    /// one line per captured frame as `tcpdump -e -n -t` prints it: the source MAC first.
    pub fn frames(mut self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(200));
        self.stop();
        let out = Command::new("tcpdump")
            .args(["-e", "-n", "-t", "-r"])
            .arg(&self.file)
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&self.file);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with(char::is_whitespace))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The lines of frames whose source is `mac`.
pub fn from<'a>(lines: &'a [String], mac: &str) -> Vec<&'a String> {
    lines.iter().filter(|l| l.starts_with(mac)).collect()
}
