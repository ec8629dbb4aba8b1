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

/// Called once the wasm has started: a server function's redirect (after a code is verified,
/// say) moves the page in place, and the page is marked ready whenever its islands are.
#[cfg(feature = "hydrate")]
pub fn page_ready() {
    use wasm_bindgen::{closure::Closure, JsCast};
    let _ = leptos::server_fn::redirect::set_redirect_hook(go_to);
    // A page without islands is ready at once; the islands wake after this, each in turn.
    gloo_timers::callback::Timeout::new(0, mark_page).forget();
    // The islands router brings new islands with each page: not ready until they are awake.
    // It changes the title with the page, which is how a new page is told from a changed one.
    let mut title = leptos::prelude::document().title();
    let watch = Closure::<dyn FnMut()>::new(move || {
        mark_page();
        let now = leptos::prelude::document().title();
        if now != title {
            title = now;
            focus_new_page();
        }
    });
    if let (Ok(observer), Some(body)) = (
        web_sys::MutationObserver::new(watch.as_ref().unchecked_ref()),
        leptos::prelude::document().body(),
    ) {
        let options = web_sys::MutationObserverInit::new();
        options.set_child_list(true);
        options.set_subtree(true);
        let _ = observer.observe_with_options(&body, &options);
    }
    watch.forget();
}

/// A page that arrived in place is announced as a loaded one would be: focus moves to its
/// heading, so a screen reader says where the patient now is, the keyboard starts again from the
/// top, and a phone scrolled down a long page shows the new page's beginning.
#[cfg(feature = "hydrate")]
fn focus_new_page() {
    use wasm_bindgen::JsCast;
    let document = leptos::prelude::document();
    let heading = document
        .query_selector("main h1")
        .ok()
        .flatten()
        .or_else(|| document.get_element_by_id("main"))
        .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(heading) = heading {
        // Reachable by script only: it stays out of the Tab order.
        if !heading.has_attribute("tabindex") {
            let _ = heading.set_attribute("tabindex", "-1");
        }
        let _ = heading.focus();
    }
}

/// Marks the island `name` as awake in the page. Every island calls it.
pub fn awake(name: &'static str) {
    #[cfg(feature = "hydrate")]
    leptos::prelude::Effect::new(move |_| {
        let document = leptos::prelude::document();
        let selector = format!("leptos-island[data-component^=\"{name}_\"]");
        if let Ok(islands) = document.query_selector_all(&selector) {
            for island in (0..islands.length()).filter_map(|i| islands.item(i)) {
                if let Ok(island) = wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(island) {
                    let _ = island.set_attribute("data-awake", "");
                }
            }
        }
        mark_page();
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = name;
}

/// `data-hydrated` on the body says the page reacts, for people's scripts and end-to-end tests:
/// true once every island in it is awake.
#[cfg(feature = "hydrate")]
fn mark_page() {
    let document = leptos::prelude::document();
    let waiting = document
        .query_selector("leptos-island:not([data-awake])")
        .ok()
        .flatten()
        .is_some();
    if let Some(body) = document.body() {
        let ready = if waiting { "false" } else { "true" };
        if body.get_attribute("data-hydrated").as_deref() != Some(ready) {
            let _ = body.set_attribute("data-hydrated", ready);
        }
    }
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
