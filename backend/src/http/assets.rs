//! The web app, embedded at build time from `frontend/dist` (see
//! `backend/build.rs`), served with its content type, cache headers and a
//! precompressed body chosen by `Accept-Encoding`.
//!
//! Hashed files under `/assets/` never change, so they are cached for a
//! year; `index.html` is revalidated every time (ETag). Every other GET that
//! no route claims gets `index.html`, so client routes such as `/ui/logs`
//! survive a reload.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;

/// One embedded file and its precompressed variants.
pub struct EmbeddedAsset {
    /// URL path, e.g. `/assets/partout_web-0123456789abcdef.js`.
    pub path: &'static str,
    pub content_type: &'static str,
    /// Strong validator, quoted as HTTP wants it.
    pub etag: &'static str,
    /// Content-hashed name: cache forever.
    pub immutable: bool,
    pub identity: &'static [u8],
    pub gzip: Option<&'static [u8]>,
    pub brotli: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// Whether this binary carries the compiled web app.
pub fn web_app_embedded() -> bool {
    find("/index.html").is_some()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*file}", get(asset))
        .fallback(spa_fallback)
}

fn find(path: &str) -> Option<&'static EmbeddedAsset> {
    WEB_ASSETS.iter().find(|asset| asset.path == path)
}

async fn index(headers: HeaderMap) -> Response {
    match find("/index.html") {
        Some(asset) => serve(asset, &headers),
        None => not_built_page(),
    }
}

async fn asset(uri: Uri, headers: HeaderMap) -> Response {
    match find(uri.path()) {
        Some(asset) => serve(asset, &headers),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

/// Client-side routes: any GET nobody else answers gets the app.
async fn spa_fallback(method: Method, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    index(headers).await
}

fn not_built_page() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(
            "<!doctype html><title>Partout</title><h1>Partout</h1>\
             <p>This binary was built without its web app. Build it with \
             <code>cargo xtask dist</code> (or run <code>cargo xtask run</code>).</p>\
             <p>The HTTP API under <code>/api/v1</code> works.</p>",
        ),
    )
        .into_response()
}

/// Which stored variant to send for this `Accept-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

fn negotiate(accept_encoding: Option<&str>, asset: &EmbeddedAsset) -> Encoding {
    let Some(accept) = accept_encoding else {
        return Encoding::Identity;
    };
    let accepts = |wanted: &str| {
        accept.split(',').any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|param| {
                let param = param.trim().replace(' ', "");
                param == "q=0" || param == "q=0.0" || param == "q=0.00" || param == "q=0.000"
            });
            (name.eq_ignore_ascii_case(wanted) || name == "*") && !refused
        })
    };
    if asset.brotli.is_some() && accepts("br") {
        Encoding::Brotli
    } else if asset.gzip.is_some() && accepts("gzip") {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

fn serve(asset: &'static EmbeddedAsset, request_headers: &HeaderMap) -> Response {
    let cache_control = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let etag_matches = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == asset.etag));
    let mut response = if etag_matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let accept = request_headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|value| value.to_str().ok());
        let (body, encoding) = match negotiate(accept, asset) {
            Encoding::Brotli => (asset.brotli.unwrap_or(asset.identity), Some("br")),
            Encoding::Gzip => (asset.gzip.unwrap_or(asset.identity), Some("gzip")),
            Encoding::Identity => (asset.identity, None),
        };
        let mut response = body.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        if let Some(encoding) = encoding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    static SAMPLE: EmbeddedAsset = EmbeddedAsset {
        path: "/assets/app-0011223344556677.js",
        content_type: "text/javascript; charset=utf-8",
        etag: "\"0011223344556677\"",
        immutable: true,
        identity: b"console.log(1)",
        gzip: Some(b"gz"),
        brotli: Some(b"br"),
    };

    #[test]
    fn negotiation_prefers_brotli_then_gzip_and_honours_q_zero() {
        assert_eq!(
            negotiate(Some("gzip, deflate, br, zstd"), &SAMPLE),
            Encoding::Brotli
        );
        assert_eq!(negotiate(Some("gzip"), &SAMPLE), Encoding::Gzip);
        assert_eq!(
            negotiate(Some("br;q=0, gzip;q=0.8"), &SAMPLE),
            Encoding::Gzip
        );
        assert_eq!(negotiate(Some("identity"), &SAMPLE), Encoding::Identity);
        assert_eq!(negotiate(None, &SAMPLE), Encoding::Identity);
        assert_eq!(negotiate(Some("*"), &SAMPLE), Encoding::Brotli);
    }

    #[test]
    fn hashed_assets_are_immutable_and_revalidation_gives_304() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let response = serve(&SAMPLE, &headers);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(response.headers()[header::VARY], "Accept-Encoding");

        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"0011223344556677\""),
        );
        let response = serve(&SAMPLE, &headers);
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn embedded_assets_have_unique_paths_and_hashed_names_are_immutable() {
        let mut paths: Vec<_> = WEB_ASSETS.iter().map(|asset| asset.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), WEB_ASSETS.len());
        for asset in WEB_ASSETS {
            assert_eq!(
                asset.immutable,
                asset.path.starts_with("/assets/"),
                "{}",
                asset.path
            );
            if asset.path.ends_with(".wasm") {
                assert_eq!(asset.content_type, "application/wasm");
            }
        }
    }
}
