//! What the issue list shows before any error arrived: where to send them.
//! The DSN comes from `GET /api/v1/projects`, built by the server with the
//! host name this page was loaded from.

use leptos::prelude::*;
use partout_model::errors::{Project, ProjectKey};

use super::Problem;
use crate::api;

/// The name of the project partout makes on its first start.
const DEFAULT_PROJECT: &str = "default";

/// The default project's DSN and three lines of Python that use it.
#[component]
pub fn GetStarted() -> impl IntoView {
    let projects = LocalResource::new(api::projects);
    let body = move || {
        match projects.get() {
        None => view! { <p class="muted">"Looking up the DSN…"</p> }.into_any(),
        Some(Err(error)) => {
            view! { <Problem title="Could not look up the DSN" message=error.to_string() /> }
                .into_any()
        }
        Some(Ok(projects)) => match default_key(&projects) {
            Some((project, key)) => view! { <Instructions project key /> }.into_any(),
            None => view! {
                <p>"No project has a usable key: add one with " <code>"POST /api/v1/projects"</code> "."</p>
            }
            .into_any(),
        },
    }
    };
    view! {
        <div class="card get-started" id="get-started">
            <h2>"No errors yet"</h2>
            {body}
        </div>
    }
}

/// The project called `default` (else the oldest) and its oldest key
/// that is not revoked.
fn default_key(projects: &[Project]) -> Option<(Project, ProjectKey)> {
    let project = projects
        .iter()
        .find(|project| project.name == DEFAULT_PROJECT)
        .or_else(|| projects.first())?;
    let key = project
        .keys
        .iter()
        .find(|key| key.revoked_at_ms.is_none())?;
    Some((project.clone(), key.clone()))
}

/// The DSN and the example.
#[component]
fn Instructions(project: Project, key: ProjectKey) -> impl IntoView {
    let example = python_example(&key.dsn);
    view! {
        <p>
            "Errors appear here once an application reports them with a Sentry SDK. Point the SDK at project "
            <strong>{project.name}</strong> "'s DSN:"
        </p>
        <pre class="dsn"><code id="default-dsn">{key.dsn}</code></pre>
        <p>"For example in Python, after " <code>"pip install sentry-sdk"</code> ":"</p>
        <pre class="code-example"><code>{example}</code></pre>
        <p class="muted">
            "Any exception the application does not catch is then reported, grouped into an issue, and listed here within a second or two."
        </p>
    }
}

/// Three lines of Python that report to `dsn`.
fn python_example(dsn: &str) -> String {
    format!(
        "import sentry_sdk\n\
         sentry_sdk.init(dsn=\"{dsn}\", release=\"myapp@1.0.0\", environment=\"production\")\n\
         sentry_sdk.capture_message(\"hello from myapp\")  # or let an exception happen"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: i64, revoked: bool) -> ProjectKey {
        ProjectKey {
            id,
            public_key: format!("{id:032x}"),
            label: "default".into(),
            dsn: format!("http://{id:032x}@host:8080/1"),
            created_at_ms: 0,
            revoked_at_ms: revoked.then_some(1),
        }
    }

    fn project(id: i64, name: &str, keys: Vec<ProjectKey>) -> Project {
        Project {
            id,
            name: name.into(),
            created_at_ms: 0,
            keys,
        }
    }

    #[test]
    fn the_default_projects_first_live_key() {
        let projects = [
            project(2, "shop", vec![key(5, false)]),
            project(1, "default", vec![key(1, true), key(2, false)]),
        ];
        let (project, key) = default_key(&projects).unwrap();
        assert_eq!((project.id, key.id), (1, 2));
        // Without a project called default, the first one.
        assert_eq!(default_key(&projects[..1]).unwrap().0.id, 2);
        assert_eq!(default_key(&[project_without_keys()]), None);
    }

    fn project_without_keys() -> Project {
        project(1, "default", vec![key(1, true)])
    }

    #[test]
    fn the_example_is_three_lines() {
        let example = python_example("http://k@h/1");
        assert_eq!(example.lines().count(), 3);
        assert!(example.contains("dsn=\"http://k@h/1\""));
    }
}
