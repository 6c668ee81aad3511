//! Application cryptograms, CVR and Issuer Application Data (pboc.md §2.7, §2.8).
//!
//! CVN 01 (JR/T 0025, 2-key 3DES): the session key is `3DES(UDK, 00×6 ‖ ATC) ‖
//! 3DES(UDK, 00×6 ‖ ~ATC)` (§2.8, four independent sources), and the cryptogram is the
//! ISO/IEC 9797-1 MAC algorithm 3 with padding method 2 over the 37 bytes
//! `9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 ‖ AIP ‖ ATC ‖ CVR` (applet `generateAppCipher`,
//! `idx:14025963888`, Q/CUP 006.6-2014 Annex D table D.2).

use sscard_core::AppletContext;
use sscard_core::crypto::{pboc_session_key, retail_mac};
use sscard_core::nvm::Nvm;
use sscard_core::status::{Result, Status};
use zeroize::Zeroizing;

use crate::bits::Cvr;
use crate::layout::{App, AppFlags, Blob, CFG_EC, CFG_IAD_EC_BALANCE, Obj, u64_to_bcd6};
use crate::state::{TermData, Transaction};

/// The three UDKs (AC, MAC, ENC), wiped when dropped.
pub(crate) struct CardKeys(Zeroizing<[u8; 48]>);

impl CardKeys {
    pub fn load<N: Nvm>(ctx: &AppletContext<'_, N>, app: &App) -> Result<Self> {
        let mut k = Zeroizing::new([0u8; 48]);
        let (at, len) = app.blob_at(ctx, Blob::Keys)?;
        if len != 48 {
            return Err(Status::MemoryFailure);
        }
        ctx.read(at, &mut k[..])?;
        Ok(CardKeys(k))
    }
    fn key(&self, i: usize) -> [u8; 16] {
        let mut out = [0u8; 16];
        for (d, s) in out.iter_mut().zip(self.0.iter().skip(16 * i)) {
            *d = *s;
        }
        out
    }
    /// UDK-AC.
    pub fn ac(&self) -> Zeroizing<[u8; 16]> {
        Zeroizing::new(self.key(0))
    }
    /// UDK-MAC (MK-SMI).
    pub fn mac(&self) -> Zeroizing<[u8; 16]> {
        Zeroizing::new(self.key(1))
    }
    /// UDK-ENC (MK-SMC).
    pub fn enc(&self) -> Zeroizing<[u8; 16]> {
        Zeroizing::new(self.key(2))
    }
}

/// The terminal data elements of the CVN 01 cryptogram input (§2.8), in order, with
/// their lengths: 29 bytes in all.
pub const CVN01_TERMINAL_FIELDS: [(u32, usize); 8] = [
    (0x9F02, 6),
    (0x9F03, 6),
    (0x9F1A, 2),
    (0x95, 5),
    (0x5F2A, 2),
    (0x9A, 3),
    (0x9C, 1),
    (0x9F37, 4),
];

/// The terminal part of the CVN 01 input, 29 bytes ([`CVN01_TERMINAL_FIELDS`]). The
/// card locates them in whatever DOL carried them (CDOL order is free, §2.5); a value the
/// DOL did not ask for counts as zeros.
pub(crate) fn terminal_fields(td: &TermData) -> [u8; 29] {
    let mut out = [0u8; 29];
    let mut at = 0;
    for (tag, len) in CVN01_TERMINAL_FIELDS {
        if let (Some(dst), Some(v)) = (out.get_mut(at..at + len), td.value(tag)) {
            for (d, s) in dst.iter_mut().zip(v) {
                *d = *s;
            }
        }
        at += len;
    }
    out
}

/// CVN 01 application cryptogram (§2.8).
pub(crate) fn application_cryptogram(
    keys: &CardKeys,
    atc: u16,
    terminal: &[u8; 29],
    aip: [u8; 2],
    cvr: &[u8; 4],
) -> [u8; 8] {
    let sk = pboc_session_key(&keys.ac(), atc);
    retail_mac(&sk, &[0; 8], &[terminal, &aip, &atc.to_be_bytes(), cvr])
}

