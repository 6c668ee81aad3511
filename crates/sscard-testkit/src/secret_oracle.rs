//! The secrets oracle: knows every secret of the card a test drives and says when a
//! response gives one away. Not a stable API.
//!
//! What it knows:
//!
//! * everything the profile gives the card ([`Profile::secrets`]): root keys, PINs, the
//!   PBOC keys, UDKs, PIN block and SM2 key;
//! * everything the card stores: each value of the secret table (diversified keys, PINs,
//!   PKI PIN keys) and the content of each key object (the PKI private keys, including
//!   those generated or imported during the session), and an SM2 private-key record
//!   (`CB 20 d`) wherever the card wrote one; re-read whenever the card commits;
//! * the session keys the card derives: `KS(K, input)` for every stored key and every
//!   session input seen (GET CHALLENGE answers, INTERNAL AUTHENTICATE randoms, the
//!   purse's `random ‖ sequence ‖ 8000` and `random ‖ sequence ‖ TTSN[2..4]`), the purse
//!   TAC keys, and the PBOC session keys of each UDK for every ATC the session can
//!   have reached (one more per GET PROCESSING OPTIONS that went through).
//!
//! What counts as a leak: any 8 consecutive bytes of a secret in a response (a secret
//! shorter than 8 bytes counts as stored, padded with `00` to 8), unless the terminal
//! itself sent those 8 bytes earlier in the session (a PIN it chose, a key it
//! imported, data it wrote: it knew them already). Windows of one repeated byte are
//! ignored: padding and blank files are full of them, and no real key is one.
//!
//! It runs on every fuzz execution, so it keeps its cost small: secret windows are
//! `u64`s in a hash map with a multiplicative hash, the terminal's bytes are searched only
//! when a response holds a secret window, stored secrets are re-read only when the card
//! committed and re-learned only where the bytes changed, session keys are derived only
//! when a response of 8 bytes or more comes (most are a bare status word), and secrets
//! are named only when one leaks. An oracle primed on a card ([`SecretOracle::prime`])
//! and cloned for each run starts with all of that done.

use crate::{Violation, violation};
use sscard_ssc::SscCard;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use sscard_core::Applets;
use sscard_core::auth::secret::{SecretKind, read_secret};
use sscard_core::crypto::{Algorithm, CardCipher, pboc_session_key};
use sscard_core::fs::layout::{FileFlags, FileKind, SECRET_ENTRY_LEN, scan};
use sscard_core::nvm::Nvm;
use sscard_core::rng::CardRng;
use sscard_ssc::purse::{Pending, PurseState};
use zeroize::Zeroizing;

use sscard_host::profile::Profile;

/// Bytes of a secret that may not appear in a response.
const WINDOW: usize = 8;
/// Bytes read at the start of each transparent EF: an SM2 private-key record.
const KEY_RECORD: usize = 34;

/// Hashes a window (a `u64`) with one multiplication: the keys are secrets or random
/// bytes, so no hash-flooding defence is needed, and SipHash would dominate a run.
#[derive(Default, Clone, Copy)]
struct WindowHasher(u64);

impl Hasher for WindowHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Fast = BuildHasherDefault<WindowHasher>;

/// An 8-byte window as a hash key (callers pass `windows(WINDOW)` slices).
fn window(w: &[u8]) -> u64 {
    u64::from_be_bytes(w.try_into().unwrap_or([0; WINDOW]))
}

/// A symmetric key the card holds, its cipher built once, for deriving session keys.
#[derive(Clone)]
struct CardKeyValue {
    cipher: Arc<CardCipher>,
    algorithm: Algorithm,
    label: usize,
}

/// A transparent EF whose first bytes may hold a private key.
#[derive(Clone, Copy)]
struct KeyHolder {
    fid: u16,
    at: usize,
    key_object: bool,
}

/// What a secret is, for the failure message: built into words only when one leaks, so
/// learning the hundreds of session keys of a run allocates no names.
#[derive(Clone, Debug)]
enum Label {
    /// A secret of the profile, by its field.
    Profile(String),
    /// A key or PIN of the card's secret table.
    Stored {
        kind: SecretKind,
        id: u8,
        owner: sscard_core::fs::layout::FileIndex,
    },
    /// The purse TAC key folded from the key of this label.
    TacKey(usize),
    /// `KS(K, input)` of the key of this label.
    SessionKey(usize),
    /// The PBOC session key of the UDK of this label at this ATC.
    PbocSessionKey { udk: usize, atc: u16 },
    /// The content of a key object.
    KeyObject(u16),
    /// An SM2 private-key record in an ordinary EF.
    PrivateKeyInEf(u16),
}

