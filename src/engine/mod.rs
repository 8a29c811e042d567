//! The raw frame engine: the data path of mvlab. It builds test frames, sends them batched and
//! paced from an interface in a namespace, captures them from a TPACKET_V3 ring with kernel
//! timestamps and VLAN tags recovered from packet metadata, counts them per flow and per source
//! MAC, reflects them, and writes pcapng. It knows nothing of scenarios, labs or verdicts: a
//! caller names a namespace and an interface and gets typed, serialisable results back. Every
//! send, capture and reflector takes the caller's `Stop` and ends within milliseconds of it;
//! the engine installs no signal handler of its own.
//!
//! - `wire`: frame layouts and the test payload (zero-copy views, parsing never panics).
//! - `sys` (private): every `unsafe` line (sockets, rings); what others need of it is
//!   re-exported here (`PacketSocket`, `Listen`, `RecvMeta`, `poll_readable`, ...).
//! - `sweep`: MAC sweeps, index to MAC and back (the sender's frames, the receiver's counters).
//! - `tx`: templates, sweeps, sizes, pacing, batched send (`send`).
//! - `rx`: ring capture (`Capture::start`, `CaptureHandle::stop`).
//! - `account`: per-flow and per-source-MAC counters, latency histograms, merging.
//! - `pcap`: the pcapng writer.
//! - `reflect`: the MAC-swapping reflector (`Reflector::start`).

pub mod account;
pub mod flow;
pub mod pcap;
pub mod reflect;
pub mod rx;
pub mod sweep;
pub(crate) mod sys;
pub mod tx;
pub mod wire;

pub use sys::{Listen, MAX_BATCH, PacketSocket, RecvMeta, is_root, poll_readable};

use std::io;

use crate::addr::MacAddr;
use crate::diag::Outcome;
use crate::netns::Netns;

/// Why the engine could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "raw sockets need root: run it as root: `{}`",
        crate::diag::sudo_line()
    )]
    NotRoot,
    #[error("network namespace `{name}` does not exist; `ip netns list` shows the ones there are")]
    NoNamespace { name: String },
    #[error(
        "interface `{iface}` does not exist in namespace `{netns}`; `ip -n {netns} link` lists its interfaces"
    )]
    NoInterface { iface: String, netns: String },
    #[error("{0}")]
    BadSpec(String),
    #[error("the kernel lacks {what}: {source}")]
    Unsupported { what: String, source: io::Error },
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

impl EngineError {
    /// The exit code class of this error.
    pub fn outcome(&self) -> Outcome {
        match self {
            EngineError::NotRoot
            | EngineError::NoNamespace { .. }
            | EngineError::NoInterface { .. }
            | EngineError::BadSpec(_) => Outcome::BadInput,
            EngineError::Unsupported { .. } => Outcome::MissingFeature,
            EngineError::Io { .. } => Outcome::RuntimeFailure,
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> EngineError {
        let context = context.into();
        move |source| EngineError::Io { context, source }
    }
}

/// Where the engine acts: an interface inside a network namespace.
#[derive(Debug)]
pub struct Attachment {
    pub netns: Netns,
    pub iface: String,
    /// The most frames per second everything sent from here may add up to (`--max-rate` on an
    /// existing interface); `None`: as the flows ask.
    pub max_pps: Option<f64>,
    /// The source MAC of frames sent "from the interface" when it is not the interface's own:
    /// a station that shares an existing interface's wire under an address of its own.
    pub mac: Option<MacAddr>,
}

impl Attachment {
    /// Opens the named namespace (`/run/netns/NAME`) for `iface`; also checks for root.
    pub fn open(netns: &str, iface: &str) -> Result<Attachment, EngineError> {
        if !sys::is_root() {
            return Err(EngineError::NotRoot);
        }
        let ns = Netns::open(netns).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => EngineError::NoNamespace {
                name: netns.to_string(),
            },
            io::ErrorKind::InvalidInput => EngineError::BadSpec(format!(
                "`{netns}` is not a network namespace name: give one as `ip netns list` shows it (no '/')"
            )),
            _ => EngineError::Io {
                context: format!("opening network namespace `{netns}`"),
                source: e,
            },
        })?;
        Ok(Attachment {
            netns: ns,
            iface: iface.to_string(),
            max_pps: None,
            mac: None,
        })
    }

    /// `iface` in the namespace this process runs in (an existing interface of the machine),
    /// sending as `mac`.
    pub fn here(iface: &str, mac: MacAddr) -> Result<Attachment, EngineError> {
        if !sys::is_root() {
            return Err(EngineError::NotRoot);
        }
        let netns = Netns::current().map_err(EngineError::io("opening this network namespace"))?;
        Ok(Attachment {
            netns,
            iface: iface.to_string(),
            max_pps: None,
            mac: Some(mac),
        })
    }

    /// The same attachment, with everything sent from it held to `pps` frames per second.
    pub fn capped(self, pps: Option<f64>) -> Attachment {
        Attachment {
            max_pps: pps,
            ..self
        }
    }

    fn ns_label(&self) -> String {
        self.netns.name().unwrap_or("(current)").to_string()
    }

    /// Opens a packet socket on the interface, inside the namespace.
    pub(crate) fn socket(&self, listen: sys::Listen) -> Result<sys::PacketSocket, EngineError> {
        if !sys::is_root() {
            return Err(EngineError::NotRoot);
        }
        let opened = self
            .netns
            .run(|| sys::PacketSocket::open(&self.iface, listen))
            .map_err(EngineError::io("entering the namespace"))?;
        opened.map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::InvalidInput => EngineError::NoInterface {
                iface: self.iface.clone(),
                netns: self.ns_label(),
            },
            io::ErrorKind::PermissionDenied => EngineError::NotRoot,
            _ => EngineError::Io {
                context: format!("opening a packet socket on `{}`", self.iface),
                source: e,
            },
        })
    }
}
