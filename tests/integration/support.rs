//! What the sync tests share: the HTTP client, the agent acting in the app, and a sync engine
//! run against a store with a clock and a sleeper the test controls.

use casebook_api::Casebook;
use casebook_api::kb::dto::{KbFilters, KbSearchInput, KbSearchResult};
use casebook_core::secrets::SecretStore;
use casebook_core::store::{Actor, Origin};
use casebook_core::{Clock, FixedClock, Store};
use casebook_sync::auth::tokens::TokenManager;
use casebook_sync::backoff::RecordingSleeper;
use casebook_sync::connector::Connector;
use casebook_sync::engine::{StoreAccess, SyncEngine, SyncOptions};
use std::sync::Arc;
use std::time::Duration;

/// A knowledge-base search with no filters and the default limit (10), as the palette asks.
pub async fn kb_search(cb: &Casebook, query: &str) -> KbSearchResult {
    cb.kb_search(KbSearchInput {
        query: query.into(),
        filters: KbFilters::default(),
        limit: Some(10),
    })
    .await
    .unwrap()
}

/// The client the app builds (rustls, system roots), with a 10 s timeout.
pub fn http() -> reqwest::Client {
    casebook_sync::http::client(&casebook_sync::http::HttpConfig {
        extra_roots_pem: vec![],
        timeout: Some(Duration::from_secs(10)),
    })
    .unwrap()
}

/// The token manager a connector signs in with: its secrets, the test's clock, the HTTP client.
pub fn token_manager(
    secrets: Arc<dyn SecretStore>,
    clock: &Arc<FixedClock>,
    http: &reqwest::Client,
) -> Arc<TokenManager> {
    Arc::new(TokenManager::new(
        secrets,
        Arc::clone(clock) as Arc<dyn Clock>,
        http.clone(),
    ))
}

/// The agent editing in the app, now by `clock`.
pub fn agent(clock: &FixedClock) -> Actor<'static> {
    Actor {
        name: "casebook.agent",
        origin: Origin::App,
        now: clock.now(),
    }
}

/// Options for a sync that only runs the deletion sweep, now, listing `page_size` ids a page.
pub fn sweep_only(page_size: usize) -> SyncOptions {
    SyncOptions {
        pull: false,
        push: false,
        articles: false,
        sweep_interval: Duration::ZERO,
        sweep_page_size: page_size,
        ..Default::default()
    }
}

/// A sync engine for connection `conn_id` over `store`; waits go to `sleeper` (which moves
/// `clock`), never to the wall clock.
pub fn engine(
    store: &Arc<Store>,
    connector: Arc<dyn Connector>,
    conn_id: i64,
    clock: &Arc<FixedClock>,
    sleeper: RecordingSleeper,
    options: SyncOptions,
) -> SyncEngine {
    SyncEngine::new(
        Arc::clone(store) as Arc<dyn StoreAccess>,
        connector,
        conn_id,
        Arc::clone(clock) as Arc<dyn Clock>,
        Arc::new(sleeper),
        options,
    )
}
