//! **Spec choices.** The one place where sscard decides what the public texts leave open.
//!
//! Each field names the open question, the default chosen and why. Profiles can change
//! every one of them, so a COS vendor's behaviour is a configuration, not a fork.

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
    /// Medical purse choices.
    pub purse: PurseOptions,
    /// The PKI application's vendor command table.
    pub pki: crate::ssc::pki::PkiCommands,
    /// Which PKI key-pair slots generation and import may fill (docs/spec-choices.md).
    pub pki_keys: crate::ssc::pki::PkiKeyPolicy,
}

impl Default for CosOptions {
    fn default() -> Self {
        CosOptions {
            le_zero: LeZero::Lenient,
            t0_get_response: true,
            fcp_as_fci: true,
            read_binary_le_exact: true,
            purse: PurseOptions::default(),
            pki: crate::ssc::pki::PkiCommands::default(),
            pki_keys: crate::ssc::pki::PkiKeyPolicy::default(),
        }
    }
}
