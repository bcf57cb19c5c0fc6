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
