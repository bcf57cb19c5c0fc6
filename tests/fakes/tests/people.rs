//! The fakes' user directories behave as the vendors document them (shapes are checked in
//! `spec.rs`; this is the behaviour): Jira's assignable-user search takes its range before it
//! drops who cannot be assigned and matches a hidden email address only when given whole;
//! Zendesk's user search pages by offset, `show_many` caps its ids, and writes refuse an
//! assignee who is no agent.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use casebook_fakes::{jira, zendesk};
use serde_json::{Value, json};

const BASIC: &str = "Basic YW5hQGV4YW1wbGUudGVzdDp0b2tlbg==";
const BEARER: &str = "Bearer test-access-token";

async fn get(url: &str, auth: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(url)
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn put(url: &str, auth: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .put(url)
        .header("Authorization", auth)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn ids(users: &Value) -> Vec<String> {
    users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["accountId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn jira_assignable_search_filters_after_the_range_and_hides_emails() {
    let fake = jira::start().await.unwrap();
    let base = fake.base_url();
    let key = fake.seed(jira::NewIssue::new("HD", "VPN"));
    for n in 0..3 {
        fake.add_user(jira::User {
            account_type: "customer".into(),
            ..jira::User::new(&format!("qm:{n}"), &format!("Pat Customer {n}"), "x@c.test")
        });
    }
    fake.add_user(jira::User {
        email_visible: false,
        ..jira::User::new("557058:pat", "Pat Agent", "pat@example.test")
    });
    let url = |q: &str| format!("{base}/rest/api/3/user/assignable/search?project=HD&{q}");
    // The first range holds only customers: an empty page, with the agent on the next one.
    let (st, first) = get(&url("query=pat&startAt=0&maxResults=3"), BASIC).await;
    assert_eq!((st, ids(&first).len()), (200, 0));
    let (_, next) = get(&url("query=pat&startAt=3&maxResults=3"), BASIC).await;
    assert_eq!(ids(&next), ["557058:pat"]);
    // Any word of the display name; a hidden email only whole, and never shown.
    let (_, by_word) = get(&url("query=agent"), BASIC).await;
    assert!(ids(&by_word).contains(&"557058:pat".to_owned()));
    let (_, partial) = get(&url("query=pat%40exa"), BASIC).await;
    assert!(ids(&partial).is_empty());
    let (_, whole) = get(&url("query=pat%40example.test"), BASIC).await;
    assert_eq!(ids(&whole), ["557058:pat"]);
    assert!(whole[0].get("emailAddress").is_none());
    let (_, by_id) = get(&url("accountId=557058%3Apat"), BASIC).await;
    assert_eq!(ids(&by_id), ["557058:pat"]);
    // Where and whom must be said; an unknown issue is a 404.
    let (st, _) = get(
        &format!("{base}/rest/api/3/user/assignable/search?query=pat"),
        BASIC,
    )
    .await;
    assert_eq!(st, 400);
    let (st, _) = get(&url(""), BASIC).await;
    assert_eq!(st, 400);
    let (st, _) = get(
        &format!("{base}/rest/api/3/user/assignable/search?issueKey=HD-99&query=pat"),
        BASIC,
    )
    .await;
    assert_eq!(st, 404);
    // Assigning a customer or an unknown account is refused on the field.
    for who in ["qm:0", "557058:nobody"] {
        let (st, body) = put(
            &format!("{base}/rest/api/3/issue/{key}"),
            BASIC,
            json!({ "fields": { "assignee": { "accountId": who } } }),
        )
        .await;
        assert_eq!(st, 400);
        assert_eq!(
            body["errors"]["assignee"],
            format!("User '{who}' cannot be assigned issues.")
        );
    }
    assert_eq!(fake.issue(&key).unwrap().assignee, None);
}

#[tokio::test]
async fn zendesk_users_page_by_offset_and_only_agents_are_assignees() {
    let fake = zendesk::start().await.unwrap();
    let base = fake.base_url();
    let id = fake.seed(zendesk::NewTicket::new("Mail", "Bounces"));
    for n in 0..5 {
        fake.add_user(
            &format!("Helper {n}"),
            &format!("h{n}@example.test"),
            "agent",
        );
    }
    let (st, p1) = get(
        &format!("{base}/api/v2/users/search.json?query=helper&per_page=2"),
        BEARER,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        (p1["users"].as_array().unwrap().len(), &p1["count"]),
        (2, &json!(5))
    );
    let next = p1["next_page"].as_str().unwrap().to_owned();
    assert!(next.contains("page=2"), "{next}");
    let (_, p3) = get(
        &format!("{base}/api/v2/users/search.json?query=helper&per_page=2&page=3"),
        BEARER,
    )
    .await;
    assert_eq!(p3["users"].as_array().unwrap().len(), 1);
    assert!(p3["next_page"].is_null());
    // show_many leaves unknown ids out and takes at most 100.
    let (_, many) = get(
        &format!(
            "{base}/api/v2/users/show_many.json?ids={},777",
            zendesk::OTHER_ID
        ),
        BEARER,
    )
    .await;
    assert_eq!(many["users"].as_array().unwrap().len(), 1);
    let too_many = (1..=101)
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let (st, _) = get(
        &format!("{base}/api/v2/users/show_many.json?ids={too_many}"),
        BEARER,
    )
    .await;
    assert_eq!(st, 400);
    // The requester is an end user: not an assignee; an unknown group is refused too.
    let (st, body) = put(
        &format!("{base}/api/v2/tickets/{id}.json"),
        BEARER,
        json!({ "ticket": { "assignee_id": zendesk::REQUESTER_ID, "group_id": 1 } }),
    )
    .await;
    assert_eq!(st, 422);
    assert!(body["details"]["assignee"].is_array() && body["details"]["group"].is_array());
    assert_eq!(fake.ticket(id).unwrap().assignee_id, None);
    let (st, _) = put(
        &format!("{base}/api/v2/tickets/{id}.json"),
        BEARER,
        json!({ "ticket": { "assignee_id": zendesk::OTHER_ID } }),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        fake.ticket(id).unwrap().assignee_id,
        Some(zendesk::OTHER_ID)
    );
}
