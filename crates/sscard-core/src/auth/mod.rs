//! PINs, keys and the commands that prove them (LD/T 32 P5 §6.1–6.8, §6.14; P7 §5–6, §13).
//!
//! Every try counter follows the anti-tearing order (spec/reliability.md §A1.4): check
//! "blocked", **decrement and commit**, compare in constant time, and only then restore
//! the counter on success. A power cut after the comparison therefore never gives a try
//! back, and both outcomes write, so the presence of a write tells an attacker nothing.

pub mod secret;
pub mod sm;

use crate::apdu::{CommandView, Writer, encode_command};
use crate::crypto::ssc::{auth_data, session_key, sm_decrypt};
use crate::crypto::{Algorithm, ct_eq, mac_matches};
use crate::fs::FileSystem;
use crate::fs::layout::{CARD_BLOCKED, CARD_STATE_AT, LIFECYCLE_BLOCKED, MF, OFF_LIFECYCLE};
use crate::nvm::Nvm;
use crate::nvm::Transactional;
use crate::rng::CardRng;
use crate::status::{Result, Status};
use secret::{KeyUsage, OFF_TRIES_LEFT, Secret, SecretKind, find_by_usage, find_secret};
use zeroize::{Zeroize, Zeroizing};

/// The cardholder PIN reference of the social-security environment.
pub const HOLDER_PIN: u8 = 0;
/// Longest PIN in cn bytes (P5 T46: Lc 02–08).
pub const MAX_PIN_BYTES: usize = 8;

/// The most recent GET CHALLENGE value: usable once (LD/T 32 P5 §6.5.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Challenge {
    bytes: [u8; 16],
    len: u8,
}

impl Challenge {
    /// Stores a new challenge (4, 8 or 16 bytes).
    pub fn set(&mut self, value: &[u8]) {
        self.clear();
        if let Some(dst) = self.bytes.get_mut(..value.len()) {
            dst.copy_from_slice(value);
            self.len = value.len() as u8;
        }
    }
    /// Takes the challenge, leaving none (single use).
    pub fn take(&mut self) -> Option<([u8; 16], usize)> {
        if self.len == 0 {
            return None;
        }
        let out = (self.bytes, usize::from(self.len));
        self.clear();
        Some(out)
    }
    /// True if a challenge is waiting.
    pub fn is_set(&self) -> bool {
        self.len != 0
    }
    /// Forgets the challenge.
    pub fn clear(&mut self) {
        self.bytes.zeroize();
        self.len = 0;
    }
}

/// What one security command needs.
pub struct AuthContext<'a, 'f, N: Nvm> {
    /// The file system (store, current DF, security status).
    pub fs: &'a mut FileSystem<'f, N>,
    /// The card's last challenge.
    pub challenge: &'a mut Challenge,
    /// Randomness.
    pub rng: &'a mut dyn CardRng,
}

/// What a command changed that the processor must know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing beyond the command's own result.
    None,
    /// The card is now blocked: every later command answers 6A81.
    CardBlocked,
}

fn algorithm(secret: &Secret) -> Result<Algorithm> {
    Algorithm::from_id(secret.algorithm).ok_or(Status::ReferencedDataNotFound)
}

/// The data of EXTERNAL and INTERNAL AUTHENTICATE (P5 §6.4, §6.7): two 8-byte blocks and
/// an optional key version; any other length is 6700.
fn two_blocks_and_version(data: &[u8]) -> Result<(&[u8], &[u8], Option<u8>)> {
    let (first, rest) = match data.len() {
        16 | 17 => data.split_at(8),
        _ => return Err(Status::WrongLength),
    };
    let (second, version) = rest.split_at(8);
    Ok((first, second, version.first().copied()))
}

/// True if `pin` is a valid cn PIN: 2–8 bytes (4–16 digits), digits 0–9, only the
/// last nibble may be the pad `F` (P5 §6.3.1).
pub fn valid_pin(pin: &[u8]) -> bool {
    if pin.len() < 2 || pin.len() > MAX_PIN_BYTES {
        return false;
    }
    let digits = pin.len() * 2;
    pin.iter()
        .flat_map(|b| [b >> 4, b & 0x0F])
        .enumerate()
        .all(|(i, d)| d <= 9 || (i == digits - 1 && d == 0x0F))
}

impl<N: Nvm> AuthContext<'_, '_, N> {
    fn header_secret_at(&self, s: &Secret, offset: usize) -> Result<usize> {
        self.fs
            .header
            .secret_at(s.index)
            .map(|a| a + offset)
            .ok_or(Status::MemoryFailure)
    }

