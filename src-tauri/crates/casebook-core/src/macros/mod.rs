//! Macros: a reply template plus optional field changes (state, priority, tags), applied together
//! through the store's ordinary edit and comment paths, so they land in the event log and the
//! outbox like any edit. Stored in the workspace (migration 0004); exchanged as Markdown files
//! with a small front matter (see [`Macro::to_file`]).

mod template;

pub use template::{
    PLACEHOLDERS, PlaceholderInfo, PlaceholderType, Problem, ProblemKind, Rendered, Values,
    format_time, placeholders, render,
};

use crate::model::{
    Comment, Millis, Priority, Ticket, TicketId, TicketPatch, TicketState, Visibility,
    normalize_tags,
};
use crate::sla::{self, Change, ChangeKind, SlaError, TargetKind, TargetState, TicketSla};
use crate::store::{Actor, MAX_BODY_BYTES, Store, StoreError};
use rusqlite::params;
use serde::{Deserialize, Serialize};

/// Longest macro name accepted (characters).
pub const MAX_NAME_CHARS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum MacroError {
    #[error("{0}")]
    Invalid(String),
    #[error("macro {0} not found")]
    NotFound(String),
    /// The template uses placeholders Casebook does not know (found when saving or importing).
    #[error("{}", describe(.0))]
    Unresolved(Vec<Problem>),
    /// Applying was refused: some placeholder could not be filled for this ticket.
    #[error("{}; nothing was sent", describe(.0))]
    NotSent(Vec<Problem>),
    #[error(transparent)]
    Sla(#[from] SlaError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe(problems: &[Problem]) -> String {
    let list: Vec<String> = problems
        .iter()
        .take(5)
        .map(|p| format!("line {} column {}: {}", p.line, p.column, p.message))
        .collect();
    let more = problems.len().saturating_sub(5);
    format!(
        "the template has {} placeholder problem{} ({}{})",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        list.join("; "),
        if more > 0 {
            format!("; {more} more")
        } else {
            String::new()
        }
    )
}

/// A macro as stored and edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Macro {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Markdown with placeholders; may be empty when the macro only changes fields.
    #[serde(default)]
    pub body: String,
    pub visibility: Visibility,
    #[serde(default)]
    pub set_state: Option<TicketState>,
    #[serde(default)]
    pub set_priority: Option<Priority>,
    #[serde(default)]
    pub add_tags: Vec<String>,
    #[serde(default)]
    pub remove_tags: Vec<String>,
}

impl Macro {
    /// Checks the name, size and placeholders (every placeholder must be one Casebook knows).
    pub fn validate(&self) -> Result<(), MacroError> {
        let n = self.name.trim();
        if n.is_empty() || n.chars().count() > MAX_NAME_CHARS {
            return Err(MacroError::Invalid(format!(
                "a macro name must have 1 to {MAX_NAME_CHARS} characters"
            )));
        }
        if self.body.len() > MAX_BODY_BYTES {
            return Err(MacroError::Invalid(format!(
                "macro '{n}': the text is larger than {} KiB",
                MAX_BODY_BYTES / 1024
            )));
        }
        let does_something = !self.body.trim().is_empty()
            || self.set_state.is_some()
            || self.set_priority.is_some()
            || !self.add_tags.is_empty()
            || !self.remove_tags.is_empty();
        if !does_something {
            return Err(MacroError::Invalid(format!(
                "macro '{n}' has no text and changes no field"
            )));
        }
        let any = |_: &str| Some("x".to_owned());
        let problems = render(&self.body, &any).problems;
        if !problems.is_empty() {
            return Err(MacroError::Unresolved(problems));
        }
        Ok(())
    }

    /// The ticket patch this macro applies on `t` (`None` when it changes nothing).
    pub fn patch_for(&self, t: &Ticket) -> Option<TicketPatch> {
        let tags = if self.add_tags.is_empty() && self.remove_tags.is_empty() {
            None
        } else {
            let remove = normalize_tags(&self.remove_tags);
            let mut tags = normalize_tags(t.tags.iter().chain(&self.add_tags));
            tags.retain(|x| !remove.contains(x));
            (tags != t.tags).then_some(tags)
        };
        let state = self.set_state.filter(|s| *s != t.state);
        let priority = self.set_priority.filter(|p| *p != t.priority);
        if state.is_none() && priority.is_none() && tags.is_none() {
            return None;
        }
        Some(TicketPatch {
            state,
            priority,
            tags,
            ..Default::default()
        })
    }

