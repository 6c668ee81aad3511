//! The secrets oracle: knows every secret of the card a test drives and says when a
//! response gives one away. Not a stable API.
//!
//! What it knows:
//!
//! * everything the profile gives the card ([`Profile::secrets`]): root keys, PINs, the
//!   PBOC keys, UDKs, PIN block and SM2 key;
//! * everything the card stores: each value of the secret table (diversified keys, PINs,
//!   PKI PIN keys) and the content of each key object (the PKI private keys, including
//!   those generated or imported during the session), re-read whenever the card commits;
//! * the session keys the card derives: `KS(K, input)` for every stored key and every
//!   session input seen (GET CHALLENGE answers, INTERNAL AUTHENTICATE randoms, the
//!   purse's `random ‖ sequence ‖ 8000` and `random ‖ sequence ‖ TTSN[2..4]`), the purse
//!   TAC keys, and the PBOC session keys of each UDK for every ATC the session can
//!   have reached.
//!
//! What counts as a leak: any 8 consecutive bytes of a secret in a response (a secret
//! shorter than 8 bytes counts as stored, padded with `00` to 8), unless the terminal
//! itself sent those 8 bytes earlier in the session (a PIN it chose, a key it
//! imported, data it wrote: it knew them already). Windows of one repeated byte are
//! ignored: padding and blank files are full of them, and no real key is one.

use std::collections::{HashMap, HashSet};

use sscard_core::auth::secret::{SecretKind, read_secret};
use sscard_core::crypto::{Algorithm, CardCipher, pboc_session_key};
use sscard_core::fs::layout::{FLAG_KEY_OBJECT, FileKind, scan};
use sscard_core::nvm::Nvm;
use sscard_core::rng::CardRng;
use sscard_core::ssc::purse::PurseState;
use sscard_core::{Applets, Card};
use zeroize::Zeroizing;

use crate::profile::Profile;

/// Bytes of a secret that may not appear in a response.
const WINDOW: usize = 8;

/// A symmetric key the card holds, for deriving its session keys.
#[derive(Clone)]
struct CardKeyValue {
    algorithm: Algorithm,
    value: Zeroizing<Vec<u8>>,
    label: String,
}

/// The secrets of one card session and the bytes the terminal sent.
#[derive(Clone, Default)]
pub struct SecretOracle {
    /// Every 8-byte window of every secret, with the secret's name.
    windows: HashMap<[u8; WINDOW], String>,
    /// Every 8-byte window of every command the terminal sent.
    sent: HashSet<[u8; WINDOW]>,
    /// The card's stored symmetric keys (secret table), for session keys.
    keys: Vec<CardKeyValue>,
    /// PBOC UDKs (from the profile), for the session keys of each ATC.
    udks: Vec<([u8; 16], String)>,
    /// PBOC session keys are known for every ATC below this.
    atc_covered: u32,
    /// Session inputs already derived from, so each costs once.
    inputs_seen: HashSet<Vec<u8>>,
    /// The card's commit count when its stored secrets were last read.
    commits_read: Option<u32>,
    /// The purse random and sequence of an INITIALIZE FOR PURCHASE, until the next
    /// command gives the TTSN.
    purchase_pending: Option<([u8; 4], u16)>,
    /// Commands seen.
    commands: u32,
}

impl SecretOracle {
    /// An oracle that knows the secrets `profile` gives its cards.
    pub fn for_profile(profile: &Profile) -> Self {
        let mut oracle = SecretOracle::default();
        for (label, value) in profile.secrets() {
            oracle.add_secret(&value, &label);
            if value.len() == 16 && label.contains("udk") {
                let mut udk = [0u8; 16];
                udk.copy_from_slice(&value);
                oracle.udks.push((udk, label));
            }
        }
        oracle
    }

    /// Remembers `value` as a secret named `label`.
    pub fn add_secret(&mut self, value: &[u8], label: &str) {
        let mut padded = Zeroizing::new(value.to_vec());
        if padded.len() < WINDOW {
            padded.resize(WINDOW, 0);
        }
        for w in padded.windows(WINDOW) {
            let mut key = [0u8; WINDOW];
            key.copy_from_slice(w);
            if key.iter().any(|b| *b != key[0]) {
                self.windows.entry(key).or_insert_with(|| label.to_owned());
            }
        }
    }

    /// Number of distinct secret windows known (for reports and to show the oracle is
    /// armed).
    pub fn known_windows(&self) -> usize {
        self.windows.len()
    }