/// Windows of secrets, each with the index of its secret's name: a list behind a Bloom
/// filter, so that learning a secret costs a push and two bit sets per window, and
/// checking a response two bit tests per window; the list is searched only when the
/// filter says "maybe".
#[derive(Clone, Default)]
struct Windows {
    /// Two bits per window; empty until the first window.
    filter: Vec<u64>,
    /// log2 of the filter's bits at most.
    filter_bits: u32,
    /// log2 of the filter's bits now: it starts small and grows with the entries, so a
    /// fuzz run that learns a few secrets does not clear a large filter.
    bits_now: u32,
    entries: Vec<(u64, usize)>,
    /// The entries are sorted by window, one per window (the frozen base).
    sorted: bool,
}

impl Windows {
    /// An empty set whose filter will have `2^bits` bits.
    fn with_filter_bits(bits: u32) -> Self {
        Windows {
            filter_bits: bits,
            bits_now: bits.min(FIRST_FILTER_BITS),
            ..Windows::default()
        }
    }

    /// The filter's two bits of `w` (word index, mask).
    fn bits(&self, w: u64) -> [(usize, u64); 2] {
        let shift = 64 - self.bits_now;
        [0x9E37_79B9_7F4A_7C15u64, 0xC2B2_AE3D_27D4_EB4F].map(|k| {
            let bit = (w.wrapping_mul(k) >> shift) as usize;
            (bit / 64, 1 << (bit % 64))
        })
    }

    fn insert(&mut self, w: u64, label: usize) {
        if self.filter.is_empty() {
            self.filter = vec![0; (1usize << self.bits_now) / 64];
        }
        // Keep at least eight filter bits per window (false "maybe"s below 5 %).
        if self.entries.len() << 3 >= 1usize << self.bits_now && self.bits_now < self.filter_bits {
            self.bits_now = (self.bits_now + 2).min(self.filter_bits);
            self.filter = vec![0; (1usize << self.bits_now) / 64];
            for i in 0..self.entries.len() {
                if let Some(&(old, _)) = self.entries.get(i) {
                    self.set_bits(old);
                }
            }
        }
        self.set_bits(w);
        self.entries.push((w, label));
        self.sorted = false;
    }

    fn set_bits(&mut self, w: u64) {
        for (word, mask) in self.bits(w) {
            if let Some(word) = self.filter.get_mut(word) {
                *word |= mask;
            }
        }
    }

    /// The label of the first secret with window `w`.
    fn get(&self, w: u64) -> Option<usize> {
        let maybe = self
            .bits(w)
            .iter()
            .all(|&(word, mask)| self.filter.get(word).is_some_and(|bits| bits & mask != 0));
        if !maybe {
            return None;
        }
        if self.sorted {
            let at = self.entries.binary_search_by_key(&w, |e| e.0).ok()?;
            return self.entries.get(at).map(|e| e.1);
        }
        self.entries.iter().find(|e| e.0 == w).map(|e| e.1)
    }

    /// Sorts by window, keeping the first label of each (done once, for the base).
    fn sort(&mut self) {
        self.entries.sort_by_key(|e| e.0);
        self.entries.dedup_by_key(|e| e.0);
        self.sorted = true;
    }

    /// Empties the set, unsetting only the bits its entries set.
    fn clear(&mut self) {
        for &(w, _) in &self.entries {
            for (word, _) in self.bits(w) {
                if let Some(word) = self.filter.get_mut(word) {
                    *word = 0;
                }
            }
        }
        self.entries.clear();
    }

