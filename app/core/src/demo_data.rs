//! Made-up data at a practice group's scale, for demos and benchmarks (`server
//! generate-demo-data`): patients with realistic names, dates of birth and mobiles, six years of
//! audit lines skewed so that some patients have thousands, and what a year of use leaves in the
//! other tables. It refuses a database that holds a patient it did not make.
//!
//! Nobody can sign in as a generated patient (each has the hash of a random password nobody
//! knows), and their mobiles are in Ofcom's range for drama (+44 7700 900000–900999), which is
//! never given to a real phone: a demo that sends texts reaches nobody.

use rand::{
    rngs::{OsRng, StdRng},
    Rng, SeedableRng,
};

use crate::{
    clock::{Millis, DAY, HOUR, MINUTE},
    portal::Portal,
    store::{AuditPlan, Cell, StoreError},
};

/// How much to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    pub patients: u64,
    pub audit_lines: u64,
}

impl Scale {
    /// A practice group: a million patients and six years of their audit.
    pub const PRACTICE_GROUP: Scale = Scale {
        patients: 1_000_000,
        audit_lines: 30_000_000,
    };
}

/// What was made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generated {
    pub patients: u64,
    pub audit_lines: u64,
    pub sessions: u64,
    pub codes: u64,
    pub texts: u64,
    pub limit_events: u64,
    pub staff: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "this database holds {0}, so it is somebody's practice: generate demo data into an \
         empty database (a new PORTAL_DATABASE_URL) instead"
    )]
    SomebodysPractice(String),
    #[error(
        "other rows were written while the generator ran, so its patients' or staff ids are not \
         in a row: run it while nothing else writes to the database"
    )]
    Interleaved,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("hashing the generated patients' password: {0}")]
    Hash(String),
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
}

/// The years of audit a practice keeps (HIPAA asks for six).
const AUDIT_YEARS: i64 = 6;
/// Rows written per transaction.
const BATCH: usize = 20_000;

// Family names repeat (the first ones far more than the last), given names are shared.
#[rustfmt::skip]
const FAMILY_NAMES: &[&str] = &[
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes",
    "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin",
    "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison",
    "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis", "Parker", "Price",
    "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook", "Carter", "Richardson", "Bailey",
    "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox", "Richards", "Khan", "Marshall",
    "Anderson", "Simpson", "Ellis", "Adams", "Singh", "Begum", "Wilkinson", "Foster", "Chapman",
    "Powell", "Webb", "Rogers", "Gray", "Mason", "Ali", "Hunt", "Hussain", "Campbell", "Matthews",
    "Owen", "Palmer", "Holmes", "Mills", "Barnes", "Knight", "Lloyd", "Butler", "Russell",
    "Barker", "Fisher", "Stevens", "Jenkins", "Murray", "Dixon", "Harvey", "Nowak", "O'Brien",
    "Okafor", "Nguyen", "Kowalski", "Da Silva", "Mensah", "Ahmed", "Rahman", "Chen",
];
#[rustfmt::skip]
const GIVEN_NAMES: &[&str] = &[
    "Margaret", "John", "Mary", "David", "Susan", "Michael", "Patricia", "James", "Elizabeth",
    "Robert", "Sarah", "William", "Linda", "Peter", "Barbara", "Paul", "Jennifer", "Richard",
    "Karen", "Thomas", "Helen", "George", "Anne", "Christopher", "Emma", "Daniel", "Olivia",
    "Mohammed", "Amelia", "Oliver", "Isla", "Harry", "Ava", "Jack", "Mia", "Noah", "Sophie",
    "Charlie", "Grace", "Jacob", "Lily", "Alfie", "Freya", "Joshua", "Emily", "Arthur", "Ella",
    "Leo", "Chloe", "Oscar", "Evie", "Ahmed", "Priya", "Wei", "Aisha", "Tomasz", "Fatima", "Kwame",
    "Siobhan", "Rhys", "Ada", "Edith", "Dorothy", "Stanley", "Joan", "Kenneth", "Irene", "Derek",
];

