//! Calendars and policies in the workspace database (migration 0004). Every write validates the
//! whole resulting configuration first, so the stored configuration always compiles.

use super::SlaError;
use super::calendar::Calendar;
use super::policy::{ANY_SOURCE, SlaConfig, SlaPolicy};
use crate::model::{Millis, Priority};
use crate::store::{Store, StoreError};
use rusqlite::{Connection, params};

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Data(format!("stored SLA definition: {e}"))
}

fn read_stored(c: &Connection) -> Result<SlaConfig, StoreError> {
    let calendars = c
        .prepare_cached("SELECT definition FROM sla_calendars ORDER BY name")?
        .query_map([], |r| r.get::<_, String>(0))?
        .map(|d| -> Result<Calendar, StoreError> { serde_json::from_str(&d?).map_err(json_err) })
        .collect::<Result<Vec<_>, _>>()?;
    let policies = c
        .prepare_cached("SELECT definition FROM sla_policies ORDER BY source, priority")?
        .query_map([], |r| r.get::<_, String>(0))?
        .map(|d| -> Result<SlaPolicy, StoreError> { serde_json::from_str(&d?).map_err(json_err) })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SlaConfig {
        calendars,
        policies,
    })
}

impl Store {
    /// The calendars and policies stored in this workspace (overrides only, no defaults).
    pub fn sla_stored(&self) -> Result<SlaConfig, StoreError> {
        self.read(read_stored)
    }

    /// The effective configuration: the built-in defaults with the stored overrides.
    pub fn sla_config(&self) -> Result<SlaConfig, SlaError> {
        Ok(SlaConfig::merged(self.sla_stored()?))
    }

    /// Saves (adds or replaces) a calendar. Refused if it, or a policy using it, would not be valid.
    pub fn save_calendar(&self, cal: &Calendar, now: Millis) -> Result<(), SlaError> {
        cal.compile()?;
        let def = serde_json::to_string(cal).map_err(|e| SlaError::Invalid(e.to_string()))?;
        self.write(|tx| {
            let mut stored = read_stored(tx)?;
            stored.calendars.retain(|c| c.name != cal.name);
            stored.calendars.push(cal.clone());
            check(&stored)?;
            tx.prepare_cached(
                "INSERT INTO sla_calendars (name, definition, updated_at) VALUES (?, ?, ?) \
                 ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, \
                 updated_at = excluded.updated_at",
            )?
            .execute(params![cal.name, def, now])?;
            Ok(())
        })
        .map_err(unwrap_invalid)
    }

    /// Deletes a stored calendar. A built-in calendar reverts to its default; a calendar that a
    /// policy still uses cannot be deleted.
    pub fn delete_calendar(&self, name: &str) -> Result<(), SlaError> {
        self.write(|tx| {
            let mut stored = read_stored(tx)?;
            let before = stored.calendars.len();
            stored.calendars.retain(|c| c.name != name);
            if stored.calendars.len() == before {
                return Err(StoreError::Invalid(format!(
                    "calendar '{name}' is not stored (built-in calendars cannot be deleted)"
                )));
            }
            check(&stored)?;
            tx.execute("DELETE FROM sla_calendars WHERE name = ?", [name])?;
            Ok(())
        })
        .map_err(unwrap_invalid)
    }

    /// Saves (adds or replaces) the policy for its source and priority.
    pub fn save_policy(&self, p: &SlaPolicy, now: Millis) -> Result<(), SlaError> {
        p.validate()?;
        let def = serde_json::to_string(p).map_err(|e| SlaError::Invalid(e.to_string()))?;
        self.write(|tx| {
            let mut stored = read_stored(tx)?;
            stored
                .policies
                .retain(|q| !(q.source == p.source && q.priority == p.priority));
            stored.policies.push(p.clone());
            check(&stored)?;
            tx.prepare_cached(
                "INSERT INTO sla_policies (source, priority, definition, updated_at) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (source, priority) DO UPDATE SET \
                 definition = excluded.definition, updated_at = excluded.updated_at",
            )?
            .execute(params![p.source, p.priority.rank(), def, now])?;
            Ok(())
        })
        .map_err(unwrap_invalid)
    }

    /// Deletes a stored policy; for `*` the built-in default applies again.
    pub fn delete_policy(&self, source: &str, priority: Priority) -> Result<(), SlaError> {
        let n = self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM sla_policies WHERE source = ? AND priority = ?",
                params![source, priority.rank()],
            )?)
        })?;
        if n == 0 {
            let hint = if source == ANY_SOURCE {
                " (built-in policies cannot be deleted, only changed)"
            } else {
                ""
            };
            return Err(SlaError::NotFound(format!(
                "stored policy {source}/{priority}{hint}"
            )));
        }
        Ok(())
    }
}

/// The merged configuration must compile; the reason travels as `StoreError::Invalid` out of the
/// transaction and is turned back into an SLA error by [`unwrap_invalid`].
fn check(stored: &SlaConfig) -> Result<(), StoreError> {
    SlaConfig::merged(stored.clone())
        .compile()
        .map(|_| ())
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

fn unwrap_invalid(e: StoreError) -> SlaError {
    match e {
        StoreError::Invalid(m) => SlaError::Invalid(m),
        other => SlaError::Store(other),
    }
}
