//! The lab's own IPv6 frames: an interface with IPv6 on sends duplicate address detection, MLD
//! reports and router solicitations of its own as it comes up, for a second or two, which teach
//! the switch its MAC. The model assumes they reached the switch before any test frame
//! (`model::matrix`); this module owns which interfaces send them and the wait, before a matrix
//! is measured, until each has sent one since the switch began forwarding (the Linux bridge forwards
//! from its creation, the emulated switch once its forwarder runs). It sends nothing itself.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Lab, LabError};
use crate::scenario::Scenario;
use crate::stop::Stop;

/// How long the wait may take: an interface whose first frames went out before the emulated
/// switch forwarded sends again within a few seconds (its router solicitation is repeated 4 s
/// after the first).
const LIMIT: Duration = Duration::from_secs(10);
/// How often the transmit counters are read.
const POLL: Duration = Duration::from_millis(50);

/// An interface with IPv6 on, and how many frames it had sent when the switch began forwarding.
#[derive(Debug, Clone)]
pub(super) struct Talker {
    node: String,
    interface: String,
    sent_before: u64,
}

impl Lab {
    /// Notes the interfaces of the lab that keep IPv6 (every interface of a node whose
    /// namespace has IPv6 on, but a dummy) and, with an emulated switch that now forwards, how
    /// many frames each sent so far.
    pub(super) fn note_ipv6_talkers(&mut self, scenario: &Scenario) -> Result<(), LabError> {
        let mut talkers = Vec::new();
        for node in &self.inventory.nodes {
            if !scenario.node_ipv6(&node.name, node.role).on() {
                continue;
            }
            let links = match self.switch_config {
                Some(_) => self.links(&node.name)?,
                None => Vec::new(),
            };
            // A dummy has no wire: nothing it sends reaches the switch.
            for i in node.interfaces.iter().filter(|i| i.kind != "dummy") {
                let sent_before = links
                    .iter()
                    .find(|l| l.name == i.name)
                    .map_or(0, |l| l.tx_packets);
                talkers.push(Talker {
                    node: node.name.clone(),
                    interface: i.name.clone(),
                    sent_before,
                });
            }
        }
        self.ipv6_talkers = talkers;
        Ok(())
    }

    /// Waits until every interface with IPv6 on has sent a frame since the switch began
    /// forwarding (an interface the kernel does not list there, such as an existing parent, is
    /// not waited for), at most `LIMIT`, or until `stop` is requested.
    /// Once every one was heard, later calls return at once.
    pub fn await_ipv6_background(&self, stop: &Stop) -> Result<(), LabError> {
        if self.ipv6_heard.load(Ordering::Relaxed) {
            return Ok(());
        }
        let deadline = Instant::now() + LIMIT;
        let mut waiting: Vec<&Talker> = self.ipv6_talkers.iter().collect();
        while !waiting.is_empty() {
            let mut still = Vec::new();
            for talkers in waiting.chunk_by(|a, b| a.node == b.node) {
                let links = self.links(&talkers[0].node)?;
                still.extend(talkers.iter().copied().filter(|t| {
                    links
                        .iter()
                        .any(|l| l.name == t.interface && l.tx_packets <= t.sent_before)
                }));
            }
            waiting = still;
            if waiting.is_empty() || Instant::now() >= deadline || stop.sleep(POLL) {
                break;
            }
        }
        self.ipv6_heard.store(waiting.is_empty(), Ordering::Relaxed);
        Ok(())
    }
}
