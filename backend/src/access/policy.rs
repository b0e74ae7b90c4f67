//! Who may call which HTTP route: one table, decided from the method and
//! path alone, before any handler runs.
//!
//! Default deny: a path this table does not name needs a signed-in
//! caller with read access, and any method that changes something needs
//! write access. The exceptions are listed here and nowhere else:
//! health checks, the web app's own files, signing in, Sentry SDKs
//! (they authenticate with the DSN key, checked by their handler), and
//! the ingestion APIs an operator opened in the configuration.
//! Handlers may ask for more (admin) but never for less.

use std::collections::BTreeSet;

use axum::http::Method;

use crate::store::tokens::Scope;

/// An ingestion API that the configuration can open to callers without
/// a token (`auth.open_ingest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IngestApi {
    /// `POST /api/v1/logs`.
    Logs,
    /// `POST /api/v1/deploys`.
    Deploys,
    /// Elasticsearch `_bulk` and the calls its clients make first.
    Elasticsearch,
    /// `POST /loki/api/v1/push`.
    Loki,
}

impl IngestApi {
    pub const ALL: [IngestApi; 4] = [
        IngestApi::Logs,
        IngestApi::Deploys,
        IngestApi::Elasticsearch,
        IngestApi::Loki,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IngestApi::Logs => "logs",
            IngestApi::Deploys => "deploys",
            IngestApi::Elasticsearch => "elasticsearch",
            IngestApi::Loki => "loki",
        }
    }

    pub fn parse(text: &str) -> Option<IngestApi> {
        IngestApi::ALL
            .into_iter()
            .find(|api| api.as_str() == text.trim())
    }
}

/// What the configuration opens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenRoutes {
    pub ingest: BTreeSet<IngestApi>,
    /// `/metrics` without a token, for Prometheus scrapers.
    pub metrics: bool,
}

/// The rule for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone: no credentials looked at.
    Public,
    /// A caller holding `scope`. `open_to` names the ingestion API the
    /// configuration may have opened to anonymous senders.
    Needs {
        scope: Scope,
        open_to: Option<IngestApi>,
    },
}

impl Rule {
    fn needs(scope: Scope) -> Rule {
        Rule::Needs {
            scope,
            open_to: None,
        }
    }

    fn ingest(api: IngestApi) -> Rule {
        Rule::Needs {
            scope: Scope::Ingest,
            open_to: Some(api),
        }
    }
}

/// The rule for `method` on `path` (the path without its query).
pub fn rule(method: &Method, path: &str, open: &OpenRoutes) -> Rule {
    let reads = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let default = Rule::needs(if reads { Scope::Read } else { Scope::Write });
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["healthz"] | ["readyz"] => Rule::Public,
        ["metrics"] if open.metrics => Rule::Public,
        // The web app: its page, its hashed files and its client routes.
        [""] | ["ui", ..] | ["assets", ..] if reads => Rule::Public,
        ["api", "v1", "auth", "login"] if *method == Method::POST => Rule::Public,
        // Sentry SDKs; the handler checks the DSN key.
        ["api", project, "envelope" | "store", ..] if *project != "v1" => Rule::Public,
        // One's own session, password and tokens: every role manages
        // them; the handlers keep each to what the caller holds.
        ["api", "v1", "auth" | "tokens", ..] => Rule::needs(Scope::Read),
        ["api", "v1", "logs"] if *method == Method::POST => Rule::ingest(IngestApi::Logs),
        ["api", "v1", "deploys"] if *method == Method::POST => Rule::ingest(IngestApi::Deploys),
        ["loki", ..] | ["ready"] => Rule::ingest(IngestApi::Loki),
        // Elasticsearch: `/_bulk`, `/_license`, `/_index_template/x`...,
        // `/{index}/_bulk`, and index creation or checks on `/{index}`.
        [first, ..] if first.starts_with('_') => Rule::ingest(IngestApi::Elasticsearch),
        [_, second, ..] if second.starts_with('_') => Rule::ingest(IngestApi::Elasticsearch),
        [name] if !name.is_empty() && *method != Method::GET && !is_graphite(name) => {
            Rule::ingest(IngestApi::Elasticsearch)
        }
        // Graphite's API is read-only whatever the method: Grafana POSTs
        // its render requests.
        ["render", ..] | ["metrics", "find" | "expand", ..] | ["tags", ..] => {
            Rule::needs(Scope::Read)
        }
        _ => default,
    }
}

