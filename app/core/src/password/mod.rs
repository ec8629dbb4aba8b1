//! Password rules and hashing. Rules follow NIST SP 800-63B: length, not common, no composition
//! rules. Hashes are argon2id PHC strings, computed off the async runtime on one thread per core.

use std::{
    collections::HashSet,
    sync::{mpsc, Arc, Mutex, OnceLock},
};

use argon2::{
    password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString},
    Algorithm, Argon2, Block, Params, Version,
};
use unicode_normalization::UnicodeNormalization;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;

/// The 10,000 most common passwords (SecLists, "10 million password list", top 10,000).
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

fn common_passwords() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(|line| line.trim().to_lowercase())
            .filter(|line| !line.is_empty())
            .collect()
    })
}

/// A password that has passed the rules, normalised (NFKC) so that the same characters typed on
/// different devices hash the same. Deliberately neither `Debug` nor `Serialize`.
pub struct NewPassword(String);

/// Why a new password was refused; the message tells the patient what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("Please use at least 12 characters. A few words strung together make a strong password that is easy to remember.")]
    TooShort,
    #[error("Please use no more than 128 characters.")]
    TooLong,
    #[error("This is one of the most commonly used passwords, so it is easy to guess. Please choose another.")]
    Common,
    #[error("Your password must not contain your username.")]
    ContainsUsername,
}

fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

impl NewPassword {
    pub fn parse(password: &str, username: &str) -> Result<Self, PasswordProblem> {
        let password = normalise(password);
        let chars = password.chars().count();
        if chars < MIN_CHARS {
            return Err(PasswordProblem::TooShort);
        }
        if chars > MAX_CHARS {
            return Err(PasswordProblem::TooLong);
        }
        let lowered = password.to_lowercase();
        if common_passwords().contains(&lowered) {
            return Err(PasswordProblem::Common);
        }
        let username = username.trim().to_lowercase();
        if !username.is_empty() && lowered.contains(&username) {
            return Err(PasswordProblem::ContainsUsername);
        }
        Ok(Self(password))
    }
}

/// argon2id with m=19456 KiB, t=2, p=1 (the OWASP minimum).
fn current_params() -> Params {
    Params::new(19_456, 2, 1, None).expect("valid argon2 parameters")
}

/// The most an imported hash may ask for, so one odd row can't tie up or exhaust the server:
/// 64 MiB of memory, 10 passes, 8 lanes (lanes run one after another on a hashing thread).
const MAX_MEMORY_KIB: u32 = 64 * 1024;
const MAX_PASSES: u32 = 10;
const MAX_LANES: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing thread is busy and the queue in front of them is full.
    #[error("the password checks are all busy")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

fn failed(err: impl std::fmt::Display) -> HashError {
    HashError::Failed(err.to_string())
}

impl HashError {
    /// What the patient is told: a 503 to try again shortly when busy, else a generic error.
    pub fn refusal(self, context: &'static str) -> crate::error::Error {
        use crate::error::{Error, ErrorKind};
        match self {
            HashError::Busy => Error {
                retry_after_seconds: Some(2),
                ..Error::new(
                    ErrorKind::Unavailable,
                    "The portal is very busy right now. Please try again in a few seconds.",
                )
            },
            HashError::Failed(err) => Error::logged_internal(context, err),
        }
    }
}

/// One hashing thread's working memory, kept between hashes: argon2 fills megabytes per hash,
/// and fresh memory each time costs page faults and leaves every thread's allocator holding its own.
type Memory = Vec<Block>;

fn blocks(memory: &mut Memory, count: usize) -> &mut [Block] {
    if memory.len() < count {
        memory.resize(count, Block::default());
    }
    &mut memory[..count]
}

fn hash_with(memory: &mut Memory, password: &[u8]) -> Result<String, HashError> {
    let params = current_params();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(failed)?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password,
            salt_bytes,
            &mut out,
            blocks(memory, params.block_count()),
        )
        .map_err(failed)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(failed)?),
    };
    Ok(hash.to_string())
}