    /// The built-in macros, shown unless a stored macro of the same name replaces them.
    pub fn builtins() -> Vec<Macro> {
        vec![
            Macro {
                name: "Customer update".into(),
                description: "A structured status update: what we know, suspect, do next, and \
                              when we update again"
                    .into(),
                body: "Hello {{requester.name | there}},\n\n\
                       Here is an update on {{ticket.key}} ({{ticket.title}}).\n\n\
                       **What we know:** {{cursor}}\n\n\
                       **What we suspect:** \n\n\
                       **What we are doing next:** \n\n\
                       **When we will update again:** by {{sla.next_update_due | the end of the next business day}}\n\n\
                       {{agent.name}}"
                    .into(),
                visibility: Visibility::Public,
                set_state: None,
                set_priority: None,
                add_tags: vec![],
                remove_tags: vec![],
            },
            Macro {
                name: "Ask for details".into(),
                description: "Ask the requester for information and wait for the answer".into(),
                body: "Hello {{requester.name | there}},\n\n\
                       To move {{ticket.key}} forward we need a little more information: {{cursor}}\n\n\
                       The ticket waits for your answer; reply to this message to continue.\n\n\
                       {{agent.name}}"
                    .into(),
                visibility: Visibility::Public,
                set_state: Some(TicketState::Pending),
                set_priority: None,
                add_tags: vec![],
                remove_tags: vec![],
            },
            Macro {
                name: "Resolved".into(),
                description: "Tell the requester the issue is fixed and resolve the ticket".into(),
                body: "Hello {{requester.name | there}},\n\n\
                       {{ticket.key}} is resolved: {{cursor}}\n\n\
                       If the problem comes back, reply to this message and we will reopen it.\n\n\
                       {{agent.name}}"
                    .into(),
                visibility: Visibility::Public,
                set_state: Some(TicketState::Resolved),
                set_priority: None,
                add_tags: vec![],
                remove_tags: vec![],
            },
        ]
    }

    /// The macro as a Markdown file with front matter:
    ///
    /// ```text
    /// ---
    /// name: Ask for details
    /// description: Ask the requester for information
    /// visibility: public
    /// state: pending
    /// priority: high
    /// add-tags: waiting, vpn
    /// remove-tags: triage
    /// ---
    /// Hello {{requester.name | there}}, …
    /// ```
    pub fn to_file(&self) -> String {
        let mut s = String::from("---\n");
        s.push_str(&format!("name: {}\n", one_line(&self.name)));
        if !self.description.is_empty() {
            s.push_str(&format!("description: {}\n", one_line(&self.description)));
        }
        s.push_str(&format!("visibility: {}\n", self.visibility));
        if let Some(st) = self.set_state {
            s.push_str(&format!("state: {st}\n"));
        }
        if let Some(p) = self.set_priority {
            s.push_str(&format!("priority: {p}\n"));
        }
        if !self.add_tags.is_empty() {
            s.push_str(&format!("add-tags: {}\n", self.add_tags.join(", ")));
        }
        if !self.remove_tags.is_empty() {
            s.push_str(&format!("remove-tags: {}\n", self.remove_tags.join(", ")));
        }
        s.push_str("---\n");
        s.push_str(&self.body);
        if !self.body.ends_with('\n') {
            s.push('\n');
        }
        s
    }

