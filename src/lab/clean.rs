//! `mvlab clean`: removes what labs whose owner died left behind, and nothing else. Owns the
//! decision of which registered labs to remove (orphaned ones; with `all`, persistent ones too;
//! never one a live process is building or holding) and the sweep of stale registry staging
//! files. What it removes is exactly what each lab's record lists, so a user's own namespaces and
//! other live labs are never touched, even when named alike.

use serde::Serialize;

use super::registry::{self, Status};
use super::{LabError, LabName, TeardownReport, registry_dir, remove_record};

/// What to clean.
#[derive(Debug, Clone, Default)]
pub struct CleanOptions {
    /// Also remove persistent labs (`lab up` ones).
    pub all: bool,
    /// Only report what would be removed.
    pub dry_run: bool,
    /// Only labs of this prefix; every prefix when `None`.
    pub prefix: Option<String>,
}

/// One lab `clean` removed (or would remove).
#[derive(Debug, Clone, Serialize)]
pub struct Cleaned {
    pub lab: String,
    pub prefix: String,
    pub status: Status,
    /// `None` in a dry run.
    pub removed: Option<TeardownReport>,
}

/// One lab `clean` left alone, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Kept {
    pub lab: String,
    pub prefix: String,
    pub status: Status,
}

#[derive(Debug, Default, Serialize)]
pub struct CleanReport {
    pub removed: Vec<Cleaned>,
    pub kept: Vec<Kept>,
    /// Registry staging files of dead processes that were deleted.
    pub stale_files: usize,
    /// Labs that could not be removed, or records that could not be read.
    pub errors: Vec<String>,
}

fn wanted(status: Status, all: bool) -> bool {
    match status {
        Status::Orphaned => true,
        Status::Up => all,
        Status::Held | Status::Building | Status::TearingDown => false,
    }
}

pub fn clean(options: &CleanOptions) -> Result<CleanReport, LabError> {
    let dir = registry_dir();
    let mut report = CleanReport::default();
    for entry in registry::list(dir)? {
        let record = match entry {
            Ok(r) => r,
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        if options.prefix.as_ref().is_some_and(|p| *p != record.prefix) {
            continue;
        }
        let status = record.status();
        if !wanted(status, options.all) {
            report.kept.push(Kept {
                lab: record.lab,
                prefix: record.prefix,
                status,
            });
            continue;
        }
        let removed = if options.dry_run {
            None
        } else {
            let removal = LabName::new(&record.prefix, &record.lab)
                .map_err(|m| m.to_string())
                .and_then(|name| remove_record(&name, &record).map_err(|e| e.to_string()));
            match removal {
                Ok(r) => Some(r),
                Err(e) => {
                    report.errors.push(format!("lab `{}`: {e}", record.lab));
                    continue;
                }
            }
        };
        report.removed.push(Cleaned {
            lab: record.lab,
            prefix: record.prefix,
            status,
            removed,
        });
    }
    if !options.dry_run {
        report.stale_files = registry::remove_stale_temporaries(dir)?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_orphans_by_default_and_never_live_labs() {
        assert!(wanted(Status::Orphaned, false));
        assert!(!wanted(Status::Up, false));
        assert!(wanted(Status::Up, true));
        for live in [Status::Held, Status::Building, Status::TearingDown] {
            assert!(!wanted(live, false) && !wanted(live, true));
        }
    }
}
