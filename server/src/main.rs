//! `server`: runs the patient portal.

use std::process::ExitCode;

use leptos::prelude::get_configuration;
use server::config::Config;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    dotenvy::dotenv().ok();
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Text for people at a terminal; JSON, one object a line, for a log collector.
    match std::env::var("PORTAL_LOG_FORMAT").as_deref() {
        Err(_) | Ok("text") => tracing_subscriber::fmt().with_env_filter(filter).init(),
        Ok("json") => tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .init(),
        Ok(other) => {
            eprintln!("portal: PORTAL_LOG_FORMAT must be json or text, not {other:?}");
            return ExitCode::from(2);
        }
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => serve().await,
        ["import-patients", file] => import_patients(file).await,
        ["backup", path] => backup(path).await,
        ["audit", "verify", expect @ ..] => audit_verify(expect).await,
        ["staff", "add", name, "--role", role] | ["staff", "add", "--role", role, name] => {
            staff_add(name, role).await
        }
        ["generate-demo-data", options @ ..] => generate_demo_data(options).await,
        ["staff", "list"] => staff_list().await,
        ["staff", "disable", name] => staff_disable(name).await,
        ["staff", "unlock", name] => staff_unlock(name).await,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Each command says what failed: an import's bad file is not the portal failing to start.
    let failed = match args.first().map(String::as_str) {
        None | Some("serve") => "the portal could not start",
        Some("import-patients") => "the import stopped",
        Some("backup") => "no backup was taken",
        Some("audit") => "the audit chain is broken",
        Some(_) => "the command failed",
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{failed}: {err}");
            eprintln!("portal: {err}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage:
  server                                      serve the portal
  server import-patients FILE.csv             bring a practice's existing patients in (see README)
  server backup PATH                          a consistent copy of the SQLite database, taken
                                              while the portal serves (a new file)
  server audit verify [--expect LINE:HASH]...  checks the audit chain: names the first line
                                              changed, removed or put in afterwards, an anchor
                                              missing or moved, and (given heads noted elsewhere)
                                              a chain cut after one
  server generate-demo-data [--patients N] [--audit-lines N]
                                              made-up patients and audit for demos and benches
                                              (1,000,000 and 30,000,000 unless told; only into an
                                              empty database or one it filled)
  server staff add NAME --role support|admin  add a staff member; prints their enrolment link
  server staff list                           the staff, their roles and state
  server staff disable NAME                   stop a staff member signing in
  server staff unlock NAME                    clear a staff member's login delays";

async fn staff_add(name: &str, role: &str) -> Result<(), Box<dyn std::error::Error>> {
    let role = app::staff::Role::parse(role).ok_or("--role must be support or admin")?;
    let config = Config::from_env()?;
    let (portal, _) = server::start(&config).await?;
    let link = app::staff::accounts::add(&portal, name, role).await?;
    let caller = app::caller::Caller::default();
    let entry = app::audit::Entry::new(app::audit::Event::StaffAdded, app::audit::Outcome::Ok)
        .detail(format!("{name} ({}) from the command line", role.as_str()));
    app::audit::record(&portal, &caller, entry).await;
    println!(
        "{name} is {} now. Their enrolment link, valid for 24 hours:",
        role.described()
    );
    println!("{link}");
    Ok(())
}

async fn staff_list() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let (portal, _) = server::start(&config).await?;
    for row in portal.store.all_staff().await? {
        let state = match (row.enrolled_at, row.disabled_at) {
            (_, Some(_)) => "disabled",
            (Some(_), None) => "active",
            (None, None) => "not enrolled yet",
        };
        let last = row
            .last_sign_in_at
            .map_or("never signed in".to_string(), |at| {
                format!("last signed in {}", portal_core::staff::when(at))
            });
        println!("{}	{}	{state}	{last}", row.username, row.role.as_str());
    }
    Ok(())
}

async fn staff_disable(name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let (portal, _) = server::start(&config).await?;
    let member = app::staff::accounts::named(&portal, name)
        .await?
        .ok_or_else(|| format!("there is no staff member called {name}"))?;
    portal
        .store
        .set_staff_disabled(member.id, Some(portal.now()))
        .await?;
    let entry = app::audit::Entry::new(app::audit::Event::StaffDisabled, app::audit::Outcome::Ok)
        .detail(format!("{name} from the command line"));
    app::audit::record(&portal, &app::caller::Caller::default(), entry).await;
    println!("{name} is disabled and signed out.");
    Ok(())
}

async fn staff_unlock(name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let (portal, _) = server::start(&config).await?;
    let caller = app::caller::Caller::default();
    app::staff::accounts::unlock(&portal, &caller, None, name)
        .await?
        .ok_or_else(|| format!("there is no staff member called {name}"))?;
    println!("{name} can sign in again now: their login delays are cleared.");
    Ok(())
}

async fn backup(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let store = server::open_store(&config, 1, std::time::Duration::ZERO).await?;
    let started = std::time::Instant::now();
    store.back_up_to(std::path::Path::new(path)).await?;
    let taken = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(path)?.len();
    // The copy is checked as a restore would need it, before anyone relies on it.
    let copy = app::store::Store::open(&format!("sqlite://{path}")).await?;
    let check = copy.integrity_check().await?;
    copy.close().await;
    if check != "ok" {
        return Err(format!("the copy at {path} failed SQLite's integrity check: {check}").into());
    }
    println!(
        "backed up to {path}: {:.1} MB in {taken:.1} s; SQLite's integrity check says ok",
        bytes as f64 / 1e6
    );
    store.close().await;
    Ok(())
}

async fn audit_verify(options: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    let mut expect = Vec::new();
    let mut options = options.iter();
    while let Some(option) = options.next() {
        let noted = match (*option, options.next()) {
            ("--expect", Some(noted)) => noted,
            _ => return Err(format!("unknown option {option:?}\n{USAGE}").into()),
        };
        expect.push(server::parse_head(noted)?);
    }
    let config = Config::from_env()?;
    let said = server::verify_audit_chain(&config, expect).await?;
    println!("{said}");
    Ok(())
}

async fn import_patients(file: &str) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let (portal, _) = server::start(&config).await?;
    let csv = std::fs::File::open(file).map_err(|e| format!("cannot open {file}: {e}"))?;
    let report = app::existing_patients::import_patients(&portal, csv).await?;
    for (line, problem) in &report.skipped {
        println!("line {line}: skipped: {problem}");
    }
    println!(
        "imported {} patient(s), skipped {}",
        report.imported,
        report.skipped.len()
    );
    Ok(())
}

async fn generate_demo_data(options: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    let mut scale = app::demo_data::Scale::PRACTICE_GROUP;
    for pair in options.chunks(2) {
        let number = |text: &str| {
            text.replace(['_', ','], "")
                .parse::<u64>()
                .map_err(|_| format!("{text:?} is not a whole number"))
        };
        match pair {
            ["--patients", n] => scale.patients = number(n)?,
            ["--audit-lines", n] => scale.audit_lines = number(n)?,
            _ => return Err(format!("unknown option {:?}\n{USAGE}", pair.join(" ")).into()),
        }
    }
    let config = Config::from_env()?;
    let (portal, _) = server::start(&config).await?;
    let started = std::time::Instant::now();
    let made = app::demo_data::generate(&portal, scale, |done| {
        println!("{:>6.1} s  {done}", started.elapsed().as_secs_f64());
    })
    .await?;
    println!(
        "generated {} patients and {} audit lines in {:.0} s",
        made.patients,
        made.audit_lines,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let mut leptos = get_configuration(None)?;
    // Started as `target/release/server` rather than by cargo-leptos: the build's own setting
    // says whether the app's files carry content hashes in their names.
    if std::env::var_os("LEPTOS_HASH_FILES").is_none() {
        leptos.leptos_options.hash_files = option_env!("LEPTOS_HASH_FILES") == Some("true");
        if let Some(name) = option_env!("LEPTOS_HASH_FILE_NAME") {
            leptos.leptos_options.hash_file = name.into();
        }
    }
    let config = Config::from_env()?;
    let (portal, wiring) = server::start(&config).await?;
    for note in config.start_up_notes(&portal.practice()) {
        tracing::warn!("{note}");
    }
    let providers: Vec<&str> = config.sms_providers.iter().map(|p| p.name()).collect();
    tracing::info!(
        providers = providers.join(","),
        "text messages go through these providers, in this order"
    );
    tokio::spawn(portal.outbox.clone().run());
    tokio::spawn(server::sweep_forever(portal.clone()));
    tokio::spawn(server::watch_the_text_budget(portal.clone()));
    tokio::spawn(server::follow_practice_settings(portal.clone()));
    if let Some(addr) = config.metrics_addr {
        // Bound before the portal listens, so a wrong address stops it at start-up.
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tokio::spawn(server::metrics::serve(
            listener,
            portal.clone(),
            config.metrics_token.clone(),
            wiring.http,
            std::future::pending(),
        ));
    }
    let addr = leptos.leptos_options.site_addr;
    let http = wiring.http;
    let proxies = wiring.trusted_proxies.clone();
    let router = server::router_with(portal.clone(), leptos.leptos_options, wiring);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("the portal is listening on http://{addr}");
    server::serve_until_stopped(listener, router, &portal, http, proxies, shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
