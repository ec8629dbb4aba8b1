//! A real modal for any `<dialog>`: opened with `showModal` (so the page behind is inert), focus
//! moved to its first field and kept inside, Esc or a close button to leave, and focus given
//! back to whatever opened it.

use leptos::{html, prelude::*};
use wasm_bindgen::JsCast;

const FOCUSABLE: &str =
    "a[href], button:not([disabled]), input:not([disabled]), [tabindex]:not([tabindex='-1'])";

fn focusable_in(dialog: &web_sys::HtmlDialogElement) -> Vec<web_sys::HtmlElement> {
    let Ok(list) = dialog.query_selector_all(FOCUSABLE) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|node| node.dyn_into::<web_sys::HtmlElement>().ok())
        .filter(|el| el.offset_parent().is_some())
        .collect()
}

/// What a dialog element needs wired up: its `node_ref`, and handlers for `on:close` and
/// `on:keydown`.
#[derive(Clone, Copy)]
pub struct Modal {
    pub node: NodeRef<html::Dialog>,
    /// The id of whatever opened the dialog (an element can't be kept: it isn't `Send`).
    return_focus: StoredValue<Option<String>>,
    open: RwSignal<bool>,
}

/// Shows and hides the dialog as `open` says. `on_open` runs each time it opens (to clear
/// what the last visit left).
pub fn use_modal(open: RwSignal<bool>, on_open: impl Fn() + 'static) -> Modal {
    let modal = Modal {
        node: NodeRef::new(),
        return_focus: StoredValue::new(None),
        open,
    };
    Effect::new(move |_| {
        let Some(el) = modal.node.get() else { return };
        if open.get() && !el.open() {
            on_open();
            modal.return_focus.set_value(
                document()
                    .active_element()
                    .map(|e| e.id())
                    .filter(|id| !id.is_empty()),
            );
            let _ = el.show_modal();
            if let Some(first_input) = el
                .query_selector("input")
                .ok()
                .flatten()
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = first_input.focus();
            }
        } else if !open.get() && el.open() {
            el.close();
        }
    });
    modal
}

impl Modal {
    /// For `on:close`. Esc closes a modal dialog by itself; either way, focus goes back where
    /// it came from.
    pub fn closed(self) {
        self.open.set(false);
        let opener = self
            .return_focus
            .get_value()
            .and_then(|id| document().get_element_by_id(&id))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(opener) = opener {
            let _ = opener.focus();
        }
    }

    /// For `on:keydown`: Tab and Shift+Tab go round inside the dialog.
    pub fn keep_focus_inside(self, ev: web_sys::KeyboardEvent) {
        let Some(el) = self.node.get() else { return };
        if ev.key() != "Tab" {
            return;
        }
        let items = focusable_in(&el);
        let (Some(first), Some(last)) = (items.first(), items.last()) else {
            return;
        };
        let active = document().active_element();
        let at = |item: &web_sys::HtmlElement| active.as_ref() == Some(item.unchecked_ref());
        if ev.shift_key() && at(first) {
            ev.prevent_default();
            let _ = last.focus();
        } else if !ev.shift_key() && at(last) {
            ev.prevent_default();
            let _ = first.focus();
        }
    }
}
