//! Keeping tokens warm: the `--scope` tokens are fetched at start and kept whether asked for or
//! not, and every token asked for within `--keep-warm` is refreshed before it is due — so that
//! after the first request no client waits on Entra.

use std::sync::Arc;
use std::time::Duration;

use crate::apps::App;
use crate::shared::Broker;
use crate::unix_now;

/// Runs for as long as the broker does.
pub(crate) async fn keep_warm(broker: Arc<Broker>, keep_warm: Duration) {
    let keep_warm = i64::try_from(keep_warm.as_secs()).unwrap_or(i64::MAX / 2);
    loop {
        let now = unix_now();
        let used_since = now.saturating_sub(keep_warm);
        for (index, app) in broker.apps.all().iter().enumerate() {
            for scope in &broker.scopes {
                warm_scope(app, scope);
            }
            let started = app.credential.refresh_due(used_since);
            if started > 0 {
                log::debug!(
                    "certless serve: refreshing {started} token(s) of app {} before they are due",
                    app.client_id
                );
                broker.metrics.background_refreshes(index, started);
            }
        }
        tokio::time::sleep(next_wake(&broker, now, used_since)).await;
    }
}

/// Fetches `scope`'s token for `app` on a task of its own unless the cache has it. A hit counts
/// as a use, and starts the refresh when one is due.
fn warm_scope(app: &App, scope: &str) {
    if matches!(app.credential.cached_token(&[scope]), Ok(Some(_))) {
        return;
    }
    let credential = app.credential.clone();
    let scope = scope.to_string();
    let client_id = app.client_id.clone();
    tokio::spawn(async move {
        match credential.get_token(&[&scope]).await {
            Ok(_) => log::info!("certless serve: token for {scope} (app {client_id}) is warm"),
            Err(e) => {
                log::warn!("certless serve: keeping {scope} (app {client_id}) warm failed: {e}")
            }
        }
    });
}

/// Until the next refresh that comes due, and at most 5 s: a token fetched meanwhile may be due
/// sooner (short-lived ones), and a failed refresh is retried on its backoff.
fn next_wake(broker: &Broker, now: i64, used_since: i64) -> Duration {
    let next_due = broker
        .apps
        .all()
        .iter()
        .flat_map(|a| a.credential.cache_entries())
        .filter(|e| e.last_used >= used_since)
        .filter_map(|e| e.refresh_at)
        .filter(|at| *at > now)
        .min()
        .map_or(5, |at| at - now);
    Duration::from_secs(next_due.clamp(1, 5) as u64)
}