    /// Number of windows (each once, for a sorted set).
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Secrets by window, their names, and the stored keys that derive session keys.
#[derive(Clone)]
struct Knowledge {
    /// Every 8-byte window of every secret → index of its name (global numbering).
    windows: Windows,
    labels: Vec<Label>,
    keys: Vec<CardKeyValue>,
}

impl Knowledge {
    /// Empty, with a filter of `2^bits` bits.
    fn new(filter_bits: u32) -> Self {
        Knowledge {
            windows: Windows::with_filter_bits(filter_bits),
            labels: Vec::new(),
            keys: Vec::new(),
        }
    }
}

/// Filter bits of the base (some ten thousand windows) and of a session's own learning
/// (a few thousand): false "maybe"s stay below one in a thousand windows.
const BASE_FILTER_BITS: u32 = 20;
/// Filter bits a set starts with (512 bytes).
const FIRST_FILTER_BITS: u32 = 12;
const OWN_FILTER_BITS: u32 = 18;

/// The secrets of one card session and the bytes the terminal sent.
#[derive(Clone)]
pub struct SecretOracle {
    /// What every session starts with (the profile's secrets, the card as primed):
    /// shared, so that cloning an oracle for each fuzz run costs no copy of it.
    base: Arc<Knowledge>,
    /// What this session learned; its label indices continue the base's.
    own: Knowledge,
    /// Every command the terminal sent, end to end (`sent_ends` marks where each ends):
    /// searched only when a response holds a secret's window, which is rare, so nothing
    /// is indexed per command.
    sent: Vec<u8>,
    sent_ends: Vec<usize>,
    /// PBOC UDKs (from the profile), for the session keys of each ATC.
    udks: Vec<([u8; 16], usize)>,
    /// PBOC session keys are known for every ATC below this.
    atc_covered: u32,
    /// Session inputs already seen, so each costs once.
    inputs_seen: HashSet<u64, Fast>,
    /// Session inputs (length, bytes) whose session keys are not derived yet: they are
    /// when a response long enough to hold 8 bytes of one comes (most are a bare SW).
    inputs_pending: Vec<(usize, [u8; 16])>,
    /// The card's commit count when its stored secrets were last read.
    commits_read: Option<u32>,
    /// The secret table as last read.
    secret_table: Vec<u8>,
    /// The EFs that may hold key records (the file table does not change at run time),
    /// with their first bytes as last read.
    holders: Option<Vec<(KeyHolder, [u8; KEY_RECORD])>>,
    /// The purse random and sequence of an INITIALIZE FOR PURCHASE, until the next
    /// command gives the TTSN.
    purchase_pending: Option<([u8; 4], u16)>,
    /// GET PROCESSING OPTIONS that went through: each raised the PBOC ATC by one.
    gpos: u32,
}

impl Default for SecretOracle {
    fn default() -> Self {
        SecretOracle {
            base: Arc::new(Knowledge::new(BASE_FILTER_BITS)),
            own: Knowledge::new(OWN_FILTER_BITS),
            sent: Vec::new(),
            sent_ends: Vec::new(),
            udks: Vec::new(),
            atc_covered: 0,
            inputs_seen: HashSet::default(),
            inputs_pending: Vec::new(),
            commits_read: None,
            secret_table: Vec::new(),
            holders: None,
            purchase_pending: None,
            gpos: 0,
        }
    }
}

impl SecretOracle {
    /// An oracle that knows the secrets `profile` gives its cards.
    pub fn for_profile(profile: &Profile) -> Self {
        let mut oracle = SecretOracle::default();
        for (label, value) in profile.secrets() {
            let is_udk = label.contains("udk");
            let index = oracle.add_secret(&value, label);
            if let Ok(udk) = <[u8; 16]>::try_from(&value[..])
                && is_udk
            {
                oracle.udks.push((udk, index));
            }
        }
        oracle.freeze();
        oracle
    }

    /// Remembers `value` as a secret named `label`; returns the label's index.
    pub fn add_secret(&mut self, value: &[u8], label: String) -> usize {
        self.learn(value, Label::Profile(label))
    }

    /// Remembers `value` as the secret `label`; returns the label's index.
    fn learn(&mut self, value: &[u8], label: Label) -> usize {
        let index = self.base.labels.len() + self.own.labels.len();
        self.own.labels.push(label);
        // A secret shorter than a window counts padded with 00 (its stored form).
        let mut short = Zeroizing::new([0u8; WINDOW]);
        let padded = match short.get_mut(..value.len()) {
            Some(head) if value.len() < WINDOW => {
                head.copy_from_slice(value);
                &short[..]
            }
            _ => value,
        };
        for w in padded.windows(WINDOW) {
            let w64 = window(w);
            // A window in the base too keeps both names; a leak reports this one.
            if w64 != (w64 & 0xFF) * 0x0101_0101_0101_0101 {
                self.own.windows.insert(w64, index);
            }
        }
        index
    }

    /// The name of secret `index`.
    fn label(&self, index: usize) -> String {
        let base = self.base.labels.len();
        let label = match index.checked_sub(base) {
            None => self.base.labels.get(index),
            Some(i) => self.own.labels.get(i),
        };
        match label {
            None => "a secret".to_owned(),
            Some(Label::Profile(name)) => name.clone(),
            Some(Label::Stored { kind, id, owner }) => {
                let kind = match kind {
                    SecretKind::Key => "key",
                    SecretKind::Pin => "PIN",
                };
                format!("stored {kind} {id:02X} of DF {owner}")
            }
            Some(Label::TacKey(of)) => format!("TAC key of {}", self.label(*of)),
            Some(Label::SessionKey(of)) => format!("session key of {}", self.label(*of)),
            Some(Label::PbocSessionKey { udk, atc }) => {
                format!("session key of {}, ATC {atc}", self.label(*udk))
            }
            Some(Label::KeyObject(fid)) => format!("key object {fid:04X}"),
            Some(Label::PrivateKeyInEf(fid)) => format!("SM2 private key in EF {fid:04X}"),
        }
    }

