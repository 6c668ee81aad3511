//! Issuer script commands with MAC (pboc.md §2.8, §2.11; applet `onAppOp`,
//! `onLockCard`, `onChangeUnBlockPIN`, `onPutData`, `onUpdateRecord`).
//!
//! Every command carries a 4-byte MAC over `CLA INS P1 P2 Lc ‖ ATC ‖ AC(GAC1) ‖ data`
//! (ISO 9797-1 algorithm 3, padding method 2) with the MAC session key derived from
//! UDK-MAC and the ATC. A wrong MAC → 6988 and every later script command of the
//! transaction → 6985. The number of script commands and whether one failed are kept
//! for the next transaction's CVR byte 3.

use heapless::Vec;
use sscard_core::AppletContext;
use sscard_core::apdu::CommandView;
use sscard_core::crypto::{Algorithm, CardCipher, mac_matches, pboc_session_key, retail_mac};
use sscard_core::nvm::Nvm;
use sscard_core::nvm::Transactional;
use sscard_core::status::{Result, Status};
use sscard_core::tlv::parse_one;
use zeroize::Zeroizing;

use crate::bits::Cid;
use crate::cryptogram::CardKeys;
use crate::layout::{App, AppFlags, Blob, CARD_BLOCKED, Obj, bcd_to_u64, header, u64_to_bcd6};
use crate::perso::LOAD_LOG_PREFIX;
use crate::records::{Log, MAX_LOG_RECORD, append_log, find_record, log_values};
use crate::state::IssuerAuth;
use crate::{PbocApplet, PbocCommand, ScriptCommand};

/// Counts one script command for the next transaction's CVR (inside a transaction).
fn count_script<N: Nvm>(ctx: &mut AppletContext<'_, N>, app: &App, failed: bool) -> Result<()> {
    let n = app.get_u8(ctx, Obj::ScriptCount)?;
    app.put(ctx, Obj::ScriptCount, &[n.saturating_add(1).min(15)])?;
    if failed {
        let f = app.flags(ctx)?;
        app.set_flags(ctx, f | AppFlags::SCRIPT_FAILED)?;
    }
    Ok(())
}

/// Is `block` a plaintext PIN block `2L` + 4–12 digits + `F` padding?
fn well_formed_pin_block(block: &[u8; 8]) -> bool {
    let nibble = |i: usize| {
        let b = block.get(i / 2).copied().unwrap_or(0);
        if i.is_multiple_of(2) {
            b >> 4
        } else {
            b & 0x0F
        }
    };
    let len = usize::from(nibble(1));
    nibble(0) == 2
        && (4..=12).contains(&len)
        && (2..2 + len).all(|i| nibble(i) <= 9)
        && (2 + len..16).all(|i| nibble(i) == 0x0F)
}

