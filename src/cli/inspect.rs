//! `canalyst inspect INPUT... [--json]`: what the inputs contain.

use crate::ingest::IngestOptions;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `canalyst inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Raw input files or directories, or DATASET directories written by `canalyst ingest`.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Print JSON (`{"inventory": …, "data_quality": …}`) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Entries shown per count table in the text output.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
}

/// Runs the command; returns the exit code.
pub fn run(args: InspectArgs) -> anyhow::Result<i32> {
    let (inv, quality) = crate::pipeline::inspect(&args.inputs, &IngestOptions::default())?;
    if args.json {
        let doc = serde_json::json!({ "inventory": inv, "data_quality": quality });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", inv.render_text(&quality, args.top));
    }
    Ok(super::EXIT_OK)
}
