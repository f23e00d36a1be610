//! `--cluster df://HOST:PORT`: where a command's DataFusion plans run (feature `distributed`;
//! without it the flags do not exist and plans run in this process).

use crate::pipeline::Placement;
use clap::Args;

/// The `--cluster` and `--cluster-timeout` flags of the commands that run DataFusion plans.
#[derive(Debug, Clone, Default, Args)]
pub struct ClusterArg {
    /// Run the queries on the Ballista cluster of this scheduler (`canalyst scheduler`);
    /// inputs must be DATASET directories at a path every executor reads. Statistics run
    /// here; results equal a local run bit for bit (docs/distributed.md).
    #[cfg(feature = "distributed")]
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
    /// With --cluster: how long one query may run on the cluster (`90s`, `20m`, `2h`) before
    /// it is cancelled there and the command fails (exit 2).
    #[cfg(feature = "distributed")]
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "30m",
        requires = "cluster"
    )]
    pub cluster_timeout: String,
}

impl ClusterArg {
    /// Where the plans run.
    pub fn placement(&self) -> anyhow::Result<Placement> {
        #[cfg(feature = "distributed")]
        if let Some(url) = &self.cluster {
            let ns = crate::analysis::config::parse_interval(&self.cluster_timeout)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--cluster-timeout {:?}: expected a positive whole number and a unit s, m or h (e.g. 30m)",
                        self.cluster_timeout
                    )
                })?;
            return Ok(Placement::Cluster {
                url: url.parse()?,
                timeout: std::time::Duration::from_nanos(ns as u64),
            });
        }
        Ok(Placement::Local)
    }
}