    /// Before a command goes to the card: its bytes become terminal knowledge, and a
    /// purse purchase or INTERNAL AUTHENTICATE gives session inputs.
    pub fn before_command(&mut self, apdu: &[u8]) {
        self.commands = self.commands.saturating_add(1);
        for w in apdu.windows(WINDOW) {
            let mut key = [0u8; WINDOW];
            key.copy_from_slice(w);
            self.sent.insert(key);
        }
        let data = apdu.get(5..).unwrap_or_default();
        if let Some((random, sequence)) = self.purchase_pending.take()
            && let Some(&[t2, t3]) = data.get(2..4)
        {
            // SESPK = KS(DPK, random ‖ purchase sequence ‖ TTSN[2..4]) (P7 §12.4).
            let [s0, s1] = sequence.to_be_bytes();
            let [r0, r1, r2, r3] = random;
            self.derive_session_keys(&[r0, r1, r2, r3, s0, s1, t2, t3]);
        }
        // INTERNAL AUTHENTICATE: KS(IRK, r1) with the terminal's random (P4 §9.3).
        if apdu.get(1) == Some(&0x88) {
            for n in [4, 8, 16] {
                if let Some(r1) = data.get(..n) {
                    self.derive_session_keys(r1);
                }
            }
        }
    }

    /// After the card answered `apdu` with `response`: learns what the card now stores
    /// and derives, then checks the response. `Err` names the secret that leaked.
    pub fn after_command<N: Nvm, R: CardRng, A: Applets>(
        &mut self,
        card: &Card<N, R, A>,
        apdu: &[u8],
        response: &[u8],
    ) -> Result<(), String> {
        self.learn_stored(card);
        let data = response
            .get(..response.len().saturating_sub(2))
            .unwrap_or_default();
        // GET CHALLENGE: the card's random is the input of the next session key.
        if apdu.get(1) == Some(&0x84) && matches!(data.len(), 4 | 8 | 16) {
            self.derive_session_keys(data);
        }
        match card.transient().purse {
            PurseState::Load {
                random, sequence, ..
            } => {
                // SESLK = KS(DLK, random ‖ load sequence ‖ 8000) (P7 §11.2).
                let [s0, s1] = sequence.to_be_bytes();
                let [r0, r1, r2, r3] = random;
                self.derive_session_keys(&[r0, r1, r2, r3, s0, s1, 0x80, 0x00]);
            }
            PurseState::Purchase {
                random, sequence, ..
            } => self.purchase_pending = Some((random, sequence)),
            PurseState::Idle => {}
        }
        self.cover_pboc_atcs();
        self.check(response)
    }

    /// `Err` naming the secret if `response` holds 8 bytes of one that the terminal did
    /// not send itself.
    pub fn check(&self, response: &[u8]) -> Result<(), String> {
        for (at, w) in response.windows(WINDOW).enumerate() {
            let mut key = [0u8; WINDOW];
            key.copy_from_slice(w);
            if let Some(label) = self.windows.get(&key)
                && !self.sent.contains(&key)
            {
                return Err(format!(
                    "the response gives away 8 bytes of {label} at offset {at}"
                ));
            }
        }
        Ok(())
    }

    /// Re-reads the secret table and the key objects when the card committed since
    /// the last read.
    fn learn_stored<N: Nvm, R: CardRng, A: Applets>(&mut self, card: &Card<N, R, A>) {
        let commits = card.store().commits();
        if self.commits_read == Some(commits) {
            return;
        }
        self.commits_read = Some(commits);
        let (store, header) = (card.store(), card.header());
        for index in 0..header.secrets_used {
            let Ok(Some(secret)) = read_secret(store, header, index) else {
                continue;
            };
            let label = format!(
                "stored {} {:02X} of DF {}",
                match secret.kind {
                    SecretKind::Key => "key",
                    SecretKind::Pin => "PIN",
                },
                secret.id,
                secret.owner
            );
            self.add_secret(secret.value(), &label);
            if secret.kind == SecretKind::Key
                && let Some(algorithm) = Algorithm::from_id(secret.algorithm)
                && !self
                    .keys
                    .iter()
                    .any(|k| k.value.as_slice() == secret.value())
            {
                self.add_derived_keys(algorithm, secret.value(), &label);
                self.keys.push(CardKeyValue {
                    algorithm,
                    value: secret.value().to_vec().into(),
                    label,
                });
            }
        }
        let transparent = {
            let mut found = vec![];
            let _ = scan(store, header, |e| {
                if e.kind == FileKind::Transparent {
                    let key_object = e.flags & FLAG_KEY_OBJECT != 0;
                    found.push((e.fid, e.body_at as usize, e.body_len as usize, key_object));
                }
                None::<()>
            });
            found
        };
        for (fid, at, len, key_object) in transparent {
            if key_object {
                let mut body = Zeroizing::new(vec![0u8; len]);
                if store.read(at, &mut body).is_ok() {
                    self.add_secret(&body, &format!("key object {fid:04X}"));
                }
                continue;
            }
            // An SM2 private-key record (`CB 20 d`) wherever the card wrote one, so a
            // key put into an ordinary EF (the hole of issue #10) is a secret too.
            let mut record = Zeroizing::new([0u8; 34]);
            if len >= record.len()
                && store.read(at, &mut record[..]).is_ok()
                && record.starts_with(&[0xCB, 0x20])
            {
                let d = record.get(2..).unwrap_or_default();
                self.add_secret(d, &format!("SM2 private key in EF {fid:04X}"));
            }
        }
    }

