//! **Spec choices of the card OS.** Where the OS decides what the public texts leave
//! open (the applications keep their own choices beside them).
//!
//! Each field names the open question, the default chosen and why. Profiles can change
//! every one of them, so a COS vendor's behaviour is a configuration, not a fork.
//!
//! The choices travel with the card: personalization stores them, with the
//! applications' own option bytes, in the card-info area of the NVM
//! ([`StoredOptions`]), so firmware that loads an exported NVM body needs no copy of
//! the profile. Memories personalized before the record existed have none; their
//! options come from the image file's metadata.

use crate::fs::layout::{CARD_INFO_AT, CARD_INFO_LEN, LoadError};
use crate::nvm::{Nvm, NvmError};

/// How a short `Le = 00` is answered by READ RECORD, READ BINARY and GET RESPONSE when
/// fewer than 256 bytes are there to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeZero {
    /// `6Cxx` with the exact length (LD/T 32 P5 §6.10.4, §6.6.4: the card "must answer
    /// 6Cxx"; ISO/IEC 7816-3 §10.3.3 lets a T=0 card ask for P3 = xx this way); a host
    /// must resend with Le = xx.
    ExactLength,
    /// The data and `9000` at once: ISO/IEC 7816-4 §5.1 reads a short `Le = 00` as
    /// "up to 256 bytes", and the cards in the field answer `00 B2 01 04 00` with the
    /// record (docs/spec-choices.md). The default.
    Lenient,
}

/// Card-wide behaviour switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CosOptions {
    /// READ RECORD / READ BINARY / GET RESPONSE with short Le = 00. Default:
    /// [`LeZero::Lenient`], as real cards answer.
    pub le_zero: LeZero,
    /// Case-4 commands answer `61xx` and keep the data for GET RESPONSE (T=0 behaviour,
    /// seen on real cards: SELECT SSSE → `61 18`, spec/ssc.md §2.2). Default: on for the
    /// contact interface; the contactless interface (T=CL) always answers directly.
    pub t0_get_response: bool,
    /// SELECT with P2 = 04 (return FCP) answers with the FCI: the SSC spec defines only
    /// the FCI (P5 T36–T38). Default: true. When false, P2 = 04 is `6A86`.
    pub fcp_as_fci: bool,
    /// READ BINARY with 0 < Le < 256 asking beyond the end of the file: `6Cxx` with the
    /// bytes available (P5 T30 lists 6Cxx) when true; otherwise the available bytes and
    /// 9000. Default: true.
    pub read_binary_le_exact: bool,
}

impl Default for CosOptions {
    fn default() -> Self {
        CosOptions {
            le_zero: LeZero::Lenient,
            t0_get_response: true,
            fcp_as_fci: true,
            read_binary_le_exact: true,
        }
    }
}

impl CosOptions {
    /// Bytes of [`CosOptions::encode`].
    pub const ENCODED_LEN: usize = 4;

    /// One byte per choice, `00` or `01`: Le = 00 lenient, T=0 GET RESPONSE, FCP as
    /// FCI, READ BINARY exact Le (the order of the image metadata's option bytes).
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        [
            u8::from(self.le_zero == LeZero::Lenient),
            u8::from(self.t0_get_response),
            u8::from(self.fcp_as_fci),
            u8::from(self.read_binary_le_exact),
        ]
    }

    /// Reads [`CosOptions::encode`]'s bytes (the first [`Self::ENCODED_LEN`] of
    /// `bytes`); `None` if one is missing or not `00`/`01`.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let flag = |i: usize| match bytes.get(i) {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        };
        Some(CosOptions {
            le_zero: if flag(0)? {
                LeZero::Lenient
            } else {
                LeZero::ExactLength
            },
            t0_get_response: flag(1)?,
            fcp_as_fci: flag(2)?,
            read_binary_le_exact: flag(3)?,
        })
    }
}

/// Where the options record starts: after the ATR's length byte and its 33 bytes in
/// the card-info area.
pub const STORED_OPTIONS_AT: usize = CARD_INFO_AT + 34;
/// The record's first two bytes.
const RECORD_MARK: [u8; 2] = *b"OP";
/// Room for the applications' option bytes in the record.
pub const APPLICATION_OPTIONS_CAPACITY: usize =
    CARD_INFO_LEN - 34 - RECORD_MARK.len() - 1 - CosOptions::ENCODED_LEN;

/// The options stored in the card's memory at personalization: `OP` ‖ length ‖ the
/// OS's bytes ([`CosOptions::encode`]) ‖ the applications' bytes (each application
/// reads its own; the OS does not interpret them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredOptions {
    /// The OS's choices.
    pub cos: CosOptions,
    /// The applications' option bytes, in the order the applications define.
    pub application: heapless::Vec<u8, APPLICATION_OPTIONS_CAPACITY>,
}

impl StoredOptions {
    /// Reads the record from a personalized memory: `Ok(None)` when it has none (a
    /// memory personalized before the record existed), [`LoadError::Corrupt`] when the
    /// record is malformed.
    pub fn read<N: Nvm>(nvm: &N) -> Result<Option<Self>, LoadError> {
        let mut raw = [0u8; CARD_INFO_LEN - 34];
        nvm.read(STORED_OPTIONS_AT, &mut raw)?;
        let [m0, m1, len, body @ ..] = &raw;
        if [*m0, *m1] != RECORD_MARK {
            return Ok(None);
        }
        let body = body.get(..usize::from(*len)).ok_or(LoadError::Corrupt)?;
        let cos = CosOptions::decode(body).ok_or(LoadError::Corrupt)?;
        let application = body
            .get(CosOptions::ENCODED_LEN..)
            .and_then(|a| heapless::Vec::from_slice(a).ok())
            .ok_or(LoadError::Corrupt)?;
        Ok(Some(StoredOptions { cos, application }))
    }

    /// Writes the record (at personalization, before the card is loaded: a direct
    /// write, not a transaction).
    pub fn write<N: Nvm>(&self, nvm: &mut N) -> Result<(), NvmError> {
        let mut raw = [0u8; CARD_INFO_LEN - 34];
        // At most 4 + APPLICATION_OPTIONS_CAPACITY (27): fits the length byte.
        let len = [(CosOptions::ENCODED_LEN + self.application.len()) as u8];
        let cos = self.cos.encode();
        let parts = RECORD_MARK
            .iter()
            .chain(len.iter())
            .chain(cos.iter())
            .chain(self.application.iter());
        for (dst, src) in raw.iter_mut().zip(parts) {
            *dst = *src;
        }
        nvm.write(STORED_OPTIONS_AT, &raw)
    }
}
