//! What scripts add to a page that already works as plain HTML. The pages are rendered on the
//! server; only the islands (the parts that need scripts) run in the browser, and the islands
//! router moves between pages in place, posting forms and following links without a reload.

/// Opens `path` the way a click on a link would: in place through the islands router, or as a
/// plain page load where the router isn't running.
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let document = leptos::prelude::document();
        let link = document
            .create_element("a")
            .ok()
            .and_then(|a| a.dyn_into::<web_sys::HtmlElement>().ok());
        match (link, document.body()) {
            (Some(link), Some(body)) => {
                let _ = link.set_attribute("href", path);
                let _ = link.set_attribute("hidden", "");
                // The router listens for clicks on the window, so the link must be in the page.
                let _ = body.append_child(&link);
                link.click();
                link.remove();
            }
            _ => {
                let _ = leptos::prelude::window().location().set_href(path);
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// Called once the islands are awake: a server function's redirect (after a code is verified,
/// say) moves the page in place, and `data-hydrated` tells people's scripts and end-to-end tests
/// that the page reacts.
#[cfg(feature = "hydrate")]
pub fn page_ready() {
    let _ = leptos::server_fn::redirect::set_redirect_hook(go_to);
    // The islands wake one after another in the same turn; this runs after them.
    gloo_timers::callback::Timeout::new(0, || {
        if let Some(body) = leptos::prelude::document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    })
    .forget();
}

/// What an island needs from the page around it. Contexts stay on the server when an island
/// wakes in the browser, so the page hands them over as a prop and the island provides them
/// again: the practice (for its support contact) and a refused plain post (its error and what
/// was typed), so that the island renders in the browser exactly as on the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PageContext {
    practice: crate::practice::Practice,
    refused: Option<super::plain_forms::Refused>,
}

impl PageContext {
    /// This page's, while it renders on the server.
    pub fn here() -> Self {
        use leptos::prelude::use_context;
        Self {
            practice: use_context().unwrap_or_default(),
            refused: use_context(),
        }
    }

    /// Provides it again inside an island.
    pub fn provide(self) {
        leptos::prelude::provide_context(self.practice);
        if let Some(refused) = self.refused {
            super::plain_forms::provide_refused(refused);
        }
    }
}