// The long tail of family names: a quarter of patients have one of the common names above
// (Smith about 1.3 %, as in England and Wales), the rest one of 1,600 rarer ones made of these.
#[rustfmt::skip]
const FAMILY_STARTS: &[&str] = &[
    "Ash", "Brad", "Carl", "Dun", "Elling", "Fair", "Gold", "Hart", "Ing", "Kings", "Lang", "Mar",
    "Nor", "Oak", "Pem", "Rad", "Stan", "Thorn", "Under", "Wes", "Black", "Cross", "Dray", "Fern",
    "Green", "Hol", "Kirk", "Lind", "Mill", "New", "Pres", "Ray", "Shel", "Tal", "Whit", "Win",
    "Brom", "Chad", "Dal", "Hay",
];
#[rustfmt::skip]
const FAMILY_ENDS: &[&str] = &[
    "worth", "ford", "ton", "ley", "wood", "field", "by", "combe", "well", "stone", "ham", "more",
    "bridge", "dale", "wick", "shaw", "croft", "land", "brook", "hurst", "man", "son", "er",
    "ridge", "den", "low", "mead", "stock", "bury", "thwaite", "fold", "gate", "holme", "ing",
    "ock", "sey", "win", "ett", "all", "ow",
];
const COMMON_FAMILY_SHARE: f64 = 0.25;

/// Picks from a list whose first entries are the most common (weights 1/rank^`skew`).
struct Skewed {
    cumulative: Vec<f64>,
}

impl Skewed {
    fn new(len: usize, skew: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=len)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(skew);
                total
            })
            .collect();
        Self { cumulative }
    }

    fn pick(&self, rng: &mut StdRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let at = rng.gen::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c < at)
            .min(self.cumulative.len() - 1)
    }
}

/// Fills the portal's database with made-up data at `scale`, reporting progress as it goes.
pub async fn generate(
    portal: &Portal,
    scale: Scale,
    mut progress: impl FnMut(&str),
) -> Result<Generated, DemoError> {
    let store = &portal.store;
    let state = store.demo_state().await?;
    if let Some(what) = state.somebodys() {
        return Err(DemoError::SomebodysPractice(what));
    }
    let now = portal.now();
    // Seeded from the OS's generator: nothing about the data follows from when it was made.
    let mut rng = StdRng::from_rng(OsRng).map_err(|e| DemoError::Random(e.to_string()))?;
    let mut made = Generated::default();

    let staff = staff(portal, now, &mut made).await?;
    progress(&format!("{} staff members", made.staff));

    // One hash for everyone: a random password nobody knows, so nobody signs in as them.
    let secret: [u8; 16] = OsRng.gen();
    let password_hash = portal
        .passwords
        .hash_given(&hex::encode(secret))
        .await
        .map_err(|e| DemoError::Hash(e.to_string()))?;
    let first_patient = store.last_id("accounts").await?;
    let families = Skewed::new(FAMILY_NAMES.len(), 0.5);
    let givens = Skewed::new(GIVEN_NAMES.len(), 0.3);
    let mut rows = Vec::with_capacity(BATCH);
    for n in 0..scale.patients {
        let family = if rng.gen_bool(COMMON_FAMILY_SHARE) {
            FAMILY_NAMES[families.pick(&mut rng)].to_string()
        } else {
            let start = FAMILY_STARTS[rng.gen_range(0..FAMILY_STARTS.len())];
            let end = FAMILY_ENDS[rng.gen_range(0..FAMILY_ENDS.len())];
            format!("{start}{end}")
        };
        let given = GIVEN_NAMES[givens.pick(&mut rng)];
        let username = format!(
            "{}.{}{}",
            given.to_lowercase(),
            family.to_lowercase().replace([' ', '\''], ""),
            first_patient as u64 + n + 1
        );
        let born = time::Date::from_julian_day(
            time::macros::date!(1930 - 01 - 01).to_julian_day() + rng.gen_range(0..28_500),
        )
        .map(|d| d.to_string())
        .unwrap_or_else(|_| "1970-01-01".into());
        let mobile = format!("+447700900{:03}", rng.gen_range(0..1000));
        let joined = now - rng.gen_range(0..AUDIT_YEARS * 365 * DAY);
        rows.push(vec![
            Cell::Text(username.clone()),
            Cell::Text(crate::account::username_key(&username)),
            Cell::Text(password_hash.clone()),
            Cell::Text(given.into()),
            Cell::Text(family),
            Cell::Text(born),
            Cell::Text(format!("{username}@example.com")),
            Cell::Text(mobile),
            Cell::Number(joined),
            Cell::Number(joined),
        ]);
        if rows.len() == BATCH || n + 1 == scale.patients {
            store
                .insert_generated(
                    "accounts",
                    &[
                        "username",
                        "username_key",
                        "password_hash",
                        "given_name",
                        "family_name",
                        "date_of_birth",
                        "email",
                        "mobile",
                        "mobile_verified_at",
                        "created_at",
                    ],
                    &rows,
                )
                .await?;
            made.patients += rows.len() as u64;
            rows.clear();
            if made.patients.is_multiple_of(100_000) {
                progress(&format!("{} patients", made.patients));
            }
        }
    }
    let patients = store.ids_after("accounts", first_patient).await?;
    progress(&format!("{} patients", made.patients));

    audit(
        portal,
        scale,
        now,
        &patients,
        &staff,
        &mut made,
        &mut progress,
    )
    .await?;
    a_year_of_use(portal, now, &patients, &mut rng, &mut made).await?;
    progress(&format!(
        "{} sessions, {} codes, {} texts, {} limit events",
        made.sessions, made.codes, made.texts, made.limit_events
    ));
    store
        .record_demo_data(now, made.patients as i64, made.audit_lines as i64)
        .await?;
    store.analyze().await?;
    Ok(made)
}

