//! Sealing what goes into a shared store: names that give nothing away, values that only the
//! holders of the ThoughtSpot secret can read or forge.
//!
//! - One 32-byte key pair per configuration, derived with HKDF-SHA256: the input key material is
//!   the configured password or trusted-authentication secret key; the salt names this scheme;
//!   the info binds the cluster's origin, the API generation and the credential kind. Replicas
//!   that differ in any of them derive other keys, so they neither read nor overwrite each
//!   other's entries.
//! - Names: `kind:` and the first 16 bytes of HMAC-SHA256(name key, kind, user, org), in hex.
//! - Values: `1 ‖ nonce (24) ‖ XChaCha20-Poly1305(seal key, nonce, plaintext, aad)`, the nonce
//!   random, the associated data the entry's name and generation, so an entry moved to another
//!   name or given another generation does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Generation;

const SALT: &[u8] = b"thoughtspot-auth/credential-store/v1";
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// Fills `buf` from the operating system's random source.
pub(crate) fn fill_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random source failed");
}

/// The keys of one configuration (see the module docs).
pub(crate) struct Keys {
    seal: XChaCha20Poly1305,
    names: [u8; 32],
}

impl Keys {
    /// Derives the keys from the configured secret and what the credentials are for.
    pub(crate) fn derive(secret: &[u8], context: &str) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(SALT), secret);
        let mut seal = [0u8; 32];
        let mut names = [0u8; 32];
        hkdf.expand_multi_info(&[context.as_bytes(), b"\nseal"], &mut seal)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        hkdf.expand_multi_info(&[context.as_bytes(), b"\nnames"], &mut names)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&seal));
        seal.fill(0);
        Self {
            seal: cipher,
            names,
        }
    }

    /// The entry name of `kind` for `parts` (user, org, …): a keyed hash, nothing in clear.
    pub(crate) fn name(&self, kind: &str, parts: &[&[u8]]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.names)
            .expect("HMAC takes a key of any length");
        mac.update(kind.as_bytes());
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let digest = mac.finalize().into_bytes();
        let mut name = String::with_capacity(kind.len() + 33);
        name.push_str(kind);
        name.push(':');
        for byte in &digest[..16] {
            name.push_str(&format!("{byte:02x}"));
        }
        name
    }

    /// Seals `plaintext` for the entry `name` of `generation`.
    pub(crate) fn seal(&self, name: &str, generation: &Generation, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let aad = associated_data(name, generation);
        let ciphertext = self
            .seal
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 seals any message that fits in memory");
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Opens what [`seal`](Self::seal) made for the same name and generation; `None` if it was
    /// made with other keys, for another entry, or tampered with.
    pub(crate) fn open(
        &self,
        name: &str,
        generation: &Generation,
        sealed: &[u8],
    ) -> Option<Vec<u8>> {
        let (&version, rest) = sealed.split_first()?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = associated_data(name, generation);
        self.seal
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .ok()
    }
}

fn associated_data(name: &str, generation: &Generation) -> Vec<u8> {
    let mut aad = Vec::with_capacity(name.len() + 40);
    aad.extend_from_slice(b"thoughtspot-auth/v1\0");
    aad.extend_from_slice(name.as_bytes());
    aad.push(0);
    aad.extend_from_slice(generation.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_keys_name_and_generation() {
        let keys = Keys::derive(b"secret-key", "https://ts.example.com\nV2\nBearerToken");
        let name = keys.name("cred", &[b"svc", b"1"]);
        assert!(name.starts_with("cred:") && name.len() == 5 + 32, "{name}");
        assert!(!name.contains("svc"));
        let generation = Generation::random();
        let sealed = keys.seal(&name, &generation, b"tok-plaintext-123");
        assert!(
            !sealed
                .windows(b"tok-plaintext".len())
                .any(|w| w == b"tok-plaintext")
        );
        assert_eq!(
            keys.open(&name, &generation, &sealed).as_deref(),
            Some(&b"tok-plaintext-123"[..])
        );
        // Another generation, another name, other keys, or one flipped bit: nothing.
        assert!(keys.open(&name, &Generation::random(), &sealed).is_none());
        let other_name = keys.name("cred", &[b"svc", b"2"]);
        assert_ne!(other_name, name);
        assert!(keys.open(&other_name, &generation, &sealed).is_none());
        let other = Keys::derive(b"another-key", "https://ts.example.com\nV2\nBearerToken");
        assert!(other.open(&name, &generation, &sealed).is_none());
        assert_ne!(other.name("cred", &[b"svc", b"1"]), name);
        let other_cluster =
            Keys::derive(b"secret-key", "https://other.example.com\nV2\nBearerToken");
        assert_ne!(other_cluster.name("cred", &[b"svc", b"1"]), name);
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(keys.open(&name, &generation, &tampered).is_none());
        assert!(keys.open(&name, &generation, &[]).is_none());
        // Nonces are random: the same plaintext seals differently.
        assert_ne!(
            keys.seal(&name, &generation, b"x"),
            keys.seal(&name, &generation, b"x")
        );
    }

    #[test]
    fn name_parts_are_length_prefixed() {
        let keys = Keys::derive(b"k", "c");
        assert_ne!(
            keys.name("cred", &[b"ab", b"c"]),
            keys.name("cred", &[b"a", b"bc"])
        );
    }
}
