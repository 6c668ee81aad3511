//! Secure messaging of the social-security environment (LD/T 32 P4 §8).
//!
//! CLA `x4` marks a command whose last 4 data bytes are a MAC over
//! `CLA INS P1 P2 Lc ‖ data` (Lc counting the MAC, CLA with the SM bit; P4 §8.2.4),
//! computed with a session key derived from the card's last challenge (P4 §8.4; the
//! challenge is single-use) and the STK of the current application: ISO 9797-1
//! padding 2, IV 0, 4-byte result (leftmost for DES, XOR-folded for SM4). The same
//! session key decrypts enciphered data (P4 §8.3) — see `options` for this choice.

use super::secret::KeyUsage;
use super::{AuthContext, algorithm};
use crate::apdu::CommandView;
use crate::crypto::mac::Mac;
use crate::crypto::mac_matches;
use crate::crypto::ssc::{SessionKey, session_key};
use crate::nvm::Nvm;
use crate::status::{Result, Status};
use zeroize::Zeroizing;

/// Length of the MAC that ends an SM command.
pub const MAC_LEN: usize = 4;

/// A command whose MAC checked out.
pub struct VerifiedSm<'c> {
    /// The data before the MAC.
    pub body: &'c [u8],
    /// The session key the MAC was made with (for decrypting `body`).
    pub session: SessionKey,
}

impl<N: Nvm> AuthContext<'_, '_, N> {
    /// Checks the MAC of an SM command: 6987 without a MAC, 6984 without a challenge,
    /// 6A88 without an STK, 6988 on a wrong MAC. The challenge is spent either way.
    pub fn verify_sm<'c>(&mut self, cmd: &CommandView<'c>) -> Result<VerifiedSm<'c>> {
        let data = cmd.data();
        if data.len() < MAC_LEN || cmd.is_extended() {
            return Err(Status::SmDataMissing);
        }
        let (body, mac) = data.split_at(data.len() - MAC_LEN);
        let (challenge, n) = self.take_challenge()?;
        let stk = self
            .key_by_usage(KeyUsage::SECURE_MESSAGING, |_| true)?
            .ok_or(Status::ReferencedDataNotFound)?;
        let session = session_key(
            algorithm(&stk)?,
            stk.value(),
            challenge.get(..n).unwrap_or(&[]),
        )
        .map_err(|_| Status::ReferencedDataInvalid)?;
        let cipher = session.cipher();
        let mut m = Mac::zero_iv(&cipher);
        let h = cmd.header();
        m.update(&h);
        m.update(&[data.len() as u8]);
        m.update(body);
        let expected = Zeroizing::new(m.finish());
        if !mac_matches(&expected[..], mac) {
            return Err(Status::SmDataIncorrect);
        }
        Ok(VerifiedSm { body, session })
    }
}
