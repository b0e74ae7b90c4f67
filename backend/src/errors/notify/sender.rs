//! The sender task: works through the outbox until shutdown.
//!
//! Each round reads up to [`BATCH`] due deliveries, POSTs them at once
//! (each bounded by [`REQUEST_TIMEOUT`]), and writes every result in one
//! writer job before reading again, so a delivery is never in flight
//! twice. Between rounds it sleeps until woken (ingest just recorded a
//! notification) or for [`POLL_INTERVAL`], which is also how retries
//! whose time has come are picked up.

use std::sync::Arc;
use std::time::Duration;

use partout_model::errors::WebhookKind;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::message::{generic_body, slack_body};
use super::outbox::{self, Attempt, Due, Next};
use crate::store::{Store, StoreError};
use crate::telemetry::{NotificationLabels, Telemetry};

/// Deliveries sent per round, at once.
const BATCH: usize = 16;
/// How long one webhook may take to answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest sleep between two looks at the outbox.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What the sender needs besides the store.
pub struct SenderConfig {
    /// `https://partout.example.com`: issue links start with it.
    pub public_url: String,
    /// Unix ms now; injected so tests can move time.
    pub clock: fn() -> i64,
}

/// The HTTP client for webhooks: HTTP or HTTPS (verified against the
/// system's CA certificates), bounded time, no redirects (a webhook URL is
/// configured exactly), a user agent naming partout.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("partout/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Runs until `stop` is cancelled; a round in progress finishes first, so
/// what was sent is marked sent before the store closes.
pub async fn run(
    store: Store,
    client: reqwest::Client,
    config: SenderConfig,
    wake: Arc<Notify>,
    telemetry: Arc<Telemetry>,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        let sent = match round(&store, &client, &config, &telemetry).await {
            Ok(sent) => sent,
            Err(StoreError::Closed) => return,
            Err(error) => {
                tracing::error!(%error, "notification outbox failed");
                0
            }
        };
        // A full batch means more may be due at once.
        if sent == BATCH {
            continue;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

/// One look at the outbox; returns how many deliveries were attempted.
pub async fn round(
    store: &Store,
    client: &reqwest::Client,
    config: &SenderConfig,
    telemetry: &Telemetry,
) -> Result<usize, StoreError> {
    let now_ms = (config.clock)();
    let due = store
        .read(move |conn| outbox::due(conn, now_ms, BATCH))
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let attempted = due.len();
    let mut sends = JoinSet::new();
    for delivery in due {
        let client = client.clone();
        let body = match delivery.kind {
            WebhookKind::Generic => generic_body(&delivery.context, &config.public_url),
            WebhookKind::Slack => slack_body(&delivery.context, &config.public_url),
        };
        sends.spawn(async move {
            let attempt = post(&client, &delivery.url, &body).await;
            (delivery, attempt)
        });
    }
    let mut results: Vec<(Due, Attempt)> = Vec::with_capacity(attempted);
    while let Some(joined) = sends.join_next().await {
        match joined {
            Ok(result) => results.push(result),
            // A panicked send leaves its delivery pending: it is retried.
            Err(error) => tracing::error!(%error, "a webhook send failed"),
        }
    }
    let now_ms = (config.clock)();
    let outcomes = store
        .write(move |conn| {
            let mut outcomes = Vec::with_capacity(results.len());
            for (delivery, attempt) in results {
                let next = outbox::record_result(conn, &delivery, &attempt, now_ms)?;
                outcomes.push((delivery, attempt, next));
            }
            Ok(outcomes)
        })
        .await?;
    for (delivery, attempt, next) in outcomes {
        let outcome = match (&attempt, next) {
            (_, Next::Sent) => "sent",
            (_, Next::RetryAt(_)) => "retried",
            (_, Next::GivenUp) => "given_up",
        };
        telemetry
            .error_notifications
            .get_or_create(&NotificationLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
        match (attempt, next) {
            (Attempt::Delivered, _) => tracing::info!(
                issue = delivery.context.issue_id,
                webhook = delivery.webhook_id,
                "notification sent"
            ),
            (Attempt::Failed(error) | Attempt::Refused(error), Next::GivenUp) => tracing::warn!(
                issue = delivery.context.issue_id,
                webhook = delivery.webhook_id,
                %error,
                "notification given up"
            ),
            (Attempt::Failed(error) | Attempt::Refused(error), _) => tracing::debug!(
                issue = delivery.context.issue_id,
                webhook = delivery.webhook_id,
                %error,
                "notification failed, will retry"
            ),
        }
    }
    Ok(attempted)
}

/// POSTs `body` as JSON and classifies the answer.
async fn post(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> Attempt {
    let bytes = match serde_json::to_vec(body) {
        Ok(bytes) => bytes,
        Err(error) => return Attempt::Refused(format!("cannot encode the body: {error}")),
    };
    let answer = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(bytes)
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => Attempt::Delivered,
        Ok(response) => {
            let status = response.status();
            let text = format!("the webhook answered {status}");
            // 408 and 429 say "later"; other 4xx will not change by waiting.
            if status.is_client_error() && !matches!(status.as_u16(), 408 | 429) {
                Attempt::Refused(text)
            } else {
                Attempt::Failed(text)
            }
        }
        Err(error) => Attempt::Failed(error_chain(&error)),
    }
}

/// An error with its sources, on one line: reqwest's own message alone
/// says "error sending request" and nothing about why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