fn verify_with(memory: &mut Memory, password: &[u8], phc: &str) -> Result<bool, HashError> {
    let Ok(hash) = PasswordHash::new(phc) else {
        return Ok(false);
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(hash.algorithm),
        Params::try_from(&hash),
        hash.salt,
        hash.hash,
    ) else {
        return Ok(false);
    };
    if params.m_cost() > MAX_MEMORY_KIB
        || params.t_cost() > MAX_PASSES
        || params.p_cost() > MAX_LANES
    {
        return Ok(false);
    }
    let version = hash
        .version
        .map_or(Ok(Version::V0x13), Version::try_from)
        .map_err(failed)?;
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else {
        return Ok(false);
    };
    let mut out = vec![0u8; expected.len()];
    let params = Params::new(
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        Some(expected.len()),
    )
    .map_err(failed)?;
    let count = params.block_count();
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt_bytes, &mut out, blocks(memory, count))
        .map_err(failed)?;
    // `Output`'s comparison is constant-time.
    Ok(Output::new(&out).map_err(failed)? == expected)
}

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// After an imported hash asked for more, a thread gives back what the portal's own
/// parameters don't need.
fn keep_only_what_our_hashes_need(memory: &mut Memory) {
    let ours = current_params().block_count();
    if memory.len() > ours {
        memory.truncate(ours);
        memory.shrink_to_fit();
    }
}

/// Hashes and verifies on its own threads, one per core, each keeping its working memory: at
/// most `cores` hashes run at once and memory stays flat however many patients log in together.
/// At most `queue` more wait; beyond that the answer is [`HashError::Busy`], never an
/// ever-growing wait.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::SyncSender<Job>,
    dummy: Arc<OnceLock<String>>,
}

impl PasswordHasher {
    pub fn bounded_by_cores(queue: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_threads(cores, queue)
    }

