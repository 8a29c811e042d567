//! SIGINT and SIGTERM, for every command that must not die half-way (builds, runs, the frame
//! engine, the switch's forwarder, guests): instead of killing the process, a signal requests
//! `STOP`, the process's one stop signal, which the command hands to everything it runs; every
//! loop and wait ends on it, so what was created is removed and what was measured is reported
//! before the process exits. No other module installs a signal handler.

use std::sync::LazyLock;

use crate::diag::Outcome;
use crate::stop::Stop;

/// Requested by SIGINT or SIGTERM once `catch` returned.
pub static STOP: LazyLock<Stop> = LazyLock::new(Stop::new);

/// Requests `STOP` on SIGINT or SIGTERM from now on (the handlers are in place when this
/// returns), instead of letting either signal kill the process half-way.
fn install() -> std::io::Result<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            use tokio::signal::unix::{SignalKind, signal};
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    // The receiver waits for exactly one message.
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                let streams = signal(SignalKind::interrupt())
                    .and_then(|i| Ok((i, signal(SignalKind::terminate())?)));
                let (mut int, mut term) = match streams {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                loop {
                    tokio::select! {
                        _ = int.recv() => {},
                        _ = term.recv() => {},
                    }
                    STOP.request();
                }
            });
        })?;
    ready_rx
        .recv()
        .map_err(|_| std::io::Error::other("the signal thread ended before it was ready"))?
}

/// Installs the handlers; the error is already reported when this fails.
pub fn catch() -> Result<(), Outcome> {
    install().map_err(|e| {
        stderr!("error: installing the SIGINT/SIGTERM handler: {e}");
        Outcome::RuntimeFailure
    })
}
