//! The sample workspace: excerpts of real, openly licensed ticket data shipped in `sample/` (see
//! its README for sources and licences), imported through the ordinary importer.

use casebook_core::import::{ImportOptions, Preset};

pub(crate) struct Part {
    pub label: &'static str,
    pub bytes: &'static [u8],
    preset: Preset,
}

impl Part {
    pub fn options(&self) -> ImportOptions {
        ImportOptions::preset(self.preset)
    }
}

/// The ServiceNow incident history excerpt (CSV, preset `uci-servicenow`).
pub const UCI_CSV: &[u8] = include_bytes!("../../../../sample/uci-servicenow-incidents.csv");
/// The help-desk ticket excerpt (CSV, preset `endava-helpdesk`).
pub const ENDAVA_CSV: &[u8] = include_bytes!("../../../../sample/endava-helpdesk-tickets.csv");

pub(crate) const PARTS: &[Part] = &[
    Part {
        label: "ServiceNow incident history (UCI)",
        bytes: UCI_CSV,
        preset: Preset::UciServicenow,
    },
    Part {
        label: "Help-desk tickets (Endava)",
        bytes: ENDAVA_CSV,
        preset: Preset::EndavaHelpdesk,
    },
];

// `RUNBOOKS`: every file under `sample/runbooks/` as (path relative to it, bytes); see build.rs.
include!(concat!(env!("OUT_DIR"), "/sample_runbooks.rs"));

/// The folder of the workspace the sample runbooks are written to (`<home>/sample-runbooks`).
pub(crate) const RUNBOOK_DIR: &str = "sample-runbooks";

/// Writes the sample runbooks under `dir`: files that exist already are left as they are (the
/// agent may have edited them), missing ones are written. Returns how many were written.
pub(crate) fn write_runbooks(dir: &std::path::Path) -> std::io::Result<usize> {
    let mut written = 0;
    for (rel, bytes) in RUNBOOKS {
        let path = dir.join(rel);
        if path.exists() {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Written whole to a temporary name, then renamed: the folder watcher never indexes a
        // half-written runbook, and a crash leaves no partial file under the real name.
        let tmp = path.with_extension("md.part");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)?;
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runbooks_ship_with_their_licence_and_are_written_once() {
        assert!(
            RUNBOOKS
                .iter()
                .any(|(p, _)| *p == "prometheus-operator/LICENSE")
        );
        let md = RUNBOOKS.iter().filter(|(p, _)| p.ends_with(".md")).count();
        assert!(md >= 100, "{md} runbooks");
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(write_runbooks(dir.path()).unwrap(), RUNBOOKS.len());
        let crash = dir
            .path()
            .join("prometheus-operator/kubernetes/KubePodCrashLooping.md");
        let text = std::fs::read_to_string(&crash).unwrap();
        assert!(text.contains("# KubePodCrashLooping"));
        // An edited runbook is kept; a deleted one comes back.
        std::fs::write(&crash, "# KubePodCrashLooping\n\nOur own notes.\n").unwrap();
        let watchdog = dir.path().join("prometheus-operator/general/Watchdog.md");
        std::fs::remove_file(&watchdog).unwrap();
        assert_eq!(write_runbooks(dir.path()).unwrap(), 1);
        assert!(watchdog.exists());
        assert!(
            std::fs::read_to_string(&crash)
                .unwrap()
                .contains("Our own notes.")
        );
        assert!(
            !walkdir_has_part_files(dir.path()),
            "no temporary file is left behind"
        );
    }

    fn walkdir_has_part_files(dir: &std::path::Path) -> bool {
        std::fs::read_dir(dir).unwrap().any(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walkdir_has_part_files(&p)
            } else {
                p.extension().is_some_and(|x| x == "part")
            }
        })
    }
}