impl PbocApplet {
    /// One issuer script command (§2.8): accepted after an ARQC (before or after GAC2),
    /// never after issuer authentication failed nor after a MAC failure (6985). Static
    /// parameter errors → 6A86 / 6700; bad MAC → 6988; the command's own errors (6A80…)
    /// mark the script failed.
    pub(crate) fn script<N: Nvm>(
        &mut self,
        ctx: &mut AppletContext<'_, N>,
        app: &App,
        kind: ScriptCommand,
        cmd: &CommandView<'_>,
    ) -> Result<()> {
        let data = cmd.data();
        let body_len = data.len().checked_sub(4).ok_or(Status::WrongLength)?;
        let (body, mac) = data.split_at_checked(body_len).ok_or(Status::WrongLength)?;
        let (p1, p2) = (cmd.p1(), cmd.p2());
        match kind {
            // EMV Book 3 §6.5.1–§6.5.3: P1P2 = 0000, the data is the MAC alone.
            ScriptCommand::ApplicationBlock
            | ScriptCommand::ApplicationUnblock
            | ScriptCommand::CardBlock => {
                if cmd.p1p2() != 0 {
                    return Err(Status::WrongP1P2);
                }
                if !body.is_empty() {
                    return Err(Status::WrongLength);
                }
            }
            // EMV Book 3 §6.5.10, pboc.md §2.8: P2 00 unblock (MAC alone), 01 / 02 change
            // (16 enciphered bytes).
            ScriptCommand::PinChangeUnblock => {
                if p1 != 0 || p2 > 2 {
                    return Err(Status::WrongP1P2);
                }
                if (p2 == 0) != body.is_empty() || (p2 != 0 && body.len() != 16) {
                    return Err(Status::WrongLength);
                }
            }
            // pboc.md §2.11: P1 P2 is the tag; the value is checked against the object.
            ScriptCommand::PutData => {}
            // pboc.md §2.8: P1 a record number, P2 b3–b1 = 100 (as READ RECORD).
            ScriptCommand::UpdateRecord => {
                if p2 & 0x07 != 0x04 || p1 == 0 {
                    return Err(Status::WrongP1P2);
                }
            }
        }
        self.gate(PbocCommand::Script(kind))?;
        if self.txn.issuer_auth == IssuerAuth::Failed || self.txn.script_failed {
            return Err(Status::ConditionsNotSatisfied);
        }

        let keys = CardKeys::load(ctx, app)?;
        let atc = self.txn.atc.to_be_bytes();
        let sk = pboc_session_key(&keys.mac(), self.txn.atc);
        let lc = u8::try_from(data.len()).map_err(|_| Status::WrongLength)?;
        let header = [cmd.cla(), cmd.ins(), p1, p2, lc];
        let expected = retail_mac(&sk, &[0; 8], &[&header, &atc, &self.txn.ac1, body]);
        // Constant time (`ct_eq`); passes under cfg(fuzzing) only.
        if !mac_matches(expected.get(..4).unwrap_or(&[]), mac) {
            self.txn.script_failed = true;
            ctx.atomic(|c| count_script(c, app, true))?;
            return Err(Status::SmDataIncorrect);
        }

        let result = match kind {
            // EMV Book 3 §6.5.1, §6.5.2; pboc.md §2.8 (`onAppOp`).
            ScriptCommand::ApplicationBlock | ScriptCommand::ApplicationUnblock => {
                let block = kind == ScriptCommand::ApplicationBlock;
                ctx.atomic(|c| {
                    let mut f = app.flags(c)?;
                    f.set(AppFlags::BLOCKED, block);
                    app.set_flags(c, f)?;
                    count_script(c, app, false)
                })
            }
            // EMV Book 3 §6.5.3; pboc.md §2.8 (`onLockCard`).
            ScriptCommand::CardBlock => ctx.atomic(|c| {
                c.write(header::CARD_STATE, &[CARD_BLOCKED])?;
                count_script(c, app, false)
            }),
            // EMV Book 3 §6.5.10; pboc.md §2.8 (`onChangeUnBlockPIN`).
            ScriptCommand::PinChangeUnblock => self.pin_change(ctx, app, &keys, p2, body),
            // pboc.md §2.11, §2.13 (`onPutData`).
            ScriptCommand::PutData => self.put_data(ctx, app, cmd.p1p2(), body),
            // pboc.md §2.8 (`onUpdateRecord`).
            ScriptCommand::UpdateRecord => update_record(ctx, app, p2 >> 3, p1, body),
        };
        match result {
            // §2.8: a block or unblock holds for the rest of this transaction too.
            Ok(()) => {
                match kind {
                    ScriptCommand::ApplicationBlock => self.txn.blocked = true,
                    ScriptCommand::ApplicationUnblock => self.txn.blocked = false,
                    _ => {}
                }
                Ok(())
            }
            // §2.8: a failed command is counted, for the next transaction's CVR.
            Err(e) => {
                ctx.atomic(|c| count_script(c, app, true))?;
                Err(e)
            }
        }
    }

    /// PIN CHANGE/UNBLOCK (§2.8): P2 = 00 unblocks (try counter back to the limit);
    /// P2 = 01 / 02 change the PIN. The 16 data bytes are `3DES-ECB(SK_ENC, 08 ‖ X ‖ 80
    /// 00…)` where `X` = new PIN block ⊕ (`00000000` ‖ bytes 4–7 of UDK-AC) (EMV Book 2
    /// Annex A1.5; pboc.md flags which UDK supplies the mask as unconfirmed), and, for
    /// P2 = 01, ⊕ the current PIN block. A malformed result → 6A80.
    fn pin_change<N: Nvm>(
        &mut self,
        ctx: &mut AppletContext<'_, N>,
        app: &App,
        keys: &CardKeys,
        p2: u8,
        body: &[u8],
    ) -> Result<()> {
        if p2 == 0 {
            return ctx.atomic(|c| {
                app.put(c, Obj::PinTryCounter, &[app.cfg.pin_limit])?;
                count_script(c, app, false)
            });
        }
        let sk = pboc_session_key(&keys.enc(), self.txn.atc);
        let mut plain = Zeroizing::new([0u8; 16]);
        plain.copy_from_slice(body.get(..16).ok_or(Status::WrongLength)?);
        CardCipher::new(Algorithm::Des3, &sk[..])
            .and_then(|c| c.decrypt_ecb(&mut plain[..]))
            .map_err(|_| Status::WrongData)?;
        let [len, x @ .., p9, p10, p11, p12, p13, p14, p15] = *plain;
        if len != 8 || [p9, p10, p11, p12, p13, p14, p15] != [0x80, 0, 0, 0, 0, 0, 0] {
            return Err(Status::WrongData);
        }
        let x: [u8; 8] = x;
        let udk_ac = keys.ac();
        let mut block = Zeroizing::new(x);
        for (b, m) in block.iter_mut().skip(4).zip(udk_ac.iter().skip(4).take(4)) {
            *b ^= m;
        }
        let (at, len) = app.blob_at(ctx, Blob::PinBlock)?;
        if len != 8 {
            return Err(Status::MemoryFailure);
        }
        if p2 == 1 {
            let mut current = Zeroizing::new([0u8; 8]);
            ctx.read(at, &mut current[..])?;
            for (b, c) in block.iter_mut().zip(current.iter()) {
                *b ^= c;
            }
        }
        if !well_formed_pin_block(&block) {
            return Err(Status::WrongData);
        }
        ctx.atomic(|c| {
            c.write(at, &block[..])?;
            app.put(c, Obj::PinTryCounter, &[app.cfg.pin_limit])?;
            count_script(c, app, false)
        })
    }

