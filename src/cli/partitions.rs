//! `--memory-budget` and `--trace-partitions`, shared by `forensics`, `report` and `run`: how
//! many partitions of traces forensics assembles its span trees in.

use crate::engine::forensics::TracePartitioning;
use anyhow::bail;
use clap::Args;

/// `--memory-budget` and `--trace-partitions`.
#[derive(Debug, Args)]
pub struct TracePartitionArgs {
    /// Memory for assembling span trees, MiB (default 1024): traces are assembled in
    /// partitions by a hash of the trace id, as many as `spans × 160 bytes / budget` (rounded
    /// up), one pass over the input each. The output is the same for any partition count.
    #[arg(long, value_name = "MIB")]
    pub memory_budget: Option<u64>,
    /// Partitions of traces, overriding `--memory-budget`'s rule (1: every trace at once).
    #[arg(long, value_name = "N")]
    pub trace_partitions: Option<u32>,
}

impl TracePartitionArgs {
    /// Exit-2 errors for a zero budget or partition count.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.memory_budget == Some(0) {
            bail!("--memory-budget must be at least 1 MiB");
        }
        if self.trace_partitions == Some(0) {
            bail!("--trace-partitions must be at least 1");
        }
        Ok(())
    }

    /// The partitioning the flags ask for: `--trace-partitions`, else `--memory-budget`, else
    /// `fallback` (the default budget, or a `canalyst.toml` job's keys).
    pub fn partitioning(&self, fallback: TracePartitioning) -> TracePartitioning {
        match (self.trace_partitions, self.memory_budget) {
            (Some(k), _) => TracePartitioning::Fixed(k),
            (None, Some(mib)) => TracePartitioning::Budget(mib << 20),
            (None, None) => fallback,
        }
    }

    /// The partition count for `run`'s input: [`Self::partitioning`] over the default budget,
    /// applied to its span count.
    pub fn partitions(&self, run: &crate::pipeline::PreparedRun) -> anyhow::Result<u32> {
        Ok(self
            .partitioning(TracePartitioning::default())
            .partitions(run.span_count()?))
    }
}
