//! A page whose whole view lives in its URL: the handle every part of the
//! page reads the view from and changes it through.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

/// A view that is written into a URL.
pub trait UrlView: Clone + PartialEq + Send + Sync + 'static {
    /// The app URL that shows this view.
    fn href(&self) -> String;
}

/// Reads and changes a page's view; `Copy`, so every part of the page
/// gets its own.
pub struct UrlNav<V: UrlView> {
    view: Memo<V>,
    // The router's navigate function is not `Send`; local storage keeps it
    // in this thread while the handle stays `Copy`.
    navigate: StoredValue<Navigate, LocalStorage>,
}

/// Goes to an app URL.
type Navigate = Box<dyn Fn(&str)>;

// By hand: a derive would ask `V: Copy`, which the view need not be.
impl<V: UrlView> Clone for UrlNav<V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V: UrlView> Copy for UrlNav<V> {}

impl<V: UrlView> UrlNav<V> {
    /// A handle on `view`, the page's view as read from the URL.
    pub fn new(view: Memo<V>) -> UrlNav<V> {
        let navigate = use_navigate();
        let go = move |href: &str| {
            navigate(
                href,
                NavigateOptions {
                    // Filtering should not jump back to the top.
                    scroll: false,
                    ..NavigateOptions::default()
                },
            );
        };
        UrlNav {
            view,
            navigate: StoredValue::new_local(Box::new(go)),
        }
    }

    /// The current view.
    pub fn view(&self) -> Memo<V> {
        self.view
    }

    /// Shows `next`, as a new history entry so Back returns here.
    pub fn go(&self, next: &V) {
        let href = next.href();
        self.navigate.with_value(|navigate| navigate(&href));
    }
}