    /// PUT DATA `04 DA tag` (§2.11 `putDataTags`): only the listed, personalized objects,
    /// with their exact length, else 6A80. A new EC balance `9F79` must be n12 and within
    /// the balance limit `9F77` (6A80), and writes a load-log record `9F 79 before after ‖
    /// DF4F values` in the same commit (§2.13 `updateChargeLog`).
    fn put_data<N: Nvm>(
        &mut self,
        ctx: &mut AppletContext<'_, N>,
        app: &App,
        tag: u16,
        value: &[u8],
    ) -> Result<()> {
        let obj = Obj::by_tag(tag).ok_or(Status::WrongData)?;
        let def = obj.def();
        if !def.put || value.len() != usize::from(def.len) || !app.get(ctx, obj)?.is_present() {
            return Err(Status::WrongData);
        }
        if obj != Obj::EcBalance {
            return ctx.atomic(|c| {
                app.put(c, obj, value)?;
                count_script(c, app, false)
            });
        }
        let new = bcd_to_u64(value).ok_or(Status::WrongData)?;
        let limit = app.get_amount(ctx, Obj::EcBalanceLimit)?.unwrap_or(0);
        if new > limit {
            return Err(Status::WrongData);
        }
        let before = app.get_amount(ctx, Obj::EcBalance)?.unwrap_or(0);
        let mut record: Vec<u8, MAX_LOG_RECORD> = Vec::new();
        if Log::Loads.area(app).enabled() {
            let mut prefix = [0u8; LOAD_LOG_PREFIX];
            let parts = [0x9F, 0x79]
                .into_iter()
                .chain(u64_to_bcd6(before))
                .chain(u64_to_bcd6(new));
            for (d, s) in prefix.iter_mut().zip(parts) {
                *d = s;
            }
            record
                .extend_from_slice(&prefix)
                .map_err(|_| Status::MemoryFailure)?;
            let format = app.get(ctx, Obj::LoadLogFormat)?;
            log_values(
                format.as_slice(),
                &self.txn,
                Cid::TC,
                Some(new),
                &mut record,
            )?;
        }
        ctx.atomic(|c| {
            app.put_amount(c, Obj::EcBalance, new)?;
            append_log(c, app, Log::Loads, &record)?;
            count_script(c, app, false)
        })
    }
}

/// UPDATE RECORD `04 DC rec (SFI<<3|4)` (§2.8, applet `onUpdateRecord`): the data is the
/// whole record, a `70` template no longer than the record's personalized slot (else
/// 6A80); a record that was not personalized → 6A83.
fn update_record<N: Nvm>(
    ctx: &mut AppletContext<'_, N>,
    app: &App,
    sfi: u8,
    record: u8,
    data: &[u8],
) -> Result<()> {
    let Some((at, cap)) = find_record(ctx, app, sfi, record)? else {
        return Err(Status::RecordNotFound);
    };
    let well_formed = parse_one(data).is_ok_and(|t| t.tag().0 == 0x70);
    if !well_formed || data.len() > cap {
        return Err(Status::WrongData);
    }
    ctx.atomic(|c| {
        c.write(at, &[data.len() as u8])?;
        c.write(at + 1, data)?;
        count_script(c, app, false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_block_format() {
        assert!(well_formed_pin_block(&[
            0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF
        ]));
        assert!(well_formed_pin_block(&[
            0x26, 0x12, 0x34, 0x56, 0xFF, 0xFF, 0xFF, 0xFF
        ]));
        assert!(!well_formed_pin_block(&[
            0x23, 0x12, 0x3F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF
        ]));
        assert!(!well_formed_pin_block(&[
            0x24, 0x12, 0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF
        ]));
        assert!(!well_formed_pin_block(&[
            0x14, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF
        ]));
        assert!(!well_formed_pin_block(&[
            0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0
        ]));
    }
}