    /// Keys the card derives from a stored key without any input: the purse TAC key of
    /// the 8-byte algorithm (`DTK[0..8] ⊕ DTK[8..16]`, P7 §15).
    fn add_derived_keys(&mut self, algorithm: Algorithm, value: &[u8], label: &str) {
        if algorithm == Algorithm::Des3
            && let (Some(l), Some(r)) = (value.get(..8), value.get(8..16))
        {
            let folded: Vec<u8> = l.iter().zip(r).map(|(a, b)| a ^ b).collect();
            self.add_secret(&folded, &format!("TAC key of {label}"));
        }
    }

    /// `KS(K, input)` for every stored key: the block cipher over the input padded
    /// with `00` (P4 §8.4); the 8-byte algorithm's session key is that block.
    fn derive_session_keys(&mut self, input: &[u8]) {
        if !self.inputs_seen.insert(input.to_vec()) {
            return;
        }
        let mut derived = vec![];
        for key in &self.keys {
            let Ok(cipher) = CardCipher::new(key.algorithm, &key.value) else {
                continue;
            };
            let block_len = key.algorithm.block_len();
            if input.len() > block_len {
                continue;
            }
            let mut block = Zeroizing::new(vec![0u8; block_len]);
            if let Some(head) = block.get_mut(..input.len()) {
                head.copy_from_slice(input);
            }
            if cipher.encrypt_block(&mut block).is_ok() {
                derived.push((block, format!("session key of {}", key.label)));
            }
        }
        for (value, label) in derived {
            self.add_secret(&value, &label);
        }
    }

