//! The PSAM's command handlers: one match over [`PsamCommand`], each arm citing the
//! clause of LD/T 32 part 9 it implements (spec-extract §4.4, §1.11).

use crate::command::{CipherStep, PsamCommand};
use crate::keys::{self, KeyRecord, KeyType};
use crate::layout::{ADF_MASTER_KEY, KEY_FILE_FIDS, KID, TERMINAL_INFO_FID, TTSN_FID};
use crate::options::{FactorOrder, KeyFileP2, Mac2Failure, MacOutput, PsamOptions, TtsnTiming};
use crate::session::{HeldKey, Purchase, Session, Temporary};
use crate::status as sw;
use sscard_core::apdu::{CommandView, Writer};
use sscard_core::auth::AuthContext;
use sscard_core::auth::secret::{SecretKind, find_secret};
use sscard_core::crypto::ssc::{diversify_path, session_key, sm_decrypt_in_place};
use sscard_core::crypto::{Algorithm, CardCipher, Mac, card_mac, mac_matches, retail_mac};
use sscard_core::fs::layout::{FileEntry, FileIndex};
use sscard_core::nvm::{Nvm, Transactional};
use sscard_core::status::{Result, Status};
use zeroize::{Zeroize, Zeroizing};

/// Most diversification levels a key can have (P9 §6.1: national, province, city).
const MAX_LEVELS: usize = 3;
/// Length of INIT SAM FOR PURCHASE's data before the factors (P9 T27).
const PURCHASE_HEAD_LEN: usize = 0x1C;

/// One PSAM command's context.
pub(crate) struct Exec<'a, 'b, 'f, N: Nvm> {
    pub(crate) auth: &'a mut AuthContext<'b, 'f, N>,
    pub(crate) session: &'a mut Session,
    pub(crate) options: PsamOptions,
    /// The environment's algorithm family.
    pub(crate) algorithm: Algorithm,
}

