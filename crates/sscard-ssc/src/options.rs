//! **Spec choices of the social-security applications**: where the public texts leave
//! the purse and the PKI application open (docs/spec-choices.md). Each field names the
//! question, the default chosen and why; profiles change them, and card images keep
//! them.

pub use crate::pki::{PkiCommands, PkiKeyPolicy, SlotPolicy};
use sscard_core::CosOptions;
use sscard_core::nvm::{Nvm, NvmError};
use sscard_core::options::StoredOptions;

/// Stores the card's options in its memory at personalization (or when an older image
/// is upgraded): the OS's choices, then [`SscOptions::encode`]'s bytes, so that
/// `Card::load_stored` with [`SocialSecurity::from_stored`](crate::SocialSecurity::from_stored)
/// needs nothing else.
pub fn store<N: Nvm>(nvm: &mut N, cos: &CosOptions, ssc: &SscOptions) -> Result<(), NvmError> {
    let mut application = heapless::Vec::new();
    application
        .extend_from_slice(&ssc.encode())
        .map_err(|_| NvmError::OutOfRange)?;
    StoredOptions {
        cos: *cos,
        application,
    }
    .write(nvm)
}

/// Medical purse choices (LD/T 32 P5 §7, P7 §11–12; spec-extract §1.12 lists what the
/// text leaves open).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PurseOptions {
    /// 交易类型 of a load in MACs, TAC, the log and GET TRANSACTION PROOF P2. The spec
    /// gives only the log value, an1 '1' (V2 T51); sscard uses that byte everywhere.
    pub load_type: u8,
    /// 交易类型 of a purchase ('2', V2 T51 医疗结算).
    pub purchase_type: u8,
}

impl Default for PurseOptions {
    fn default() -> Self {
        PurseOptions {
            load_type: b'1',
            purchase_type: b'2',
        }
    }
}

/// Every choice of the social-security applications.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SscOptions {
    /// Medical purse choices.
    pub purse: PurseOptions,
    /// The PKI application's vendor command table.
    pub pki: PkiCommands,
    /// Which PKI key-pair slots generation and import may fill (docs/spec-choices.md).
    pub pki_keys: PkiKeyPolicy,
}

impl SscOptions {
    /// Bytes of [`SscOptions::encode`].
    pub const ENCODED_LEN: usize = 3;

    /// The purse's load and purchase 交易类型, then the PKI key-slot policy byte
    /// ([`KeyPolicyByte`]): what the card stores after the OS's option bytes, and the
    /// image metadata's option bytes 4–6. The vendor command table is not stored (a
    /// profile's default).
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        [
            self.purse.load_type,
            self.purse.purchase_type,
            encode_key_policy(&self.pki_keys),
        ]
    }

    /// Reads [`SscOptions::encode`]'s bytes. They were added one by one to the image
    /// metadata: a byte that is absent means its default; `None` for a key-policy
    /// byte with reserved bits set.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let defaults = SscOptions::default();
        Some(SscOptions {
            purse: PurseOptions {
                load_type: bytes.first().copied().unwrap_or(defaults.purse.load_type),
                purchase_type: bytes
                    .get(1)
                    .copied()
                    .unwrap_or(defaults.purse.purchase_type),
            },
            pki: defaults.pki,
            pki_keys: match bytes.get(2) {
                Some(bits) => decode_key_policy(*bits)?,
                None => defaults.pki_keys,
            },
        })
    }
}

bitflags::bitflags! {
    /// The stored PKI key-slot policy byte (which key-pair slots GENERATE KEY PAIR and
    /// IMPORT KEY may fill, docs/spec-choices.md "PKI application"). The high nibble is
    /// reserved: a card or image that sets it is refused.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct KeyPolicyByte: u8 {
        /// b1: the signature pair may be generated on the card.
        const GENERATE_SIGNATURE = 0x01;
        /// b2: the signature pair may be imported.
        const IMPORT_SIGNATURE = 0x02;
        /// b3: the encryption pair may be generated on the card.
        const GENERATE_ENCRYPTION = 0x04;
        /// b4: the encryption pair may be imported.
        const IMPORT_ENCRYPTION = 0x08;
    }
}

fn encode_key_policy(p: &PkiKeyPolicy) -> u8 {
    let mut bits = KeyPolicyByte::empty();
    bits.set(KeyPolicyByte::GENERATE_SIGNATURE, p.signature.generate);
    bits.set(KeyPolicyByte::IMPORT_SIGNATURE, p.signature.import);
    bits.set(KeyPolicyByte::GENERATE_ENCRYPTION, p.encryption.generate);
    bits.set(KeyPolicyByte::IMPORT_ENCRYPTION, p.encryption.import);
    bits.bits()
}

fn decode_key_policy(byte: u8) -> Option<PkiKeyPolicy> {
    let bits = KeyPolicyByte::from_bits(byte)?;
    Some(PkiKeyPolicy {
        signature: SlotPolicy {
            generate: bits.contains(KeyPolicyByte::GENERATE_SIGNATURE),
            import: bits.contains(KeyPolicyByte::IMPORT_SIGNATURE),
        },
        encryption: SlotPolicy {
            generate: bits.contains(KeyPolicyByte::GENERATE_ENCRYPTION),
            import: bits.contains(KeyPolicyByte::IMPORT_ENCRYPTION),
        },
    })
}