    /// The first key serving `usage` that passes `pick`, looked up from the current DF
    /// towards the MF.
    pub fn key_by_usage(
        &self,
        usage: KeyUsage,
        pick: impl FnMut(&Secret) -> bool,
    ) -> Result<Option<Secret>> {
        let df = self.fs.state.current_df;
        Ok(find_by_usage(
            self.fs.store,
            self.fs.header,
            df,
            usage,
            pick,
        )?)
    }

    /// Spends the card's last challenge (single use): its bytes, wiped when dropped, and
    /// its length; 6984 if there is none.
    pub fn take_challenge(&mut self) -> Result<(Zeroizing<[u8; 16]>, usize)> {
        let (bytes, n) = self.challenge.take().ok_or(Status::ReferencedDataInvalid)?;
        Ok((Zeroizing::new(bytes), n))
    }

    /// Spends one try and commits it before any comparison. Returns the tries left.
    fn spend_try(&mut self, s: &Secret) -> Result<u8> {
        if s.try_limit == 0 {
            return Ok(u8::MAX);
        }
        if s.tries_left == 0 {
            return Err(Status::AuthMethodBlocked);
        }
        let left = s.tries_left - 1;
        let at = self.header_secret_at(s, OFF_TRIES_LEFT)?;
        self.fs.store.atomic(|st| st.write(at, &[left]))?;
        Ok(left)
    }

    /// Restores the try counter after a successful comparison.
    fn restore_tries(&mut self, s: &Secret) -> Result<()> {
        if s.try_limit == 0 {
            return Ok(());
        }
        let at = self.header_secret_at(s, OFF_TRIES_LEFT)?;
        let limit = s.try_limit;
        self.fs.store.atomic(|st| st.write(at, &[limit]))?;
        Ok(())
    }

    fn failed(left: u8) -> Status {
        Status::RemainingTries(left)
    }

    fn holder_pin(&self) -> Result<Secret> {
        find_secret(
            self.fs.store,
            self.fs.header,
            self.fs.state.current_df,
            SecretKind::Pin,
            HOLDER_PIN,
            |_| true,
        )?
        .ok_or(Status::ReferencedDataNotFound)
    }

    /// VERIFY (P5 §6.14; P7 §5.6–5.8). Empty data: a free query (9000 if no PIN is in
    /// use, else 63Cx without decrementing). A wrong PIN: 63Cx, 63C0 = now blocked, then
    /// 6983. Success is remembered until power-off (within the PIN owner's subtree).
    pub fn verify(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        if cmd.p1p2() != 0 {
            return Err(Status::WrongP1P2);
        }
        let pin = self.holder_pin()?;
        let data = cmd.data();
        if data.is_empty() {
            return if pin.value().is_empty() {
                Ok(())
            } else if pin.is_blocked() {
                Err(Status::AuthMethodBlocked)
            } else {
                Err(Self::failed(pin.tries_left))
            };
        }
        if data.len() < 2 || data.len() > MAX_PIN_BYTES {
            return Err(Status::WrongLength);
        }
        let left = self.spend_try(&pin)?;
        // An empty stored PIN never matches (P5 §6.14).
        if !pin.value().is_empty() && ct_eq(pin.value(), data) {
            self.restore_tries(&pin)?;
            self.fs.security.grant_pin(HOLDER_PIN, pin.owner);
            Ok(())
        } else {
            self.fs.security.revoke_pin(HOLDER_PIN);
            Err(Self::failed(left))
        }
    }

    /// CHANGE PIN `80 5E 01 00` (P5 §6.3; P7 §9.5): data = current PIN ‖ FF ‖ new PIN,
    /// plaintext. Either may be absent (no PIN in use / removing it). The current PIN is
    /// checked (spending a try) before anything about the new one is looked at.
    pub fn change_pin(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        if cmd.p1() != 0x01 || cmd.p2() != 0x00 {
            return Err(Status::WrongP1P2);
        }
        let data = cmd.data();
        if data.is_empty() || data.len() > 2 * MAX_PIN_BYTES + 1 {
            return Err(Status::WrongLength);
        }
        let split = data
            .iter()
            .position(|b| *b == 0xFF)
            .ok_or(Status::WrongData)?;
        let (old, rest) = data.split_at(split);
        let new = rest.get(1..).unwrap_or(&[]);
        let pin = self.holder_pin()?;
        if pin.is_blocked() {
            return Err(Status::AuthMethodBlocked);
        }
        if pin.value().is_empty() {
            if !old.is_empty() {
                return Err(Status::WrongData);
            }
        } else {
            let left = self.spend_try(&pin)?;
            if !ct_eq(pin.value(), old) {
                self.fs.security.revoke_pin(HOLDER_PIN);
                return Err(Self::failed(left));
            }
        }
        if !new.is_empty() && !valid_pin(new) {
            self.restore_tries(&pin)?;
            return Err(Status::WrongData);
        }
        self.store_pin(&pin, new)?;
        self.fs.security.grant_pin(HOLDER_PIN, pin.owner);
        Ok(())
    }