    /// PBOC session keys (`pboc_session_key(UDK, ATC)`) of every ATC the session can
    /// have reached: one per command at most, from zero.
    fn cover_pboc_atcs(&mut self) {
        let target = self.commands.saturating_add(1).min(u32::from(u16::MAX));
        while self.atc_covered <= target {
            let atc = self.atc_covered as u16;
            let keys: Vec<_> = self
                .udks
                .iter()
                .map(|(udk, label)| (pboc_session_key(udk, atc), label.clone()))
                .collect();
            for (sk, label) in keys {
                self.add_secret(&sk[..], &format!("session key of {label}, ATC {atc}"));
            }
            self.atc_covered += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::fuzz_checks::sample_oracle;
    use crate::sample::pboc_sample_card;
    use sscard_core::Interface;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Sends `apdu` through the oracle; returns the response.
    fn send<N: Nvm, R: CardRng, A: Applets>(
        card: &mut Card<N, R, A>,
        oracle: &mut SecretOracle,
        apdu: &str,
    ) -> Vec<u8> {
        let apdu = hex(apdu);
        let mut out = vec![0u8; 65_538];
        oracle.before_command(&apdu);
        let n = card.process(&apdu, &mut out);
        oracle.after_command(card, &apdu, &out[..n]).unwrap();
        out[..n].to_vec()
    }

    fn with_sw(data: &[u8]) -> Vec<u8> {
        [data, &[0x90, 0x00]].concat()
    }

    #[test]
    fn stored_keys_and_pins_are_secrets_but_what_the_terminal_sent_is_not() {
        let mut card = pboc_sample_card();
        let mut oracle = sample_oracle();
        send(&mut card, &mut oracle, "00A40000023F00");
        // Every stored key of the card (diversified values) is known.
        let (store, header) = (card.store(), card.header());
        let mut keys = 0;
        for index in 0..header.secrets_used {
            let Some(secret) = read_secret(store, header, index).unwrap() else {
                continue;
            };
            if secret.kind == SecretKind::Key {
                keys += 1;
                let leak = with_sw(&[&[0x6F, 0x00][..], secret.value()].concat());
                assert!(oracle.check(&leak).is_err(), "key {:02X}", secret.id);
                // Eight bytes from the middle of the key are enough.
                assert!(oracle.check(&with_sw(&secret.value()[4..12])).is_err());
                // Seven are not.
                assert!(oracle.check(&with_sw(&secret.value()[4..11])).is_ok());
            }
        }
        assert!(keys > 20, "{keys} keys");
        // The PBOC PIN block of the profile.
        assert!(oracle.check(&with_sw(&hex("26123456FFFFFFFF"))).is_err());
        // A response carrying what the terminal itself sent is no leak.
        let block = "26123456FFFFFFFF";
        send(&mut card, &mut oracle, &format!("00D6000008{block}"));
        assert!(oracle.check(&with_sw(&hex(block))).is_ok());
        // Runs of one byte are never a secret window (blank files, padding).
        assert!(oracle.check(&with_sw(&[0x11; 16])).is_ok());
    }

    #[test]
    fn session_keys_of_a_challenge_and_of_pboc_atcs_are_secrets() {
        let mut card = pboc_sample_card();
        let mut oracle = sample_oracle();
        // The SSSE, then a challenge: KS(K, challenge) for its keys becomes secret.
        send(
            &mut card,
            &mut oracle,
            "00A404000F7378312E73682EC9E7BBE1B1A3D5CF",
        );
        let challenge = send(&mut card, &mut oracle, "0084000008");
        let challenge = &challenge[..8];
        let (store, header) = (card.store(), card.header());
        let stk = (0..header.secrets_used)
            .filter_map(|i| read_secret(store, header, i).unwrap())
            .find(|s| s.kind == SecretKind::Key && s.algorithm == Algorithm::Sm4.id())
            .unwrap();
        // SM4 session key computed by the RustCrypto sm4 crate, not the card's code.
        use sm4::cipher::{BlockCipherEncrypt, KeyInit};
        let sm4 = sm4::Sm4::new_from_slice(stk.value()).unwrap();
        let mut block = [0u8; 16];
        block[..8].copy_from_slice(challenge);
        let mut b = block.into();
        sm4.encrypt_block(&mut b);
        let session: [u8; 16] = b.into();
        assert!(oracle.check(&with_sw(&session)).is_err());
        // PBOC session keys of the first ATCs: derived from the UDK by the core's own
        // derivation (its known-answer tests live with it).
        let (udk, _) = oracle.udks.first().cloned().unwrap();
        let sk = pboc_session_key(&udk, 1);
        assert!(oracle.check(&with_sw(&sk[..])).is_err());
    }

    #[test]
    fn a_generated_private_key_is_a_secret_at_once() {
        let mut card = pboc_sample_card();
        let _ = card.power_on(Interface::Contactless);
        let mut oracle = sample_oracle();
        send(&mut card, &mut oracle, "00A404000C504B492EC9E7BBE1B1A3D5CF");
        send(&mut card, &mut oracle, "00A404000C53532E434552542E41444631");
        let c = send(&mut card, &mut oracle, "0084000010");
        // VERIFY the user PIN: SM4(SM3(123456)[0..16], challenge).
        let pin_key = sscard_core::ssc::pki::pin_key(&hex("123456"));
        use sm4::cipher::{BlockCipherEncrypt, KeyInit};
        let sm4 = sm4::Sm4::new_from_slice(&pin_key).unwrap();
        let mut b: [u8; 16] = c[..16].try_into().unwrap();
        let mut block = b.into();
        sm4.encrypt_block(&mut block);
        b = block.into();
        let r = send(
            &mut card,
            &mut oracle,
            &format!(
                "0020018110{}",
                b.iter().map(|x| format!("{x:02X}")).collect::<String>()
            ),
        );
        assert_eq!(r, [0x90, 0x00]);
        let before = oracle.known_windows();
        let r = send(&mut card, &mut oracle, "8040000008C0020012C2020013");
        assert_eq!(r, [0x90, 0x00]);
        assert!(oracle.known_windows() > before, "d was learned");
        // The key object now holds CB 20 d: any 8 bytes of d would be a leak.
        let d = scan(card.store(), card.header(), |e| {
            (e.fid == 0x0013 && e.flags & FLAG_KEY_OBJECT != 0).then_some(e.body_at as usize)
        })
        .unwrap()
        .unwrap();
        let mut rec = [0u8; 34];
        card.store().read(d, &mut rec).unwrap();
        assert_eq!(&rec[..2], &[0xCB, 0x20]);
        assert!(oracle.check(&with_sw(&rec[10..18])).is_err());
    }
}