impl<N: Nvm> Exec<'_, '_, '_, N> {
    pub(crate) fn run(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<()> {
        match PsamCommand::try_from(cmd)? {
            // P9 §9.3, T15–T16
            PsamCommand::InitializeEnvironment => self.initialize_environment(cmd),
            // P9 §9.4, T17–T18; the session key and AD of §7.1.5 / §7.2.5 are the OS's
            PsamCommand::ExternalAuthentication => self.auth.external_authenticate(cmd),
            // P9 §9.5, T19–T20
            PsamCommand::CreateKey { file } => self.load_key(cmd, file, false),
            // P9 §9.6, T21–T22
            PsamCommand::ChangeKey { file } => self.load_key(cmd, file, true),
            // P9 §9.7, T23–T24
            PsamCommand::DeliverySessionKey { usage, id } => {
                self.delivery_session_key(cmd, usage, id)
            }
            // P9 §9.8, T25–T26
            PsamCommand::CipherData(step) => self.cipher_data(cmd, step, reply),
            // P9 §9.9, T27–T29; P7 §12.2–12.3
            PsamCommand::InitSamForPurchase => self.init_sam_for_purchase(cmd, reply),
            // P9 §9.10, T30–T31
            PsamCommand::CreditSamForPurchase => self.credit_sam_for_purchase(cmd),
        }
    }

    fn adf(&self) -> FileIndex {
        self.auth.fs.state.current_df
    }

    /// INITIALIZE ENVIRONMENT `BF EC 00 00`: one byte, the leftmost byte of the user
    /// card's 卡的识别码 (the province digits, BCD; `6A80` otherwise). Remembered; it
    /// gates the key commands only when the options say so.
    fn initialize_environment(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        let [province] = *cmd.data() else {
            return Err(Status::WrongLength);
        };
        if province >> 4 > 9 || province & 0x0F > 9 {
            return Err(Status::WrongData);
        }
        self.session.province = Some(province);
        Ok(())
    }

    fn require_environment(&self) -> Result<()> {
        if self.options.require_environment && self.session.province.is_none() {
            return Err(Status::ConditionsNotSatisfied);
        }
        Ok(())
    }

    /// CREATE KEY `84 D4 00 P2` / CHANGE KEY `84 D4 01 P2`: data = ciphertext ‖ MAC under
    /// the ADF-MK (P9 §7.1.2–7.1.3, §7.2.2–7.2.3): the MAC's IV is the PSAM's last
    /// challenge (`6984` without one), it covers `84 D4 P1 P2 Lc ‖ ciphertext`; a wrong
    /// MAC or a malformed plaintext is `6988`. Writing needs KID-0n of the key file
    /// (`6982`). CREATE appends `usage ‖ id ‖ 00 ‖ algorithm ‖ 00000000 ‖ value`
    /// (`6A80` if malformed, of the other environment's algorithm or already present,
    /// `6A84` when the file is full); CHANGE replaces the value of the key with that
    /// usage and id (`usage ‖ id ‖ 00 ‖ value`; `6A88` if there is none).
    fn load_key(&mut self, cmd: &CommandView<'_>, p2: u8, change: bool) -> Result<()> {
        let lengths: &[usize] = match (self.algorithm, change) {
            (Algorithm::Des3, false) => &[0x1C, 0x24],
            (Algorithm::Des3, true) => &[0x14, 0x1C],
            (Algorithm::Sm4, _) => &[0x24],
        };
        let data = cmd.data();
        if !lengths.contains(&data.len()) {
            return Err(Status::WrongLength);
        }
        let number = match self.options.key_file_p2 {
            KeyFileP2::FidLowByte => p2.wrapping_sub(0x11),
            KeyFileP2::Number => p2.wrapping_sub(0x01),
        };
        let fid = *KEY_FILE_FIDS
            .get(usize::from(number))
            .ok_or(Status::FileNotFound)?;
        let kid = *KID.get(usize::from(number)).ok_or(Status::FileNotFound)?;
        let file = keys::key_file(self.auth.fs, self.adf(), fid)?;
        if !self.auth.fs.security.has_key(kid) {
            return Err(Status::SecurityStatusNotSatisfied);
        }
        let (challenge, n) = self.auth.take_challenge()?;
        let master = find_secret(
            self.auth.fs.store,
            self.auth.fs.header,
            self.adf(),
            SecretKind::Key,
            ADF_MASTER_KEY,
            |_| true,
        )?
        .ok_or(Status::ReferencedDataNotFound)?;
        let (ciphertext, mac) = data.split_at(data.len() - 4);
        let header = cmd.header();
        let lc = [data.len() as u8];
        let iv = challenge.get(..n).unwrap_or(&[]);
        let expected = Zeroizing::new(key_load_mac(
            self.algorithm,
            master.value(),
            iv,
            &[&header, &lc, ciphertext],
        )?);
        if !mac_matches(&expected[..], mac) {
            return Err(Status::SmDataIncorrect);
        }
        let cipher =
            CardCipher::new(self.algorithm, master.value()).map_err(|_| Status::MemoryFailure)?;
        let mut buf = Zeroizing::new([0u8; 32]);
        let buf = buf.get_mut(..ciphertext.len()).ok_or(Status::WrongLength)?;
        buf.copy_from_slice(ciphertext);
        let plain = sm_decrypt_in_place(&cipher, buf).map_err(|_| Status::SmDataIncorrect)?;
        if change {
            self.change_key(&file, plain)
        } else {
            self.create_key(&file, plain)
        }
    }

    fn create_key(&mut self, file: &FileEntry, plain: &[u8]) -> Result<()> {
        let record = KeyRecord::decode(plain).ok_or(Status::WrongData)?;
        if record.algorithm.family() != self.algorithm {
            return Err(Status::WrongData);
        }
        let exists = keys::find_in(self.auth.fs, file, |k| {
            k.usage & 0x1F == record.usage & 0x1F && k.id == record.id
        })?;
        if exists.is_some() {
            return Err(Status::WrongData);
        }
        keys::append(self.auth.fs, file, plain)
    }

    fn change_key(&mut self, file: &FileEntry, plain: &[u8]) -> Result<()> {
        let [usage, id, rfu, value @ ..] = plain else {
            return Err(Status::WrongData);
        };
        let found = keys::find_in(self.auth.fs, file, |k| k.usage == *usage && k.id == *id)?
            .ok_or(Status::ReferencedDataNotFound)?;
        if *rfu != 0 || value.len() != found.record.algorithm.key_len() {
            return Err(Status::WrongData);
        }
        keys::replace_value(self.auth.fs, &found, value)
    }

    /// DELIVERY SESSION KEY `BF DE <usage> <id>`: data = N factors (8 bytes each) ‖ the
    /// session factor (8 bytes DES, 16 bytes SM4); Lc = M + 8N, N = 0–3 (`6700`). The
    /// key of that type and id (`6A88`; medical-purchase keys serve 80 70 only) must
    /// need exactly N levels, as P1 says (`6A80`, §9.7.2). Diversified from the highest
    /// level down (P9 §7.3, F12), then SK = E(child, session factor) (P4 §8.4) is held
    /// for CIPHER DATA.
    fn delivery_session_key(&mut self, cmd: &CommandView<'_>, usage: u8, id: u8) -> Result<()> {
        let data = cmd.data();
        let m = self.algorithm.block_len();
        let n = data
            .len()
            .checked_sub(m)
            .filter(|r| r % 8 == 0)
            .map(|r| r / 8)
            .filter(|n| *n <= MAX_LEVELS)
            .ok_or(Status::WrongLength)?;
        self.require_environment()?;
        let kind = usage & 0x1F;
        let found = keys::find(self.auth.fs, self.adf(), |k| {
            k.id == id && k.usage & 0x1F == kind && k.kind() != Some(KeyType::Purchase)
        })?
        .ok_or(Status::ReferencedDataNotFound)?;
        let levels = usize::from(found.record.levels());
        if levels != usize::from(usage >> 5) || levels != n {
            return Err(Status::WrongData);
        }
        let (factors, session_factor) = data.split_at(8 * n);
        let child = self.diversify(&found.record, factors, self.options.factor_order)?;
        let sk = session_key(self.algorithm, child.as_bytes(), session_factor)
            .map_err(|_| Status::WrongLength)?;
        self.session.temporary = Some(Temporary {
            key: HeldKey::hold(&sk),
            adf: self.adf(),
            encrypted: false,
            maced: false,
            chain: None,
        });
        Ok(())
    }

    /// The key of `record` diversified with `factors` (8 bytes each), highest level
    /// first whatever `order` they come in.
    fn diversify(
        &self,
        record: &KeyRecord,
        factors: &[u8],
        order: FactorOrder,
    ) -> Result<sscard_core::crypto::CardKey> {
        let mut path = [[0u8; 8]; MAX_LEVELS];
        let n = factors.len() / 8;
        for (i, chunk) in factors.chunks_exact(8).enumerate() {
            let slot = match order {
                FactorOrder::CardFirst => n - 1 - i,
                FactorOrder::CardLast => i,
            };
            if let Some(dst) = path.get_mut(slot) {
                dst.copy_from_slice(chunk);
            }
        }
        let key = diversify_path(
            record.algorithm.family(),
            record.value(),
            path.get(..n).unwrap_or(&[]),
        )
        .map_err(|_| Status::MemoryFailure);
        path.zeroize();
        key
    }

    /// CIPHER DATA `80 FA P1 00` with the temporary key (`6901` without one, or once
    /// the same kind of computation has finished with it, §9.8.1): P1 00/02 encrypt ECB
    /// and return the ciphertext; 07 (first), 03 (next), 01 (last), 05 (only) chain a
    /// CBC MAC whose IV is the first block of 07/05 (`6985` for 03/01 without a chain),
    /// over data the terminal has padded; 01/05 return the MAC ([`MacOutput`]). Lc:
    /// DES 08–40 (05: 10–40), SM4 10–80 (05: 20–80), whole blocks (`6700`).
    fn cipher_data(
        &mut self,
        cmd: &CommandView<'_>,
        step: CipherStep,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
        let data = cmd.data();
        let block = self.algorithm.block_len();
        let min = if step == CipherStep::MacOnly { 2 } else { 1 } * block;
        if data.len() < min || data.len() > 8 * block || data.len() % block != 0 {
            return Err(Status::WrongLength);
        }
        let adf = self.adf();
        let temporary = of_adf(self.session.temporary.as_mut(), adf, |t| t.adf)?;
        let spent = if step.encrypts() {
            temporary.encrypted
        } else {
            temporary.maced
        };
        if spent {
            return Err(Status::InvalidState);
        }
        let cipher = temporary.key.key()?.cipher();
        if step.encrypts() {
            let out = reply.reserve(data.len())?;
            out.copy_from_slice(data);
            cipher.encrypt_ecb(out).map_err(|_| Status::WrongLength)?;
            temporary.encrypted = step.finishes();
        } else {
            let (mut state, rest) = match (step.starts_chain(), temporary.chain) {
                (true, _) => {
                    let (iv, rest) = data.split_at(block);
                    let mut state = [0u8; 16];
                    state
                        .get_mut(..block)
                        .ok_or(Status::MemoryFailure)?
                        .copy_from_slice(iv);
                    (state, rest)
                }
                (false, Some(state)) => (state, data),
                (false, None) => return Err(Status::ConditionsNotSatisfied),
            };
            for chunk in rest.chunks_exact(block) {
                let st = state.get_mut(..block).ok_or(Status::MemoryFailure)?;
                st.iter_mut().zip(chunk).for_each(|(s, d)| *s ^= d);
                cipher
                    .encrypt_block(st)
                    .map_err(|_| Status::MemoryFailure)?;
            }
            if step.finishes() {
                temporary.chain = None;
                temporary.maced = true;
                let result = mac_output(&state, block, self.options.mac_output, reply);
                state.zeroize();
                result?;
            } else {
                temporary.chain = Some(state);
                state.zeroize();
            }
        }
        if temporary.encrypted && temporary.maced {
            self.session.temporary = None;
        }
        Ok(())
    }

    /// The body of transparent EF `fid` in DF `df` into `out`.
    fn read_ef(&self, df: FileIndex, fid: u16, out: &mut [u8]) -> Result<usize> {
        let ef = self
            .auth
            .fs
            .find(|e| (e.parent == df && e.fid == fid && e.kind.is_ef()).then_some(*e))?
            .ok_or(Status::ConditionsNotSatisfied)?;
        if (ef.body_len as usize) < out.len() {
            return Err(Status::ConditionsNotSatisfied);
        }
        self.auth.fs.store.read(ef.body_at as usize, out)?;
        Ok(ef.body_at as usize)
    }

    /// INIT SAM FOR PURCHASE `80 70 01 00` (P9 §9.9; P7 §12.2–12.3): data = card random(4)
    /// ‖ purchase sequence(2) ‖ account, self-pay, pooled-fund amounts(12) ‖ type(1) ‖
    /// date(4) ‖ time(3) ‖ key version(1) ‖ algorithm id(1) ‖ N factors, card first;
    /// Lc = 1C + 8N (`6700`). The purchase key of that version and algorithm needing N
    /// levels (`6A88`) gives DPK; SESPK = KS(DPK, random ‖ sequence ‖ TTSN[2..4]),
    /// MAC1 = MAC(SESPK, amounts ‖ type ‖ terminal id (0016) ‖ date ‖ time). The new
    /// TTSN is committed before TTSN ‖ MAC1 is returned (`6985` once it cannot move).
    fn init_sam_for_purchase(
        &mut self,
        cmd: &CommandView<'_>,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
        let data = cmd.data();
        let n = data
            .len()
            .checked_sub(PURCHASE_HEAD_LEN)
            .filter(|r| r % 8 == 0)
            .map(|r| r / 8)
            .filter(|n| {
                (1..=MAX_LEVELS).contains(n) || (*n == 0 && self.options.purchase_without_factors)
            })
            .ok_or(Status::WrongLength)?;
        self.require_environment()?;
        let (head, factors) = data.split_at(PURCHASE_HEAD_LEN);
        let head: &[u8; PURCHASE_HEAD_LEN] = head.try_into().map_err(|_| Status::WrongLength)?;
        let (version, card_algorithm) = (head[26], head[27]);
        if Algorithm::from_id(card_algorithm) != Some(self.algorithm) {
            return Err(Status::ReferencedDataNotFound);
        }
        let found = keys::find(self.auth.fs, self.adf(), |k| {
            k.kind() == Some(KeyType::Purchase) && k.id == version
        })?
        .ok_or(Status::ReferencedDataNotFound)?;
        if usize::from(found.record.levels()) != n {
            return Err(Status::ReferencedDataNotFound);
        }
        let adf = self.adf();
        let environment = self.auth.fs.entry(adf)?.parent;
        let mut terminal = [0u8; 6];
        self.read_ef(environment, TERMINAL_INFO_FID, &mut terminal)?;
        let mut stored = [0u8; 4];
        let ttsn_at = self.read_ef(adf, TTSN_FID, &mut stored)?;
        let stored = u32::from_be_bytes(stored);
        let next = stored
            .checked_add(1)
            .ok_or(Status::ConditionsNotSatisfied)?;
        let used = match self.options.ttsn {
            TtsnTiming::UseThenIncrement => stored,
            TtsnTiming::IncrementThenUse => next,
        }
        .to_be_bytes();
        let dpk = self.diversify(&found.record, factors, FactorOrder::CardFirst)?;
        let input = [
            head[0], head[1], head[2], head[3], head[4], head[5], used[2], used[3],
        ];
        let sespk = session_key(self.algorithm, dpk.as_bytes(), &input)
            .map_err(|_| Status::MemoryFailure)?;
        let mut mac_data = [0u8; 26];
        mac_data[..13].copy_from_slice(&head[6..19]);
        mac_data[13..19].copy_from_slice(&terminal);
        mac_data[19..].copy_from_slice(&head[19..26]);
        let mac1 = card_mac(&sespk.cipher(), &[], &mac_data).map_err(|_| Status::MemoryFailure)?;
        // The serial moves on for good before MAC1 leaves (P7 §14: tear-safe).
        self.auth
            .fs
            .store
            .atomic(|s| s.write(ttsn_at, &next.to_be_bytes()))?;
        let mut amounts = [0u8; 12];
        amounts.copy_from_slice(&head[6..18]);
        self.session.purchase = Some(Purchase {
            sespk: HeldKey::hold(&sespk),
            adf,
            amounts,
        });
        reply.push(&used)?;
        reply.push(&mac1)
    }

    /// CREDIT SAM FOR PURCHASE `80 72 00 00` (P9 §9.10; P7 §12.7): data = MAC2(4)
    /// (`6700`), only after INIT SAM FOR PURCHASE (`6901`); MAC2 = MAC(SESPK, amounts).
    /// A wrong MAC2 answers [`Mac2Failure`]; either way the purchase session ends.
    fn credit_sam_for_purchase(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        let mac2 = cmd.data();
        if mac2.len() != 4 {
            return Err(Status::WrongLength);
        }
        let adf = self.adf();
        let purchase = of_adf(self.session.purchase.take(), adf, |p| p.adf)?;
        let cipher = purchase.sespk.key()?.cipher();
        let expected = Zeroizing::new(
            card_mac(&cipher, &[], &purchase.amounts).map_err(|_| Status::MemoryFailure)?,
        );
        if mac_matches(&expected[..], mac2) {
            Ok(())
        } else {
            Err(match self.options.mac2_failure {
                Mac2Failure::MacInvalid => sw::MAC_INVALID,
                Mac2Failure::Warning63Cf => Status::RemainingTries(15),
            })
        }
    }
}

