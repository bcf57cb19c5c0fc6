//! The knowledge base of a Jira Service Management connection (issue 5): the Confluence spaces
//! set on the connection, pulled by `Casebook::sync_now` from the fake Jira site's Confluence v2
//! (tests/fakes), through the façade's article sink into the knowledge-base index, and searched
//! and opened as the UI does. Each test is one workspace, one fake site.

use casebook_api::connections::NewConnectionInput;
use casebook_api::kb::dto::{KbFilters, KbSearchInput, KbSearchResult, KbSourceKind};
use casebook_api::sync::{SyncRunView, SyncStatusView};
use casebook_api::{Casebook, OpenOptions};
use casebook_core::FixedClock;
use casebook_core::connection::{AuthMethod, Vendor};
use casebook_core::store::Origin;
use casebook_fakes::jira::{self, JiraFake, NewIssue};
use casebook_fakes::{Fault, FaultRule};
use std::sync::Arc;

const EMAIL: &str = "ana@example.test";
const TOKEN: &str = "jira-api-token-S3CRET-4242";
const PAGES: &str = "/wiki/api/v2/spaces/*/pages";
const NAME: &str = "Acme JSM";

struct Env {
    _dir: tempfile::TempDir,
    cb: Casebook,
    fake: JiraFake,
    clock: Arc<FixedClock>,
    id: i64,
}

/// A workspace with one Jira connection (mirroring HD, one issue there) signed in to a fake
/// site, its knowledge base set to `spaces` (none: not configured).
async fn env(spaces: &[&str]) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let fake = jira::start().await.unwrap();
    fake.accept_only(EMAIL, TOKEN);
    fake.seed(NewIssue::new("HD", "VPN drops every hour"));
    let clock = Arc::new(FixedClock::new(jira::T0_MS + 86_400_000));
    let mut opts = OpenOptions::for_tests(dir.path(), Origin::Cli);
    opts.clock = Arc::clone(&clock) as Arc<dyn casebook_core::Clock>;
    let cb = Casebook::open(opts).await.unwrap();
    let c = cb
        .add_connection(NewConnectionInput {
            vendor: Vendor::Jira,
            name: NAME.into(),
            instance: fake.base_url(),
            auth_method: AuthMethod::Basic,
            username: Some(EMAIL.into()),
            oauth_client_id: None,
            mirror_scope: Some(vec!["HD".into()]),
        })
        .await
        .unwrap();
    cb.set_connection_secret(c.id, TOKEN.into()).await.unwrap();
    if !spaces.is_empty() {
        let v = cb
            .set_connection_kb_spaces(c.id, spaces.iter().map(|s| (*s).to_owned()).collect())
            .await
            .unwrap();
        assert_eq!(v.kb_spaces, spaces);
    }
    Env {
        _dir: dir,
        cb,
        fake,
        clock,
        id: c.id,
    }
}

impl Env {
    async fn sync(&self) -> SyncRunView {
        self.cb.sync_now(NAME.into(), None).await.unwrap()
    }

    async fn search(&self, q: &str) -> KbSearchResult {
        self.cb
            .kb_search(KbSearchInput {
                query: q.into(),
                filters: KbFilters {
                    kinds: vec![KbSourceKind::KbArticle],
                    ..KbFilters::default()
                },
                limit: Some(10),
            })
            .await
            .unwrap()
    }

    /// The article document ids a search finds.
    async fn found(&self, q: &str) -> Vec<String> {
        self.search(q)
            .await
            .hits
            .into_iter()
            .map(|h| h.doc_id)
            .collect()
    }

    fn doc_id(&self, space: &str, page: u64) -> String {
        format!("kb:{}:{space}/{page}", self.id)
    }

    async fn status(&self) -> SyncStatusView {
        self.cb
            .sync_status()
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.connection_id == self.id)
            .unwrap()
    }

    /// The `cursor` parameters of the pull's page-list requests so far (with bodies; the
    /// sweep's id listings are left out).
    fn page_cursors(&self) -> Vec<Option<String>> {
        self.fake
            .requests()
            .matching("GET", PAGES)
            .iter()
            .filter(|r| r.param("body-format") == Some("storage"))
            .map(|r| r.param("cursor").map(str::to_owned))
            .collect()
    }
}

/// The id of the fake's page with this title.
fn page_id(fake: &JiraFake, title: &str) -> u64 {
    fake.with_state(|s| s.wiki.pages.iter().find(|p| p.title == title).unwrap().id)
}

fn clean(run: &SyncRunView) {
    assert!(
        run.errors.is_empty() && run.stopped.is_none(),
        "a clean sync: {run:?}"
    );
}

