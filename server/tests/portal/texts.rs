//! What the practice sets for its texts, through the router and on both engines: the "Name in
//! texts" every text begins with (the page header keeps the full name), and the "Daily text
//! budget" with its first value from the environment.

use crate::common;

use app::staff::StaffRole;
use axum::http::StatusCode;
use common::{Staff, TestPortal};

async fn settings_with(admin: &mut Staff<'_>, changes: &[(&'static str, &str)]) -> common::Reply {
    let settings = admin.browser.post("/api/staff/settings", &[]).await.json();
    let text = |name: &str| settings[name].as_str().unwrap_or_default().to_string();
    let mut fields: Vec<(&str, String)> = vec![
        ("two_factor", "on".into()),
        ("practice_name", text("practice_name")),
        ("support_phone", text("support_phone")),
        ("support_email", text("support_email")),
        ("first_number_at_login", text("first_number_at_login")),
        (
            "resend_cooldown_seconds",
            settings["resend_cooldown_seconds"].to_string(),
        ),
        ("version", settings["version"].to_string()),
    ];
    for (name, value) in changes {
        fields.push((name, value.to_string()));
    }
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    admin.browser.post("/api/staff/save_settings", &pairs).await
}

/// The audit's setting changes, newest first.
async fn changed_settings(admin: &mut Staff<'_>) -> Vec<String> {
    let log = admin
        .browser
        .post("/api/staff/audit_log", &[("event", "setting_changed")])
        .await
        .json();
    log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["detail"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_text_begins_with_the_name_in_texts_and_the_page_keeps_the_full_name() {
    let portal = TestPortal::with(|s| {
        s.practice.practice_name = "Ōtautahi Hauora Māori Whānau Health Centre".into()
    })
    .await;
    let mut browser = portal.browser();
    browser.register("margaret").await;
    browser.post("/api/send_code", &[]).await;
    let (_, text) = portal.texts().await.pop().unwrap();
    let code = portal.last_code().await;
    // By default the practice name, without its macrons and cut at a word to fit.
    assert!(
        text.starts_with(&format!(
            "{code} is your Otautahi Hauora Maori Whanau code."
        )),
        "{text}"
    );
    let page = portal.get("/login", None).await.text();
    assert!(page.contains("Ōtautahi Hauora Māori Whānau Health Centre"));

    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let settings = admin.browser.post("/api/staff/settings", &[]).await.json();
    assert_eq!(settings["name_in_texts"], "");
    assert_eq!(
        settings["name_in_texts_now"],
        "Otautahi Hauora Maori Whanau"
    );
    // What a text can't carry in one segment is refused, and nothing changes.
    for refused in [
        "Te Whare Hauora o Ōtautahi",
        &"A".repeat(31),
        "Harbour {Health}",
    ] {
        let reply = settings_with(&mut admin, &[("name_in_texts", refused)]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert!(reply
            .field_error("name_in_texts")
            .contains("without accents"));
    }
    let saved = settings_with(&mut admin, &[("name_in_texts", "  Te Whare  Hauora ")]).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(saved.json()["settings"]["name_in_texts"], "Te Whare Hauora");
    assert_eq!(
        changed_settings(&mut admin).await[0],
        "name in texts: (none) → Te Whare Hauora"
    );

    let mut browser = portal.browser_at("198.51.100.20");
    browser
        .post(
            "/api/register",
            &common::registration("hemi", "021 555 0456"),
        )
        .await;
    browser.post("/api/send_code", &[]).await;
    let (_, text) = portal.texts().await.pop().unwrap();
    assert!(text.contains(" is your Te Whare Hauora code."), "{text}");
    // A form from before the setting leaves it as it is.
    let older = settings_with(&mut admin, &[]).await;
    assert_eq!(older.status, StatusCode::OK);
    assert_eq!(portal.portal.practice().name_in_texts, "Te Whare Hauora");
}

#[tokio::test]
async fn the_daily_text_budget_is_a_setting_whose_first_value_comes_from_the_environment() {
    let portal = TestPortal::with(|s| s.practice.daily_text_budget = 1_234).await;
    assert_eq!(portal.portal.practice().daily_text_budget, 1_234);
    // A database from before the setting: the environment's value is stored, once.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&portal.database_url).await.unwrap();
    sqlx::query("UPDATE practice_settings SET daily_text_budget = NULL")
        .execute(&pool)
        .await
        .unwrap();
    portal.portal.load_practice().await.unwrap();
    assert_eq!(portal.portal.practice().daily_text_budget, 1_234);
    let stored: Option<i64> =
        sqlx::query_scalar("SELECT daily_text_budget FROM practice_settings WHERE id = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, Some(1_234));

    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    for refused in ["0", "-5", "lots", "1000001"] {
        let reply = settings_with(&mut admin, &[("daily_text_budget", refused)]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert!(!reply.field_error("daily_text_budget").is_empty());
    }
    let saved = settings_with(&mut admin, &[("daily_text_budget", "2,500")]).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(portal.portal.practice().daily_text_budget, 2_500);
    assert_eq!(
        changed_settings(&mut admin).await[0],
        "daily text budget: 1234 → 2500"
    );
}

/// Registers `n` patients, from `first` on, each texted a code to their number not yet verified.
async fn new_patients_texted(portal: &TestPortal, first: usize, n: usize) {
    for i in first..first + n {
        let mut browser = portal.browser_at(&format!("198.51.100.{}", 100 + i));
        let registered = browser
            .post(
                "/api/register",
                &common::registration(&format!("patient{i}"), &format!("021 555 {:04}", 1000 + i)),
            )
            .await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.text());
        let sent = browser.post("/api/send_code", &[]).await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    }
}

#[tokio::test]
async fn at_80_percent_of_the_budget_the_practice_is_warned_once_and_at_100_codes_to_new_numbers_stop(
) {
    let portal = TestPortal::with(|s| s.practice.daily_text_budget = 10).await;
    // A verified patient's sign-in codes never count against the budget.
    let mut verified = portal.signed_in_patient("margaret").await;
    verified.post("/api/logout", &[]).await;
    // Her registration's code counted: a number not yet verified then.
    new_patients_texted(&portal, 0, 6).await;
    assert_eq!(app::text_budget::watch(&portal.portal).await.unwrap(), None);
    let mut admin = portal.staff("ada", StaffRole::Admin).await;
    let page = admin
        .browser
        .portal
        .get("/staff/overview", admin.browser.cookie.as_deref())
        .await;
    assert!(!page.text().contains("of the daily text budget used"));
    // The admin has alerts by email.
    admin
        .browser
        .post(
            "/api/staff/alert_email",
            &[("email", "ada@harbour.example")],
        )
        .await;
    let link = portal
        .portal
        .store
        .dev_email()
        .await
        .unwrap()
        .pop()
        .unwrap();
    let token = link.body.split("confirm_alerts=").nth(1).unwrap();
    let token = token.lines().next().unwrap().trim();
    let confirmed = admin
        .browser
        .post("/api/staff/confirm_alert_email", &[("token", token)])
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    let alerts = || async {
        let emails = portal.portal.store.dev_email().await.unwrap();
        emails
            .into_iter()
            .filter(|e| e.subject.contains("daily text budget"))
            .count()
    };

    new_patients_texted(&portal, 6, 1).await;
    let warned = app::text_budget::watch(&portal.portal).await.unwrap();
    assert_eq!(
        warned,
        Some(app::text_budget::BudgetUse {
            used: 8,
            budget: 10
        })
    );
    assert_eq!(alerts().await, 1, "the admin was emailed");
    // Once a day, whichever instance looks first.
    assert_eq!(app::text_budget::watch(&portal.portal).await.unwrap(), None);
    assert_eq!(alerts().await, 1);
    let overview = admin.browser.post("/api/staff/overview", &[]).await.json();
    assert_eq!(overview["figures"]["text_budget_used"], 8, "{overview}");
    assert_eq!(overview["figures"]["text_budget"], 10);
    let page = admin
        .browser
        .portal
        .get("/staff/overview", admin.browser.cookie.as_deref())
        .await
        .text();
    assert!(
        page.contains("80 % of the daily text budget used"),
        "{page}"
    );

    new_patients_texted(&portal, 7, 2).await;
    let mut one_more = portal.browser_at("198.51.100.99");
    one_more
        .post(
            "/api/register",
            &common::registration("hemi", "021 555 0999"),
        )
        .await;
    let refused = one_more.post("/api/send_code", &[]).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text()
    );
    // The verified patient still gets her sign-in code.
    let to_her = || async {
        portal
            .texts()
            .await
            .into_iter()
            .filter(|(to, _)| to == "+64215550123")
            .count()
    };
    let before = to_her().await;
    let login = verified.log_in("margaret").await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(to_her().await, before + 1);
    // A day later the window has moved on, and the warning may come again.
    portal.clock.advance_seconds(24 * 60 * 60 + 1);
    assert_eq!(app::text_budget::watch(&portal.portal).await.unwrap(), None);
}