    /// Parses a macro file written by [`Macro::to_file`] (or by hand) and validates it.
    pub fn from_file(text: &str) -> Result<Macro, MacroError> {
        let bad = |line: usize, msg: String| MacroError::Invalid(format!("line {line}: {msg}"));
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.split_inclusive('\n');
        match lines.next() {
            Some(l) if l.trim_end() == "---" => {}
            _ => {
                return Err(bad(
                    1,
                    "a macro file starts with a '---' line (front matter)".into(),
                ));
            }
        }
        let mut m = Macro {
            name: String::new(),
            description: String::new(),
            body: String::new(),
            visibility: Visibility::Public,
            set_state: None,
            set_priority: None,
            add_tags: vec![],
            remove_tags: vec![],
        };
        let mut line_no = 1;
        let mut closed = false;
        for l in lines.by_ref() {
            line_no += 1;
            let l = l.trim_end();
            if l == "---" {
                closed = true;
                break;
            }
            if l.trim().is_empty() || l.trim_start().starts_with('#') {
                continue;
            }
            let (k, v) = l
                .split_once(':')
                .ok_or_else(|| bad(line_no, format!("expected 'key: value', got '{l}'")))?;
            let v = v.trim();
            let tags = |v: &str| -> Vec<String> {
                v.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(String::from)
                    .collect()
            };
            match k.trim() {
                "name" => m.name = v.to_owned(),
                "description" => m.description = v.to_owned(),
                "visibility" => {
                    m.visibility = v.parse().map_err(|_| {
                        bad(
                            line_no,
                            format!("visibility must be public or internal, not '{v}'"),
                        )
                    })?
                }
                "state" => m.set_state = Some(v.parse().map_err(|e| bad(line_no, format!("{e}")))?),
                "priority" => {
                    m.set_priority = Some(v.parse().map_err(|e| bad(line_no, format!("{e}")))?)
                }
                "add-tags" => m.add_tags = tags(v),
                "remove-tags" => m.remove_tags = tags(v),
                other => {
                    return Err(bad(
                        line_no,
                        format!(
                            "unknown key '{other}' (known: name, description, visibility, state, \
                             priority, add-tags, remove-tags)"
                        ),
                    ));
                }
            }
        }
        if !closed {
            return Err(bad(
                line_no,
                "the front matter is not closed with '---'".into(),
            ));
        }
        m.body = lines.collect::<String>();
        if m.body.ends_with('\n') {
            m.body.pop();
        }
        m.validate()?;
        Ok(m)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The values placeholders are filled from: the ticket as it will be after the macro's changes,
/// the agent, and the SLA as it will stand once the reply is sent.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub ticket: &'a Ticket,
    pub agent: &'a str,
    pub now: Millis,
    /// IANA zone times are written in (UTC when `None`).
    pub time_zone: Option<&'a str>,
    pub sla: Option<&'a TicketSla>,
}

impl Values for Context<'_> {
    fn get(&self, name: &str) -> Option<String> {
        let t = self.ticket;
        let target = |k: TargetKind| self.sla.and_then(|s| s.target(k));
        let time = |ms: Millis| format_time(ms, self.time_zone);
        match name {
            "ticket.key" => Some(t.key.clone()),
            "ticket.title" => Some(t.title.clone()),
            "ticket.state" => Some(t.state.to_string().replace('_', " ")),
            "ticket.priority" => Some(t.priority.to_string()),
            "ticket.source" => Some(t.source.clone()),
            "ticket.group" => t.assignment_group.clone(),
            "ticket.assignee" => t.assignee.clone(),
            "requester.name" => t.requester.clone(),
            "agent.name" => Some(self.agent.to_owned()),
            "now" => Some(time(self.now)),
            "sla.next_update_due" => target(TargetKind::NextUpdate)
                .or_else(|| target(TargetKind::FirstResponse))
                .filter(|x| x.stopped_at.is_none())
                .and_then(|x| x.due_at)
                .map(time),
            "sla.resolution_due" => target(TargetKind::Resolution)
                .and_then(|x| x.due_at)
                .map(time),
            "sla.resolution_left" => target(TargetKind::Resolution)
                .filter(|x| x.stopped_at.is_none() && x.state != TargetState::Breached)
                .map(|x| sla::format_duration(x.remaining_ms)),
            _ => None,
        }
    }
}

/// A macro rendered for one ticket, with the SLA it leads to.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub rendered: Rendered,
    /// The ticket as it will be once the macro is applied (not saved).
    pub ticket: Ticket,
    pub sla_after: Option<TicketSla>,
}

/// What applying a macro did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub ticket: Ticket,
    pub comment: Option<Comment>,
}

impl Store {
    /// Renders `m` for a ticket as if it were applied at `now` by `agent`: the placeholders see the
    /// ticket after the macro's changes and the SLA after the reply (so "when we will update
    /// again" is the due time of the update that follows this one).
    pub fn preview_macro(
        &self,
        ticket_id: TicketId,
        m: &Macro,
        agent: &str,
        now: Millis,
        time_zone: Option<&str>,
    ) -> Result<Preview, MacroError> {
        let current = self.ticket(ticket_id)?.ticket;
        let mut after = current.clone();
        if let Some(p) = m.patch_for(&current) {
            after.state = p.state.unwrap_or(after.state);
            after.priority = p.priority.unwrap_or(after.priority);
            after.tags = p.tags.unwrap_or(after.tags);
        }
        let sla_after = match self.sla_facts(ticket_id)? {
            Some(mut facts) => {
                let mut cfg = self.sla_config()?.compile()?;
                if after.state != current.state {
                    facts.changes.push(Change {
                        at: now,
                        kind: ChangeKind::State(after.state),
                    });
                }
                if after.priority != current.priority {
                    facts.changes.push(Change {
                        at: now,
                        kind: ChangeKind::Priority(after.priority),
                    });
                }
                if m.visibility == Visibility::Public && !m.body.trim().is_empty() {
                    facts.changes.push(Change {
                        at: now,
                        kind: ChangeKind::PublicReply,
                    });
                }
                facts.changes.sort_by_key(|c| c.at);
                Some(sla::compute(&facts, &mut cfg, now))
            }
            None => None,
        };
        let ctx = Context {
            ticket: &after,
            agent,
            now,
            time_zone,
            sla: sla_after.as_ref(),
        };
        let rendered = render(&m.body, &ctx);
        Ok(Preview {
            rendered,
            ticket: after,
            sla_after,
        })
    }

