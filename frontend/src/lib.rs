//! The browser entry point. Pages arrive rendered and work as plain forms and links; this wakes
//! the islands, the parts of a page that need scripts (the number dialog, countdowns, the idle
//! warning). The islands router then moves between pages in place, without a reload.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    app::ui::enhance::page_ready();
}