/// The CVR (`03` + 3 bytes, §2.7) of this transaction: the bits it set itself plus the
/// "last transaction" indicators as they stood at GPO and the live PIN-try state.
pub(crate) fn cvr<N: Nvm>(
    ctx: &AppletContext<'_, N>,
    app: &App,
    txn: &Transaction,
) -> Result<[u8; 4]> {
    let mut cvr = txn.cvr;
    for (flag, bit) in [
        (
            AppFlags::ONLINE_NOT_COMPLETED,
            Cvr::LAST_ONLINE_NOT_COMPLETED,
        ),
        (AppFlags::ISSUER_AUTH_FAILED, Cvr::LAST_ISSUER_AUTH_FAILED),
        (
            AppFlags::ISSUER_AUTH_NOT_PERFORMED,
            Cvr::ISSUER_AUTH_NOT_PERFORMED,
        ),
        (AppFlags::SDA_FAILED, Cvr::LAST_SDA_FAILED),
        (AppFlags::SCRIPT_FAILED, Cvr::LAST_SCRIPT_FAILED),
        (AppFlags::DDA_FAILED, Cvr::LAST_DDA_FAILED),
    ] {
        if txn.prior.flags.contains(flag) {
            cvr |= bit;
        }
    }
    if app.get_u8(ctx, Obj::PinTryCounter)? == 0 {
        cvr |= Cvr::PIN_TRY_LIMIT_EXCEEDED;
    }
    if txn.prior.new_card {
        cvr |= Cvr::NEW_CARD;
    }
    cvr |= Cvr::script_count(txn.prior.scripts);
    Ok(cvr.to_value())
}

/// Longest IAD: 8 bytes of the JR/T 0025 part + `0A` + 10 bytes of discretionary data.
pub(crate) const MAX_IAD: usize = 19;

/// Issuer Application Data 9F10 (§2.7): `07 DKI CVN CVR(4) 01` and, when personalized,
/// the issuer-discretionary part `0A 01 <EC balance, 5 low bytes> <MAC(4)>`.
///
/// The discretionary MAC is the MAC session key's retail MAC over `ATC ‖ value ‖ 00`
/// (the value zero-filled to 8 bytes, as the test script `idx:14025963888` builds its
/// input) with padding method 2; pboc.md flags the padding as to be checked against
/// real cards.
pub(crate) fn issuer_application_data(
    app: &App,
    keys: &CardKeys,
    atc: u16,
    cvr: &[u8; 4],
    ec_balance: Option<u64>,
) -> ([u8; MAX_IAD], usize) {
    let mut out = [0u8; MAX_IAD];
    let [c0, c1, c2, c3] = *cvr;
    let head = [0x07, app.cfg.dki, app.cfg.cvn, c0, c1, c2, c3, 0x01];
    for (d, s) in out.iter_mut().zip(head) {
        *d = s;
    }
    let (true, Some(balance)) = (
        app.cfg.has(CFG_IAD_EC_BALANCE) && app.cfg.has(CFG_EC),
        ec_balance,
    ) else {
        return (out, 8);
    };
    let bcd = u64_to_bcd6(balance);
    let value = bcd.get(1..).unwrap_or(&[]);
    let sk = pboc_session_key(&keys.mac(), atc);
    let mac = retail_mac(&sk, &[0; 8], &[&atc.to_be_bytes(), value, &[0x00]]);
    let tail = [0x0A, 0x01];
    let parts = tail
        .iter()
        .chain(value.iter())
        .chain(mac.iter().take(4))
        .copied();
    for (d, s) in out.iter_mut().skip(8).zip(parts) {
        *d = s;
    }
    (out, MAX_IAD)
}