    /// Stored macros and the built-ins they do not replace, by name.
    pub fn macros(&self) -> Result<Vec<Macro>, MacroError> {
        let stored: Vec<String> = self.read(|c| {
            Ok(
                c.prepare_cached("SELECT definition FROM macros ORDER BY name")?
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?,
            )
        })?;
        let mut out = stored
            .iter()
            .map(|d| {
                serde_json::from_str::<Macro>(d)
                    .map_err(|e| StoreError::Data(format!("stored macro: {e}")).into())
            })
            .collect::<Result<Vec<_>, MacroError>>()?;
        for b in Macro::builtins() {
            if !out.iter().any(|m| m.name == b.name) {
                out.push(b);
            }
        }
        out.sort_by_key(|m| m.name.to_lowercase());
        Ok(out)
    }

    pub fn macro_named(&self, name: &str) -> Result<Macro, MacroError> {
        self.macros()?
            .into_iter()
            .find(|m| m.name == name.trim())
            .ok_or_else(|| MacroError::NotFound(name.trim().to_owned()))
    }

    /// Saves (adds or replaces by name) a macro after validating it.
    pub fn save_macro(&self, m: &Macro, now: Millis) -> Result<(), MacroError> {
        let mut m = m.clone();
        m.name = m.name.trim().to_owned();
        m.validate()?;
        let def = serde_json::to_string(&m).map_err(|e| MacroError::Invalid(e.to_string()))?;
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO macros (name, definition, updated_at) VALUES (?, ?, ?) \
                 ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, \
                 updated_at = excluded.updated_at",
            )?
            .execute(params![m.name, def, now])?;
            Ok(())
        })?;
        Ok(())
    }

    /// Deletes a stored macro (a built-in it replaced comes back).
    pub fn delete_macro(&self, name: &str) -> Result<(), MacroError> {
        let n =
            self.write(|tx| Ok(tx.execute("DELETE FROM macros WHERE name = ?", [name.trim()])?))?;
        if n == 0 {
            return Err(MacroError::NotFound(name.trim().to_owned()));
        }
        Ok(())
    }

    /// Applies a macro whose text was rendered by the caller: refuses when the rendering has
    /// problems, then applies the field changes (checked against `expected_revision`) and adds
    /// the reply or note, each through the ordinary edit paths (event log + outbox).
    pub fn apply_macro(
        &self,
        ticket_id: TicketId,
        expected_revision: Option<i64>,
        m: &Macro,
        rendered: &Rendered,
        actor: &Actor<'_>,
    ) -> Result<Applied, MacroError> {
        if !rendered.problems.is_empty() {
            return Err(MacroError::NotSent(rendered.problems.clone()));
        }
        let body = rendered.text.trim_end();
        if body.len() > MAX_BODY_BYTES {
            return Err(MacroError::Invalid(format!(
                "the reply is larger than {} KiB",
                MAX_BODY_BYTES / 1024
            )));
        }
        let current = self.ticket(ticket_id)?.ticket;
        if let Some(expected) = expected_revision
            && expected != current.revision
        {
            return Err(StoreError::StaleRevision {
                key: current.key,
                expected,
                current: current.revision,
            }
            .into());
        }
        let ticket = match m.patch_for(&current) {
            Some(p) => self.update_ticket(ticket_id, Some(current.revision), &p, actor)?,
            None => current,
        };
        let comment = if body.trim().is_empty() {
            None
        } else {
            Some(self.add_comment(ticket_id, m.visibility, body, actor)?)
        };
        let ticket = if comment.is_some() {
            self.ticket(ticket_id)?.ticket
        } else {
            ticket
        };
        Ok(Applied { ticket, comment })
    }
}

#[cfg(test)]
mod tests;
