//! **Spec choices of the social-security applications**: where the public texts leave
//! the purse and the PKI application open (docs/spec-choices.md). Each field names the
//! question, the default chosen and why; profiles change them, and card images keep
//! them.

pub use crate::pki::{PkiCommands, PkiKeyPolicy, SlotPolicy};

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
