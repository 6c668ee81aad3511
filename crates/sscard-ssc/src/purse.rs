//! The medical purse of DF04 (医疗保险脱网: 账户划入 / 医疗消费), LD/T 32 P5 §7 and P7
//! §11–15 (spec-extract §1).
//!
//! The purse file is COS-internal (no FID). Layout chosen by sscard (V2.0 §7 lists the
//! elements, not a byte layout):
//!
//! ```text
//! 0  联网交易计数器 (load sequence)        u16
//! 2  脱网交易计数器 (purchase sequence)    u16
//! 4  账户余额 CIA balance (fen)             u32
//! 8  年度个人自付累计 SPIP                   u32
//! 12 年度统筹基金支付累计 SPFP               u32
//! 16 支付年度 payment year, BCD yyyy         2
//! 18 年度起始日期 starting day, BCD mmdd     2
//! 20 proof of the last amount change: valid(1) type(1) sequence(2) MAC(4) TAC(4)
//! ```
//!
//! **Spec choices** (spec-extract §1.12 / §8): the transaction type byte is configurable
//! (`options::PurseOptions`, default the log values '1'/'2'); the load TAC covers the
//! balance *after* the credit (the counter is explicitly the value before the increment);
//! GET TRANSACTION PROOF is asked with the sequence number the INITIALIZE returned, and for
//! a load returns the host's MAC2 as its "MAC"; SESPK is derived at DEBIT time (it needs
//! the TTSN); payment year and starting day are BCD; the year rule is applied literally
//! (n < 10000 accumulates, also for n < 0); the purse state returns to idle on any command
//! other than the purse's own and on a change of DF; a load that would overflow the
//! 32-bit balance is refused with 6985. Every change of amounts, counter, log record and
//! proof commits as one transaction: after a tear the amounts are old (proof 9406) or
//! new (proof available), never mixed.

use crate::options::PurseOptions;
use crate::status as sw;
use sscard_core::apdu::{CommandView, Writer};
use sscard_core::auth::AuthContext;
use sscard_core::auth::secret::{KeyUsage, SecretKind};
use sscard_core::crypto::ssc::{session_key, tac_key};
use sscard_core::crypto::{Algorithm, CardCipher, CardKey, Mac, mac_matches};
use sscard_core::fs::layout::{FileEntry, FileKind, Header, be16, be32, scan};
use sscard_core::nvm::Transactional;
use sscard_core::nvm::{Nvm, NvmError, Store};
use sscard_core::status::{Result, Status};
use zeroize::Zeroizing;

/// Role byte of the DF that carries the medical purse (DF04).
pub const ROLE_MEDICAL_DF: u8 = 0x04;
/// Role byte of the internal purse file.
pub const ROLE_PURSE_FILE: u8 = 0x04;
/// Size of the purse file.
pub const PURSE_FILE_LEN: u32 = 32;
/// FID of the transaction log (医疗交易明细, DF04/EF08).
pub const LOG_FID: u16 = 0xEF08;
/// Key id of DSK (starting-day authorisation), a choice: the spec names the key only.
pub const DSK_ID: u8 = 0x89;

const OFF_LOAD_SEQ: usize = 0;
const OFF_PURCHASE_SEQ: usize = 2;
const OFF_BALANCE: usize = 4;
const OFF_SPIP: usize = 8;
const OFF_SPFP: usize = 12;
const OFF_YEAR: usize = 16;
const OFF_START: usize = 18;
const OFF_PROOF: usize = 20;

/// The purse values of a card, read straight from its memory without a session: what a
/// test bench reports as the card's state (`sscard ctl state`). `None` when the card has
/// no purse. Reads only; the proof and the keys stay inside.
pub fn read_purse<N: Nvm>(
    store: &Store<N>,
    header: &Header,
) -> core::result::Result<Option<PurseValues>, NvmError> {
    let found = scan(store, header, |e| {
        (e.kind == FileKind::Internal && e.role == ROLE_PURSE_FILE).then_some(e.body_at)
    })?;
    let Some(body_at) = found else {
        return Ok(None);
    };
    let mut b = [0u8; 20];
    store.read(body_at as usize, &mut b)?;
    Ok(Some(PurseValues::decode(&b)))
}

