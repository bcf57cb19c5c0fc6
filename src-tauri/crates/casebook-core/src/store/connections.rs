//! Connection profiles in the database (migration 0002). No secret is ever written here: the
//! columns hold addresses, user names, public client ids, the mirror scope and the last status.

use super::{Result, Store, StoreError};
use crate::connection::{AuthMethod, Connection, ConnectionStatus, ValidConnection, Vendor};
use crate::model::Millis;
use rusqlite::{OptionalExtension, Row, params};

const COLUMNS: &str = "id, vendor, name, base_url, auth_method, username, oauth_client_id, \
     mirror_scope, status, status_detail, account_name, capabilities, access_expires_at, \
     created_at, updated_at, kb_spaces";

/// The outcome of signing in or testing a connection, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionState {
    pub status: ConnectionStatus,
    pub detail: Option<String>,
    /// `None` keeps the account name already stored.
    pub account_name: Option<String>,
    /// `None` keeps the capabilities already stored.
    pub capabilities: Option<Vec<String>>,
    pub access_expires_at: Option<Millis>,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Connection> {
    let bad = |col: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            col,
            rusqlite::types::Type::Text,
            format!("unknown {what}").into(),
        )
    };
    let vendor: String = r.get(1)?;
    let method: String = r.get(4)?;
    let status: String = r.get(8)?;
    let scope: String = r.get(7)?;
    let caps: String = r.get(11)?;
    let kb: String = r.get(15)?;
    Ok(Connection {
        id: r.get(0)?,
        vendor: Vendor::parse(&vendor).ok_or_else(|| bad(1, "vendor"))?,
        name: r.get(2)?,
        base_url: r.get(3)?,
        auth_method: AuthMethod::parse(&method).ok_or_else(|| bad(4, "auth method"))?,
        username: r.get(5)?,
        oauth_client_id: r.get(6)?,
        mirror_scope: serde_json::from_str(&scope).map_err(|_| bad(7, "mirror scope"))?,
        kb_spaces: serde_json::from_str(&kb).map_err(|_| bad(15, "knowledge-base space list"))?,
        status: ConnectionStatus::parse(&status).ok_or_else(|| bad(8, "status"))?,
        status_detail: r.get(9)?,
        account_name: r.get(10)?,
        capabilities: serde_json::from_str::<Vec<String>>(&caps).unwrap_or_default(),
        access_expires_at: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Data(e.to_string()))
}

/// Whether the tickets of `source` (a connection id, as `tickets.source` holds it) keep their
/// tags in the workspace only, because their upstream cannot store them
/// ([`Vendor::stores_tags`]). Local tickets and imports: `false`.
pub(crate) fn tags_stay_local(c: &rusqlite::Connection, source: &str) -> Result<bool> {
    let Ok(id) = source.trim().parse::<i64>() else {
        return Ok(false);
    };
    let vendor: Option<String> = c
        .prepare_cached("SELECT vendor FROM connections WHERE id = ?")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(vendor
        .as_deref()
        .and_then(Vendor::parse)
        .is_some_and(|v| !v.stores_tags()))
}