const RESTART: &str = r#"<p>When the API pods crash-loop:</p><ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter><ac:plain-text-body><![CDATA[kubectl rollout restart deploy/casebook-api]]></ac:plain-text-body></ac:structured-macro><ac:structured-macro ac:name="info"><ac:rich-text-body><p>Page the on-call first.</p></ac:rich-text-body></ac:structured-macro>"#;

/// 257 filler pages, then (an hour later) three real ones: the space takes two list pages of
/// 250, and an incremental walk's overlap window holds only the real ones.
fn seed_space(fake: &JiraFake) -> [u64; 3] {
    fake.wiki_space("KB", "IT knowledge base");
    for n in 0..257 {
        fake.wiki_page("KB", &format!("Filler {n}"), "<p>nothing here</p>");
    }
    fake.advance(3_600_000);
    [
        fake.wiki_page("KB", "Restart the API", RESTART),
        fake.wiki_page("KB", "Printer queue stuck", "<p>Clear the spooler.</p>"),
        fake.wiki_page(
            "KB",
            "VPN certificate renewal",
            "<p>Renew the <strong>VPN</strong> certificate yearly.</p>",
        ),
    ]
}

#[tokio::test]
async fn confluence_pages_are_searchable_after_a_jira_sync_and_an_edit_replaces_its_document() {
    let e = env(&["KB"]).await;
    let [restart, _printer, vpn] = seed_space(&e.fake);

    let run = e.sync().await;
    clean(&run);
    assert_eq!(run.tickets_created, 1, "the tickets sync too");
    assert_eq!(run.articles, 260);
    // Newest change first, 250 a page, the second page through the cursor link.
    let cursors = e.page_cursors();
    assert_eq!(cursors.len(), 2, "{cursors:?}");
    assert!(cursors[0].is_none() && cursors[1].is_some(), "{cursors:?}");
    let first = &e.fake.requests().matching("GET", PAGES)[0];
    assert_eq!(first.param("sort"), Some("-modified-date"));
    assert_eq!(first.param("body-format"), Some("storage"));
    assert_eq!(
        first.auth_scheme.as_deref(),
        Some("Basic"),
        "same sign-in as Jira"
    );

    let r = e.search("kubectl rollout restart").await;
    assert_eq!(r.hits[0].doc_id, e.doc_id("KB", restart), "{:?}", r.hits);
    assert_eq!(r.hits[0].title, "Restart the API");
    let url = r.hits[0].url.clone().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/wiki/spaces/KB/pages/{restart}/",
            e.fake.base_url()
        )),
        "{url}"
    );
    let doc = e.cb.kb_get_document(e.doc_id("KB", restart)).await.unwrap();
    assert!(
        doc.html
            .contains("<pre><code>kubectl rollout restart deploy/casebook-api</code></pre>"),
        "the code macro is kept as code: {}",
        doc.html
    );
    assert!(
        doc.html
            .contains("<blockquote><p>Page the on-call first.</p></blockquote>"),
        "{}",
        doc.html
    );
    assert!(!doc.html.contains("bash"), "macro parameters are not text");
    assert_eq!(
        e.found("VPN certificate renewal").await[0],
        e.doc_id("KB", vpn)
    );
    let status = e.status().await;
    assert_eq!(status.kb_status.as_deref(), Some("260 article(s) pulled"));
    assert_eq!(status.last_error, None);

    // An edit an hour later: the next sync reads one list page, down to the watermark (the
    // edited page, then the two pages inside the overlap window), and replaces the document.
    e.fake.advance(3_600_000);
    e.fake.wiki_edit(
        restart,
        "Roll back the API",
        "<p>Use <code>helm rollback</code> instead.</p>",
    );
    e.fake.requests().clear();
    let run = e.sync().await;
    clean(&run);
    assert_eq!(
        run.articles, 3,
        "only what changed, plus the overlap: {run:?}"
    );
    assert_eq!(e.page_cursors(), vec![None], "one list page");
    assert_eq!(
        e.found("helm rollback").await,
        vec![e.doc_id("KB", restart)]
    );
    assert!(
        e.found("kubectl rollout restart").await.is_empty(),
        "the old text is gone with the old document"
    );
    let doc = e.cb.kb_get_document(e.doc_id("KB", restart)).await.unwrap();
    assert_eq!(doc.title, "Roll back the API");

    // Nothing changed: the walk stops at its first page, nothing is indexed again but the
    // overlap.
    e.fake.requests().clear();
    let run = e.sync().await;
    clean(&run);
    assert_eq!(e.page_cursors(), vec![None]);
    assert!(run.articles <= 3, "{run:?}");
}

