//! Escalation issues in an engineering project (issue 6, "Push to Jira"): created with
//! `POST /rest/api/3/issue` carrying the operation's marker as a label (findable with JQL) and
//! the `casebook.op` issue property, like a ticket creation; the package Markdown becomes ADF
//! (headings, paragraphs, code blocks); extracts are uploaded with
//! `POST /rest/api/3/issue/{key}/attachments` (multipart, `X-Atlassian-Token: no-check`) and
//! listed with `GET /rest/api/3/issue/{key}?fields=attachment`.

use super::{Jira, MARKER_LABEL_PREFIX, MARKER_PROPERTY, enc};
use crate::connector::SyncResult;
use crate::error::SyncError;
use crate::escalation::{EscalationIssue, NewEscalationIssue};
use reqwest::Method;
use serde_json::{Value, json};

/// Whether `key` looks like a Jira project key (`ENG`, `OPS_2`).
pub fn valid_project_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && key.len() <= 255
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn text_node(s: &str) -> Value {
    json!({ "type": "text", "text": s })
}

/// A paragraph of Markdown lines (the export escapes `<` as `\<`: shown as written here).
fn paragraph(lines: &[&str]) -> Option<Value> {
    let mut content = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        if k > 0 {
            content.push(json!({ "type": "hardBreak" }));
        }
        let t = line.replace("\\<", "<");
        if !t.is_empty() {
            content.push(text_node(&t));
        }
    }
    if content.is_empty() {
        None
    } else {
        Some(json!({ "type": "paragraph", "content": content }))
    }
}

/// Markdown (as the package export writes it) to an Atlassian Document: `#` headings, fenced
/// code blocks, paragraphs on blank lines with hard breaks inside. Inline marks stay as text.
pub fn markdown_adf(md: &str) -> Value {
    let mut blocks: Vec<Value> = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut lines = md.lines();
    let flush = |para: &mut Vec<&str>, blocks: &mut Vec<Value>| {
        if let Some(p) = paragraph(para) {
            blocks.push(p);
        }
        para.clear();
    };
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let ticks = trimmed.chars().take_while(|&c| c == '`').count();
        if ticks >= 3 {
            flush(&mut para, &mut blocks);
            let fence = &trimmed[..ticks];
            let mut code: Vec<&str> = Vec::new();
            for l in lines.by_ref() {
                if l.trim() == fence {
                    break;
                }
                code.push(l);
            }
            let text = code.join("\n");
            let content = if text.is_empty() {
                json!([])
            } else {
                json!([text_node(&text)])
            };
            blocks.push(json!({ "type": "codeBlock", "content": content }));
            continue;
        }
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            flush(&mut para, &mut blocks);
            let t = trimmed[hashes..].trim().replace("\\<", "<");
            let content = if t.is_empty() {
                json!([])
            } else {
                json!([text_node(&t)])
            };
            blocks.push(
                json!({ "type": "heading", "attrs": { "level": hashes }, "content": content }),
            );
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut para, &mut blocks);
        } else {
            para.push(line);
        }
    }
    flush(&mut para, &mut blocks);
    json!({ "type": "doc", "version": 1, "content": blocks })
}

