//! `mvlab completions SHELL` and `mvlab man DIR`: shell completion scripts (clap_complete) and
//! man pages (clap_mangen), both generated from the clap definitions of every command, so they
//! can never disagree with `--help`. `scripts/install` puts them where shells and man look.

use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use crate::diag::Outcome;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mvlab completions bash > ~/.local/share/bash-completion/completions/mvlab
  mvlab completions zsh > \"${fpath[1]}/_mvlab\"
  mvlab completions fish > ~/.config/fish/completions/mvlab.fish
  sudo scripts/install                       mvlab, its completions and man pages under /usr/local")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mvlab man /usr/local/share/man/man1 && man mvlab-run
  mvlab man /tmp/man && man -l /tmp/man/mvlab.1")]
pub struct ManArgs {
    /// Directory to write mvlab.1 and one page per command (mvlab-run.1, ...) into.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

pub fn completions(args: CompletionsArgs) -> Outcome {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "mvlab", &mut script);
    match super::output::stdout(&String::from_utf8_lossy(&script)) {
        Ok(()) => Outcome::Passed,
        Err(outcome) => outcome,
    }
}

pub fn man(args: ManArgs) -> Outcome {
    let written = std::fs::create_dir_all(&args.dir)
        .and_then(|()| clap_mangen::generate_to(Cli::command(), &args.dir));
    match written {
        Ok(()) => Outcome::Passed,
        Err(e) => {
            stderr!(
                "error: cannot write man pages into {}: {e}\n  hint: pick a directory you can write (as root for /usr/local/share/man/man1), e.g. `mvlab man /tmp/man`",
                args.dir.display()
            );
            Outcome::BadInput
        }
    }
}
