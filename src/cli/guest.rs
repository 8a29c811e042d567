//! `mvlab guest`: any command on another kernel, booted as `run --kernel` boots it (this host's
//! filesystem read-only, the modules mvlab can use loaded). What the kernel matrix runs its
//! checks and tests with; its output is printed, its exit code is returned.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;

use super::signals;
use crate::diag::Outcome;
use crate::guest::{Guest, GuestKernel};
use crate::kernels;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mvlab guest --kernel 6.1.0-57-amd64 -- ip -d link add t0 type dummy
  mvlab guest --kernel /srv/k/boot/vmlinuz-6.12.118+deb12-amd64 --share out -- \\
      target/release/mvlab run scenarios/vlan-trunk.toml --json out/trunk.json

The command runs as root in this directory; the guest sees this host's files read-only, except
the --share directories (and /tmp, which is its own). Exit code: the command's, or 4 when the
guest could not run it.")]
pub struct GuestArgs {
    /// The kernel: an image, or the release of an installed kernel or of one in the cache.
    #[arg(long, value_name = "KERNEL")]
    pub kernel: String,
    /// A directory the command may write into (created if missing); repeatable.
    #[arg(long, value_name = "DIR")]
    pub share: Vec<PathBuf>,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// The command's exit code, or mvlab's when the guest could not run it.
pub fn run(args: GuestArgs) -> u8 {
    match guest(args) {
        Ok(code) => code,
        Err(outcome) => outcome.code(),
    }
}

fn guest(args: GuestArgs) -> Result<u8, Outcome> {
    let kernel = GuestKernel::resolve(&args.kernel).map_err(|e| {
        stderr!("error: {e}");
        e.outcome()
    })?;
    let mut shared = Vec::with_capacity(args.share.len());
    for dir in &args.share {
        let dir = std::fs::create_dir_all(dir)
            .and_then(|()| dir.canonicalize())
            .map_err(|e| {
                stderr!("error: cannot share {}: {e}", dir.display());
                Outcome::BadInput
            })?;
        shared.push(dir);
    }
    signals::catch()?;
    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let guest = Guest::new(kernel).map_err(|e| {
        stderr!("error: {e}");
        e.outcome()
    })?;
    let show = |msg: &str| stderr!("mvlab guest: {msg}");
    let out = guest
        .run(
            &PathBuf::from(program),
            rest,
            &kernels::every_module(),
            &shared,
            &show,
            &signals::STOP,
        )
        .map_err(|e| {
            stderr!("error: {e}");
            e.outcome()
        })?;
    if !out.stderr.is_empty() {
        stderr!("{}", out.stderr);
    }
    super::output::stdout(&out.stdout)?;
    stderr!(
        "mvlab guest: {} exited {} ({}, {} vCPU(s), booted in {:.1} s, {:.1} s in all)",
        guest.kernel.release,
        out.exit,
        out.accel.as_str(),
        out.cpus,
        out.boot_s,
        out.total_s
    );
    u8::try_from(out.exit).map_err(|_| Outcome::RuntimeFailure)
}