/// What an INITIALIZE left for the CREDIT or DEBIT that follows it (P7 §11.2, §12.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Key version of the DLK / DPK used.
    pub key_version: u8,
    /// Terminal id.
    pub terminal: [u8; 6],
    /// Card random.
    pub random: [u8; 4],
    /// Load or purchase sequence number before the transaction.
    pub sequence: u16,
}

/// The purse state machine (P5 T49).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PurseState {
    /// 空闲.
    #[default]
    Idle,
    /// 账户划入: INITIALIZE FOR LOAD succeeded; the amount to credit.
    Load(Pending, u32),
    /// 医疗消费: INITIALIZE FOR PURCHASE succeeded; the account, self-pay and
    /// pooled-fund amounts.
    Purchase(Pending, [u32; 3]),
}

/// The values of the purse file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurseValues {
    /// Load sequence.
    pub load_seq: u16,
    /// Purchase sequence.
    pub purchase_seq: u16,
    /// Balance (fen).
    pub balance: u32,
    /// Yearly self-pay total.
    pub spip: u32,
    /// Yearly pooled-fund total.
    pub spfp: u32,
    /// Payment year, BCD.
    pub year: [u8; 2],
    /// Starting day, BCD mmdd.
    pub start: [u8; 2],
}

impl PurseValues {
    /// Encodes the first 20 bytes of the file.
    pub fn encode(&self) -> [u8; 20] {
        let mut b = [0u8; 20];
        let parts: [&[u8]; 7] = [
            &self.load_seq.to_be_bytes(),
            &self.purchase_seq.to_be_bytes(),
            &self.balance.to_be_bytes(),
            &self.spip.to_be_bytes(),
            &self.spfp.to_be_bytes(),
            &self.year,
            &self.start,
        ];
        let mut at = 0;
        for p in parts {
            if let Some(dst) = b.get_mut(at..at + p.len()) {
                dst.copy_from_slice(p);
            }
            at += p.len();
        }
        b
    }

    fn decode(b: &[u8; 20]) -> PurseValues {
        PurseValues {
            load_seq: be16(b, OFF_LOAD_SEQ),
            purchase_seq: be16(b, OFF_PURCHASE_SEQ),
            balance: be32(b, OFF_BALANCE),
            spip: be32(b, OFF_SPIP),
            spfp: be32(b, OFF_SPFP),
            year: [b[OFF_YEAR], b[OFF_YEAR + 1]],
            start: [b[OFF_START], b[OFF_START + 1]],
        }
    }
}

fn bcd(b: u8) -> Option<u32> {
    let (h, l) = (b >> 4, b & 0x0F);
    (h <= 9 && l <= 9).then_some(u32::from(h) * 10 + u32::from(l))
}

/// Key ids the personalization gives the purse keys (the spec names them only; they are
/// found by usage, never addressed by an APDU).
pub mod key_id {
    /// DLK.
    pub const DLK: u8 = 0xA1;
    /// DPK.
    pub const DPK: u8 = 0xA2;
    /// DTK.
    pub const DTK: u8 = 0xA3;
}

fn bcd_number(bytes: &[u8]) -> Option<u32> {
    bytes
        .iter()
        .try_fold(0u32, |acc, b| Some(acc * 100 + bcd(*b)?))
}

/// A valid BCD mmdd.
pub fn valid_mmdd(mmdd: &[u8; 2]) -> bool {
    matches!((bcd(mmdd[0]), bcd(mmdd[1])), (Some(1..=12), Some(1..=31)))
}

fn to_bcd2(n: u32) -> [u8; 2] {
    let d = |x: u32| (((x / 10 % 10) << 4) | (x % 10)) as u8;
    [d(n / 100), d(n)]
}

/// The year rule of P7 §12.6: with D the transaction date yyyymmdd, Y the stored payment
/// year and S the stored starting day, n = D − (Y·10000 + S); n < 10000 accumulates,
/// otherwise the year rolls over to the settlement year of D and the totals restart.
/// Returns (accumulate, new year as BCD).
pub fn year_rule(date: &[u8; 4], year: &[u8; 2], start: &[u8; 2]) -> Option<(bool, [u8; 2])> {
    let d = i64::from(bcd_number(date)?);
    let y = i64::from(bcd_number(year)?);
    let s = i64::from(bcd_number(start)?);
    let n = d - (y * 10000 + s);
    if n < 10000 {
        return Some((true, *year));
    }
    let d_year = d / 10000;
    let d_mmdd = d % 10000;
    let settlement = if d_mmdd >= s { d_year } else { d_year - 1 };
    Some((false, to_bcd2(u32::try_from(settlement).ok()?)))
}