    /// Moves what this oracle learned into its shared base.
    fn freeze(&mut self) {
        let own = std::mem::replace(&mut self.own, Knowledge::new(OWN_FILTER_BITS));
        let base = Arc::make_mut(&mut self.base);
        for (w, label) in own.windows.entries {
            base.windows.insert(w, label);
        }
        base.windows.sort();
        base.labels.extend(own.labels);
        base.keys.extend(own.keys);
    }

    /// Learns everything `card` stores now, so that a clone of this oracle, used on a
    /// copy of the card, only has the session's changes to learn.
    pub fn prime<N: Nvm, R: CardRng, A: Applets>(&mut self, card: &SscCard<N, R, A>) {
        self.learn_stored(card, None);
        self.cover_pboc_atcs();
        self.commits_read = None;
        self.freeze();
    }

    /// Becomes a copy of `template` (an oracle that learned nothing since it was primed
    /// or made), keeping this one's allocations: what a fuzz execution starts from.
    pub fn reset_to(&mut self, template: &SecretOracle) {
        self.base = Arc::clone(&template.base);
        // Cleared and refilled, not cloned: a clone of an empty set drops the room.
        self.own.windows.clear();
        for &(w, label) in &template.own.windows.entries {
            self.own.windows.insert(w, label);
        }
        self.own.labels.clone_from(&template.own.labels);
        self.own.keys.clone_from(&template.own.keys);
        self.sent.clone_from(&template.sent);
        self.sent_ends.clone_from(&template.sent_ends);
        self.udks.clone_from(&template.udks);
        self.atc_covered = template.atc_covered;
        self.inputs_seen.clear();
        self.inputs_seen.extend(&template.inputs_seen);
        self.inputs_pending.clone_from(&template.inputs_pending);
        self.commits_read = template.commits_read;
        self.secret_table.clone_from(&template.secret_table);
        self.holders.clone_from(&template.holders);
        self.purchase_pending = template.purchase_pending;
        self.gpos = template.gpos;
    }

    /// Number of secret windows known (for reports and to show the oracle is armed;
    /// what a session learned may count a window twice).
    pub fn known_windows(&self) -> usize {
        self.base.windows.len() + self.own.windows.len()
    }

