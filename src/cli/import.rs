//! `mvlab import`: a scenario from a compose file, `docker network inspect` output, docker
//! commands or a CNI netconf; written, then validated like any scenario.

use std::path::PathBuf;

use clap::Args;

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
    #[arg(long, value_name = "VERSION")]
    pub docker_version: Option<String>,
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
            eprint!(
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
            eprint!("{diags}");
            return Outcome::BadInput;
        }
    };
    let name = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("<imported scenario>"));
    let checked = scenario::parse(Source::new(&name, toml.clone()));
    let written = match &args.output {
        Some(out) => {
            std::fs::write(out, &toml).map_err(|e| format!("cannot write {}: {e}", out.display()))
        }
        None => super::print(&toml).map_err(|_| String::new()),
    };
    if let Err(e) = written {
        if !e.is_empty() {
            eprintln!("error: {e}");
        }
        return Outcome::RuntimeFailure;
    }
    match checked {
        Ok(s) => {
            if let Some(out) = &args.output {
                eprintln!(
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
            eprintln!("the imported scenario describes what its engine would refuse:");
            eprint!("{diags}");
            Outcome::BadInput
        }
    }
}
