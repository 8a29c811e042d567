//! `mvlab schema`: the JSON Schema of the scenario format, generated from the types the parser
//! reads (`scenario::json_schema`), for editors (taplo, Even Better TOML) and other validators.

use clap::Args;

use crate::diag::Outcome;
use crate::scenario;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mvlab schema > schema/scenario.schema.json
  a scenario's first line then lets taplo / Even Better TOML check and complete it:
    #:schema ../schema/scenario.schema.json")]
pub struct SchemaArgs {}

pub fn run(_: SchemaArgs) -> Outcome {
    match super::output::stdout(&scenario::json_schema()) {
        Ok(()) => Outcome::Passed,
        Err(outcome) => outcome,
    }
}
