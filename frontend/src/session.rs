//! Who is signed in, for every page. The app asks the server once at
//! start; signing in or out changes it, and so does any API call the
//! server answers with 401 (the session expired or was ended elsewhere).

use leptos::prelude::*;
use leptos::task::spawn_local;
use partout_model::access::SessionInfo;

use crate::api;

/// Where the app stands with the server.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionState {
    /// Asking the server at start.
    Checking,
    SignedOut,
    SignedIn(SessionInfo),
}

/// The shared handle, from [`use_session`].
#[derive(Debug, Clone, Copy)]
pub struct Session(RwSignal<SessionState>);

impl Session {
    /// Makes the handle for the whole app, asks the server who is signed
    /// in, and signs out when any call finds the session gone.
    pub fn provide() -> Session {
        let session = Session(RwSignal::new(SessionState::Checking));
        provide_context(session);
        api::on_signed_out(move || session.signed_out());
        spawn_local(async move {
            match api::session().await {
                Ok(info) => session.signed_in(info),
                Err(_) => session.signed_out(),
            }
        });
        session
    }

    pub fn state(&self) -> SessionState {
        self.0.get()
    }

    pub fn signed_in(&self, info: SessionInfo) {
        api::set_csrf_token(Some(info.csrf_token.clone()));
        self.0.set(SessionState::SignedIn(info));
    }

    pub fn signed_out(&self) {
        api::set_csrf_token(None);
        self.0.set(SessionState::SignedOut);
    }

    /// The signed-in user's role (`admin`, `editor`, `viewer`).
    pub fn role(&self) -> Option<String> {
        self.0.with(|state| match state {
            SessionState::SignedIn(info) => Some(info.role.clone()),
            _ => None,
        })
    }

    /// Whether the user may change data (editors and admins).
    pub fn can_write(&self) -> bool {
        matches!(self.role().as_deref(), Some("admin" | "editor"))
    }

    pub fn is_admin(&self) -> bool {
        self.role().as_deref() == Some("admin")
    }
}

/// The app's session handle. Every page is rendered inside `App`, which
/// provides it.
pub fn use_session() -> Session {
    use_context::<Session>().unwrap_or_else(|| Session(RwSignal::new(SessionState::SignedOut)))
}