/// A session entry, if there is one and it belongs to `adf` (the ADF it was started in,
/// by `adf_of`); otherwise `6901`.
fn of_adf<T>(entry: Option<T>, adf: FileIndex, adf_of: impl Fn(&T) -> FileIndex) -> Result<T> {
    entry
        .filter(|e| adf_of(e) == adf)
        .ok_or(Status::InvalidState)
}

/// The key-load MAC (P9 §7.1.3, §7.2.3): IV = the challenge right-padded with `00`;
/// single DES or SM4 (XOR-folded): the card MAC; 2-key 3DES: ISO/IEC 9797-1 algorithm 3.
fn key_load_mac(alg: Algorithm, key: &[u8], iv: &[u8], parts: &[&[u8]]) -> Result<[u8; 4]> {
    if let (Algorithm::Des3, Ok(key16)) = (alg, <&[u8; 16]>::try_from(key)) {
        let mut iv8 = [0u8; 8];
        iv8.iter_mut().zip(iv).for_each(|(d, s)| *d = *s);
        let [a, b, c, d, ..] = retail_mac(key16, &iv8, parts);
        return Ok([a, b, c, d]);
    }
    let cipher = CardCipher::new(alg, key).map_err(|_| Status::MemoryFailure)?;
    let mut mac = Mac::new(&cipher, iv).map_err(|_| Status::ReferencedDataInvalid)?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finish())
}

/// A finished CIPHER DATA MAC as the options want it: 4 bytes as P4 §8.2.4 forms them,
/// or the whole block.
fn mac_output(
    state: &[u8; 16],
    block: usize,
    output: MacOutput,
    reply: &mut Writer<'_>,
) -> Result<()> {
    match (output, block) {
        (MacOutput::FullBlock, _) => reply.push(state.get(..block).unwrap_or(&[])),
        (MacOutput::Four, 8) => reply.push(state.get(..4).unwrap_or(&[])),
        (MacOutput::Four, _) => {
            let mut folded = [0u8; 4];
            for word in state.chunks_exact(4) {
                folded.iter_mut().zip(word).for_each(|(f, w)| *f ^= w);
            }
            reply.push(&folded)
        }
    }
}