    /// Writes a new PIN value and a full try counter in one transaction.
    fn store_pin(&mut self, pin: &Secret, new: &[u8]) -> Result<()> {
        let len_at = self.header_secret_at(pin, 8)?;
        let tries_at = self.header_secret_at(pin, OFF_TRIES_LEFT)?;
        let mut value = Zeroizing::new([0u8; 1 + secret::MAX_SECRET_LEN]);
        let (len, rest) = value.split_first_mut().ok_or(Status::MemoryFailure)?;
        *len = new.len() as u8;
        rest.get_mut(..new.len())
            .ok_or(Status::WrongData)?
            .copy_from_slice(new);
        let limit = pin.try_limit;
        self.fs.store.atomic(|st| {
            st.write(len_at, &value[..])?;
            st.write(tries_at, &[limit])
        })?;
        self.fs.security.set_pin_absent(HOLDER_PIN, new.is_empty());
        Ok(())
    }

    /// EXTERNAL AUTHENTICATE `00 82 00 <key id>` (P5 §6.4; P7 §6.4–6.6): data = AD(8) ‖
    /// original data P(8) [‖ key version]. The card derives the session key from its most
    /// recent challenge (single use, 6984 if none) and compares AD in constant time.
    pub fn external_authenticate(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        let key_id = cmd.p2();
        if cmd.p1() != 0 || key_id == 0 {
            return Err(Status::WrongP1P2);
        }
        let (ad, p, want_version) = two_blocks_and_version(cmd.data())?;
        let key = find_secret(
            self.fs.store,
            self.fs.header,
            self.fs.state.current_df,
            SecretKind::Key,
            key_id,
            |s| s.allows(KeyUsage::EXTERNAL_AUTH) && want_version.is_none_or(|v| v == s.version),
        )?
        .ok_or(Status::ReferencedDataNotFound)?;
        if key.is_blocked() {
            return Err(Status::AuthMethodBlocked);
        }
        let (challenge, n) = self.take_challenge()?;
        let alg = algorithm(&key)?;
        let left = self.spend_try(&key)?;
        let sk = session_key(alg, key.value(), challenge.get(..n).unwrap_or(&[]))
            .map_err(|_| Status::ReferencedDataInvalid)?;
        let p: [u8; 8] = p.try_into().map_err(|_| Status::WrongLength)?;
        let expected = Zeroizing::new(auth_data(&sk.cipher(), &p));
        if mac_matches(&expected[..], ad) {
            self.restore_tries(&key)?;
            self.fs.security.grant_key(key_id);
            Ok(())
        } else {
            self.fs.security.revoke_key(key_id);
            Err(Self::failed(left))
        }
    }

    /// INTERNAL AUTHENTICATE `00 88 00 00` (P5 §6.7; P7 §5.4): data = session input R1(8)
    /// ‖ original data R2(8) [‖ key version]; returns AD computed with the IRK.
    pub fn internal_authenticate(
        &mut self,
        cmd: &CommandView<'_>,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
        if cmd.p1p2() != 0 {
            return Err(Status::WrongP1P2);
        }
        let (r1, r2, want_version) = two_blocks_and_version(cmd.data())?;
        let irk = self
            .key_by_usage(KeyUsage::INTERNAL_AUTH, |s| {
                want_version.is_none_or(|v| v == s.version)
            })?
            .ok_or(Status::ReferencedDataNotFound)?;
        let sk = session_key(algorithm(&irk)?, irk.value(), r1)
            .map_err(|_| Status::ReferencedDataNotFound)?;
        let r2: [u8; 8] = r2.try_into().map_err(|_| Status::WrongLength)?;
        reply.push(&auth_data(&sk.cipher(), &r2))
    }

    /// The PUK must have been externally authenticated in this context (P7 §13).
    fn require_authority(&self, bits: KeyUsage) -> Result<()> {
        let key = self.key_by_usage(bits, |_| true)?;
        match key {
            Some(k) if self.fs.security.has_key(k.id) => Ok(()),
            _ => Err(Status::SecurityStatusNotSatisfied),
        }
    }

