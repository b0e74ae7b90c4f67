//! The crash sites of the errors data set: each template is one bug in a
//! Python (Django) shop or a Node (Express) API, with its exception chain
//! and its stack, so every event of a template groups into the same issue
//! and no two templates do.
//!
//! A template is a pure function of the seed and its index. Its in-app
//! frames name functions and modules from a shop's vocabulary; the library
//! frames are the framework's. Lines, source context and local variables
//! are fixed per template (the same code crashes the same way); what
//! varies per event (values, users, tags) is in `generate.rs`.

use std::collections::HashSet;

use crate::rng::Rng;

/// Salt of the template stream, apart from the event stream.
const TEMPLATE_SALT: u64 = 0x7E3A_11C0_DE00;
/// Tries to find a stack that groups apart from every earlier one.
const MAX_TRIES: u64 = 64;
/// Lines of source context before and after the line of a frame.
const CONTEXT_LINES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Python,
    Node,
}

/// One frame of a template's stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpec {
    pub filename: String,
    pub abs_path: String,
    pub module: String,
    pub function: String,
    pub lineno: u64,
    pub colno: Option<u64>,
    pub in_app: bool,
    pub pre_context: Vec<String>,
    pub context_line: String,
    pub post_context: Vec<String>,
    /// Local variable names, valued per event (Python only).
    pub vars: Vec<&'static str>,
}

/// One exception of a chain, the cause first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionSpec {
    pub kind: &'static str,
    pub module: Option<&'static str>,
    /// The message, `{}` replaced by a per-event value.
    pub value: &'static str,
    pub frames: Vec<FrameSpec>,
}

/// One bug: what an event of it raises, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub platform: Platform,
    pub chain: Vec<ExceptionSpec>,
    /// The route it happens in.
    pub transaction: String,
    pub method: &'static str,
    pub mechanism: &'static str,
    pub handled: bool,
}

impl Template {
    /// What partout's grouping hashes, by its rule for exceptions: each
    /// type, and per in-app frame (all frames when none is in-app) the
    /// module and function.
    pub fn signature(&self) -> String {
        let mut out = String::new();
        for exception in &self.chain {
            out.push_str(exception.kind);
            out.push('|');
            let any_in_app = exception.frames.iter().any(|f| f.in_app);
            for frame in exception.frames.iter().filter(|f| f.in_app || !any_in_app) {
                out.push_str(&frame.module);
                out.push(':');
                out.push_str(&frame.function);
                out.push(';');
            }
        }
        out
    }
}

