//! One lock file per job, so two runs never write the same job's reports at once.
//!
//! The lock is a file created with `O_EXCL` (`create_new`) holding the owner's pid and, on
//! Linux, the owner's start time (field 22 of `/proc/PID/stat`, clock ticks since boot). A
//! second run does not wait: it reports the job as locked (naming the pid and the file) and
//! moves on, which is what overlapping cron invocations want. A lock whose owner no longer runs
//! (a killed run) is stale: it is removed and taken over. The owner runs when `/proc/PID`
//! exists and, if a start time was recorded, has that start time, so a recycled pid (after a
//! reboot, say) does not keep a dead run's lock alive. Where `/proc` is absent every lock
//! counts as live, and an operator removes stale ones.

use super::JobsError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A held lock; the file is removed when this is dropped.
#[derive(Debug)]
pub struct JobLock {
    path: PathBuf,
}

impl JobLock {
    /// Takes the lock `path` for `job`, replacing a stale one at most once.
    pub fn acquire(path: &Path, job: &str) -> Result<Self, JobsError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| JobsError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    let me = std::process::id();
                    let line = match start_time(me) {
                        Some(t) => format!("{me} {t}"),
                        None => me.to_string(),
                    };
                    writeln!(f, "{line}").map_err(|source| JobsError::Io {
                        path: path.to_path_buf(),
                        source,
                    })?;
                    return Ok(Self {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(path).unwrap_or_default();
                    let mut words = text.split_whitespace();
                    let pid = words.next().unwrap_or("").parse::<u32>();
                    let start = words.next().and_then(|w| w.parse::<u64>().ok());
                    match pid {
                        Ok(pid) if is_running(pid, start) => {
                            return Err(JobsError::Locked {
                                job: job.to_string(),
                                pid,
                                path: path.to_path_buf(),
                            })
                        }
                        // Dead owner, or a file cut short before its pid was written: the
                        // owner was killed between create and write, or it is writing right now
                        // (then the retry's create_new fails and the next check sees its pid).
                        Ok(_) => {
                            let _ = std::fs::remove_file(path);
                        }
                        Err(_) if text.is_empty() => {
                            std::thread::sleep(std::time::Duration::from_millis(100));
                            let again = std::fs::read_to_string(path).unwrap_or_default();
                            if again.is_empty() {
                                let _ = std::fs::remove_file(path);
                            }
                        }
                        Err(_) => {
                            return Err(JobsError::Io {
                                path: path.to_path_buf(),
                                source: std::io::Error::other(format!(
                                    "lock file holds {text:?}, not a pid; remove it by hand"
                                )),
                            })
                        }
                    }
                }
                Err(source) => {
                    return Err(JobsError::Io {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            }
        }
        Err(JobsError::Locked {
            job: job.to_string(),
            pid: 0,
            path: path.to_path_buf(),
        })
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether process `pid` exists with start time `start` when given (Linux `/proc`; true when
/// `/proc` is not mounted).
fn is_running(pid: u32, start: Option<u64>) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    match start {
        Some(t) => start_time(pid) == Some(t),
        None => Path::new("/proc").join(pid.to_string()).exists(),
    }
}

/// Start time of process `pid` in clock ticks since boot: field 22 of `/proc/PID/stat`,
/// counted after the parenthesised command name (which may itself hold spaces).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_lock_blocks_and_a_stale_one_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("locks/j.lock");
        let held = JobLock::acquire(&p, "j").unwrap();
        let e = JobLock::acquire(&p, "j").unwrap_err().to_string();
        assert!(e.contains(&std::process::id().to_string()), "{e}");
        drop(held);
        assert!(!p.exists());
        // pid_max on Linux is at most 2^22, so this pid cannot be running.
        std::fs::write(&p, "4194999\n").unwrap();
        drop(JobLock::acquire(&p, "j").unwrap());
        // A running pid with another start time: the pid was recycled, the owner is gone.
        let me = std::process::id();
        let t = start_time(me).expect("Linux /proc");
        std::fs::write(&p, format!("{me} {}\n", t + 1)).unwrap();
        let taken = JobLock::acquire(&p, "j").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap().trim(),
            format!("{me} {t}")
        );
        drop(taken);
    }
}
