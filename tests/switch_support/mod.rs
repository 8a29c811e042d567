//! Shared helper of the emulated switch's integration tests: a tcpdump on a station's interface,
//! the independent view of what the switch delivered. Needs root, like every lab test.

#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A tcpdump writing what `eth0` of a namespace receives to a pcap file.
pub struct Tap {
    child: Child,
    file: PathBuf,
}

impl Tap {
    /// Returns once tcpdump listens.
    pub fn start(netns: &str, name: &str) -> Tap {
        let file = std::env::temp_dir().join(format!("mvtest-{name}-{}.pcap", std::process::id()));
        // `timeout` only bounds a test that dies half-way; `frames` stops it.
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                netns,
                "timeout",
                "30",
                "tcpdump",
                "-i",
                "eth0",
                "-U",
                "-n",
                "--immediate-mode",
            ])
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

    /// Stops the capture (after the kernel had a moment to deliver what was sent) and returns
    /// one line per captured frame as `tcpdump -e -n -t` prints it: the source MAC first.
    pub fn frames(mut self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(200));
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        self.child.wait().unwrap();
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

/// The lines of frames whose source is `mac`.
pub fn from<'a>(lines: &'a [String], mac: &str) -> Vec<&'a String> {
    lines.iter().filter(|l| l.starts_with(mac)).collect()
}