/// A multipart/form-data body with one `file` part; returns (content type, body).
pub fn multipart_file(file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let name: String = file_name
        .chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut n = 0u32;
    let boundary = loop {
        let b = format!("casebook-boundary-{:08x}-{n}", bytes.len());
        if !bytes.windows(b.len()).any(|w| w == b.as_bytes()) {
            break b;
        }
        n += 1;
    };
    let mut body = Vec::with_capacity(bytes.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Jira {
    fn issue_url(&self, key: &str) -> String {
        format!("{}/browse/{}", self.rest.base, enc(key))
    }

    fn escalation_issue(&self, v: &Value) -> SyncResult<EscalationIssue> {
        let key = v["key"].as_str().ok_or_else(|| SyncError::MalformedJson {
            what: "an issue without a key".into(),
        })?;
        let id = match &v["id"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        Ok(EscalationIssue {
            id,
            key: key.to_owned(),
            url: self.issue_url(key),
        })
    }

    pub(super) async fn create_escalation_issue(
        &self,
        issue: &NewEscalationIssue,
    ) -> SyncResult<EscalationIssue> {
        if !valid_project_key(&issue.project) {
            return Err(SyncError::Local(format!(
                "'{}' is not a Jira project key",
                issue.project
            )));
        }
        let mut labels: Vec<String> = issue.labels.clone();
        labels.push(format!("{MARKER_LABEL_PREFIX}{}", issue.marker));
        let body = json!({
            "fields": {
                "project": { "key": issue.project },
                "issuetype": { "name": issue.issue_type },
                "summary": issue.summary,
                "description": markdown_adf(&issue.description_md),
                "labels": labels,
            },
            "properties": [{ "key": MARKER_PROPERTY, "value": { "marker": issue.marker } }],
        });
        let a = self
            .rest
            .call(Method::POST, "/rest/api/3/issue", &[], Some(&body), &[])
            .await?;
        self.escalation_issue(&a.json)
    }

    pub(super) async fn find_escalation_issue(
        &self,
        project: &str,
        marker: &str,
    ) -> SyncResult<Option<EscalationIssue>> {
        if !valid_project_key(project) {
            return Err(SyncError::Local(format!(
                "'{project}' is not a Jira project key"
            )));
        }
        if marker.contains(['"', '\\']) {
            return Err(SyncError::Local("a marker cannot contain quotes".into()));
        }
        let jql = format!("project = \"{project}\" AND labels = \"{MARKER_LABEL_PREFIX}{marker}\"");
        let (issues, _) = self.search(&jql, &["summary"], 1, None).await?;
        issues.first().map(|v| self.escalation_issue(v)).transpose()
    }

    pub(super) async fn issue_attachment_names(&self, key: &str) -> SyncResult<Vec<String>> {
        let a = self
            .rest
            .call(
                Method::GET,
                &format!("/rest/api/3/issue/{}", enc(key)),
                &[("fields", "attachment".to_owned())],
                None,
                &[],
            )
            .await?;
        let list = match &a.json["fields"]["attachment"] {
            Value::Array(list) => list.clone(),
            Value::Null => Vec::new(),
            _ => {
                return Err(SyncError::MalformedJson {
                    what: format!("/rest/api/3/issue/{key}: attachment is not a list"),
                });
            }
        };
        Ok(list
            .iter()
            .filter_map(|x| x["filename"].as_str().map(str::to_owned))
            .collect())
    }

    pub(super) async fn upload_attachment(
        &self,
        key: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> SyncResult<()> {
        let (ctype, body) = multipart_file(file_name, bytes);
        let a = self
            .rest
            .call_raw(
                Method::POST,
                &format!("/rest/api/3/issue/{}/attachments", enc(key)),
                (&ctype, body),
                &[("X-Atlassian-Token", "no-check".to_owned())],
            )
            .await?;
        if !a.json.is_array() {
            return Err(SyncError::MalformedJson {
                what: format!("/rest/api/3/issue/{key}/attachments: no attachment list"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_headings_paragraphs_and_code_blocks() {
        let md = "# [HD-1] VPN drops\n\n## Summary\n\nLine one\nline two with \\<email-1>\n\n```\nERROR x\n  at y\n```\n\nAfter.\n";
        let doc = markdown_adf(md);
        let blocks = doc["content"].as_array().unwrap();
        let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            ["heading", "heading", "paragraph", "codeBlock", "paragraph"]
        );
        assert_eq!(blocks[1]["attrs"]["level"], 2);
        assert_eq!(blocks[2]["content"][1]["type"], "hardBreak");
        assert_eq!(blocks[2]["content"][2]["text"], "line two with <email-1>");
        assert_eq!(blocks[3]["content"][0]["text"], "ERROR x\n  at y");
        // A longer fence keeps shorter ones inside.
        let doc = markdown_adf("````\na\n```\nb\n````\n");
        assert_eq!(doc["content"][0]["content"][0]["text"], "a\n```\nb");
    }

    #[test]
    fn the_multipart_body_has_one_file_part_and_a_boundary_not_in_the_file() {
        let (ctype, body) = multipart_file("01-app\".log", b"line 1\nline 2\n");
        let boundary = ctype
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("filename=\"01-app_.log\""));
        assert!(text.contains("\r\n\r\nline 1\nline 2\n\r\n"));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
        assert!(valid_project_key("ENG") && valid_project_key("OPS_2"));
        assert!(!valid_project_key("eng") && !valid_project_key("") && !valid_project_key("E\"X"));
    }
}
