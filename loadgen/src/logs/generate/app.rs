//! The JSON share: structlog-style lines from five services.

use std::io::Write as _;

use super::{weighted, Line, Written, METHODS, STATUSES, USER_AGENTS};
use crate::logs::civil::rfc3339;
use crate::rng::Rng;

impl Line<'_> {
    /// A structlog JSON line from one of the services.
    pub(super) fn app(&mut self) -> Written {
        let (service, key) = weighted(
            self.rng,
            &[
                (("api", "service"), 0.4),
                (("web", "service"), 0.2),
                (("worker", "logger"), 0.2),
                (("billing", "service"), 0.1),
                (("auth", "logger"), 0.1),
            ],
        );
        let pod = format!(
            "{service}-7d9f8b6c4-{:05x}",
            Rng::for_item(0x90D, self.rng.below(6)).below(0xfffff)
        );
        let roll = self.rng.unit();
        let (event, usual_level) = match service {
            "api" | "web" => match roll {
                r if r < 0.80 => ("request finished", "info"),
                r if r < 0.88 => ("cache miss", "debug"),
                r if r < 0.93 => ("slow query", "warning"),
                r if r < 0.97 => ("upstream request failed", "error"),
                _ => ("user logged in", "info"),
            },
            "worker" => match roll {
                r if r < 0.45 => ("job started", "info"),
                r if r < 0.90 => ("job finished", "info"),
                r if r < 0.95 => ("job retried", "warning"),
                _ => ("job failed", "error"),
            },
            "billing" => match roll {
                r if r < 0.40 => ("invoice created", "info"),
                r if r < 0.85 => ("payment captured", "info"),
                r if r < 0.95 => ("payment declined", "warning"),
                _ => ("webhook signature invalid", "error"),
            },
            _ => match roll {
                r if r < 0.60 => ("token issued", "info"),
                r if r < 0.85 => ("login failed", "warning"),
                r if r < 0.95 => ("password reset requested", "info"),
                _ => ("session expired", "info"),
            },
        };
        let mut level = usual_level;
        // The request log's level follows its status, as in most apps.
        let mut request = None;
        if event == "request finished" {
            let status = weighted(self.rng, &STATUSES);
            level = match status {
                500.. => "error",
                400.. => "warning",
                _ => "info",
            };
            request = Some(status);
        }
        if service == "api"
            && level == "error"
            && (self.quarter.0..self.quarter.1).contains(&self.ts)
        {
            self.tally.api_errors_in_quarter += 1;
        }
        write!(
            self.out,
            "{{\"event\":\"{event}\",\"level\":\"{level}\",\"{key}\":\"{service}\",\"timestamp\":\"{}\",\"host\":\"{pod}\"",
            rfc3339(self.ts)
        )?;
        if let Some(status) = request {
            let (id, user, ip) = (self.uuid(), self.user(), self.client_ip());
            let method = weighted(self.rng, &METHODS);
            if method == "GET" {
                self.tally.common += 1;
            }
            let path = self.path();
            let duration = self.duration_ms(25.0);
            let agent = self.rng.pick(&USER_AGENTS);
            return write!(self.out, ",\"request_id\":\"{id}\",\"user\":\"{user}\",\"ip\":\"{ip}\",\"method\":\"{method}\",\"path\":\"{path}\",\"status\":{status},\"duration_ms\":{duration},\"http.user_agent\":\"{agent}\"}}");
        }
        match event {
            "cache miss" => {
                let id = self.uuid();
                let item = self.rng.below(200_000);
                write!(
                    self.out,
                    ",\"request_id\":\"{id}\",\"cache_key\":\"product:{item}\",\"ttl_s\":300}}"
                )
            }
            "slow query" => {
                let (id, duration) = (self.uuid(), self.duration_ms(900.0));
                let query = self.rng.pick(&[
                    "select_orders_by_user",
                    "update_inventory",
                    "search_products",
                ]);
                let rows = self.rng.below(5000);
                write!(self.out, ",\"request_id\":\"{id}\",\"query\":\"{query}\",\"db\":\"orders-primary\",\"duration_ms\":{duration},\"rows\":{rows}}}")
            }
            "upstream request failed" => {
                let (id, user) = (self.uuid(), self.user());
                let error = if self.rng.unit() < 0.5 {
                    "ConnectionResetError: [Errno 104] Connection reset by peer"
                } else {
                    "ReadTimeout: HTTPSConnectionPool(host='payments.internal', port=8443): Read timed out. (read timeout=5)"
                };
                let attempt = 1 + self.rng.below(3);
                write!(self.out, ",\"request_id\":\"{id}\",\"user\":\"{user}\",\"upstream\":\"payments.internal:8443\",\"attempt\":{attempt},\"error\":\"{error}\"}}")
            }
            "user logged in"
            | "login failed"
            | "token issued"
            | "password reset requested"
            | "session expired" => {
                let (user, ip) = (self.user(), self.client_ip());
                let agent = self.rng.pick(&USER_AGENTS);
                let how = self.rng.pick(&["password", "sso", "totp"]);
                write!(self.out, ",\"user\":\"{user}\",\"ip\":\"{ip}\",\"auth_method\":\"{how}\",\"http.user_agent\":\"{agent}\"}}")
            }
            "invoice created"
            | "payment captured"
            | "payment declined"
            | "webhook signature invalid" => {
                let customer = (5000.0 * self.rng.unit().powi(3)) as u64;
                let invoice = self.rng.next() >> 8;
                let cents = 500 + self.rng.below(50_000);
                let currency = self.rng.pick(&["EUR", "USD", "GBP"]);
                write!(self.out, ",\"customer\":\"cus_{customer:05}\",\"invoice_id\":\"in_{invoice:014x}\",\"amount_cents\":{cents},\"currency\":\"{currency}\"")?;
                if event == "payment declined" {
                    let reason =
                        self.rng
                            .pick(&["card_declined", "insufficient_funds", "expired_card"]);
                    write!(self.out, ",\"reason\":\"{reason}\"")?;
                }
                write!(self.out, "}}")
            }
            _ => {
                let id = self.uuid();
                let queue = self.rng.pick(&["default", "emails", "exports", "billing"]);
                let task = self.rng.pick(&[
                    "send_email",
                    "generate_invoice",
                    "export_csv",
                    "sync_inventory",
                    "resize_image",
                ]);
                let attempt = 1 + self.rng.below(3);
                write!(self.out, ",\"job_id\":\"{id}\",\"queue\":\"{queue}\",\"task\":\"{task}\",\"attempt\":{attempt}")?;
                if event != "job started" {
                    let duration = self.duration_ms(1500.0);
                    write!(self.out, ",\"duration_ms\":{duration}")?;
                }
                if event == "job failed" {
                    write!(self.out, ",\"error\":\"TimeoutError: task exceeded 300 s\"")?;
                }
                write!(self.out, "}}")
            }
        }
    }
}