#[tokio::test]
async fn removing_the_connection_removes_its_articles_from_the_knowledge_base() {
    let e = env(&["KB"]).await;
    let [restart, ..] = seed_space(&e.fake);
    clean(&e.sync().await);
    assert_eq!(
        e.found("kubectl rollout restart").await[0],
        e.doc_id("KB", restart)
    );

    e.cb.remove_connection(e.id).await.unwrap();
    assert!(
        e.found("kubectl rollout restart").await.is_empty(),
        "no article of a removed connection stays searchable"
    );
    assert!(
        e.cb.kb_get_document(e.doc_id("KB", restart)).await.is_err(),
        "nor can it be opened"
    );
}

#[tokio::test]
async fn a_trashed_page_disappears_at_the_sweep_and_the_others_stay() {
    let e = env(&["KB"]).await;
    e.fake.wiki_space("KB", "IT knowledge base");
    let gone = e
        .fake
        .wiki_page("KB", "Legacy fax gateway", "<p>Reboot the faxserver.</p>");
    // An hour apart: the incremental walk's overlap window holds only the newer page.
    e.fake.advance(3_600_000);
    let keep = e
        .fake
        .wiki_page("KB", "Printer queue stuck", "<p>Clear the spooler.</p>");
    clean(&e.sync().await);
    assert_eq!(e.found("faxserver").await, vec![e.doc_id("KB", gone)]);

    // Trashing makes no new version, so the incremental walk cannot see it; the sweep (every
    // current page id, when due) does.
    e.fake.wiki_trash(gone);
    let run = e.sync().await;
    clean(&run);
    assert_eq!(run.articles_removed, 0, "the sweep is not due yet");
    e.clock.advance(16 * 60_000);
    e.fake.requests().clear();
    let run = e.sync().await;
    clean(&run);
    assert_eq!(run.articles_removed, 1, "{run:?}");
    assert!(
        e.found("faxserver").await.is_empty(),
        "the trashed page left the index"
    );
    assert_eq!(e.found("spooler").await, vec![e.doc_id("KB", keep)]);
    assert!(
        e.status().await.kb_status.unwrap().contains("1 removed"),
        "the status says so"
    );
    let sweep = e
        .fake
        .requests()
        .matching("GET", PAGES)
        .into_iter()
        .find(|r| r.param("status") == Some("current"))
        .expect("the sweep lists current pages");
    assert_eq!(
        sweep.param("body-format"),
        None,
        "the sweep reads no bodies"
    );

    // A page restored from the trash (no new version either) is listed again but not indexed:
    // the sweep notices, and the next sync pulls the space again from the start.
    e.fake.with_state(|s| {
        s.wiki.page_mut(gone).unwrap().status = "current".into();
    });
    e.clock.advance(16 * 60_000);
    let run = e.sync().await;
    clean(&run);
    assert!(
        run.notes
            .iter()
            .any(|n| n.contains("not in the local index")),
        "the restored page is listed but not indexed: pulled again from the start: {run:?}"
    );
    clean(&e.sync().await);
    assert_eq!(e.found("faxserver").await, vec![e.doc_id("KB", gone)]);
}

#[tokio::test]
async fn a_space_casebook_cannot_read_is_skipped_with_the_reason_and_tickets_still_sync() {
    let e = env(&["KB", "SECRET"]).await;
    e.fake.wiki_space("KB", "IT knowledge base");
    let page = e
        .fake
        .wiki_page("KB", "Printer queue stuck", "<p>Clear the spooler.</p>");
    e.fake.wiki_space("SECRET", "Managers only");
    e.fake.wiki_page("SECRET", "Salaries", "<p>classified</p>");
    e.fake.wiki_space_visible("SECRET", false);

    let run = e.sync().await;
    assert_eq!(run.tickets_created, 1, "tickets still sync: {run:?}");
    assert_eq!(run.stopped, None);
    assert_eq!(run.articles, 1, "the readable space is pulled");
    assert_eq!(e.found("spooler").await, vec![e.doc_id("KB", page)]);
    assert!(e.found("classified").await.is_empty());
    let why = "the Confluence space SECRET does not exist or this account cannot view it";
    assert!(
        run.errors.iter().any(|m| m.contains(why)),
        "the run says why: {:?}",
        run.errors
    );
    let status = e.status().await;
    assert!(
        status.kb_status.as_deref().unwrap().contains(why),
        "{status:?}"
    );
    assert_eq!(status.last_error_kind.as_deref(), Some("partial"));
    assert!(
        status.last_error.as_deref().unwrap().contains("SECRET"),
        "{status:?}"
    );

    // KB's permission is withdrawn: its pages answer 404. Its articles are kept (nothing says
    // they are gone), even by a sweep that is due.
    e.fake.with_state(|s| {
        let id = s.wiki.space("KB").unwrap().id;
        s.wiki
            .spaces
            .iter_mut()
            .find(|x| x.id == id)
            .unwrap()
            .visible = false;
    });
    e.clock.advance(16 * 60_000);
    let run = e.sync().await;
    assert_eq!(run.stopped, None);
    assert_eq!(run.articles_removed, 0);
    assert!(run.errors.iter().any(|m| m.contains("space KB")), "{run:?}");
    assert_eq!(e.found("spooler").await, vec![e.doc_id("KB", page)]);

    // No Confluence for this account at all: 403 on every /wiki request.
    e.fake.wiki_no_access(true);
    e.fake.seed(NewIssue::new("HD", "Second issue"));
    let run = e.sync().await;
    assert_eq!(run.tickets_created, 1, "{run:?}");
    assert!(
        run.errors
            .iter()
            .any(|m| m.contains("may not use Confluence")
                && m.contains("Current user not permitted")),
        "{:?}",
        run.errors
    );
}

