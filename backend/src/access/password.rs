//! Password hashing (argon2id) and the random secrets of sessions,
//! tokens and generated passwords.
//!
//! Hashing and checking take tens of milliseconds and a few MiB on
//! purpose; callers run them on a blocking thread.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use base64::Engine as _;

/// Shortest password accepted for a user.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest: argon2 takes any length, but a megabyte "password" is abuse.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why a password cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("passwords must be at least {MIN_PASSWORD_LEN} characters long")]
    TooShort,
    #[error("passwords must be at most {MAX_PASSWORD_LEN} bytes long")]
    TooLong,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// Checks a new password against the length rules.
pub fn acceptable(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// The PHC string (`$argon2id$v=19$...`) of `password` with a fresh salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    acceptable(password)?;
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|err| PasswordError::Hash(err.to_string()))
}

/// Whether `password` matches the stored `phc` hash. A hash that does not
/// parse matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Does the work of one check for a user who does not exist, so that a
/// wrong name and a wrong password take the same time.
pub fn verify_nobody(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("partout-no-such-user").unwrap_or_default());
    let _ = verify(password, phc);
}

/// `bytes` random bytes as unpadded URL-safe base64: cookie and token
/// secrets. Fails only if the OS has no randomness to give.
pub fn random_secret(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// A password people can type: 20 letters and digits (about 119 bits).
pub fn random_password() -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut buf = [0u8; 20];
    getrandom::fill(&mut buf)?;
    // 256 is not a multiple of 57: a slight bias toward the first
    // letters, far too small to matter at this length.
    Ok(buf
        .iter()
        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse batterY", &phc));
        assert!(!verify("", &phc));
        assert!(!verify("correct horse battery", "not a hash"));
        assert_ne!(phc, hash("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert_eq!(hash("seven77"), Err(PasswordError::TooShort));
        assert_eq!(hash(&"x".repeat(2000)), Err(PasswordError::TooLong));
        assert!(acceptable("ééééééééé").is_ok(), "counted in characters");
    }

    #[test]
    fn secrets_are_random_and_url_safe() {
        let one = random_secret(32).unwrap();
        let two = random_secret(32).unwrap();
        assert_ne!(one, two);
        assert_eq!(one.len(), 43);
        assert!(one
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let password = random_password().unwrap();
        assert_eq!(password.chars().count(), 20);
        assert!(acceptable(&password).is_ok());
    }
}