    /// Before a command goes to the card: its bytes become terminal knowledge, and a
    /// purse purchase or INTERNAL AUTHENTICATE gives session inputs.
    pub fn before_command(&mut self, apdu: &[u8]) {
        self.terminal_knows(apdu);
        // The PKI PIN hash (`80 C4 01 03 … C1 L PIN`, spec/ssc.md §9 item 4) answers
        // SM3 of the PIN the terminal sent, which is also how the card stores that PIN's
        // key: the terminal knows it already, so it counts as sent.
        if let [0x80, 0xC4, 0x01, 0x03, _, 0xC1, len, pin @ ..] = apdu
            && let Some(pin) = pin.get(..usize::from(*len))
        {
            self.terminal_knows(&sscard_core::crypto::sm3(pin));
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

    /// Bytes the terminal sent (or can compute from what it sent).
    fn terminal_knows(&mut self, bytes: &[u8]) {
        self.sent.extend_from_slice(bytes);
        self.sent_ends.push(self.sent.len());
    }

    /// True if the terminal sent the 8 bytes `w` within one command.
    fn terminal_sent(&self, w: &[u8]) -> bool {
        let mut start = 0;
        self.sent_ends.iter().any(|&end| {
            let command = self.sent.get(start..end).unwrap_or_default();
            start = end;
            command.windows(WINDOW).any(|s| s == w)
        })
    }

    /// After the card answered `apdu` with `response`: learns what the card now stores
    /// and derives, then checks the response. `Err` names the secret that leaked.
    pub fn after_command<N: Nvm, R: CardRng, A: Applets>(
        &mut self,
        card: &SscCard<N, R, A>,
        apdu: &[u8],
        response: &[u8],
    ) -> Result<(), Violation> {
        self.learn_stored(card, Some(apdu));
        let data = response
            .get(..response.len().saturating_sub(2))
            .unwrap_or_default();
        // A GET PROCESSING OPTIONS that went through raised the PBOC ATC.
        let went_through = matches!(response, [.., 0x90, 0x00] | [.., 0x61, _]);
        if apdu.get(1) == Some(&0xA8) && went_through {
            self.gpos = self.gpos.saturating_add(1);
        }
        // GET CHALLENGE: the card's random is the input of the next session key.
        if apdu.get(1) == Some(&0x84) && matches!(data.len(), 4 | 8 | 16) {
            self.derive_session_keys(data);
        }
        match *card.df_applications().purse_state() {
            PurseState::Load(
                Pending {
                    random, sequence, ..
                },
                _,
            ) => {
                // SESLK = KS(DLK, random ‖ load sequence ‖ 8000) (P7 §11.2).
                let [s0, s1] = sequence.to_be_bytes();
                let [r0, r1, r2, r3] = random;
                self.derive_session_keys(&[r0, r1, r2, r3, s0, s1, 0x80, 0x00]);
            }
            PurseState::Purchase(
                Pending {
                    random, sequence, ..
                },
                _,
            ) => self.purchase_pending = Some((random, sequence)),
            PurseState::Idle => {}
        }
        self.check(response)
    }

    /// `Err` naming the secret if `response` holds 8 bytes of one that the terminal did
    /// not send itself.
    pub fn check(&mut self, response: &[u8]) -> Result<(), Violation> {
        if response.len() < WINDOW {
            return Ok(());
        }
        self.derive_pending();
        self.cover_pboc_atcs();
        for (at, w) in response.windows(WINDOW).enumerate() {
            let known = self
                .own
                .windows
                .get(window(w))
                .or_else(|| self.base.windows.get(window(w)));
            if let Some(label) = known
                && !self.terminal_sent(w)
            {
                return Err(violation!(
                    "the response gives away 8 bytes of {} at offset {at}",
                    self.label(label)
                ));
            }
        }
        Ok(())
    }

    /// Re-reads the secret table and the key holders when the card committed since the
    /// last read, and learns the entries whose bytes changed. `written_by` is the command
    /// that made the changes (`None`: the card as it is).
    fn learn_stored<N: Nvm, R: CardRng, A: Applets>(
        &mut self,
        card: &SscCard<N, R, A>,
        written_by: Option<&[u8]>,
    ) {
        // UPDATE BINARY writes what the terminal chose next to what the EF held: a
        // private-key record it makes that way (say `CB 20` over a certificate) is no
        // key of the card's.
        let terminal_wrote_binary = written_by.and_then(|apdu| apdu.get(1)) == Some(&0xD6);
        let commits = card.store().commits();
        if self.commits_read == Some(commits) {
            return;
        }
        self.commits_read = Some(commits);
        let (store, header) = (card.store(), card.header());
        let mut table = vec![0u8; usize::from(header.secrets_used) * SECRET_ENTRY_LEN];
        if store.read(header.secrets_at as usize, &mut table).is_ok() && table != self.secret_table
        {
            for index in 0..header.secrets_used {
                let span = usize::from(index) * SECRET_ENTRY_LEN..;
                let now = table
                    .get(span.clone())
                    .and_then(|t| t.get(..SECRET_ENTRY_LEN));
                let before = self
                    .secret_table
                    .get(span)
                    .and_then(|t| t.get(..SECRET_ENTRY_LEN));
                // Only the value matters: a try counter changes on every VERIFY.
                let value = |e: Option<&[u8]>| e.and_then(|e| e.get(8..)).map(<[u8]>::to_vec);
                if value(now) != value(before) {
                    self.learn_secret(store, header, index);
                }
            }
            self.secret_table = table;
        }
        let holders = match self.holders.take() {
            Some(h) => h,
            None => {
                let mut found = vec![];
                let _ = scan(store, header, |e| {
                    if e.kind == FileKind::Transparent && e.body_len as usize >= KEY_RECORD {
                        let key_object = e.flags.contains(FileFlags::KEY_OBJECT);
                        let holder = KeyHolder {
                            fid: e.fid,
                            at: e.body_at as usize,
                            key_object,
                        };
                        found.push((holder, [0u8; KEY_RECORD]));
                    }
                    None::<()>
                });
                found
            }
        };
        let mut updated = Vec::with_capacity(holders.len());
        for (holder, before) in holders {
            let mut now = [0u8; KEY_RECORD];
            if store.read(holder.at, &mut now).is_ok() && now != before {
                if holder.key_object {
                    self.learn(&now, Label::KeyObject(holder.fid));
                } else if let [0xCB, 0x20, d @ ..] = &now
                    && !terminal_wrote_binary
                {
                    // A private-key record in an ordinary EF: the hole of issue #10.
                    self.learn(d, Label::PrivateKeyInEf(holder.fid));
                }
            }
            updated.push((holder, now));
        }
        self.holders = Some(updated);
    }

    fn learn_secret<N: Nvm>(
        &mut self,
        store: &sscard_core::nvm::Store<N>,
        header: &sscard_core::fs::layout::Header,
        index: u16,
    ) {
        let Ok(Some(secret)) = read_secret(store, header, index) else {
            return;
        };
        let label = Label::Stored {
            kind: secret.kind,
            id: secret.id,
            owner: secret.owner,
        };
        let label = self.learn(secret.value(), label);
        if secret.kind == SecretKind::Key
            && let Some(algorithm) = Algorithm::from_id(secret.algorithm)
            && let Ok(cipher) = CardCipher::new(algorithm, secret.value())
        {
            // The purse TAC key of the 8-byte algorithm: DTK[0..8] ⊕ DTK[8..16] (P7 §15).
            if algorithm == Algorithm::Des3
                && let (Some(l), Some(r)) = (secret.value().get(..8), secret.value().get(8..16))
            {
                let mut folded = Zeroizing::new([0u8; 8]);
                for ((f, a), b) in folded.iter_mut().zip(l).zip(r) {
                    *f = a ^ b;
                }
                self.learn(&folded[..], Label::TacKey(label));
            }
            self.own.keys.push(CardKeyValue {
                cipher: Arc::new(cipher),
                algorithm,
                label,
            });
        }
    }

    /// Notes a session input: `KS(K, input)` for every stored key becomes a secret
    /// (derived by [`Self::derive_pending`] before the next check that needs it).
    fn derive_session_keys(&mut self, input: &[u8]) {
        let mut block = [0u8; 16];
        // No key's block holds a longer input.
        let Some(head) = block.get_mut(..input.len()) else {
            return;
        };
        head.copy_from_slice(input);
        let mut id = WindowHasher::default();
        id.write(input);
        if self.inputs_seen.insert(id.finish()) {
            self.inputs_pending.push((input.len(), block));
        }
    }

    /// Derives the session keys of the inputs noted since the last time.
    fn derive_pending(&mut self) {
        while let Some((len, input)) = self.inputs_pending.pop() {
            self.derive_from(input.get(..len).unwrap_or_default());
        }
    }

    /// `KS(K, input)` for every stored key: the block cipher over the input padded
    /// with `00` (P4 §8.4); the 8-byte algorithm's session key is that block.
    fn derive_from(&mut self, input: &[u8]) {
        let keys = self.base.keys.len() + self.own.keys.len();
        for i in 0..keys {
            let key = match i.checked_sub(self.base.keys.len()) {
                None => self.base.keys.get(i),
                Some(own) => self.own.keys.get(own),
            };
            let Some(key) = key else { continue };
            let block_len = key.algorithm.block_len();
            if input.len() > block_len {
                continue;
            }
            let mut block = Zeroizing::new([0u8; 16]);
            let Some(block) = block.get_mut(..block_len) else {
                continue;
            };
            if let Some(head) = block.get_mut(..input.len()) {
                head.copy_from_slice(input);
            }
            if key.cipher.encrypt_block(block).is_ok() {
                let of = key.label;
                self.learn(block, Label::SessionKey(of));
            }
        }
    }

    /// PBOC session keys (`pboc_session_key(UDK, ATC)`) of every ATC the session can
    /// have reached: the ATC starts at zero and only GET PROCESSING OPTIONS raises it
    /// (PBOC 3.0 part 5; `sscard_pboc` personalizes it to zero).
    fn cover_pboc_atcs(&mut self) {
        let target = self.gpos.min(u32::from(u16::MAX));
        while self.atc_covered <= target {
            let atc = self.atc_covered as u16;
            for i in 0..self.udks.len() {
                if let Some(&(udk, of)) = self.udks.get(i) {
                    let sk = pboc_session_key(&udk, atc);
                    self.learn(&sk[..], Label::PbocSessionKey { udk: of, atc });
                }
            }
            self.atc_covered += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::sample::{default_profile, pboc_sample_card, sample_card};
    use sscard_core::Interface;
    use sscard_core::nvm::{RamNvm, Transactional};
    use sscard_core::rng::SplitMixRng;

    /// Every secret of the default profile, primed on the sample card (what the fuzz
    /// checks start from).
    fn sample_oracle() -> SecretOracle {
        let mut oracle = SecretOracle::for_profile(default_profile());
        oracle.prime(&sample_card());
        oracle
    }

    fn hex(s: &str) -> Vec<u8> {
        sscard_host::profile::hex("test", s).unwrap()
    }

    /// Sends `apdu` through the oracle; returns the response.
    fn send<N: Nvm, R: CardRng, A: Applets>(
        card: &mut SscCard<N, R, A>,
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
        // The ICC's RSA private key (CRT parts).
        let secrets = crate::sample::default_profile().secrets();
        let (_, prime) = secrets
            .iter()
            .find(|(label, _)| label.ends_with("rsa.icc_key.prime1"))
            .unwrap();
        assert!(oracle.check(&with_sw(&prime[20..28])).is_err());
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
        // A 4-byte challenge answers 6 bytes, too short to check: its session keys are
        // derived later, when a response long enough comes, and still caught.
        let short = send(&mut card, &mut oracle, "0084000004");
        assert_eq!(short.len(), 6);
        let mut block = [0u8; 16];
        block[..4].copy_from_slice(&short[..4]);
        let mut b = block.into();
        sm4.encrypt_block(&mut b);
        let session: [u8; 16] = b.into();
        assert!(oracle.check(&with_sw(&session[8..])).is_err());
        // PBOC session keys of the first ATCs: derived from the UDK by the core's own
        // derivation (its known-answer tests live with it).
        let (udk, _) = *oracle.udks.first().unwrap();
        let sk = pboc_session_key(&udk, 1);
        assert!(oracle.check(&with_sw(&sk[..])).is_ok(), "no GPO yet");
        send(&mut card, &mut oracle, "00A4040008A000000333010101");
        let gpo = send(&mut card, &mut oracle, "80A800000C830A00000000000000015600");
        assert_eq!(gpo[0], 0x61, "the GPO went through (T=0: 61xx)");
        assert!(oracle.check(&with_sw(&sk[..])).is_err());
        let next = pboc_session_key(&udk, 2);
        assert!(
            oracle.check(&with_sw(&next[..])).is_ok(),
            "one GPO, one ATC"
        );
    }

    #[test]
    fn the_window_set_finds_exactly_what_it_holds() {
        let mut set = Windows::with_filter_bits(10);
        let held: Vec<u64> = (1..=300u64)
            .map(|i| i.wrapping_mul(0x0123_4567_89AB_CDEF))
            .collect();
        for (label, &w) in held.iter().enumerate() {
            set.insert(w, label);
        }
        set.insert(held[7], 999); // a second name: the first one is kept
        let absent = (301..=5000u64).map(|i| i.wrapping_mul(0x0123_4567_89AB_CDEF));
        for sorted in [false, true] {
            for (label, &w) in held.iter().enumerate() {
                assert_eq!(set.get(w), Some(label), "sorted {sorted}");
            }
            assert!(absent.clone().all(|w| set.get(w).is_none()));
            set.sort();
        }
        assert_eq!(set.len(), 300);
        set.clear();
        assert!(held.iter().all(|&w| set.get(w).is_none()));
        assert!(set.filter.iter().all(|&bits| bits == 0));
    }

    #[test]
    fn an_oracle_reset_to_its_template_forgets_the_session_and_keeps_the_card() {
        let template = sample_oracle();
        let mut card = pboc_sample_card();
        let mut oracle = sample_oracle();
        send(&mut card, &mut oracle, "00D6000008A1B2C3D4E5F60718");
        let c = send(&mut card, &mut oracle, "0084000008");
        let pin_block = with_sw(&hex("26123456FFFFFFFF"));
        let before = oracle.known_windows();
        assert!(before > template.known_windows(), "session keys learned");
        oracle.reset_to(&template);
        assert_eq!(oracle.known_windows(), template.known_windows());
        // The terminal's bytes are forgotten: they count as a secret's again if one has
        // them; the card's secrets are still known.
        assert!(oracle.check(&pin_block).is_err());
        assert!(!oracle.terminal_sent(&hex("A1B2C3D4E5F60718")));
        // The same session again learns the same.
        send(&mut card, &mut oracle, "00D6000008A1B2C3D4E5F60718");
        oracle.derive_session_keys(&c[..8]);
        oracle.derive_pending();
        assert_eq!(oracle.known_windows(), before);
    }

    #[test]
    fn the_pin_hash_of_a_pin_the_terminal_sent_is_no_leak() {
        let mut card = pboc_sample_card();
        let _ = card.power_on(Interface::Contactless);
        let mut oracle = sample_oracle();
        send(&mut card, &mut oracle, "00A404000C504B492EC9E7BBE1B1A3D5CF");
        send(&mut card, &mut oracle, "00A404000C53532E434552542E41444631");
        // The stored PKI user-PIN key is SM3(PIN)[0..16]: a secret the terminal has not
        // shown it knows…
        let key = sscard_core::crypto::sm3(&hex("123456"));
        assert!(oracle.check(&with_sw(&key[..16])).is_err());
        // …until it sends the PIN to the PIN-hash command, whose answer is that hash.
        let r = send(&mut card, &mut oracle, "80C4010305C10312345600");
        assert_eq!(&r[..32], &key[..]);
        assert!(oracle.check(&with_sw(&key[..16])).is_ok());
    }

    type PbocCard = SscCard<RamNvm<Vec<u8>>, SplitMixRng, (sscard_pboc::PbocApplet,)>;

    /// The sample card with PBOC in the PKI application after the user PIN (and the
    /// administrator PIN if `admin`), and its oracle.
    fn pki_after_pins(admin: bool) -> (PbocCard, SecretOracle) {
        let mut card = pboc_sample_card();
        let _ = card.power_on(Interface::Contactless);
        let mut oracle = sample_oracle();
        send(&mut card, &mut oracle, "00A404000C504B492EC9E7BBE1B1A3D5CF");
        send(&mut card, &mut oracle, "00A404000C53532E434552542E41444631");
        let mut pins = vec![("123456", 0x81)];
        if admin {
            pins.push(("12345678", 0x00));
        }
        for (pin, p2) in pins {
            let c = send(&mut card, &mut oracle, "0084000010");
            // VERIFY: SM4(SM3(PIN)[0..16], challenge).
            let pin_key = sscard_ssc::pki::pin_key(&hex(pin));
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
                    "002001{p2:02X}10{}",
                    b.iter().map(|x| format!("{x:02X}")).collect::<String>()
                ),
            );
            assert_eq!(r, [0x90, 0x00]);
        }
        (card, oracle)
    }

    #[test]
    fn a_generated_private_key_is_a_secret_at_once() {
        let (mut card, mut oracle) = pki_after_pins(false);
        let before = oracle.known_windows();
        let r = send(&mut card, &mut oracle, "8040000008C0020012C2020013");
        assert_eq!(r, [0x90, 0x00]);
        assert!(oracle.known_windows() > before, "d was learned");
        // The key object now holds CB 20 d: any 8 bytes of d would be a leak.
        let d = scan(card.store(), card.header(), |e| {
            (e.fid == 0x0013 && e.flags.contains(FileFlags::KEY_OBJECT))
                .then_some(e.body_at as usize)
        })
        .unwrap()
        .unwrap();
        let mut rec = [0u8; 34];
        card.store().read(d, &mut rec).unwrap();
        assert_eq!(&rec[..2], &[0xCB, 0x20]);
        assert!(oracle.check(&with_sw(&rec[10..18])).is_err());
    }

    #[test]
    fn a_private_key_record_in_an_ef_is_a_secret_unless_the_terminal_wrote_it() {
        // EF 0018 of the PKI application: written after the PINs, and readable.
        let ef = |card: &PbocCard| {
            scan(card.store(), card.header(), |e| {
                (e.fid == 0x0018).then_some(e.body_at as usize)
            })
            .unwrap()
            .unwrap()
        };
        // The terminal writes `CB 20` at offset 5, then over the EF's start (found by the
        // card_session fuzzer): the 32 bytes after the second are no key of the card's,
        // though no 8 of them went out in one command.
        let (mut card, mut oracle) = pki_after_pins(true);
        send(&mut card, &mut oracle, "00A40200020018");
        assert_eq!(send(&mut card, &mut oracle, "00D6000502CB20"), [0x90, 0x00]);
        assert_eq!(send(&mut card, &mut oracle, "00D6000002CB20"), [0x90, 0x00]);
        let r = send(&mut card, &mut oracle, "00B0000000");
        assert_eq!((&r[..2], &r[5..7]), (&[0xCB, 0x20][..], &[0xCB, 0x20][..]));
        // The card itself putting a private-key record there (the hole of issue #10:
        // a key generated into a readable EF) makes `d` a secret at once.
        let (mut card, mut oracle) = pki_after_pins(true);
        let d: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37) ^ 0x5A).collect();
        let at = ef(&card);
        card.store_mut()
            .atomic(|s| s.write(at, &[&[0xCB, 0x20][..], &d].concat()))
            .map_err(|e: sscard_core::nvm::NvmError| e)
            .unwrap();
        oracle
            .after_command(&card, &hex("8040000008C0020012C2020018"), &[0x90, 0x00])
            .unwrap();
        assert!(oracle.check(&with_sw(&d[3..11])).is_err());
    }
}