fn is_graphite(name: &str) -> bool {
    matches!(name, "render" | "metrics" | "tags")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(method: Method, path: &str) -> Rule {
        rule(&method, path, &OpenRoutes::default())
    }

    fn needs(scope: Scope) -> Rule {
        Rule::needs(scope)
    }

    #[test]
    fn only_health_the_web_app_sign_in_and_sentry_are_public() {
        for (method, path) in [
            (Method::GET, "/healthz"),
            (Method::GET, "/readyz"),
            (Method::GET, "/"),
            (Method::GET, "/ui/logs"),
            (Method::GET, "/assets/app-0123.wasm"),
            (Method::POST, "/api/v1/auth/login"),
            (Method::POST, "/api/42/envelope/"),
            (Method::OPTIONS, "/api/42/envelope/"),
            (Method::POST, "/api/42/store/"),
            // The handler answers a bad project id in Sentry's shape.
            (Method::POST, "/api/abc/envelope/"),
        ] {
            assert_eq!(
                closed(method.clone(), path),
                Rule::Public,
                "{method} {path}"
            );
        }
        for (method, path) in [
            (Method::GET, "/metrics"),
            (Method::POST, "/"),
            (Method::POST, "/ui/logs"),
            (Method::GET, "/api/v1/auth/login"),
            (Method::POST, "/api/v1/envelope/"),
            (Method::GET, "/api/v1/issues"),
            (Method::GET, "/somewhere"),
        ] {
            assert_ne!(
                closed(method.clone(), path),
                Rule::Public,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn reads_need_read_and_changes_need_write() {
        assert_eq!(closed(Method::GET, "/api/v1/issues"), needs(Scope::Read));
        assert_eq!(
            closed(Method::PATCH, "/api/v1/issues/3"),
            needs(Scope::Write)
        );
        assert_eq!(
            closed(Method::DELETE, "/api/v1/users/3"),
            needs(Scope::Write)
        );
        // Signing out, one's password and one's tokens: any signed-in role.
        assert_eq!(
            closed(Method::DELETE, "/api/v1/tokens/3"),
            needs(Scope::Read)
        );
        assert_eq!(
            closed(Method::POST, "/api/v1/auth/logout"),
            needs(Scope::Read)
        );
        assert_eq!(closed(Method::GET, "/api/v1/logs"), needs(Scope::Read));
        assert_eq!(closed(Method::POST, "/render"), needs(Scope::Read));
        assert_eq!(closed(Method::POST, "/metrics/find/"), needs(Scope::Read));
        assert_eq!(
            closed(Method::GET, "/tags/autoComplete/tags"),
            needs(Scope::Read)
        );
    }

    #[test]
    fn ingestion_apis_need_ingest_and_name_themselves() {
        let cases = [
            (Method::POST, "/api/v1/logs", IngestApi::Logs),
            (Method::POST, "/api/v1/deploys", IngestApi::Deploys),
            (Method::POST, "/_bulk", IngestApi::Elasticsearch),
            (Method::PUT, "/logs-app/_bulk", IngestApi::Elasticsearch),
            (Method::GET, "/_license", IngestApi::Elasticsearch),
            (
                Method::PUT,
                "/_index_template/filebeat",
                IngestApi::Elasticsearch,
            ),
            (Method::PUT, "/filebeat-8", IngestApi::Elasticsearch),
            (Method::HEAD, "/filebeat-8", IngestApi::Elasticsearch),
            (Method::POST, "/loki/api/v1/push", IngestApi::Loki),
            (Method::GET, "/ready", IngestApi::Loki),
        ];
        for (method, path, api) in cases {
            assert_eq!(
                closed(method.clone(), path),
                Rule::ingest(api),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn configuration_opens_metrics_only_when_asked() {
        let open = OpenRoutes {
            metrics: true,
            ..OpenRoutes::default()
        };
        assert_eq!(rule(&Method::GET, "/metrics", &open), Rule::Public);
        assert_eq!(
            rule(&Method::GET, "/metrics/find", &open),
            needs(Scope::Read)
        );
    }

    #[test]
    fn ingest_api_names_round_trip() {
        for api in IngestApi::ALL {
            assert_eq!(IngestApi::parse(api.as_str()), Some(api));
        }
        assert_eq!(IngestApi::parse("syslog"), None);
    }
}