    /// PIN CHANGE/UNBLOCK `84 24 00 P2` (P5 §6.8; P7 §13.3): P2 = 00 resets the try
    /// counter (data = MAC), P2 = 01 also replaces the PIN (data = encrypted PIN ‖ MAC;
    /// an empty PIN element sets an empty PIN). Needs the PUK's external authentication,
    /// then a challenge; MAC and decryption use the STK session key of that challenge.
    pub fn pin_change_unblock(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        let change = match (cmd.p1(), cmd.p2()) {
            (0x00, 0x00) => false,
            (0x00, 0x01) => true,
            _ => return Err(Status::WrongP1P2),
        };
        if !change && cmd.lc() != 4 {
            return Err(Status::WrongLength);
        }
        self.require_authority(KeyUsage::PIN_UNBLOCK)?;
        let verified = self.verify_sm(cmd)?;
        let pin = self.holder_pin()?;
        if change {
            let mut plain = Zeroizing::new([0u8; 64]);
            let new = sm_decrypt(&verified.session.cipher(), verified.body, &mut plain[..])
                .map_err(|_| Status::WrongData)?;
            if !new.is_empty() && !valid_pin(new) {
                return Err(Status::WrongData);
            }
            // Copy out of `plain`, which `self` must not borrow while storing.
            let mut copy = Zeroizing::new([0u8; MAX_PIN_BYTES]);
            let len = new.len();
            copy.get_mut(..len)
                .ok_or(Status::WrongData)?
                .copy_from_slice(new);
            self.store_pin(&pin, copy.get(..len).unwrap_or(&[]))
        } else {
            self.restore_tries(&pin)
        }
    }

    /// APPLICATION BLOCK `84 1E 00 01` (P5 §6.1): blocks the current application
    /// permanently; afterwards SELECT of it answers 9303. Success even if already blocked.
    pub fn application_block(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        if cmd.p1() != 0x00 || cmd.p2() != 0x01 {
            return Err(Status::WrongP1P2);
        }
        if cmd.lc() != 4 {
            return Err(Status::WrongLength);
        }
        let df = self.fs.state.current_df;
        if df == MF {
            return Err(Status::ConditionsNotSatisfied);
        }
        self.verify_sm(cmd)?;
        let at = self.fs.header.entry_at(df).ok_or(Status::MemoryFailure)? + OFF_LIFECYCLE;
        self.fs
            .store
            .atomic(|st| st.write(at, &[LIFECYCLE_BLOCKED]))?;
        Ok(())
    }

    /// CARD BLOCK `84 16 00 00` (P5 §6.2; P7 §13.1): after the BK's external
    /// authentication (when the card has a BK) and a MAC, the card is blocked for good:
    /// every command answers 6A81.
    pub fn card_block(&mut self, cmd: &CommandView<'_>) -> Result<Effect> {
        if cmd.p1p2() != 0 {
            return Err(Status::WrongP1P2);
        }
        if cmd.lc() != 4 {
            return Err(Status::WrongLength);
        }
        let has_bk = self.key_by_usage(KeyUsage::CARD_BLOCK, |_| true)?.is_some();
        if has_bk {
            self.require_authority(KeyUsage::CARD_BLOCK)?;
        }
        self.verify_sm(cmd)?;
        self.fs
            .store
            .atomic(|st| st.write(CARD_STATE_AT, &[CARD_BLOCKED]))?;
        Ok(Effect::CardBlocked)
    }

    /// SM-protected UPDATE BINARY / UPDATE RECORD (CLA `04`, P5 T40/T43): checks the MAC,
    /// then runs the plain command on the data without it.
    pub fn secure_update(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        let verified = self.verify_sm(cmd)?;
        let body = verified.body;
        if body.is_empty() {
            return Err(Status::WrongLength);
        }
        let [_, ins, p1, p2] = cmd.header();
        let mut plain = [0u8; 5 + 255];
        let len = encode_command([0x00, ins, p1, p2], body, None, &mut plain)?;
        let inner = CommandView::parse(plain.get(..len).unwrap_or(&[]))?;
        let mut none = [0u8; 0];
        self.fs.process(&inner, &mut Writer::new(&mut none))
    }

    /// Recomputes which PINs are not in use (at power-on and after PIN changes): the
    /// holder PIN is "absent" when its stored value is empty.
    pub fn refresh_pin_absence(&mut self) -> Result<()> {
        let mut absent = false;
        secret::for_each_secret_head(self.fs.store, self.fs.header, |h| {
            if h.kind == SecretKind::Pin && h.id == HOLDER_PIN {
                absent = h.value_len == 0;
            }
        })?;
        self.fs.security.set_pin_absent(HOLDER_PIN, absent);
        Ok(())
    }

    /// Random bytes from the card's generator.
    pub fn random(&mut self, buf: &mut [u8]) {
        self.rng.fill(buf)
    }
}
