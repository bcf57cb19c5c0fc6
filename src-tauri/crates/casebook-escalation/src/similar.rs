//! "Is this already escalated?": a small term-overlap measure between a package and other open
//! escalations (there are tens, not millions, so no index is needed), and the words that mark a
//! knowledge-base document as a known issue.

use std::collections::BTreeSet;

/// Words too common in support text to say two cases are alike.
const STOP: &[&str] = &[
    "about", "after", "again", "also", "because", "been", "before", "being", "cannot", "could",
    "does", "doing", "error", "errors", "every", "from", "have", "having", "here", "issue", "into",
    "just", "more", "most", "only", "other", "over", "please", "same", "should", "since", "some",
    "still", "such", "than", "that", "their", "them", "then", "there", "these", "they", "this",
    "those", "ticket", "through", "under", "user", "users", "very", "were", "what", "when",
    "where", "which", "while", "will", "with", "without", "would", "your",
];

/// The distinctive words of a text: lower-cased runs of letters and digits, at least four long,
/// not all digits, minus common support words.
pub fn terms(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4 && !w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_lowercase)
        .filter(|w| !STOP.contains(&w.as_str()))
        .collect()
}

/// The terms two texts share when they look like the same problem: at least three shared terms
/// making up at least a fifth of the smaller text's terms. `None` when they do not.
pub fn shared_terms(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Option<Vec<String>> {
    let shared: Vec<String> = a.intersection(b).cloned().collect();
    let smaller = a.len().min(b.len()).max(1);
    (shared.len() >= 3 && shared.len() * 5 >= smaller).then_some(shared)
}

/// Whether a knowledge-base title or tag names a known issue or known error.
pub fn names_known_issue(text: &str) -> bool {
    let t = text.to_lowercase().replace(['-', '_'], " ");
    t.contains("known issue") || t.contains("known error") || t.contains("known bug")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_problem_shares_terms_and_different_problems_do_not() {
        let a = terms("Invoice PDF export fails with 503 for EU tenants since the 4.2 upgrade");
        let b = terms("EU tenants: invoice export returns 503 (PDF) after upgrade");
        let c = terms("Outlook keeps asking for the password after the mailbox migration");
        let shared = shared_terms(&a, &b).expect("same problem");
        assert!(shared.contains(&"invoice".to_owned()) && shared.contains(&"tenants".to_owned()));
        assert_eq!(shared_terms(&a, &c), None);
        // Stop words and numbers never count.
        let d = terms("error error ticket 12345 user please");
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn known_issue_words() {
        assert!(names_known_issue("KNOWN-ISSUE: VPN drops on resume"));
        assert!(names_known_issue("known_error"));
        assert!(!names_known_issue("Unknown user issue"));
    }
}