    pub fn with_threads(threads: usize, queue: usize) -> Self {
        let (jobs, waiting) = mpsc::sync_channel::<Job>(queue);
        let queue = Arc::new(Mutex::new(waiting));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-hasher-{n}"))
                .spawn(move || {
                    let mut memory = Memory::new();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let next = queue.lock().map(|q| q.recv());
                        match next {
                            Ok(Ok(job)) => {
                                job(&mut memory);
                                keep_only_what_our_hashes_need(&mut memory);
                            }
                            // Every `PasswordHasher` is gone: the portal has stopped.
                            _ => return,
                        }
                    }
                })
                .expect("a password hashing thread");
        }
        Self {
            jobs,
            dummy: Arc::new(OnceLock::new()),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let queued = std::time::Instant::now();
        // Counted in before it can be taken, so the depth never dips below what waits.
        crate::metrics::password_queued();
        self.jobs
            .try_send(Box::new(move |memory| {
                crate::metrics::password_started(queued.elapsed());
                let _ = reply.send(work(memory));
            }))
            .map_err(|err| {
                crate::metrics::password_not_queued();
                match err {
                    mpsc::TrySendError::Full(_) => HashError::Busy,
                    mpsc::TrySendError::Disconnected(_) => {
                        failed("the hashing threads have stopped")
                    }
                }
            })?;
        answer.await.map_err(failed)
    }

    /// The PHC string to store.
    pub async fn hash(&self, password: NewPassword) -> Result<String, HashError> {
        self.run(move |memory| hash_with(memory, password.0.as_bytes()))
            .await?
    }

    /// Whether `password` matches the stored PHC string. A malformed hash never matches.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, HashError> {
        let password = normalise(password);
        let phc = phc.to_string();
        self.run(move |memory| verify_with(memory, password.as_bytes(), &phc))
            .await?
    }

    /// Whether a stored hash was made with other parameters (an imported or older hash), so it
    /// should be replaced once the password is known to be right.
    pub fn needs_rehash(phc: &str) -> bool {
        let current = current_params();
        match PasswordHash::new(phc) {
            Ok(hash) => {
                hash.algorithm != Algorithm::Argon2id.ident()
                    || Params::try_from(&hash).map_or(true, |p| {
                        p.m_cost() != current.m_cost()
                            || p.t_cost() != current.t_cost()
                            || p.p_cost() != current.p_cost()
                    })
            }
            Err(_) => true,
        }
    }

    /// Hashes a password without the rules for new passwords: for one-time passwords that a
    /// practice hands out, which the patient replaces at first sign-in.
    pub async fn hash_given(&self, password: &str) -> Result<String, HashError> {
        self.hash(NewPassword(normalise(password))).await
    }

    /// A hash to verify against when the username is unknown, so that the answer takes as long
    /// as for a wrong password.
    pub async fn dummy_hash(&self) -> Result<String, HashError> {
        if let Some(hash) = self.dummy.get() {
            return Ok(hash.clone());
        }
        let hash = self
            .hash(NewPassword("not a real password, only for timing".into()))
            .await?;
        Ok(self.dummy.get_or_init(|| hash).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_characters_are_too_short_and_twelve_are_enough() {
        assert_eq!(
            NewPassword::parse("abcdefghijk", "sam").err(),
            Some(PasswordProblem::TooShort)
        );
        assert!(NewPassword::parse("correct horse", "sam").is_ok());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // Twelve characters, but far more bytes.
        assert!(NewPassword::parse("ŵàŧëŗƒàłłŝ🌊🌊🌊", "sam").is_ok());
        assert_eq!(
            NewPassword::parse("ŵàŧëŗƒàłł🌊", "sam").err(),
            Some(PasswordProblem::TooShort)
        );
    }

    #[test]
    fn more_than_128_characters_are_refused() {
        assert!(NewPassword::parse(&"a1b2".repeat(32), "sam").is_ok());
        assert_eq!(
            NewPassword::parse(&"a1b2".repeat(32).replace("a1", "a1x"), "sam").err(),
            Some(PasswordProblem::TooLong)
        );
    }

    #[test]
    fn any_unicode_is_allowed_without_composition_rules() {
        assert!(NewPassword::parse("すべての文字が使えます", "sam").is_err()); // 11 chars
        assert!(NewPassword::parse("すべての文字が使えますね", "sam").is_ok());
        assert!(NewPassword::parse("all lower case words", "sam").is_ok());
    }

    #[test]
    fn common_passwords_are_refused_whatever_the_case() {
        assert_eq!(
            NewPassword::parse("1qaz2wsx3edc", "sam").err(),
            Some(PasswordProblem::Common)
        );
        assert_eq!(
            NewPassword::parse("QWERTY123456", "sam").err(),
            Some(PasswordProblem::Common)
        );
        assert_eq!(COMMON_PASSWORDS.lines().count(), 10_000);
        assert!(common_passwords().len() > 9_900);
    }

    #[test]
    fn a_password_containing_the_username_is_refused() {
        assert_eq!(
            NewPassword::parse("my name is Margaret!", "margaret").err(),
            Some(PasswordProblem::ContainsUsername)
        );
    }

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_chosen_parameters_and_verify() {
        let hasher = PasswordHasher::bounded_by_cores(64);
        let hash = hasher
            .hash(NewPassword::parse("correct horse battery", "sam").unwrap())
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher.verify("correct horse battery", &hash).await.unwrap());
        assert!(!hasher
            .verify("correct horse battery!", &hash)
            .await
            .unwrap());
        assert!(!hasher.verify("anything", "not a hash").await.unwrap());
    }

    #[tokio::test]
    async fn hashes_made_elsewhere_verify() {
        use argon2::PasswordHasher as _;
        let hasher = PasswordHasher::bounded_by_cores(64);
        // The argon2 reference vector: argon2i, m=4096, t=3, p=1, "password" / "somesalt".
        let reference =
            "$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A";
        assert!(hasher.verify("password", reference).await.unwrap());
        assert!(!hasher.verify("Password", reference).await.unwrap());
        // And one made by the argon2 crate's own hasher, with a longer output.
        let salt = SaltString::generate(&mut OsRng);
        let mut params = argon2::ParamsBuilder::new();
        params.m_cost(8192).t_cost(1).p_cost(2).output_len(48);
        let other = Argon2::new(Algorithm::Argon2d, Version::V0x10, params.build().unwrap())
            .hash_password(b"another phrase", &salt)
            .unwrap()
            .to_string();
        assert!(hasher.verify("another phrase", &other).await.unwrap());
        // Our own hashes verify with the crate's verifier too.
        let ours = hasher.hash_given("yet another phrase").await.unwrap();
        use argon2::PasswordVerifier as _;
        assert!(Argon2::default()
            .verify_password(b"yet another phrase", &PasswordHash::new(&ours).unwrap())
            .is_ok());
    }

    #[tokio::test]
    async fn hashes_with_other_parameters_are_marked_for_rehashing() {
        let hasher = PasswordHasher::bounded_by_cores(64);
        let current = hasher.hash_given("anything at all here").await.unwrap();
        assert!(!PasswordHasher::needs_rehash(&current));
        let weaker =
            "$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A";
        assert!(PasswordHasher::needs_rehash(weaker));
        assert!(PasswordHasher::needs_rehash("not a hash"));
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_instead_of_waiting() {
        // One thread, one place in the queue: of many checks at once, some must be turned away.
        let hasher = PasswordHasher::with_threads(1, 1);
        let hash = hasher.hash_given("anything at all here").await.unwrap();
        let checks: Vec<_> = (0..8)
            .map(|_| {
                let (hasher, hash) = (hasher.clone(), hash.clone());
                tokio::spawn(async move { hasher.verify("anything at all here", &hash).await })
            })
            .collect();
        let mut busy = 0;
        let mut checked = 0;
        for check in checks {
            match check.await.unwrap() {
                Ok(true) => checked += 1,
                Err(HashError::Busy) => busy += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(checked >= 1, "{checked} checked");
        assert!(busy >= 1, "{busy} busy");
        assert_eq!(checked + busy, 8);
    }

    #[tokio::test]
    async fn imported_hashes_that_ask_too_much_never_match() {
        let hasher = PasswordHasher::bounded_by_cores(64);
        // Correct for "password", but over the caps on passes and lanes.
        use argon2::PasswordHasher as _;
        let salt = SaltString::generate(&mut OsRng);
        for (m, t, p) in [(8192, 11, 1), (8192, 1, 9)] {
            let params = Params::new(m, t, p, None).unwrap();
            let greedy = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"password", &salt)
                .unwrap()
                .to_string();
            assert!(
                !hasher.verify("password", &greedy).await.unwrap(),
                "{greedy}"
            );
        }
    }

    #[test]
    fn a_hashing_thread_keeps_only_what_our_own_hashes_need() {
        let mut memory = Memory::new();
        verify_with(
            &mut memory,
            b"password",
            "$argon2i$v=19$m=32768,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .unwrap();
        assert_eq!(memory.len(), 32768);
        keep_only_what_our_hashes_need(&mut memory);
        assert_eq!(memory.len(), current_params().block_count());
    }

    #[tokio::test]
    async fn composed_and_decomposed_accents_are_the_same_password() {
        let hasher = PasswordHasher::bounded_by_cores(64);
        let composed = "caf\u{e9} au lait chaud";
        let decomposed = "cafe\u{301} au lait chaud";
        let hash = hasher
            .hash(NewPassword::parse(composed, "sam").unwrap())
            .await
            .unwrap();
        assert!(hasher.verify(decomposed, &hash).await.unwrap());
    }
}
