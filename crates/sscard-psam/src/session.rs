//! What the PSAM remembers between commands: volatile only, cleared on power-off, reset
//! and leaving the environment (a SELECT of a DF), key material wiped when dropped
//! (P4 §7.5: temporary keys live only in volatile memory).

use sscard_core::crypto::{Algorithm, CardKey};
use sscard_core::fs::layout::FileIndex;
use sscard_core::status::{Result, Status};
use zeroize::Zeroize;

/// A derived key held between commands.
#[derive(Clone)]
pub(crate) struct HeldKey {
    algorithm: Algorithm,
    bytes: [u8; 16],
    len: usize,
}

impl HeldKey {
    pub(crate) fn hold(key: &CardKey) -> Self {
        let value = key.as_bytes();
        let mut bytes = [0u8; 16];
        let len = value.len().min(16);
        if let (Some(dst), Some(src)) = (bytes.get_mut(..len), value.get(..len)) {
            dst.copy_from_slice(src);
        }
        HeldKey {
            algorithm: key.algorithm(),
            bytes,
            len,
        }
    }

    pub(crate) fn key(&self) -> Result<CardKey> {
        CardKey::new(self.algorithm, self.bytes.get(..self.len).unwrap_or(&[]))
            .map_err(|_| Status::MemoryFailure)
    }
}

impl Drop for HeldKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl core::fmt::Debug for HeldKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HeldKey(..)")
    }
}

/// The temporary key of DELIVERY SESSION KEY, for CIPHER DATA (P9 §9.7, §9.8).
#[derive(Clone, Debug)]
pub(crate) struct Temporary {
    pub(crate) key: HeldKey,
    /// The ADF it was derived in.
    pub(crate) adf: FileIndex,
    /// An encryption with it has finished (P1 = 00).
    pub(crate) encrypted: bool,
    /// A MAC with it has finished (P1 = 01 or 05).
    pub(crate) maced: bool,
    /// The CBC state of a MAC in progress (P1 = 07, 03).
    pub(crate) chain: Option<[u8; 16]>,
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(c) = self.chain.as_mut() {
            c.zeroize();
        }
    }
}

/// What INIT SAM FOR PURCHASE left for CREDIT SAM FOR PURCHASE (P9 §9.9, §9.10).
#[derive(Clone, Debug)]
pub(crate) struct Purchase {
    pub(crate) sespk: HeldKey,
    pub(crate) adf: FileIndex,
    /// Account ‖ self-pay ‖ pooled-fund amounts, the MAC2 data.
    pub(crate) amounts: [u8; 12],
}

/// The PSAM's transient state.
#[derive(Clone, Debug, Default)]
pub struct Session {
    /// The province byte of the last INITIALIZE ENVIRONMENT.
    pub(crate) province: Option<u8>,
    pub(crate) temporary: Option<Temporary>,
    pub(crate) purchase: Option<Purchase>,
}

impl Session {
    /// Forgets everything (the keys are wiped as they drop).
    pub fn clear(&mut self) {
        *self = Session::default();
    }

    /// True while DELIVERY SESSION KEY's temporary key can still be used.
    pub fn has_temporary_key(&self) -> bool {
        self.temporary.is_some()
    }

    /// True between INIT SAM FOR PURCHASE and CREDIT SAM FOR PURCHASE.
    pub fn purchase_pending(&self) -> bool {
        self.purchase.is_some()
    }

    /// The province byte INITIALIZE ENVIRONMENT gave, if any.
    pub fn province(&self) -> Option<u8> {
        self.province
    }
}
