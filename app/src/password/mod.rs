//! Password rules and hashing. Rules follow NIST SP 800-63B: length, not common, no composition
//! rules. Hashes are argon2id PHC strings, computed off the async runtime and bounded by the cores.

use std::{collections::HashSet, sync::Arc, sync::OnceLock};

use argon2::{
    password_hash::{
        rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
    },
    Algorithm, Argon2, Params, Version,
};
use tokio::sync::Semaphore;
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
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and verifies on the blocking pool, never more at once than there are cores, so memory
/// stays flat however many patients log in together.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    dummy: Arc<OnceLock<String>>,
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl PasswordHasher {
    pub fn bounded_by_cores() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            permits: Arc::new(Semaphore::new(cores)),
            dummy: Arc::new(OnceLock::new()),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| HashError(e.to_string()))
    }

    /// The PHC string to store.
    pub async fn hash(&self, password: NewPassword) -> Result<String, HashError> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.0.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| HashError(e.to_string()))
        })
        .await?
    }

    /// Whether `password` matches the stored PHC string. A malformed hash never matches.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, HashError> {
        let password = normalise(password);
        let phc = phc.to_string();
        self.run(move || match PasswordHash::new(&phc) {
            Ok(parsed) => Ok(argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()),
            Err(_) => Ok(false),
        })
        .await?
    }

    /// Whether a stored hash was made with other parameters (an imported or older hash), so it
    /// should be replaced once the password is known to be right.
    pub fn needs_rehash(phc: &str) -> bool {
        let current = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
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
        let hasher = PasswordHasher::bounded_by_cores();
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
    async fn hashes_with_other_parameters_are_marked_for_rehashing() {
        let hasher = PasswordHasher::bounded_by_cores();
        let current = hasher.hash_given("anything at all here").await.unwrap();
        assert!(!PasswordHasher::needs_rehash(&current));
        let weaker =
            "$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A";
        assert!(PasswordHasher::needs_rehash(weaker));
        assert!(PasswordHasher::needs_rehash("not a hash"));
    }

    #[tokio::test]
    async fn composed_and_decomposed_accents_are_the_same_password() {
        let hasher = PasswordHasher::bounded_by_cores();
        let composed = "caf\u{e9} au lait chaud";
        let decomposed = "cafe\u{301} au lait chaud";
        let hash = hasher
            .hash(NewPassword::parse(composed, "sam").unwrap())
            .await
            .unwrap();
        assert!(hasher.verify(decomposed, &hash).await.unwrap());
    }
}
