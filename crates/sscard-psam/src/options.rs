//! **Spec choices of the PSAM**: every point LD/T 32 part 9 leaves open (spec-extract
//! §4.6), each a field with the default sscard takes and why; docs/spec-choices.md
//! "Social-security PSAM" has the reasoning. A profile's `[psam]` section changes them
//! and a card image keeps them ([`PsamOptions::encode`]).

/// When INIT SAM FOR PURCHASE moves the terminal transaction serial (TTSN, file 0019)
/// and which value it returns (P9 §9.9 says neither).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtsnTiming {
    /// The stored TTSN is used and returned; the file then holds TTSN + 1 (default: a
    /// terminal that reads 0019 first sees the serial of its next transaction).
    UseThenIncrement,
    /// TTSN + 1 is stored, used and returned.
    IncrementThenUse,
}

/// What CIPHER DATA returns for a finished MAC (P9 §9.8: "Le = 返回数据长度").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacOutput {
    /// The 4-byte MAC of P4 §8.2.4: the leftmost 4 bytes (8-byte algorithm) or the XOR
    /// of the four words (16-byte algorithm) of the last block (default).
    Four,
    /// The whole last CBC block (8 or 16 bytes); the terminal truncates or folds.
    FullBlock,
}

/// Status word of a wrong MAC2 in CREDIT SAM FOR PURCHASE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mac2Failure {
    /// `9302` MAC invalid, as table T31 lists it (default).
    MacInvalid,
    /// `63CF`, as the text of §9.10.1 says.
    Warning63Cf,
}

/// What P2 of CREATE KEY / CHANGE KEY names (P9 T19, T21: "密钥文件标识").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFileP2 {
    /// The low byte of the key file's FID: `11`, `12`, `13` (default).
    FidLowByte,
    /// The key file's number: `01`, `02`, `03`.
    Number,
}

/// Order of the diversification factors in DELIVERY SESSION KEY's data (the spec gives
/// none; INIT SAM FOR PURCHASE lists the card factor first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactorOrder {
    /// Card (lowest level) factor first, as 80 70 and the field traces (default).
    CardFirst,
    /// Highest level first.
    CardLast,
}

/// Every choice of the PSAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PsamOptions {
    /// TTSN timing of INIT SAM FOR PURCHASE.
    pub ttsn: TtsnTiming,
    /// CIPHER DATA's MAC output.
    pub mac_output: MacOutput,
    /// CREDIT SAM FOR PURCHASE's answer to a wrong MAC2.
    pub mac2_failure: Mac2Failure,
    /// CREATE/CHANGE KEY P2.
    pub key_file_p2: KeyFileP2,
    /// DELIVERY SESSION KEY's factor order.
    pub factor_order: FactorOrder,
    /// INITIALIZE ENVIRONMENT must precede DELIVERY SESSION KEY and INIT SAM FOR
    /// PURCHASE (`6985` otherwise). Default false: BFEC is checked and remembered only,
    /// since the spec gives it no effect.
    pub require_environment: bool,
    /// INIT SAM FOR PURCHASE accepts N = 0 factors (the stored key is the card's own
    /// DPK). Default false: §9.9 says N = 1–3.
    pub purchase_without_factors: bool,
}

impl Default for PsamOptions {
    fn default() -> Self {
        PsamOptions {
            ttsn: TtsnTiming::UseThenIncrement,
            mac_output: MacOutput::Four,
            mac2_failure: Mac2Failure::MacInvalid,
            key_file_p2: KeyFileP2::FidLowByte,
            factor_order: FactorOrder::CardFirst,
            require_environment: false,
            purchase_without_factors: false,
        }
    }
}

bitflags::bitflags! {
    /// The PSAM's stored option byte (docs/spec-choices.md "Social-security PSAM"): one
    /// bit per choice that differs from the default. b8 is reserved: a PSAM or image
    /// that sets it is refused.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct OptionByte: u8 {
        /// b1: the TTSN is incremented before it is used ([`TtsnTiming::IncrementThenUse`]).
        const TTSN_FIRST = 0x01;
        /// b2: CIPHER DATA's MAC is the whole last block ([`MacOutput::FullBlock`]).
        const MAC_FULL = 0x02;
        /// b3: a wrong MAC2 answers 63CF ([`Mac2Failure::Warning63Cf`]).
        const MAC2_63CF = 0x04;
        /// b4: CREATE/CHANGE KEY's P2 is the key file's number ([`KeyFileP2::Number`]).
        const P2_NUMBER = 0x08;
        /// b5: the card's factor comes last in BF DE ([`FactorOrder::CardLast`]).
        const CARD_LAST = 0x10;
        /// b6: BF EC must precede BF DE and 80 70.
        const NEED_BFEC = 0x20;
        /// b7: INIT SAM FOR PURCHASE accepts N = 0 (no diversification factor).
        const NO_FACTORS = 0x40;
    }
}

impl OptionByte {
    /// `set` if `bit` is set here, else `unset`.
    fn pick<T>(self, bit: OptionByte, set: T, unset: T) -> T {
        if self.contains(bit) { set } else { unset }
    }
}

impl PsamOptions {
    /// One byte for the card image's metadata, a bit per non-default choice.
    pub fn encode(&self) -> u8 {
        let mut bits = OptionByte::empty();
        bits.set(
            OptionByte::TTSN_FIRST,
            self.ttsn == TtsnTiming::IncrementThenUse,
        );
        bits.set(
            OptionByte::MAC_FULL,
            self.mac_output == MacOutput::FullBlock,
        );
        bits.set(
            OptionByte::MAC2_63CF,
            self.mac2_failure == Mac2Failure::Warning63Cf,
        );
        bits.set(OptionByte::P2_NUMBER, self.key_file_p2 == KeyFileP2::Number);
        bits.set(
            OptionByte::CARD_LAST,
            self.factor_order == FactorOrder::CardLast,
        );
        bits.set(OptionByte::NEED_BFEC, self.require_environment);
        bits.set(OptionByte::NO_FACTORS, self.purchase_without_factors);
        bits.bits()
    }

    /// The choices [`PsamOptions::encode`] wrote; `None` if a reserved bit is set.
    pub fn decode(byte: u8) -> Option<Self> {
        let bits = OptionByte::from_bits(byte)?;
        Some(PsamOptions {
            ttsn: bits.pick(
                OptionByte::TTSN_FIRST,
                TtsnTiming::IncrementThenUse,
                TtsnTiming::UseThenIncrement,
            ),
            mac_output: bits.pick(OptionByte::MAC_FULL, MacOutput::FullBlock, MacOutput::Four),
            mac2_failure: bits.pick(
                OptionByte::MAC2_63CF,
                Mac2Failure::Warning63Cf,
                Mac2Failure::MacInvalid,
            ),
            key_file_p2: bits.pick(
                OptionByte::P2_NUMBER,
                KeyFileP2::Number,
                KeyFileP2::FidLowByte,
            ),
            factor_order: bits.pick(
                OptionByte::CARD_LAST,
                FactorOrder::CardLast,
                FactorOrder::CardFirst,
            ),
            require_environment: bits.contains(OptionByte::NEED_BFEC),
            purchase_without_factors: bits.contains(OptionByte::NO_FACTORS),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_round_trips() {
        for byte in 0..0x80u8 {
            let o = PsamOptions::decode(byte);
            assert_eq!(o.map(|o| o.encode()), Some(byte));
        }
        assert_eq!(PsamOptions::default().encode(), 0);
        assert_eq!(PsamOptions::decode(0x80), None);
    }
}