/// A support team and a few admins, who appear in the audit. They can't sign in: nobody has
/// their enrolment links.
async fn staff(portal: &Portal, now: Millis, made: &mut Generated) -> Result<Vec<i64>, DemoError> {
    let first = portal.store.last_id("staff").await?;
    let rows: Vec<Vec<Cell>> = (1..=12)
        .map(|n| {
            let role = if n <= 3 { "admin" } else { "support" };
            let name = format!("demo-{role}-{}", first + n);
            vec![
                Cell::Text(name.clone()),
                Cell::Text(name),
                Cell::Text(role.into()),
                Cell::Number(now - AUDIT_YEARS * 365 * DAY),
            ]
        })
        .collect();
    portal
        .store
        .insert_generated(
            "staff",
            &["username", "username_key", "role", "created_at"],
            &rows,
        )
        .await?;
    made.staff = rows.len() as u64;
    Ok(portal.store.ids_after("staff", first).await?)
}

/// Six years of audit lines in time order, written by the database itself a million at a
/// time. Patients are picked with a skew (the square of a uniform number), so the busiest have
/// thousands of lines and most have a few. The audit's indexes are dropped meanwhile and built
/// again at the end.
async fn audit(
    portal: &Portal,
    scale: Scale,
    now: Millis,
    patients: &[i64],
    staff: &[i64],
    made: &mut Generated,
    progress: &mut impl FnMut(&str),
) -> Result<(), DemoError> {
    if scale.audit_lines == 0 || patients.is_empty() || staff.is_empty() {
        return Ok(());
    }
    let in_a_row = |ids: &[i64]| ids.last().copied() == Some(ids[0] + ids.len() as i64 - 1);
    if !in_a_row(patients) || !in_a_row(staff) {
        return Err(DemoError::Interleaved);
    }
    let count = patients.len();
    let span = AUDIT_YEARS * 365 * DAY;
    // A fixed shuffle of the patients, so the busiest aren't simply the first generated.
    let stride = (0..)
        .map(|k| 7_919 + 2 * k)
        .find(|s: &usize| gcd(*s, count) == 1)
        .unwrap_or(1);
    let plan = AuditPlan {
        start: now - span,
        step: (span / scale.audit_lines as i64).max(1),
        first_patient: patients[0],
        patients: count as i64,
        stride: stride as i64,
        first_staff: staff[0],
        staff: staff.len() as i64,
    };
    let store = &portal.store;
    let indexes = store.drop_indexes("audit_events").await?;
    let total = scale.audit_lines as i64;
    let mut first = 0;
    while first < total {
        let last = (first + AUDIT_BATCH).min(total) - 1;
        store.generate_audit_lines(&plan, first, last).await?;
        made.audit_lines = (last + 1) as u64;
        progress(&format!("{} audit lines", made.audit_lines));
        first = last + 1;
    }
    store.create_indexes(&indexes).await?;
    progress("the audit's indexes, built again");
    Ok(())
}

