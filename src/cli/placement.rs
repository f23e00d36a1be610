//! `--cluster df://HOST:PORT`: where a command's DataFusion plans run (feature `distributed`;
//! without it the flag does not exist and plans run in this process).

use crate::pipeline::Placement;
use clap::Args;

/// The `--cluster` flag of the commands that run DataFusion plans.
#[derive(Debug, Clone, Default, Args)]
pub struct ClusterArg {
    /// Run the queries on the Ballista cluster of this scheduler (`canalyst scheduler`);
    /// inputs must be DATASET directories at a path every executor reads. Statistics run
    /// here; results equal a local run bit for bit (docs/distributed.md).
    #[cfg(feature = "distributed")]
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
}

impl ClusterArg {
    /// Where the plans run.
    pub fn placement(&self) -> anyhow::Result<Placement> {
        #[cfg(feature = "distributed")]
        if let Some(url) = &self.cluster {
            return Ok(Placement::Cluster(url.parse()?));
        }
        Ok(Placement::Local)
    }
}
