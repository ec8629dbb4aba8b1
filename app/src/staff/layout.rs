//! The staff pages' frame: who is signed in, the navigation their role allows, and a redirect
//! to the staff sign-in for everyone else.

use leptos::{form::ActionForm, prelude::*};
use leptos_router::components::Outlet;

use super::{
    sign_in::{staff_me, StaffLogout},
    SignedInStaff, StaffRole,
};
use crate::ui::{CouldNotLoad, NavLink};

#[component]
pub fn StaffLayout() -> impl IntoView {
    let me = Resource::new_blocking(|| (), |_| staff_me());
    view! {
        // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
        {move || Suspend::new(async move {
            match me.await {
                Ok(me) => {
                    // The pages inside take the staff member from here.
                    provide_context(me.clone());
                    view! { <StaffNav me/> <Outlet/> }.into_any()
                }
                Err(error) => view! { <CouldNotLoad error sign_in="/staff/login"/> }.into_any(),
            }
        })}
    }
}

#[component]
fn StaffNav(me: SignedInStaff) -> impl IntoView {
    let logout = ServerAction::<StaffLogout>::new();
    let admin = me.role == StaffRole::Admin;
    view! {
        <nav class="signed-in-nav staff-nav" aria-label="Staff">
            <NavLink href="/staff" label="Search patients"/>
            {admin.then(|| view! {
                <NavLink href="/staff/overview" label="Overview"/>
                <NavLink href="/staff/settings" label="Practice settings"/>
                <NavLink href="/staff/audit" label="Audit log"/>
                <NavLink href="/staff/team" label="Staff"/>
            })}
            <NavLink href="/staff/passkeys" label="Your passkeys" whole_page=true/>
            <ActionForm action=logout attr:class="logout">
                <span class="who">{me.username} " (" {me.role.as_str()} ")"</span>
                <button type="submit" class="button link" aria-busy=move || logout.pending().get().to_string()>
                    "Log out"
                </button>
            </ActionForm>
        </nav>
    }
}

/// The page is only for admins: what support sees instead of it.
#[component]
pub fn AdminsOnly(children: ChildrenFn) -> impl IntoView {
    let admin = use_context::<SignedInStaff>().is_some_and(|m| m.role == StaffRole::Admin);
    let admin = move || admin;
    view! {
        <Show
            when=admin
            fallback=|| view! { <section class="card"><p role="alert">"Only the practice's administrators can see this page."</p></section> }
        >
            {children()}
        </Show>
    }
}
