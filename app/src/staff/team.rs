//! The staff list (`/staff/team`, admins): who has which role, when they last signed in,
//! disabling or enabling them, and clearing their login delays. New staff are added from the command line (`server staff add`).

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::layout::AdminsOnly;
use crate::{
    error::PortalError,
    ui::{FormMessage, SubmitButton},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffListEntry {
    pub username: String,
    pub role: String,
    pub enrolled: bool,
    pub disabled: bool,
    pub last_sign_in: Option<String>,
    /// Their sign-in must wait now (failed logins), on some network or everywhere.
    pub login_delayed: bool,
}

#[server(prefix = "/api/staff", endpoint = "staff_list")]
pub async fn staff_list() -> Result<Vec<StaffListEntry>, PortalError> {
    let portal = crate::request::portal()?;
    crate::request::staff(&portal, super::Role::Admin).await?;
    let list = portal_core::staff::team::list(&portal).await?;
    Ok(list.into_iter().map(Into::into).collect())
}

/// Disables (`enabled=false`) or enables a staff member. A disabled one is signed out at once.
#[server(prefix = "/api/staff", endpoint = "set_staff_enabled")]
pub async fn set_staff_enabled(
    #[server(default)] username: String,
    #[server(default)] enabled: bool,
) -> Result<(), PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Admin).await?;
    Ok(portal_core::staff::team::set_enabled(&portal, &visit, &username, enabled).await?)
}

/// Clears a staff member's login delays on every network (`server staff unlock` does the same).
#[server(prefix = "/api/staff", endpoint = "unlock_staff")]
pub async fn unlock_staff(#[server(default)] username: String) -> Result<(), PortalError> {
    let portal = crate::request::portal()?;
    let visit = crate::request::staff(&portal, super::Role::Admin).await?;
    Ok(portal_core::staff::team::unlock(&portal, &visit, &username).await?)
}

#[component]
pub fn TeamPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| staff_list());
    view! {
        <Title text="Staff"/>
        <AdminsOnly>
            <section class="card wide">
                <h1>"Staff"</h1>
                <p class="lead">"New staff members are added by the portal's operator: " <code>"server staff add NAME --role support"</code>"."</p>
                // Awaited in place, not in a <Suspense>: see `home::SignedInLayout`.
                {move || Suspend::new(async move {
                    list.await.map(|staff| view! { <Team staff/> })
                })}
            </section>
        </AdminsOnly>
    }
}

/// The list wakes in the browser: a member is disabled or enabled in place.
#[island(lazy)]
fn Team(staff: Vec<StaffListEntry>) -> impl IntoView {
    crate::ui::enhance::awake("Team");
    let change = ServerAction::<SetStaffEnabled>::new();
    let unlock = ServerAction::<UnlockStaff>::new();
    let error = Signal::derive(move || {
        change
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| unlock.value().get().and_then(Result::err))
    });
    let staff = RwSignal::new(staff);
    Effect::new(move |_| {
        let changed = matches!(change.value().get(), Some(Ok(_)));
        let unlocked = matches!(unlock.value().get(), Some(Ok(_)));
        if changed || unlocked {
            leptos::task::spawn_local(async move {
                if let Ok(fresh) = staff_list().await {
                    staff.set(fresh);
                }
            });
        }
    });
    view! {
        <FormMessage error=error/>
        <div class="table-scroll" tabindex="0" role="region" aria-label="Staff members">
            <table class="team">
                <thead><tr><th>"Username"</th><th>"Role"</th><th>"State"</th><th>"Last sign-in"</th><th>""</th></tr></thead>
                <tbody>
                    {move || staff.get().into_iter().map(|s| view! { <Member member=s change unlock/> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn Member(
    member: StaffListEntry,
    change: ServerAction<SetStaffEnabled>,
    unlock: ServerAction<UnlockStaff>,
) -> impl IntoView {
    let state = match (member.enrolled, member.disabled, member.login_delayed) {
        (_, true, _) => "Disabled",
        (true, false, true) => "Active, sign-in delayed",
        (true, false, false) => "Active",
        (false, false, _) => "Not enrolled yet",
    };
    let delayed = member.login_delayed;
    let name = member.username.clone();
    let (label, enable) = if member.disabled {
        ("Enable", "true")
    } else {
        ("Disable", "false")
    };
    view! {
        <tr>
            <td>{member.username.clone()}</td>
            <td>{member.role}</td>
            <td>{state}</td>
            <td>{member.last_sign_in.unwrap_or_else(|| "never".into())}</td>
            <td>
                <ActionForm action=change attr:class="inline-form">
                    <input type="hidden" name="username" value=member.username.clone()/>
                    <input type="hidden" name="enabled" value=enable/>
                    <SubmitButton label=label class="secondary" pending=change.pending()/>
                </ActionForm>
                {delayed.then(|| view! {
                    <ActionForm action=unlock attr:class="inline-form">
                        <input type="hidden" name="username" value=name.clone()/>
                        <SubmitButton label="Unlock" class="secondary" pending=unlock.pending()/>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}