const PY_PACKAGES: &[&str] = &[
    "shop.orders",
    "shop.payments",
    "shop.catalog",
    "shop.accounts",
    "shop.shipping",
    "shop.search",
    "shop.inventory",
    "shop.notifications",
];
const PY_SUBMODULES: &[&str] = &[
    "views",
    "services",
    "models",
    "tasks",
    "serializers",
    "utils",
];
const JS_DIRS: &[&str] = &[
    "routes",
    "services",
    "models",
    "lib",
    "middleware",
    "jobs",
    "clients",
];
const JS_FILES: &[&str] = &[
    "orders",
    "cart",
    "payments",
    "users",
    "search",
    "inventory",
    "shipping",
    "pricing",
];
const VERBS: &[&str] = &[
    "load",
    "save",
    "apply",
    "compute",
    "validate",
    "fetch",
    "render",
    "build",
    "charge",
    "refund",
    "reserve",
    "release",
    "notify",
    "sync",
    "parse",
    "resolve",
    "merge",
    "lookup",
    "update",
    "create",
    "delete",
    "schedule",
    "dispatch",
    "normalize",
    "serialize",
    "check",
];
const NOUNS: &[&str] = &[
    "order",
    "cart",
    "invoice",
    "payment",
    "discount",
    "coupon",
    "customer",
    "address",
    "shipment",
    "stock",
    "price",
    "tax",
    "session",
    "token",
    "profile",
    "review",
    "catalog",
    "variant",
    "warehouse",
    "refund",
    "receipt",
    "webhook",
    "subscription",
    "basket",
];
const PY_ERRORS: &[(&str, Option<&str>, &str)] = &[
    ("KeyError", None, "'{}'"),
    (
        "ValueError",
        None,
        "invalid literal for int() with base 10: '{}'",
    ),
    (
        "TypeError",
        None,
        "unsupported operand type(s) for +: 'int' and 'NoneType' ({})",
    ),
    (
        "AttributeError",
        None,
        "'NoneType' object has no attribute '{}'",
    ),
    ("IndexError", None, "list index out of range ({})"),
    ("ZeroDivisionError", None, "division by zero ({})"),
    (
        "DoesNotExist",
        Some("shop.models"),
        "Order matching query does not exist: {}",
    ),
    (
        "IntegrityError",
        Some("django.db.utils"),
        "duplicate key value violates unique constraint \"{}\"",
    ),
    (
        "OperationalError",
        Some("django.db.utils"),
        "could not connect to server: {}",
    ),
    (
        "ConnectionError",
        Some("requests.exceptions"),
        "HTTPSConnectionPool(host='payments.example.net', port=443): {}",
    ),
    (
        "Timeout",
        Some("redis.exceptions"),
        "Timeout reading from socket after {} ms",
    ),
    (
        "PaymentDeclined",
        Some("shop.payments.errors"),
        "card declined for order {}",
    ),
];
const JS_ERRORS: &[(&str, &str)] = &[
    (
        "TypeError",
        "Cannot read properties of undefined (reading '{}')",
    ),
    ("TypeError", "{} is not a function"),
    ("ReferenceError", "{} is not defined"),
    ("RangeError", "Invalid array length {}"),
    ("SyntaxError", "Unexpected token in JSON at position {}"),
    ("Error", "ECONNREFUSED 10.0.3.7:{}"),
    ("Error", "Request failed with status code {}"),
    ("ValidationError", "\"{}\" is required"),
];
/// Library frames under the app: (file, module, function), caller first.
const DJANGO_FRAMES: &[(&str, &str, &str)] = &[
    (
        "django/core/handlers/exception.py",
        "django.core.handlers.exception",
        "inner",
    ),
    (
        "django/core/handlers/base.py",
        "django.core.handlers.base",
        "_get_response",
    ),
    (
        "django/utils/deprecation.py",
        "django.utils.deprecation",
        "__call__",
    ),
    (
        "django/contrib/sessions/middleware.py",
        "django.contrib.sessions.middleware",
        "process_request",
    ),
    (
        "django/views/decorators/csrf.py",
        "django.views.decorators.csrf",
        "wrapper_view",
    ),
    (
        "django/views/generic/base.py",
        "django.views.generic.base",
        "view",
    ),
    (
        "django/views/generic/base.py",
        "django.views.generic.base",
        "dispatch",
    ),
    (
        "rest_framework/views.py",
        "rest_framework.views",
        "dispatch",
    ),
    (
        "rest_framework/views.py",
        "rest_framework.views",
        "handle_exception",
    ),
    (
        "rest_framework/mixins.py",
        "rest_framework.mixins",
        "create",
    ),
    ("django/db/transaction.py", "django.db.transaction", "inner"),
    ("django/db/models/query.py", "django.db.models.query", "get"),
    (
        "django/db/models/manager.py",
        "django.db.models.manager",
        "manager_method",
    ),
    (
        "django/db/backends/utils.py",
        "django.db.backends.utils",
        "execute",
    ),
    (
        "django/db/backends/utils.py",
        "django.db.backends.utils",
        "_execute_with_wrappers",
    ),
    (
        "sentry_sdk/integrations/django/views.py",
        "sentry_sdk.integrations.django.views",
        "sentry_wrapped_callback",
    ),
    (
        "celery/app/trace.py",
        "celery.app.trace",
        "__protected_call__",
    ),
    ("requests/sessions.py", "requests.sessions", "request"),
    ("requests/adapters.py", "requests.adapters", "send"),
    ("redis/client.py", "redis.client", "execute_command"),
];
const EXPRESS_FRAMES: &[(&str, &str, &str)] = &[
    (
        "node:internal/process/task_queues",
        "task_queues",
        "process.processTicksAndRejections",
    ),
    ("node:internal/timers", "timers", "listOnTimeout"),
    (
        "/srv/api/node_modules/express/lib/router/layer.js",
        "express.lib.router:layer",
        "Layer.handle [as handle_request]",
    ),
    (
        "/srv/api/node_modules/express/lib/router/index.js",
        "express.lib.router:index",
        "next",
    ),
    (
        "/srv/api/node_modules/express/lib/router/index.js",
        "express.lib.router:index",
        "Function.process_params",
    ),
    (
        "/srv/api/node_modules/express/lib/router/route.js",
        "express.lib.router:route",
        "Route.dispatch",
    ),
    (
        "/srv/api/node_modules/body-parser/lib/read.js",
        "body-parser.lib:read",
        "invokeCallback",
    ),
    (
        "/srv/api/node_modules/pg/lib/client.js",
        "pg.lib:client",
        "Client._handleReadyForQuery",
    ),
    (
        "/srv/api/node_modules/pg-pool/index.js",
        "pg-pool:index",
        "BoundPool.connect",
    ),
    (
        "/srv/api/node_modules/axios/lib/core/Axios.js",
        "axios.lib.core:Axios",
        "Axios.request",
    ),
    (
        "/srv/api/node_modules/ioredis/built/Redis.js",
        "ioredis.built:Redis",
        "Redis.sendCommand",
    ),
    (
        "/srv/api/node_modules/@sentry/node/build/cjs/index.js",
        "@sentry.node.build.cjs:index",
        "sentryWrapped",
    ),
];
const ROUTES: &[&str] = &[
    "/checkout",
    "/cart",
    "/orders/{id}",
    "/orders",
    "/payments/{id}/capture",
    "/account",
    "/search",
    "/products/{id}",
    "/shipping/quote",
    "/invoices/{id}.pdf",
    "/login",
    "/webhooks/stripe",
];