/// A medical purse command (class B0, LD/T 32 P5 §7; spec-extract §1.4), parsed once from
/// its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurseCommand {
    /// `B0 28 00 01` INITIALIZE FOR LOAD.
    InitializeForLoad,
    /// `B0 28 01 01` INITIALIZE FOR PURCHASE.
    InitializeForPurchase,
    /// `B0 2A 00 00` CREDIT FOR LOAD.
    CreditForLoad,
    /// `B0 2C 01 00` DEBIT FOR PURCHASE.
    DebitForPurchase,
    /// `B0 26 00 P2` GET BALANCE (P2: 01 account, 02 self-pay, 03 pooled fund).
    GetBalance {
        /// Which balance.
        p2: u8,
    },
    /// `B0 2E 00 P2` GET TRANSACTION PROOF (P2: the transaction type).
    GetTransactionProof {
        /// Transaction type of the wanted MAC/TAC.
        p2: u8,
    },
    /// `B0 56 00 00` UPDATE STARTING DAY.
    UpdateStartingDay,
    /// `B0 56 01 00` GET STARTING DAY.
    GetStartingDay,
}

impl TryFrom<&CommandView<'_>> for PurseCommand {
    type Error = Status;

    /// A purse instruction with other parameters is `6A86`; any other instruction `6D00`.
    fn try_from(cmd: &CommandView<'_>) -> Result<Self> {
        Ok(match (cmd.ins(), cmd.p1(), cmd.p2()) {
            (0x28, 0x00, 0x01) => PurseCommand::InitializeForLoad,
            (0x28, 0x01, 0x01) => PurseCommand::InitializeForPurchase,
            (0x2A, 0x00, 0x00) => PurseCommand::CreditForLoad,
            (0x2C, 0x01, 0x00) => PurseCommand::DebitForPurchase,
            (0x26, 0x00, p2) => PurseCommand::GetBalance { p2 },
            (0x2E, 0x00, p2) => PurseCommand::GetTransactionProof { p2 },
            (0x56, 0x00, 0x00) => PurseCommand::UpdateStartingDay,
            (0x56, 0x01, 0x00) => PurseCommand::GetStartingDay,
            (0x28 | 0x2A | 0x2C | 0x26 | 0x2E | 0x56, _, _) => return Err(Status::WrongP1P2),
            _ => return Err(Status::InstructionNotSupported),
        })
    }
}

/// One purse command's context.
pub struct Purse<'a, 'b, 'f, N: Nvm> {
    /// Security context (file system, challenge, randomness).
    pub auth: &'a mut AuthContext<'b, 'f, N>,
    /// The purse state machine.
    pub state: &'a mut PurseState,
    /// Spec choices.
    pub options: PurseOptions,
}

