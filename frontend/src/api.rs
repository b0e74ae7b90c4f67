//! The only module that speaks HTTP: one typed function per server endpoint,
//! each returning a `partout-model` body or an [`ApiError`].
//!
//! Requests go to the page's own origin, so the app works behind whatever
//! host and port the server is reached on.

use partout_model::api::{ErrorBody, Status};
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

/// Why an API call failed, worded so the text can be shown to a person.
///
/// `Clone` because a `LocalResource` hands out clones of its value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// No answer came back: the server is down, or the network is.
    #[error("could not reach the server: {0}")]
    Network(String),
    /// The server answered with a status other than 2xx.
    #[error("the server answered {status}: {message}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The `error` of the JSON body, or the status text when the body is
        /// not one of ours (a proxy's error page, for example).
        message: String,
    },
    /// The body was not the JSON this app expects, which usually means the
    /// app and the server come from different versions.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

/// `GET /api/v1/status`: the server's version, listeners and storage.
pub async fn status() -> Result<Status, ApiError> {
    get_json("/api/v1/status").await
}

async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    let window =
        web_sys::window().ok_or_else(|| ApiError::Network("no browser window".to_owned()))?;

    let init = RequestInit::new();
    init.set_method("GET");
    let request = Request::new_with_str_and_init(path, &init).map_err(network_error)?;
    request
        .headers()
        .set("accept", "application/json")
        .map_err(network_error)?;

    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(network_error)?
        .dyn_into()
        .map_err(network_error)?;
    let body = JsFuture::from(response.text().map_err(network_error)?)
        .await
        .map_err(network_error)?
        .as_string()
        .unwrap_or_default();

    if !response.ok() {
        let message = match serde_json::from_str::<ErrorBody>(&body) {
            Ok(error_body) => error_body.error,
            Err(_) if !response.status_text().is_empty() => response.status_text().to_lowercase(),
            // HTTP/2 has no reason phrase, so the text may be empty.
            Err(_) => "no details given".to_owned(),
        };
        return Err(ApiError::Status {
            status: response.status(),
            message,
        });
    }
    serde_json::from_str(&body).map_err(|error| ApiError::Decode(error.to_string()))
}

/// Turns a rejected JS promise into text. Browsers reject `fetch` with a
/// `TypeError` whose message is all they tell a page about network failures.
fn network_error(value: JsValue) -> ApiError {
    let text = if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        String::from(error.message())
    } else if let Some(text) = value.as_string() {
        text
    } else {
        format!("{value:?}")
    };
    ApiError::Network(text.to_lowercase())
}
