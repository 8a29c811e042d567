//! The flags that let mvlab use interfaces of this machine it did not create: the opt-in
//! (`--use-real-parent`), the interfaces the user vouches for (`--force-interface`), and the
//! cap on what any station sends (`--max-rate`). Shared by `run`, `lab up` and `switch serve`;
//! arguments only.

use clap::Args;

use crate::units::Rate;

/// The cap on every station's sending rate when a scenario uses existing interfaces, unless
/// `--max-rate` says otherwise: 10,000 frames a second is under 7 Mbit/s of minimum-size frames,
/// gentle on any switch or link, and enough for every test but a throughput search.
pub const DEFAULT_MAX_RATE: Rate = Rate::Pps(10_000.0);

#[derive(Debug, Clone, Args)]
pub struct RealInterfaceArgs {
    /// Allow existing interfaces of this machine: `kind = "existing"` parents (macvlans on a real
    /// interface) and the tester interfaces of an external switch.
    #[arg(long)]
    pub use_real_parent: bool,
    /// Send on this existing interface even though it is down, addressed, the machine's way out
    /// or a bridge member (repeatable).
    #[arg(long, value_name = "IF")]
    pub force_interface: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct MaxRateArgs {
    /// With existing interfaces: the most frames per second any one station sends (e.g.
    /// `50kpps`, `100Mbit`, or `max` for no cap); 10kpps by default.
    #[arg(long, value_name = "RATE", value_parser = crate::units::parse_rate)]
    pub max_rate: Option<Rate>,
}