impl<N: Nvm> Purse<'_, '_, '_, N> {
    /// Executes a CLA B0 command, applying the state rules of P5 T49: a command not
    /// allowed in the current state is not executed (6901) and the state becomes idle;
    /// any failure returns to idle.
    pub fn process(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<()> {
        let before = core::mem::take(self.state);
        let result = PurseCommand::try_from(cmd).and_then(|command| match command {
            // P5 §7.5, T65–T68
            PurseCommand::InitializeForLoad => self.initialize_load(cmd, reply),
            // P5 §7.6, T69–T72
            PurseCommand::InitializeForPurchase => self.initialize_purchase(cmd, reply),
            // P5 §7.1, T50–T53; T49: only in the load state
            PurseCommand::CreditForLoad => match before {
                PurseState::Load(pending, amount) => {
                    self.credit_for_load(pending, amount, cmd, reply)
                }
                _ => Err(Status::InvalidState),
            },
            // P5 §7.2, T54–T57; T49: only in the purchase state
            PurseCommand::DebitForPurchase => match before {
                PurseState::Purchase(pending, amounts) => {
                    self.debit_for_purchase(pending, amounts, cmd, reply)
                }
                _ => Err(Status::InvalidState),
            },
            // P5 §7.3, T58–T60; T49 keeps the state
            PurseCommand::GetBalance { p2 } => {
                let r = self.get_balance(p2, cmd, reply);
                if r.is_ok() {
                    *self.state = before;
                }
                r
            }
            // P5 §7.4, T61–T64; T49 keeps the state
            PurseCommand::GetTransactionProof { p2 } => {
                let r = self.get_transaction_proof(p2, cmd, reply);
                if r.is_ok() {
                    *self.state = before;
                }
                r
            }
            // P5 §7.7, T73–T75
            PurseCommand::UpdateStartingDay => self.update_starting_day(cmd),
            // P5 §7.7, T76–T78
            PurseCommand::GetStartingDay => self.get_starting_day(cmd, reply),
        });
        if result.is_err() {
            *self.state = PurseState::Idle;
        }
        result
    }

    fn purse_file(&self) -> Result<FileEntry> {
        let df = self.auth.fs.state.current_df;
        scan(self.auth.fs.store, self.auth.fs.header, |e| {
            (e.parent == df && e.kind == FileKind::Internal && e.role == ROLE_PURSE_FILE)
                .then_some(*e)
        })?
        .ok_or(Status::FunctionNotSupported)
    }

    fn log_file(&self) -> Result<FileEntry> {
        let df = self.auth.fs.state.current_df;
        scan(self.auth.fs.store, self.auth.fs.header, |e| {
            (e.parent == df && e.kind.is_record() && e.fid == LOG_FID).then_some(*e)
        })?
        .ok_or(Status::FunctionNotSupported)
    }

    fn values(&self, file: &FileEntry) -> Result<PurseValues> {
        let mut b = [0u8; 20];
        self.auth.fs.store.read(file.body_at as usize, &mut b)?;
        Ok(PurseValues::decode(&b))
    }

    /// "PIN if set" (P5 §7.3.1; P7 §11, §12).
    fn require_pin(&self) -> Result<()> {
        if self.auth.fs.security.has_pin(sscard_core::auth::HOLDER_PIN) {
            Ok(())
        } else {
            Err(Status::SecurityStatusNotSatisfied)
        }
    }

    fn key(
        &self,
        usage_bits: KeyUsage,
        version: u8,
    ) -> Result<(Algorithm, Zeroizing<[u8; 16]>, usize)> {
        let key = self
            .auth
            .key_by_usage(usage_bits, |s| {
                s.version == version && s.kind == SecretKind::Key
            })?
            .ok_or(sw::KEY_INDEX_NOT_SUPPORTED)?;
        let alg = Algorithm::from_id(key.algorithm).ok_or(sw::KEY_INDEX_NOT_SUPPORTED)?;
        let mut value = Zeroizing::new([0u8; 16]);
        let n = key.value().len();
        value
            .get_mut(..n)
            .ok_or(Status::MemoryFailure)?
            .copy_from_slice(key.value());
        Ok((alg, value, n))
    }

    fn session(&self, usage_bits: KeyUsage, version: u8, input: &[u8; 8]) -> Result<CardKey> {
        let (alg, key, n) = self.key(usage_bits, version)?;
        session_key(alg, key.get(..n).unwrap_or(&[]), input)
            .map_err(|_| sw::KEY_INDEX_NOT_SUPPORTED)
    }

    /// SESLK = KS(DLK, random ‖ load sequence ‖ 8000) (P7 §11.2), for MAC1 and MAC2.
    fn load_session_key(&self, version: u8, random: &[u8; 4], sequence: u16) -> Result<CardKey> {
        let [s0, s1] = sequence.to_be_bytes();
        let [r0, r1, r2, r3] = *random;
        self.session(
            KeyUsage::PURSE_LOAD,
            version,
            &[r0, r1, r2, r3, s0, s1, 0x80, 0x00],
        )
    }

    fn tac_key(&self, version: u8) -> Result<CardKey> {
        let (alg, key, n) = self.key(KeyUsage::PURSE_TAC, version)?;
        tac_key(alg, key.get(..n).unwrap_or(&[])).map_err(|_| sw::KEY_INDEX_NOT_SUPPORTED)
    }

    /// A transaction INITIALIZE accepted, with a fresh card random.
    fn pending(&mut self, key_version: u8, terminal: [u8; 6], sequence: u16) -> Pending {
        let mut random = [0u8; 4];
        self.auth.random(&mut random);
        Pending {
            key_version,
            terminal,
            random,
            sequence,
        }
    }

    /// INITIALIZE FOR LOAD `B0 28 00 01` (P5 §7.5, T65–T68; P7 §11.2): key index ‖
    /// amount ‖ terminal id → balance ‖ load sequence ‖ key version ‖ algorithm id ‖
    /// random ‖ MAC1, MAC1 = MAC(SESLK, balance ‖ amount ‖ type ‖ terminal),
    /// SESLK = KS(DLK, random ‖ sequence ‖ 8000).
    fn initialize_load(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<()> {
        let d: &[u8; 11] = cmd.data().try_into().map_err(|_| Status::WrongLength)?;
        self.require_pin()?;
        let key_version = d[0];
        let amount = be32(d, 1);
        let mut terminal = [0u8; 6];
        terminal.copy_from_slice(&d[5..11]);
        let file = self.purse_file()?;
        let v = self.values(&file)?;
        let (alg, _, _) = self.key(KeyUsage::PURSE_LOAD, key_version)?;
        if v.load_seq == u16::MAX {
            return Err(sw::COUNTER_AT_MAXIMUM);
        }
        if v.balance.checked_add(amount).is_none() {
            return Err(Status::ConditionsNotSatisfied);
        }
        let pending = self.pending(key_version, terminal, v.load_seq);
        let seq = v.load_seq.to_be_bytes();
        let seslk = self.load_session_key(key_version, &pending.random, v.load_seq)?;
        let mac1 = mac_of(
            &seslk.cipher(),
            &[
                &v.balance.to_be_bytes(),
                &amount.to_be_bytes(),
                &[self.options.load_type],
                &terminal,
            ],
        );
        reply.push(&v.balance.to_be_bytes())?;
        reply.push(&seq)?;
        reply.push(&[key_version, alg.id()])?;
        reply.push(&pending.random)?;
        reply.push(&mac1)?;
        *self.state = PurseState::Load(pending, amount);
        Ok(())
    }

    /// CREDIT FOR LOAD `B0 2A 00 00` (P5 §7.1, T50–T53; P7 §11.5–11.9): host time ‖ MAC2;
    /// MAC2 = MAC(SESLK, amount ‖ type ‖ terminal ‖ time), else 9302. Then, as one
    /// transaction: sequence + 1, balance + amount, log record, proof; returns
    /// TAC = MAC(K_TAC, new balance ‖ sequence before ‖ amount ‖ type ‖ terminal ‖ time).
    fn credit_for_load(
        &mut self,
        pending: Pending,
        amount: u32,
        cmd: &CommandView<'_>,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
        let d: &[u8; 11] = cmd.data().try_into().map_err(|_| Status::WrongLength)?;
        let time = &d[..7];
        let mac2 = &d[7..];
        let seq = pending.sequence.to_be_bytes();
        let seslk =
            self.load_session_key(pending.key_version, &pending.random, pending.sequence)?;
        let kind = [self.options.load_type];
        let expected = Zeroizing::new(mac_of(
            &seslk.cipher(),
            &[&amount.to_be_bytes(), &kind, &pending.terminal, time],
        ));
        let (file, log, mut v) =
            self.accept(&expected[..], mac2, |v| v.load_seq, pending.sequence)?;
        let new_balance = v
            .balance
            .checked_add(amount)
            .ok_or(Status::ConditionsNotSatisfied)?;
        // The TAC is computed before the amounts change (P7 §14).
        let tac = mac_of(
            &self.tac_key(pending.key_version)?.cipher(),
            &[
                &new_balance.to_be_bytes(),
                &seq,
                &amount.to_be_bytes(),
                &kind,
                &pending.terminal,
                time,
            ],
        );
        v.balance = new_balance;
        v.load_seq = pending.sequence.wrapping_add(1);
        let done = Done {
            kind: self.options.load_type,
            seq,
            terminal: pending.terminal,
            amounts: [amount, 0, 0],
            mac: mac2,
            tac,
        };
        self.record(&file, &log, &v, &done, time)?;
        reply.push(&tac)
    }

    /// INITIALIZE FOR PURCHASE `B0 28 01 01` (P5 §7.6, T69–T72; P7 §12.2): key index ‖
    /// account ‖ self-pay ‖ pooled-fund amounts ‖ terminal id → balance ‖ SPIP ‖ SPFP ‖
    /// payment year ‖ purchase sequence ‖ key version ‖ algorithm id ‖ random (no MAC1).
    /// 9401 if the balance is below the account amount, 9403 for an unknown key index.
    fn initialize_purchase(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<()> {
        let d: &[u8; 19] = cmd.data().try_into().map_err(|_| Status::WrongLength)?;
        self.require_pin()?;
        let key_version = d[0];
        let amounts = [be32(d, 1), be32(d, 5), be32(d, 9)];
        let mut terminal = [0u8; 6];
        terminal.copy_from_slice(&d[13..19]);
        let file = self.purse_file()?;
        let v = self.values(&file)?;
        let (alg, _, _) = self.key(KeyUsage::PURSE_PURCHASE, key_version)?;
        if v.balance < amounts[0] {
            return Err(sw::INSUFFICIENT_FUNDS);
        }
        if v.purchase_seq == u16::MAX {
            return Err(sw::COUNTER_AT_MAXIMUM);
        }
        let pending = self.pending(key_version, terminal, v.purchase_seq);
        reply.push(&v.balance.to_be_bytes())?;
        reply.push(&v.spip.to_be_bytes())?;
        reply.push(&v.spfp.to_be_bytes())?;
        reply.push(&v.year)?;
        reply.push(&v.purchase_seq.to_be_bytes())?;
        reply.push(&[key_version, alg.id()])?;
        reply.push(&pending.random)?;
        *self.state = PurseState::Purchase(pending, amounts);
        Ok(())
    }

    /// DEBIT FOR PURCHASE `B0 2C 01 00` (P5 §7.2, T54–T57; P7 §12.4–12.6): TTSN ‖
    /// terminal time ‖ MAC1. SESPK = KS(DPK, random ‖ sequence ‖ TTSN[2..4]);
    /// MAC1 = MAC(SESPK, amounts ‖ type ‖ terminal ‖ time), else 9302. As one
    /// transaction: balance − account amount, the year rule on SPIP/SPFP, sequence + 1,
    /// log record, proof. Returns TAC ‖ MAC2 with MAC2 = MAC(SESPK, amounts) and
    /// TAC = MAC(K_TAC, amounts ‖ type ‖ terminal ‖ TTSN ‖ time).
    fn debit_for_purchase(
        &mut self,
        pending: Pending,
        amounts: [u32; 3],
        cmd: &CommandView<'_>,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
        let d: &[u8; 15] = cmd.data().try_into().map_err(|_| Status::WrongLength)?;
        let ttsn = [d[0], d[1], d[2], d[3]];
        let date = [d[4], d[5], d[6], d[7]];
        let time = &d[4..11];
        let mac1 = &d[11..];
        let seq = pending.sequence.to_be_bytes();
        let input = [
            pending.random[0],
            pending.random[1],
            pending.random[2],
            pending.random[3],
            seq[0],
            seq[1],
            ttsn[2],
            ttsn[3],
        ];
        let sespk = self.session(KeyUsage::PURSE_PURCHASE, pending.key_version, &input)?;
        let cipher = sespk.cipher();
        let kind = [self.options.purchase_type];
        let [a0, a1, a2] = amounts.map(u32::to_be_bytes);
        let expected = Zeroizing::new(mac_of(
            &cipher,
            &[&a0, &a1, &a2, &kind, &pending.terminal, time],
        ));
        let (file, log, mut v) =
            self.accept(&expected[..], mac1, |v| v.purchase_seq, pending.sequence)?;
        v.balance = v
            .balance
            .checked_sub(amounts[0])
            .ok_or(sw::INSUFFICIENT_FUNDS)?;
        let (accumulate, year) = year_rule(&date, &v.year, &v.start).ok_or(Status::WrongData)?;
        if accumulate {
            v.spip = v.spip.saturating_add(amounts[1]);
            v.spfp = v.spfp.saturating_add(amounts[2]);
        } else {
            v.year = year;
            v.spip = amounts[1];
            v.spfp = amounts[2];
        }
        v.purchase_seq = pending.sequence.wrapping_add(1);
        // MAC2 and TAC before the amounts change (P7 §14).
        let mac2 = mac_of(&cipher, &[&a0, &a1, &a2]);
        let tac = mac_of(
            &self.tac_key(pending.key_version)?.cipher(),
            &[&a0, &a1, &a2, &kind, &pending.terminal, &ttsn, time],
        );
        let done = Done {
            kind: self.options.purchase_type,
            seq,
            terminal: pending.terminal,
            amounts,
            mac: &mac2,
            tac,
        };
        self.record(&file, &log, &v, &done, time)?;
        reply.push(&tac)?;
        reply.push(&mac2)
    }

    /// The terminal's MAC checked against `expected` (9302 if wrong), then the purse and
    /// log files and the purse values, whose sequence number must still be the one the
    /// INITIALIZE saw (6901 otherwise: another transaction came between).
    fn accept(
        &self,
        expected: &[u8],
        mac: &[u8],
        sequence_of: fn(&PurseValues) -> u16,
        sequence: u16,
    ) -> Result<(FileEntry, FileEntry, PurseValues)> {
        if !mac_matches(expected, mac) {
            return Err(sw::MAC_INVALID);
        }
        let file = self.purse_file()?;
        let log = self.log_file()?;
        let v = self.values(&file)?;
        if sequence_of(&v) != sequence {
            return Err(Status::InvalidState);
        }
        Ok((file, log, v))
    }

    /// Writes the outcome of a load or purchase as one transaction: the new values, the
    /// log record (P5 T79) and the proof GET TRANSACTION PROOF returns (P7 §14).
    fn record(
        &mut self,
        file: &FileEntry,
        log: &FileEntry,
        v: &PurseValues,
        done: &Done<'_>,
        time: &[u8],
    ) -> Result<()> {
        let mut record = [0u8; 28];
        build_log(
            &mut record,
            &done.seq,
            done.kind,
            &done.terminal,
            time,
            done.amounts,
        );
        let mut proof = [0u8; 12];
        build_proof(&mut proof, done.kind, &done.seq, done.mac, &done.tac);
        self.commit(file, log, v, &record, &proof)
    }

    fn commit(
        &mut self,
        file: &FileEntry,
        log: &FileEntry,
        v: &PurseValues,
        record: &[u8],
        proof: &[u8; 12],
    ) -> Result<()> {
        let at = file.body_at as usize;
        let log = *log;
        let fs = &mut *self.auth.fs;
        fs.store.begin()?;
        let result = (|| -> Result<()> {
            fs.store.write(at, &v.encode())?;
            fs.append_record_in_transaction(&log, record)?;
            fs.store.write(at + OFF_PROOF, proof)?;
            Ok(())
        })();
        match result {
            Ok(()) => Ok(fs.store.commit()?),
            Err(e) => {
                fs.store.abort();
                Err(e)
            }
        }
    }

    /// GET BALANCE `B0 26 00 P2` (P5 §7.3, T58–T60): 01 CIA (4 bytes), 02 SPIP ‖ year,
    /// 03 SPFP ‖ year. Needs the PIN if one is set.
    fn get_balance(&mut self, p2: u8, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<()> {
        let len = match p2 {
            0x01 => 4,
            0x02 | 0x03 => 6,
            _ => return Err(Status::WrongP1P2),
        };
        if !cmd.data().is_empty()
            || cmd
                .le()
                .is_some_and(|le| le as usize != len && !cmd.le_is_max())
        {
            return Err(Status::WrongLength);
        }
        self.require_pin()?;
        let v = self.values(&self.purse_file()?)?;
        match p2 {
            0x01 => reply.push(&v.balance.to_be_bytes()),
            0x02 => {
                reply.push(&v.spip.to_be_bytes())?;
                reply.push(&v.year)
            }
            _ => {
                reply.push(&v.spfp.to_be_bytes())?;
                reply.push(&v.year)
            }
        }
    }

    /// GET TRANSACTION PROOF `B0 2E 00 <type>` (P5 §7.4, T61–T64; P7 §14): data = the
    /// sequence number of the transaction; answers MAC ‖ TAC of the last amount change if
    /// it matches, else 9406 (the amounts were not changed: restart the transaction).
    fn get_transaction_proof(
        &mut self,
        p2: u8,
        cmd: &CommandView<'_>,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
        let seq: &[u8; 2] = cmd.data().try_into().map_err(|_| Status::WrongLength)?;
        let file = self.purse_file()?;
        let mut proof = [0u8; 12];
        self.auth
            .fs
            .store
            .read(file.body_at as usize + OFF_PROOF, &mut proof)?;
        if proof[0] != 1 || proof[1] != p2 || proof[2..4] != seq[..] {
            return Err(sw::MAC_NOT_AVAILABLE);
        }
        reply.push(&proof[4..12])
    }

    /// UPDATE STARTING DAY `B0 56 00 00` (P5 §7.7, T73–T75): mmdd, after external
    /// authentication with DSK.
    fn update_starting_day(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        let mmdd: &[u8; 2] = cmd.data().try_into().map_err(|_| Status::WrongLength)?;
        if !self.auth.fs.security.has_key(DSK_ID) {
            return Err(Status::SecurityStatusNotSatisfied);
        }
        if !valid_mmdd(mmdd) {
            return Err(Status::WrongData);
        }
        let at = self.purse_file()?.body_at as usize + OFF_START;
        self.auth.fs.store.atomic(|s| s.write(at, mmdd))?;
        Ok(())
    }

    /// GET STARTING DAY `B0 56 01 00` (P5 §7.8, T76–T78).
    fn get_starting_day(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<()> {
        if !cmd.data().is_empty() {
            return Err(Status::WrongLength);
        }
        let v = self.values(&self.purse_file()?)?;
        reply.push(&v.start)
    }
}

/// Log record (V2 T9, §8.5.3): sequence ‖ type ‖ terminal ‖ time ‖ three amounts.
/// A load or purchase the card has accepted, as the log and the proof keep it.
struct Done<'m> {
    /// Transaction type (交易类型).
    kind: u8,
    /// Sequence number before the transaction.
    seq: [u8; 2],
    /// Terminal id.
    terminal: [u8; 6],
    /// Account, self-pay and pooled-fund amounts (a load: the amount, 0, 0).
    amounts: [u32; 3],
    /// The host's MAC2 (load) or the card's MAC2 (purchase).
    mac: &'m [u8],
    /// The TAC.
    tac: [u8; 4],
}

/// The 4-byte MAC (LD/T 32 P4 §8.2.4, zero IV) of `parts` one after the other.
fn mac_of(cipher: &CardCipher, parts: &[&[u8]]) -> [u8; 4] {
    let mut mac = Mac::zero_iv(cipher);
    for part in parts {
        mac.update(part);
    }
    mac.finish()
}

fn build_log(
    out: &mut [u8; 28],
    seq: &[u8; 2],
    kind: u8,
    terminal: &[u8; 6],
    time: &[u8],
    amounts: [u32; 3],
) {
    let parts: [&[u8]; 7] = [
        seq,
        &[kind],
        terminal,
        time,
        &amounts[0].to_be_bytes(),
        &amounts[1].to_be_bytes(),
        &amounts[2].to_be_bytes(),
    ];
    let mut at = 0;
    for p in parts {
        if let Some(dst) = out.get_mut(at..at + p.len()) {
            dst.copy_from_slice(p);
        }
        at += p.len();
    }
}

fn build_proof(out: &mut [u8; 12], kind: u8, seq: &[u8; 2], mac: &[u8], tac: &[u8; 4]) {
    out[0] = 1;
    out[1] = kind;
    out[2..4].copy_from_slice(seq);
    if let Some(dst) = out.get_mut(4..8)
        && mac.len() == 4
    {
        dst.copy_from_slice(mac);
    }
    out[8..12].copy_from_slice(tac);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_rule_as_the_worked_example() {
        // S = 0701, Y = 2012: 20120701..20130630 accumulate, 20130701 rolls over.
        let y = [0x20, 0x12];
        let s = [0x07, 0x01];
        assert_eq!(
            year_rule(&[0x20, 0x12, 0x07, 0x01], &y, &s),
            Some((true, y))
        );
        assert_eq!(
            year_rule(&[0x20, 0x13, 0x06, 0x30], &y, &s),
            Some((true, y))
        );
        assert_eq!(
            year_rule(&[0x20, 0x13, 0x07, 0x01], &y, &s),
            Some((false, [0x20, 0x13]))
        );
        // Settlement year of a date before the starting day is the previous year.
        assert_eq!(
            year_rule(&[0x20, 0x15, 0x03, 0x01], &y, &s),
            Some((false, [0x20, 0x14]))
        );
        // Clock set back: the literal formula accumulates.
        assert_eq!(
            year_rule(&[0x20, 0x11, 0x01, 0x01], &y, &s),
            Some((true, y))
        );
        assert_eq!(year_rule(&[0x20, 0x1A, 0x01, 0x01], &y, &s), None);
    }

    #[test]
    fn mmdd_validation() {
        assert!(valid_mmdd(&[0x01, 0x01]));
        assert!(valid_mmdd(&[0x12, 0x31]));
        assert!(!valid_mmdd(&[0x13, 0x01]));
        assert!(!valid_mmdd(&[0x00, 0x10]));
        assert!(!valid_mmdd(&[0x01, 0x3A]));
    }
}