impl Store {
    /// Adds a connection (status: needs sign-in). Names are unique regardless of case.
    pub fn add_connection(&self, c: &ValidConnection, now: Millis) -> Result<Connection> {
        let scope = json(&c.mirror_scope)?;
        let id = self.write(|tx| {
            let taken: bool = tx
                .prepare_cached("SELECT count(*) FROM connections WHERE name = ?")?
                .query_row([&c.name], |r| r.get::<_, i64>(0))
                .map(|n| n > 0)?;
            if taken {
                return Err(StoreError::Invalid(format!(
                    "a connection named {:?} exists already; choose another name",
                    c.name
                )));
            }
            tx.prepare_cached(
                "INSERT INTO connections (vendor, name, base_url, auth_method, username, \
                 oauth_client_id, mirror_scope, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                c.vendor.as_str(),
                c.name,
                c.base_url,
                c.auth_method.as_str(),
                c.username,
                c.oauth_client_id,
                scope,
                now,
                now
            ])?;
            Ok(tx.last_insert_rowid())
        })?;
        self.connection(id)
    }

    /// Every connection, by name.
    pub fn connections(&self) -> Result<Vec<Connection>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {COLUMNS} FROM connections ORDER BY name"))?;
            let rows = stmt.query_map([], from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub fn connection(&self, id: i64) -> Result<Connection> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {COLUMNS} FROM connections WHERE id = ?"))?
                .query_row([id], from_row)
                .optional()?
                .ok_or_else(|| StoreError::ConnectionNotFound(id.to_string()))
        })
    }

    /// Finds a connection by name (case-insensitive) or numeric id.
    pub fn find_connection(&self, name_or_id: &str) -> Result<Connection> {
        let wanted = name_or_id.trim();
        let found = self.read(|c| {
            Ok(
                c.prepare_cached(&format!("SELECT {COLUMNS} FROM connections WHERE name = ?"))?
                    .query_row([wanted], from_row)
                    .optional()?,
            )
        })?;
        match found {
            Some(c) => Ok(c),
            None => match wanted.parse::<i64>() {
                Ok(id) => self.connection(id),
                Err(_) => Err(StoreError::ConnectionNotFound(wanted.to_owned())),
            },
        }
    }

    pub fn rename_connection(&self, id: i64, name: &str, now: Millis) -> Result<Connection> {
        self.write(|tx| {
            let clash: Option<i64> = tx
                .prepare_cached("SELECT id FROM connections WHERE name = ? AND id != ?")?
                .query_row(params![name, id], |r| r.get(0))
                .optional()?;
            if clash.is_some() {
                return Err(StoreError::Invalid(format!(
                    "a connection named {name:?} exists already; choose another name"
                )));
            }
            let n = tx
                .prepare_cached("UPDATE connections SET name = ?, updated_at = ? WHERE id = ?")?
                .execute(params![name, now, id])?;
            if n == 0 {
                return Err(StoreError::ConnectionNotFound(id.to_string()));
            }
            Ok(())
        })?;
        self.connection(id)
    }

    pub fn set_mirror_scope(&self, id: i64, scope: &[String], now: Millis) -> Result<Connection> {
        let scope = json(&scope)?;
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE connections SET mirror_scope = ?, updated_at = ? WHERE id = ?",
                )?
                .execute(params![scope, now, id])?;
            if n == 0 {
                return Err(StoreError::ConnectionNotFound(id.to_string()));
            }
            Ok(())
        })?;
        self.connection(id)
    }

    /// Sets the Confluence spaces that back a connection's knowledge base (checked by
    /// [`crate::connection::validate_kb_spaces`]; empty: none). When the list gains a space,
    /// the connection's `kb` pull cursor is forgotten in the same transaction, so the next sync
    /// lists the spaces whole (the new one has never been pulled, or not since it was removed).
    pub fn set_kb_spaces(&self, id: i64, keys: &[String], now: Millis) -> Result<Connection> {
        let text = json(&keys)?;
        self.write(|tx| {
            let old: Option<String> = tx
                .prepare_cached("SELECT kb_spaces FROM connections WHERE id = ?")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            let Some(old) = old else {
                return Err(StoreError::ConnectionNotFound(id.to_string()));
            };
            let old: Vec<String> = serde_json::from_str(&old).unwrap_or_default();
            tx.prepare_cached("UPDATE connections SET kb_spaces = ?, updated_at = ? WHERE id = ?")?
                .execute(params![text, now, id])?;
            if keys.iter().any(|k| !old.contains(k)) {
                tx.prepare_cached(
                    "DELETE FROM sync_cursors WHERE connection_id = ? AND stream = 'kb'",
                )?
                .execute([id])?;
            }
            Ok(())
        })?;
        self.connection(id)
    }

    /// Records the outcome of a sign-in, refresh or test.
    pub fn set_connection_state(
        &self,
        id: i64,
        state: &ConnectionState,
        now: Millis,
    ) -> Result<Connection> {
        let caps = state.capabilities.as_ref().map(json).transpose()?;
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE connections SET status = ?, status_detail = ?, \
                     account_name = coalesce(?, account_name), \
                     capabilities = coalesce(?, capabilities), access_expires_at = ?, \
                     updated_at = ? WHERE id = ?",
                )?
                .execute(params![
                    state.status.as_str(),
                    state.detail,
                    state.account_name,
                    caps,
                    state.access_expires_at,
                    now,
                    id
                ])?;
            if n == 0 {
                return Err(StoreError::ConnectionNotFound(id.to_string()));
            }
            Ok(())
        })?;
        self.connection(id)
    }

    /// Removes a connection profile. Its secrets are removed by the caller (they are not here).
    pub fn remove_connection(&self, id: i64) -> Result<()> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM connections WHERE id = ?")?
                .execute([id])?;
            if n == 0 {
                return Err(StoreError::ConnectionNotFound(id.to_string()));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{NewConnection, validate_new};
    use crate::store::test_support::temp_store;

    fn valid(name: &str, vendor: Vendor) -> ValidConnection {
        let method = if vendor == Vendor::Jira {
            AuthMethod::Basic
        } else {
            AuthMethod::OAuth
        };
        validate_new(&NewConnection {
            vendor,
            name: name.into(),
            instance: "acme".into(),
            auth_method: method,
            username: Some("a@acme.test".into()),
            oauth_client_id: Some("cid".into()),
            mirror_scope: None,
        })
        .unwrap()
    }

    #[test]
    fn connections_are_added_listed_renamed_and_removed() {
        let (_d, s) = temp_store();
        let a = s
            .add_connection(&valid("Zendesk EU", Vendor::Zendesk), 10)
            .unwrap();
        let b = s
            .add_connection(&valid("Zendesk US", Vendor::Zendesk), 11)
            .unwrap();
        let j = s.add_connection(&valid("Jira", Vendor::Jira), 12).unwrap();
        assert_eq!(a.status, ConnectionStatus::NeedsSignIn);
        assert_eq!(a.mirror_scope, vec!["tickets"]);
        assert!(
            j.kb_spaces.is_empty(),
            "no knowledge-base space until one is set"
        );
        let set = s
            .set_kb_spaces(j.id, &["KB".into(), "OPS".into()], 20)
            .unwrap();
        assert_eq!(
            (set.kb_spaces.clone(), set.updated_at),
            (vec!["KB".to_owned(), "OPS".to_owned()], 20)
        );
        assert_eq!(s.connection(j.id).unwrap().kb_spaces, ["KB", "OPS"]);
        // Gaining a space forgets the knowledge-base cursor (the space is listed whole);
        // dropping one keeps it.
        let cursor = |s: &Store| s.sync_cursor(j.id, "kb").unwrap();
        s.apply_pulled_page(j.id, "kb", &[], &[], "c1", 20).unwrap();
        s.set_kb_spaces(j.id, &["KB".into()], 21).unwrap();
        assert_eq!(cursor(&s).as_deref(), Some("c1"));
        s.set_kb_spaces(j.id, &["KB".into(), "NEW".into()], 21)
            .unwrap();
        assert_eq!(cursor(&s), None);
        assert!(s.set_kb_spaces(j.id, &[], 21).unwrap().kb_spaces.is_empty());
        assert!(matches!(
            s.set_kb_spaces(9_999, &[], 22).unwrap_err(),
            StoreError::ConnectionNotFound(_)
        ));
        assert_eq!(j.username.as_deref(), Some("a@acme.test"));
        let names: Vec<_> = s
            .connections()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["Jira", "Zendesk EU", "Zendesk US"]);
        // Names are unique regardless of case, on add and on rename.
        let e = s
            .add_connection(&valid("zendesk eu", Vendor::Zendesk), 13)
            .unwrap_err();
        assert!(e.to_string().contains("exists already"), "{e}");
        let e = s.rename_connection(b.id, "ZENDESK EU", 14).unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
        let r = s.rename_connection(b.id, "Zendesk America", 15).unwrap();
        assert_eq!((r.name.as_str(), r.updated_at), ("Zendesk America", 15));
        assert_eq!(s.find_connection("zendesk america").unwrap().id, b.id);
        assert_eq!(s.find_connection(&a.id.to_string()).unwrap().id, a.id);
        s.remove_connection(a.id).unwrap();
        assert!(matches!(
            s.find_connection("Zendesk EU").unwrap_err(),
            StoreError::ConnectionNotFound(_)
        ));
        assert!(matches!(
            s.remove_connection(a.id).unwrap_err(),
            StoreError::ConnectionNotFound(_)
        ));
    }

    #[test]
    fn state_updates_keep_what_they_do_not_mention() {
        let (_d, s) = temp_store();
        let c = s.add_connection(&valid("Z", Vendor::Zendesk), 1).unwrap();
        let signed = s
            .set_connection_state(
                c.id,
                &ConnectionState {
                    status: ConnectionStatus::SignedIn,
                    detail: None,
                    account_name: Some("Ana Agent".into()),
                    capabilities: Some(vec!["admin".into()]),
                    access_expires_at: Some(99),
                },
                2,
            )
            .unwrap();
        assert_eq!(signed.account_name.as_deref(), Some("Ana Agent"));
        let later = s
            .set_connection_state(
                c.id,
                &ConnectionState {
                    status: ConnectionStatus::Unreachable,
                    detail: Some("connection refused".into()),
                    account_name: None,
                    capabilities: None,
                    access_expires_at: Some(99),
                },
                3,
            )
            .unwrap();
        assert_eq!(later.status, ConnectionStatus::Unreachable);
        assert_eq!(later.account_name.as_deref(), Some("Ana Agent"));
        assert_eq!(later.capabilities, vec!["admin"]);
    }
}