/// `count` templates for `seed`: about two thirds Python, one third Node;
/// no two group together.
pub fn templates(seed: u64, count: usize) -> Vec<Template> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(count);
    for index in 0..count as u64 {
        let mut attempt = 0;
        let template = loop {
            let rng = Rng::for_item(seed ^ TEMPLATE_SALT, index * MAX_TRIES + attempt);
            let template = template(rng);
            attempt += 1;
            if seen.insert(template.signature()) || attempt >= MAX_TRIES {
                break template;
            }
        };
        out.push(template);
    }
    out
}

fn template(mut rng: Rng) -> Template {
    let platform = if rng.below(3) < 2 {
        Platform::Python
    } else {
        Platform::Node
    };
    // A third of the Python bugs raise while handling another exception.
    let links = if platform == Platform::Python && rng.below(3) == 0 {
        2
    } else {
        1
    };
    let route = rng.pick(ROUTES);
    let method = rng.pick(&["GET", "POST", "POST", "PUT", "DELETE"]);
    let chain = (0..links)
        .map(|link| {
            // Stacks of 20 to 40 frames; a chained cause is shorter.
            let total = if link + 1 == links {
                20 + rng.below(21) as usize
            } else {
                8 + rng.below(8) as usize
            };
            exception(&mut rng, platform, total)
        })
        .collect();
    let (mechanism, handled) = match platform {
        Platform::Python => (
            rng.pick(&["django", "celery", "logging"]),
            rng.below(4) == 0,
        ),
        Platform::Node => (
            rng.pick(&["auto.middleware.express", "onunhandledrejection"]),
            false,
        ),
    };
    Template {
        platform,
        chain,
        transaction: format!("{method} {route}"),
        method,
        mechanism,
        handled,
    }
}

fn exception(rng: &mut Rng, platform: Platform, total: usize) -> ExceptionSpec {
    let (kind, module, value) = match platform {
        Platform::Python => rng.pick(PY_ERRORS),
        Platform::Node => {
            let (kind, value) = rng.pick(JS_ERRORS);
            (kind, None, value)
        }
    };
    // 25% to 60% of the frames are the app's, in runs between the
    // framework's: the request comes in through the framework, the app
    // calls libraries, the crash is in the app or right under it.
    let in_app_count = (total as f64 * (0.25 + rng.unit() * 0.35)).round() as usize;
    let mut frames = Vec::with_capacity(total);
    let library = match platform {
        Platform::Python => DJANGO_FRAMES,
        Platform::Node => EXPRESS_FRAMES,
    };
    let mut app_left = in_app_count.max(1);
    for position in 0..total {
        let remaining = total - position;
        // The first few frames are always the framework's entry.
        let in_app = position >= 3
            && (app_left >= remaining || rng.below(remaining as u64) < app_left as u64);
        let frame = if in_app {
            app_left -= 1;
            app_frame(rng, platform)
        } else {
            let entry = rng.pick(library);
            library_frame(rng, platform, entry)
        };
        frames.push(frame);
    }
    ExceptionSpec {
        kind,
        module,
        value,
        frames,
    }
}

fn app_frame(rng: &mut Rng, platform: Platform) -> FrameSpec {
    let verb = rng.pick(VERBS);
    let noun = rng.pick(NOUNS);
    let lineno = 10 + rng.below(400);
    match platform {
        Platform::Python => {
            let package = rng.pick(PY_PACKAGES);
            let submodule = rng.pick(PY_SUBMODULES);
            let module = format!("{package}.{submodule}");
            let filename = format!("{}.py", module.replace('.', "/"));
            let function = format!("{verb}_{noun}");
            let (pre, line, post) = python_context(rng, &function, noun);
            FrameSpec {
                abs_path: format!("/srv/shop/{filename}"),
                filename,
                module,
                function,
                lineno,
                colno: None,
                in_app: true,
                pre_context: pre,
                context_line: line,
                post_context: post,
                vars: vec!["self", noun, "request", "kwargs"],
            }
        }
        Platform::Node => {
            let dir = rng.pick(JS_DIRS);
            let file = rng.pick(JS_FILES);
            let class = capitalized(file);
            let function = format!("{class}Service.{verb}{}", capitalized(noun));
            let (pre, line, post) = js_context(rng, verb, noun);
            FrameSpec {
                filename: format!("app:///dist/{dir}/{file}.js"),
                abs_path: format!("/srv/api/dist/{dir}/{file}.js"),
                module: format!("{dir}:{file}"),
                function,
                lineno,
                colno: Some(5 + rng.below(60)),
                in_app: true,
                pre_context: pre,
                context_line: line,
                post_context: post,
                vars: Vec::new(),
            }
        }
    }
}

