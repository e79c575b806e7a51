//! Device tokens: each laptop pushes with its own bearer token, bound to its device id and site.
//!
//! A token is `plt_` followed by 64 hex digits (32 bytes from the operating system's random
//! generator). It is shown once, when issued; the server keeps only its SHA-256, so a copy of
//! the database does not let anyone push. Tokens are issued, listed and revoked by operators
//! (`pluto-server token …`), and checked on every request.

use pluto_domain::DeviceId;

use pluto_domain::Timestamp;
use sha2::{Digest, Sha256};

use crate::storage::Role;

use crate::storage::Storage;

use crate::storage::StorageError;

use crate::storage::TokenRecord;

/// Every token secret starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "plt_";

/// Random bytes in a token secret.
const SECRET_BYTES: usize = 32;

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The operating system's random generator failed.
    #[error("cannot read random bytes from the operating system: {0}")]
    Random(getrandom::Error),
    /// The site is blank.
    #[error("the site must not be blank (for example MBA, ECHA, RGE or LEGO)")]
    BlankSite,
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A token just issued: the secret, to hand to the laptop once, and what is stored.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The bearer secret; it is not stored and cannot be shown again.
    pub secret: String,
    /// The stored token.
    pub record: TokenRecord,
}

/// The hex SHA-256 under which a secret is stored and looked up.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Issues a new token for `device` at `site` with `role` and stores its hash.
pub async fn issue<S: Storage>(
    storage: &S,
    device: DeviceId,
    site: &str,
    role: Role,
    label: Option<&str>,
) -> Result<IssuedToken, TokenError> {
    let site = site.trim();
    if site.is_empty() {
        return Err(TokenError::BlankSite);
    }
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(TokenError::Random)?;
    let secret = format!("{TOKEN_PREFIX}{}", hex(&bytes));
    let created_at = Timestamp::now();
    let record = TokenRecord {
        id: format!("tok_{}", pluto_domain::ids::next_ulid(created_at.system_time())),
        device_id: device,
        site: site.to_owned(),
        role,
        label: label.map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned),
        created_at,
        revoked_at: None,
    };
    storage.create_token(&record, &hash_secret(&secret)).await?;
    Ok(IssuedToken { secret, record })
}

/// The token a request's secret belongs to, if it exists and is not revoked.
pub async fn authenticate<S: Storage>(
    storage: &S,
    secret: &str,
) -> Result<Option<TokenRecord>, StorageError> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let token = storage.find_token(&hash_secret(secret)).await?;
    Ok(token.filter(|t| t.revoked_at.is_none()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_hash_to_hex_sha256() {
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
