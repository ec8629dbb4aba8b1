//! A software passkey for the HTTP tests: a P-256 key that answers the portal's WebAuthn options
//! with real attestations (format "none") and real signed assertions, as a phone's screen lock
//! would, and that can be told to lie (another origin, another site, an old answer).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use p256::ecdsa::{signature::Signer, DerSignature, SigningKey};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub struct SoftPasskey {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    /// The user ID the portal gave the account's passkeys.
    pub user_handle: Vec<u8>,
    pub rp_id: String,
    pub counter: u32,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).unwrap()
}

/// The options a ceremony started with, as the portal sends them.
fn public_key(options: &Value) -> Value {
    let inner: Value = serde_json::from_str(options["options"].as_str().unwrap()).unwrap();
    inner["publicKey"].clone()
}

/// A few CBOR values, enough for an attestation object and a COSE key.
enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(&'static str),
    Map(Vec<(Cbor, Cbor)>),
}

fn head(major: u8, value: u64, out: &mut Vec<u8>) {
    let major = major << 5;
    match value {
        0..=23 => out.push(major | value as u8),
        24..=0xff => out.extend([major | 24, value as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend((value as u16).to_be_bytes());
        }
        _ => {
            out.push(major | 26);
            out.extend((value as u32).to_be_bytes());
        }
    }
}

impl Cbor {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Cbor::Int(n) if *n >= 0 => head(0, *n as u64, out),
            Cbor::Int(n) => head(1, (-1 - *n) as u64, out),
            Cbor::Bytes(b) => {
                head(2, b.len() as u64, out);
                out.extend(b);
            }
            Cbor::Text(t) => {
                head(3, t.len() as u64, out);
                out.extend(t.as_bytes());
            }
            Cbor::Map(entries) => {
                head(5, entries.len() as u64, out);
                for (k, v) in entries {
                    k.encode(out);
                    v.encode(out);
                }
            }
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// How an answer should lie, if at all.
#[derive(Clone, Copy, Default)]
pub struct Lie<'a> {
    pub origin: Option<&'a str>,
    pub rp_id: Option<&'a str>,
    /// Claims the user was verified when the screen lock wasn't used.
    pub no_user_verification: bool,
}

impl SoftPasskey {
    /// Answers a registration's options (from `/api/passkey_registration`): the new passkey and
    /// the credential to post to `/api/add_passkey`.
    pub fn register(options: &Value, origin: &str) -> (Self, String) {
        Self::register_lying(options, origin, Lie::default())
    }

    pub fn register_lying(options: &Value, origin: &str, lie: Lie) -> (Self, String) {
        let options = public_key(options);
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        let key = SigningKey::from_slice(&seed).unwrap();
        let mut credential_id = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut credential_id);
        let passkey = SoftPasskey {
            key,
            credential_id,
            user_handle: unb64(options["user"]["id"].as_str().unwrap()),
            rp_id: options["rp"]["id"].as_str().unwrap().to_string(),
            counter: 0,
        };
        let credential = passkey.attest(&options, origin, lie);
        (passkey, credential)
    }

    /// The same key answering another registration (to add it twice).
    pub fn register_again(&self, options: &Value, origin: &str) -> String {
        self.attest(&public_key(options), origin, Lie::default())
    }

    fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": origin,
            "crossOrigin": false,
        }))
        .unwrap()
    }

    fn flags(lie: Lie) -> u8 {
        // User present, and user verified unless told otherwise.
        if lie.no_user_verification {
            0x01
        } else {
            0x05
        }
    }

    fn attest(&self, options: &Value, origin: &str, lie: Lie) -> String {
        let origin = lie.origin.unwrap_or(origin);
        let rp_id = lie.rp_id.unwrap_or(&self.rp_id);
        let client_data = Self::client_data(
            "webauthn.create",
            options["challenge"].as_str().unwrap(),
            origin,
        );
        let point = self.key.verifying_key().to_sec1_point(false);
        let cose = Cbor::Map(vec![
            (Cbor::Int(1), Cbor::Int(2)),
            (Cbor::Int(3), Cbor::Int(-7)),
            (Cbor::Int(-1), Cbor::Int(1)),
            (Cbor::Int(-2), Cbor::Bytes(point.x().unwrap().to_vec())),
            (Cbor::Int(-3), Cbor::Bytes(point.y().unwrap().to_vec())),
        ])
        .bytes();
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        // Attested credential data follows.
        auth_data.push(Self::flags(lie) | 0x40);
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]);
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(cose);
        let attestation = Cbor::Map(vec![
            (Cbor::Text("fmt"), Cbor::Text("none")),
            (Cbor::Text("attStmt"), Cbor::Map(vec![])),
            (Cbor::Text("authData"), Cbor::Bytes(auth_data)),
        ])
        .bytes();
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
        .to_string()
    }

    /// Answers a sign-in's options (from `/api/passkey_challenge`): the assertion to post to
    /// `/api/passkey_sign_in`.
    pub fn sign_in(&mut self, options: &Value, origin: &str) -> String {
        self.sign_in_lying(options, origin, Lie::default())
    }

    pub fn sign_in_lying(&mut self, options: &Value, origin: &str, lie: Lie) -> String {
        let options = public_key(options);
        self.counter += 1;
        let origin = lie.origin.unwrap_or(origin);
        let rp_id = lie.rp_id.unwrap_or(&self.rp_id);
        let client_data = Self::client_data(
            "webauthn.get",
            options["challenge"].as_str().unwrap(),
            origin,
        );
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(Self::flags(lie));
        auth_data.extend(self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: DerSignature = self.key.sign(&signed);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.as_bytes()),
                "userHandle": b64(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
        .to_string()
    }
}