fn library_frame(
    rng: &mut Rng,
    platform: Platform,
    (file, module, function): (&str, &str, &str),
) -> FrameSpec {
    let lineno = 20 + rng.below(900);
    let (abs_path, filename, colno) = match platform {
        Platform::Python => (
            format!("/usr/local/lib/python3.11/site-packages/{file}"),
            file.to_owned(),
            None,
        ),
        Platform::Node => (file.to_owned(), file.to_owned(), Some(3 + rng.below(40))),
    };
    let (pre, line, post) = match platform {
        Platform::Python => python_context(rng, function, "response"),
        Platform::Node => js_context(rng, "handle", "request"),
    };
    FrameSpec {
        filename,
        abs_path,
        module: module.to_owned(),
        function: function.to_owned(),
        lineno,
        colno,
        in_app: false,
        pre_context: pre,
        context_line: line,
        post_context: post,
        vars: match platform {
            Platform::Python => vec!["request", "response", "args"],
            Platform::Node => Vec::new(),
        },
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

type Context = (Vec<String>, String, Vec<String>);

fn python_context(rng: &mut Rng, function: &str, noun: &str) -> Context {
    let lines = [
        format!("    def {function}(self, {noun}, *args, **kwargs):"),
        format!("        \"\"\"Apply the {noun} rules of the current request.\"\"\""),
        format!("        {noun} = self.get_{noun}(kwargs.get(\"id\"))"),
        format!("        if {noun} is None:"),
        format!("            raise Http404(\"no such {noun}\")"),
        "        total = sum(line.amount for line in self.lines)".to_owned(),
        format!("        logger.info(\"processing %s\", {noun}.pk)"),
        format!("        result = self.backend.{function}({noun}, total=total)"),
        "        self.cache.set(self.cache_key, result, timeout=300)".to_owned(),
        "        return result".to_owned(),
        String::new(),
        format!("    def get_{noun}(self, pk):"),
        format!(
            "        return {}.objects.select_related(\"customer\").get(pk=pk)",
            capitalized(noun)
        ),
    ];
    context(rng, &lines)
}

fn js_context(rng: &mut Rng, verb: &str, noun: &str) -> Context {
    let lines = [
        format!("  async {verb}{}(req, res) {{", capitalized(noun)),
        format!("    const {noun}Id = req.params.id ?? req.body.{noun}Id;"),
        format!(
            "    const {noun} = await this.repo.find{}({noun}Id);",
            capitalized(noun)
        ),
        format!("    if (!{noun}) throw new NotFoundError(`${{{noun}Id}}`);"),
        format!("    const total = {noun}.lines.reduce((sum, l) => sum + l.amount, 0);"),
        format!("    logger.info({{ {noun}Id, total }}, '{verb} {noun}');"),
        format!("    const result = await this.client.post('/{noun}s', {{ total }});"),
        "    await this.cache.set(key, result.data, { ttl: 300 });".to_owned(),
        "    return res.json(result.data);".to_owned(),
        "  }".to_owned(),
        String::new(),
        format!(
            "  static from(config) {{ return new {}Service(config); }}",
            capitalized(noun)
        ),
    ];
    context(rng, &lines)
}

/// [`CONTEXT_LINES`] lines before and after one line of `lines`.
fn context(rng: &mut Rng, lines: &[String]) -> Context {
    let at = CONTEXT_LINES.min(lines.len() - 1)
        + rng.below((lines.len().saturating_sub(2 * CONTEXT_LINES)).max(1) as u64) as usize;
    let at = at.min(lines.len() - 1);
    let pre = lines[at.saturating_sub(CONTEXT_LINES)..at].to_vec();
    let post = lines[at + 1..(at + 1 + CONTEXT_LINES).min(lines.len())].to_vec();
    (pre, lines[at].clone(), post)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_have_20_to_40_frames_and_group_apart() {
        let all = templates(7, 300);
        let signatures: HashSet<String> = all.iter().map(Template::signature).collect();
        assert_eq!(signatures.len(), 300);
        for template in &all {
            let main = template.chain.last().unwrap();
            assert!((20..=40).contains(&main.frames.len()));
            assert!(main.frames.iter().any(|f| f.in_app));
            assert!(main.frames.iter().any(|f| !f.in_app));
        }
        let python = all
            .iter()
            .filter(|t| t.platform == Platform::Python)
            .count();
        assert!((150..250).contains(&python), "{python} Python templates");
    }
}