#[tokio::test]
async fn the_connection_test_says_whether_each_confluence_space_can_be_read() {
    let e = env(&["KB", "SECRET"]).await;
    e.fake.wiki_space("KB", "IT knowledge base");
    e.fake.wiki_space("SECRET", "Managers only");
    e.fake.wiki_space_visible("SECRET", false);
    let caps =
        e.cb.test_connection(e.id)
            .await
            .unwrap()
            .connection
            .capabilities;
    assert!(
        caps.contains(&"can read the Confluence space KB (IT knowledge base)".to_owned()),
        "{caps:?}"
    );
    assert!(
        caps.iter()
            .any(|c| c.starts_with("cannot see the Confluence space SECRET")),
        "{caps:?}"
    );

    e.fake.wiki_no_access(true);
    let caps =
        e.cb.test_connection(e.id)
            .await
            .unwrap()
            .connection
            .capabilities;
    assert!(
        caps.iter()
            .filter(|c| c.starts_with("may not use Confluence on this site"))
            .count()
            == 2,
        "{caps:?}"
    );
}

#[tokio::test]
async fn without_a_space_no_article_is_pulled_and_the_status_says_how_to_set_one() {
    let e = env(&[]).await;
    e.fake.wiki_space("KB", "IT knowledge base");
    e.fake
        .wiki_page("KB", "Printer queue stuck", "<p>Clear the spooler.</p>");
    let run = e.sync().await;
    clean(&run);
    assert_eq!((run.tickets_created, run.articles), (1, 0));
    assert_eq!(
        e.fake.requests().count("*", "/wiki/**"),
        0,
        "Confluence is not asked"
    );
    let kb = run.kb_status.clone().unwrap();
    assert!(
        kb.contains("no Confluence space is set") && kb.contains("--kb-space"),
        "{kb}"
    );
    assert!(run.notes.iter().any(|n| n.contains(&kb)), "{run:?}");
    let status = e.status().await;
    assert_eq!(status.kb_status.as_deref(), Some(kb.as_str()));
    assert_eq!(
        status.last_error, None,
        "not a problem, just not configured"
    );

    // Set it: the next sync pulls the space; clear it: its articles leave at once.
    let v =
        e.cb.set_connection_kb_spaces(e.id, vec!["KB".into()])
            .await
            .unwrap();
    assert_eq!(v.kb_spaces, ["KB"]);
    assert_eq!(e.sync().await.articles, 1);
    assert_eq!(e.found("spooler").await.len(), 1);
    let v = e.cb.set_connection_kb_spaces(e.id, vec![]).await.unwrap();
    assert!(v.kb_spaces.is_empty());
    assert!(
        e.found("spooler").await.is_empty(),
        "a dropped space's articles leave"
    );
    let err =
        e.cb.set_connection_kb_spaces(e.id, vec!["KB; DROP".into()])
            .await
            .unwrap_err();
    assert!(
        err.message.contains("not a Confluence space key"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_malformed_page_answer_is_a_clear_error_the_cursor_stays_and_nothing_is_half_written() {
    let e = env(&["KB"]).await;
    let [restart, _, _] = seed_space(&e.fake);
    // The second list page answers malformed JSON, every time it is retried.
    e.fake.faults().add(
        FaultRule::new("GET", PAGES, Fault::MalformedJson)
            .skip(1)
            .times(5),
    );
    let run = e.sync().await;
    assert_eq!(run.tickets_created, 1, "tickets still sync");
    assert_eq!(run.stopped, None);
    assert!(
        run.errors.iter().any(|m| m.starts_with(
            "knowledge base: malformed answer from the upstream: /wiki/api/v2/spaces/"
        )),
        "a clear error naming the request: {:?}",
        run.errors
    );
    assert_eq!(
        run.articles, 250,
        "the first page was indexed with its cursor"
    );
    assert!(
        e.status()
            .await
            .kb_status
            .unwrap()
            .starts_with("not updated: malformed answer"),
    );
    // The three newest pages were on the first page; none of the second page's was indexed.
    assert_eq!(
        e.found("kubectl rollout").await,
        vec![e.doc_id("KB", restart)]
    );
    let oldest = e.doc_id("KB", page_id(&e.fake, "Filler 0"));
    assert!(
        e.cb.kb_get_document(oldest.clone()).await.is_err(),
        "nothing of the failed page"
    );

    // The next sync resumes at the second page (the cursor did not move past it) and completes.
    e.fake.requests().clear();
    let run = e.sync().await;
    clean(&run);
    assert_eq!(run.articles, 10);
    let cursors = e.page_cursors();
    assert!(
        cursors[0].is_some(),
        "resumed with the stored cursor: {cursors:?}"
    );
    assert_eq!(
        e.cb.kb_get_document(oldest).await.unwrap().title,
        "Filler 0"
    );
}

#[tokio::test]
async fn hostile_html_in_a_page_body_renders_inert() {
    let e = env(&["KB"]).await;
    e.fake.wiki_space("KB", "IT knowledge base");
    let page = e.fake.wiki_page(
        "KB",
        "Hostile page",
        concat!(
            "<p>Reset the badge reader.</p><script>alert(1)</script>",
            "<img src=\"x\" onerror=\"alert(2)\"><a href=\"javascript:alert(3)\">click</a>",
            "<svg onload=\"alert(4)\"><circle/></svg><iframe src=\"https://evil.example\"></iframe>",
            "<ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[</code></pre><script>alert(5)</script>]]></ac:plain-text-body></ac:structured-macro>",
        ),
    );
    clean(&e.sync().await);
    let r = e.search("badge reader").await;
    assert_eq!(r.hits[0].doc_id, e.doc_id("KB", page));
    let doc = e.cb.kb_get_document(e.doc_id("KB", page)).await.unwrap();
    assert!(
        !r.hits[0].snippet.html.contains("<script"),
        "{:?}",
        r.hits[0].snippet
    );
    for bad in [
        "<script",
        "onerror",
        "href=\"javascript:",
        "<svg",
        "onload",
        "<iframe",
    ] {
        assert!(
            !doc.html.to_lowercase().contains(bad),
            "{bad} in {}",
            doc.html
        );
    }
    assert!(
        doc.html
            .contains("&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(5)"),
        "the CDATA shows as text: {}",
        doc.html
    );
    assert!(doc.html.contains("Reset the badge reader."));
}

#[tokio::test]
async fn an_expired_token_stops_the_sync_with_sign_in_again_and_a_429_waits() {
    let e = env(&["KB"]).await;
    e.fake.wiki_space("KB", "IT knowledge base");
    e.fake
        .wiki_page("KB", "Printer queue stuck", "<p>Clear the spooler.</p>");

    // 429 with Retry-After on the page list: waited for, then pulled.
    e.fake.faults().once(
        "GET",
        PAGES,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let run = e.sync().await;
    clean(&run);
    assert_eq!(run.articles, 1);
    let statuses: Vec<Option<u16>> = e
        .fake
        .requests()
        .matching("GET", PAGES)
        .iter()
        .filter(|r| r.param("body-format") == Some("storage"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [Some(429), Some(200)]);

    // The token expires (401 from Confluence): the sync stops and says to sign in again; the
    // knowledge-base cursor does not move.
    e.fake.advance(3_600_000);
    e.fake.wiki_edit(
        page_id(&e.fake, "Printer queue stuck"),
        "Printer queue stuck (v2)",
        "<p>Defragment the spooler disk.</p>",
    );
    e.fake
        .faults()
        .add(FaultRule::new("*", "/wiki/**", Fault::Unauthorized).always());
    let run = e.sync().await;
    assert_eq!(run.stopped_kind.as_deref(), Some("auth_expired"), "{run:?}");
    assert!(run.stopped.unwrap().contains("sign in again"));
    assert!(e.found("defragment").await.is_empty());
    e.fake.faults().clear();
    let run = e.sync().await;
    clean(&run);
    assert_eq!(e.found("defragment").await.len(), 1);
}
