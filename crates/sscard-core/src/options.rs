//! **Spec choices of the card OS.** Where the OS decides what the public texts leave
//! open (the applications keep their own choices beside them).
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