/// Audit lines written in one statement.
const AUDIT_BATCH: i64 = 1_000_000;

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// What a year of use leaves in the other tables once the sweeps have run: a session for each
/// patient (signed in today, idle; nobody holds their cookies), codes that expired in the last
/// day, 90 days of finished texts, and a day of limit events.
async fn a_year_of_use(
    portal: &Portal,
    now: Millis,
    patients: &[i64],
    rng: &mut StdRng,
    made: &mut Generated,
) -> Result<(), DemoError> {
    let store = &portal.store;
    for chunk in patients.chunks(BATCH) {
        let hashes: Vec<String> = chunk
            .iter()
            .map(|_| hex::encode(rng.gen::<[u8; 32]>()))
            .collect();
        let sessions: Vec<Vec<Cell>> = chunk
            .iter()
            .zip(&hashes)
            .map(|(&id, id_hash)| {
                let started = now - rng.gen_range(0..12 * HOUR);
                vec![
                    Cell::Text(id_hash.clone()),
                    Cell::Number(id),
                    Cell::Text("signed_in".into()),
                    Cell::Number(started),
                    Cell::Number(started + rng.gen_range(0..30 * MINUTE)),
                    Cell::Number(now + rng.gen_range(HOUR..12 * HOUR)),
                ]
            })
            .collect();
        store
            .insert_generated(
                "sessions",
                &[
                    "id_hash",
                    "account_id",
                    "stage",
                    "created_at",
                    "last_seen_at",
                    "expires_at",
                ],
                &sessions,
            )
            .await?;
        made.sessions += sessions.len() as u64;

        let texts: Vec<Vec<Cell>> = chunk
            .iter()
            .map(|&id| {
                let sent = now - rng.gen_range(0..90 * DAY);
                vec![
                    Cell::Text(crate::mobile::masked(&format!(
                        "+447700900{:03}",
                        rng.gen_range(0..1000)
                    ))),
                    Cell::Text("sent".into()),
                    Cell::Number(1),
                    Cell::Number(sent),
                    Cell::Number(sent),
                    Cell::Number(sent + 10 * MINUTE),
                    Cell::Number(sent + 2_000),
                    Cell::Text("delivered".into()),
                    Cell::Number(id),
                ]
            })
            .collect();
        store
            .insert_generated(
                "sms_outbox",
                &[
                    "to_number",
                    "status",
                    "attempts",
                    "created_at",
                    "next_attempt_at",
                    "give_up_at",
                    "sent_at",
                    "delivery_status",
                    "account_id",
                ],
                &texts,
            )
            .await?;
        made.texts += texts.len() as u64;

        // One patient in ten asked for a code in the last day.
        let asked: Vec<(i64, &String)> = chunk
            .iter()
            .copied()
            .zip(&hashes)
            .filter(|_| rng.gen_range(0..10) == 0)
            .collect();
        let codes: Vec<Vec<Cell>> = asked
            .iter()
            .map(|&(id, session)| {
                let sent = now - rng.gen_range(10 * MINUTE..DAY);
                let mac: [u8; 32] = rng.gen();
                vec![
                    Cell::Text(session.clone()),
                    Cell::Number(id),
                    Cell::Text("sign_in".into()),
                    Cell::Text(format!("+447700900{:03}", rng.gen_range(0..1000))),
                    Cell::Text(hex::encode(mac)),
                    Cell::Number(sent),
                    Cell::Number(sent + 5 * MINUTE),
                ]
            })
            .collect();
        store
            .insert_generated(
                "challenges",
                &[
                    "session_id_hash",
                    "account_id",
                    "purpose",
                    "mobile",
                    "code_mac",
                    "sent_at",
                    "expires_at",
                ],
                &codes,
            )
            .await?;
        made.codes += codes.len() as u64;

        let events: Vec<Vec<Cell>> = asked
            .iter()
            .map(|(id, _)| {
                vec![
                    Cell::Text("sms_account".into()),
                    Cell::Text(id.to_string()),
                    Cell::Number(now - rng.gen_range(0..DAY)),
                ]
            })
            .collect();
        store
            .insert_generated("limit_events", &["kind", "subject", "at"], &events)
            .await?;
        made.limit_events += events.len() as u64;
    }
    Ok(())
}
