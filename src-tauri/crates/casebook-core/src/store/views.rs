//! Saved queue views: a name and a filter, in the order the agent arranged them.

use super::query::{SortKey, TicketFilter};
use super::{Result, Store, StoreError};
use crate::model::Millis;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedView {
    pub id: i64,
    pub name: String,
    pub filter: TicketFilter,
    pub sort: SortKey,
    pub position: i64,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    filter: TicketFilter,
    #[serde(default)]
    sort: SortKey,
}

impl Store {
    pub fn views(&self) -> Result<Vec<SavedView>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, name, filter, position FROM saved_views ORDER BY position, id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<(i64, String, String, i64)>>>()?;
            rows.into_iter()
                .map(|(id, name, json, position)| {
                    let s: Stored = serde_json::from_str(&json)
                        .map_err(|e| StoreError::Data(format!("saved view {name}: {e}")))?;
                    Ok(SavedView {
                        id,
                        name,
                        filter: s.filter,
                        sort: s.sort,
                        position,
                    })
                })
                .collect()
        })
    }

    /// Creates a view, or replaces the filter of the view with the same name.
    pub fn save_view(
        &self,
        name: &str,
        filter: &TicketFilter,
        sort: SortKey,
        now: Millis,
    ) -> Result<SavedView> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(StoreError::Invalid(
                "a view needs a name of 1 to 80 characters".into(),
            ));
        }
        let json = serde_json::to_string(&Stored {
            filter: filter.clone(),
            sort,
        })
        .map_err(|e| StoreError::Data(e.to_string()))?;
        let id = self.write(|tx| {
            let existing: Option<i64> = tx
                .query_row("SELECT id FROM saved_views WHERE name = ?", [name], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some(id) = existing {
                tx.execute(
                    "UPDATE saved_views SET filter = ? WHERE id = ?",
                    params![json, id],
                )?;
                return Ok(id);
            }
            let position: i64 = tx.query_row(
                "SELECT coalesce(max(position), 0) + 1 FROM saved_views",
                [],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO saved_views (name, filter, position, created_at) VALUES (?, ?, ?, ?)",
                params![name, json, position, now],
            )?;
            Ok(tx.last_insert_rowid())
        })?;
        self.views()?
            .into_iter()
            .find(|v| v.id == id)
            .ok_or_else(|| StoreError::ViewNotFound(name.to_owned()))
    }

    pub fn delete_view(&self, id: i64) -> Result<()> {
        let n = self.write(|tx| Ok(tx.execute("DELETE FROM saved_views WHERE id = ?", [id])?))?;
        if n == 0 {
            return Err(StoreError::ViewNotFound(id.to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TicketState;
    use crate::store::test_support::temp_store;

    #[test]
    fn views_are_saved_replaced_ordered_and_deleted() {
        let (_d, s) = temp_store();
        let open = TicketFilter {
            states: vec![TicketState::Open],
            ..Default::default()
        };
        let a = s.save_view("Open", &open, SortKey::Priority, 1).unwrap();
        let b = s
            .save_view("Mine", &TicketFilter::default(), SortKey::Updated, 2)
            .unwrap();
        assert!(a.position < b.position);
        let closed = TicketFilter {
            states: vec![TicketState::Closed],
            ..Default::default()
        };
        let a2 = s.save_view(" Open ", &closed, SortKey::Created, 3).unwrap();
        assert_eq!(a2.id, a.id);
        assert_eq!(a2.filter, closed);
        assert_eq!(s.views().unwrap().len(), 2);
        s.delete_view(b.id).unwrap();
        assert!(matches!(
            s.delete_view(b.id).unwrap_err(),
            StoreError::ViewNotFound(_)
        ));
        assert!(s.save_view("  ", &open, SortKey::Updated, 4).is_err());
    }
}
