//! `mvlab import`: a scenario from a compose file, `docker network inspect` output, docker
//! commands or a CNI netconf; written, then validated like any scenario.

use std::path::PathBuf;

use clap::Args;

use super::output;
use crate::diag::{Diagnostic, Outcome, Source};
use crate::import::{self, Options};
use crate::scenario;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  mvlab import docker-compose.yaml -o lab.toml\n  docker network inspect lan | mvlab import - --docker-version 20.10\n  mvlab import macvlan.conflist -o cni.toml && mvlab check cni.toml"
)]
pub struct ImportArgs {
    /// A compose file, `docker network inspect` JSON, a shell file of docker commands, a CNI
    /// netconf or conflist, or a NetworkAttachmentDefinition (`-` reads standard input).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Write the scenario here instead of to standard output.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// The Docker version whose rules the scenario follows (default: the current major, 29).
    #[arg(long, value_name = "VERSION", value_parser = docker_version)]
    pub docker_version: Option<String>,
}

/// `--docker-version`, refused before anything is read when mvlab does not know its rules.
fn docker_version(text: &str) -> Result<String, String> {
    scenario::DockerVersion::parse(text)
        .map(|_| text.to_string())
        .map_err(|e| format!("{e}: give 20.10, 23 ... 29, or a minor release such as 26.1"))
}

pub fn run(args: ImportArgs) -> Outcome {
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(&args.file)
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            stderr!(
                "{}",
                Diagnostic::whole(None, format!("cannot read {}: {e}", args.file.display()))
                    .hint("check the path (`-` reads standard input)")
            );
            return Outcome::BadInput;
        }
    };
    let source = Source::new(&args.file, text);
    let options = Options {
        docker_version: args.docker_version,
    };
    let toml = match import::import(&source, &options) {
        Ok(t) => t,
        Err(diags) => {
            stderr!("{diags}");
            return Outcome::BadInput;
        }
    };
    let name = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("<imported scenario>"));
    let checked = scenario::parse(Source::new(&name, toml.clone()));
    match &args.output {
        Some(out) => {
            if let Err(e) = std::fs::write(out, &toml) {
                stderr!(
                    "error: cannot write {}: {e}\n  hint: give a path in a directory you can write",
                    out.display()
                );
                return Outcome::BadInput;
            }
        }
        None => {
            if let Err(outcome) = output::stdout(&toml) {
                return outcome;
            }
        }
    }
    match checked {
        Ok(s) => {
            if let Some(out) = &args.output {
                stderr!(
                    "{}: {} network(s), {} endpoint(s), {} block(s) of yours mapped into the lab ranges",
                    out.display(),
                    s.networks.len(),
                    s.endpoints.len(),
                    s.address_map.0.len()
                );
            }
            Outcome::Passed
        }
        Err(diags) => {
            stderr!("the imported scenario describes what its engine would refuse:");
            stderr!("{diags}");
            Outcome::BadInput
        }
    }
}
