//! Structure-aware card sessions for fuzzing: the fuzzer chooses a typed sequence of
//! terminal operations ([`Op`], decoded with `arbitrary`), and the harness turns each into
//! the APDUs a terminal would send, with the right lengths, the card's current challenge
//! and correct (or, when the operation says so, deliberately wrong) cryptograms and MACs.
//! So byte-level mutation no longer has to guess a MAC to reach the authenticated states,
//! secure messaging, every purse state, the PKI application after its PIN, or PBOC after
//! GPO and GENERATE AC. Every APDU goes through the same checks as
//! [`card_session`](crate::fuzz_checks::card_session) (status word, secrets, persistence).
//!
//! The harness plays the terminal and its key store: it takes the keys from the card's
//! own secret table (what an issuer's HSM holds), as a fuzzing harness may; the cryptograms
//! are checked against independent implementations elsewhere (tests/, vectors/).

use arbitrary::Arbitrary;
use sscard_core::apdu::encode_command;
use sscard_core::auth::secret::{SecretKind, find_by_usage, find_secret, usage};
use sscard_core::crypto::{Algorithm, CardCipher, Mac, auth_data, session_key};
use sscard_core::rng::CardRng;
use sscard_core::{Applets, Interface};
use sscard_ssc::SscCard;

use crate::fuzz_checks::{Checker, on_snapshot_card, with_checker, with_sample_oracle};
use crate::snapshot::ImageNvm;
use sscard_pboc::PbocApplet;

/// Where a SELECT goes.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Target {
    /// The MF.
    Mf,
    /// The social-security environment.
    Ssse,
    /// DF01–DF04 or DF07 (the index modulo 5).
    Df(u8),
    /// The PKI application (DDF, then ADF).
    Pki,
    /// The PBOC debit application.
    Pboc,
}

/// One terminal operation.
#[derive(Arbitrary, Clone, Debug)]
pub enum Op {
    /// Any bytes, sent as they are.
    Raw(Vec<u8>),
    /// Power off and on.
    PowerCycle {
        /// Through the contactless interface (else the contacts).
        contactless: bool,
    },
    /// SELECT by name.
    Select(Target),
    /// VERIFY of the holder PIN (the profile's `123456`, or a wrong one).
    VerifyPin {
        /// The right PIN.
        good: bool,
    },
    /// GET CHALLENGE then EXTERNAL AUTHENTICATE with one of the keys the current DF sees.
    ExternalAuth {
        /// Which key (index into the usual key ids, modulo their number).
        key: u8,
        /// A correct cryptogram.
        good: bool,
    },
    /// INTERNAL AUTHENTICATE with the terminal's random.
    InternalAuth {
        /// r1 ‖ r2.
        random: [u8; 16],
    },
    /// READ RECORD by SFI and number.
    ReadRecord {
        /// SFI (modulo 31).
        sfi: u8,
        /// Record number.
        record: u8,
    },
    /// UPDATE RECORD by SFI and number.
    UpdateRecord {
        /// SFI (modulo 31).
        sfi: u8,
        /// Record number.
        record: u8,
        /// The record (at most 255 bytes).
        data: Vec<u8>,
    },
    /// UPDATE RECORD under secure messaging: MAC with the STK session key of a fresh
    /// challenge.
    SecureUpdateRecord {
        /// SFI (modulo 31).
        sfi: u8,
        /// Record number.
        record: u8,
        /// The record (at most 200 bytes).
        data: Vec<u8>,
        /// A correct MAC.
        good: bool,
    },
    /// READ BINARY by SFI.
    ReadBinary {
        /// SFI (modulo 31).
        sfi: u8,
        /// Offset.
        offset: u8,
        /// Le.
        len: u8,
    },
    /// UPDATE BINARY by SFI.
    UpdateBinary {
        /// SFI (modulo 31).
        sfi: u8,
        /// Offset.
        offset: u8,
        /// The bytes (at most 255).
        data: Vec<u8>,
    },
    /// INITIALIZE FOR LOAD then CREDIT FOR LOAD with MAC2 under SESLK.
    PurseLoad {
        /// Amount in fen.
        amount: u16,
        /// A correct MAC2.
        good: bool,
    },
    /// INITIALIZE FOR PURCHASE then DEBIT FOR PURCHASE with MAC1 under SESPK.
    PursePurchase {
        /// Account amount in fen.
        amount: u16,
        /// A correct MAC1.
        good: bool,
    },
    /// GET BALANCE (P2 modulo 3, plus 1).
    GetBalance {
        /// Which balance.
        which: u8,
    },
    /// The PKI VERIFY with the SM4-enciphered challenge.
    PkiVerify {
        /// The administrator PIN (else the user PIN).
        admin: bool,
        /// The right PIN.
        good: bool,
    },
    /// GENERATE KEY PAIR into the signature slot, or a refused target.
    PkiGenerate {
        /// Into the signature slot (else the certificate EF).
        slot: bool,
    },
    /// The identity signature over some data.
    PkiSign {
        /// The data (at most 255 bytes, at least 1).
        data: Vec<u8>,
    },
    /// GET PROCESSING OPTIONS with the contact or contactless PDOL.
    PbocGpo {
        /// Amount authorized.
        amount: u16,
        /// DF69 = 01 (SM) or 00 (RSA).
        sm: bool,
    },
    /// The offline PIN (plaintext PIN block).
    PbocVerify {
        /// The right PIN.
        good: bool,
    },
    /// GENERATE AC (P1 from the fuzzer) with the CDOL1 data.
    PbocGenerateAc {
        /// P1.
        p1: u8,
    },
    /// READ RECORD of the PBOC files.
    PbocReadRecord {
        /// SFI (modulo 31).
        sfi: u8,
        /// Record number.
        record: u8,
    },
}

/// Most operations a session runs (bounds one execution's cost).
const MAX_OPS: usize = 64;

/// Most operations of each kind that make the card generate or use a private key (PKI
/// key generation and signature, PBOC GPO and GENERATE AC with their dynamic
/// signatures) a session runs; the rest are skipped. One costs as much as a few hundred
/// other commands under the fuzzer's instrumentation, and a third of a kind in one
/// session reaches nothing the first two did not.
const MAX_KEY_OPS: u8 = 2;

/// The key ids a terminal authenticates with: RKSSSE, UKSSSE, BK, PUK, RK1/UK/RK2 of a
/// DF, the purse's DSK.
const KEY_IDS: [u8; 8] = [0x0A, 0x04, 0x05, 0x06, 0x84, 0x83, 0x85, 0x89];

/// The CDOL1 data of `vectors/pboc/contact.apdu`'s first GENERATE AC.
const CDOL1_DATA: [u8; 55] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x56, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x56, 0x26, 0x11, 0x29, 0x00, 0x11, 0x22, 0x33, 0x44, 0x12, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x41, 0x03, 0x02, 0x00,
];

const SELECT_SSSE: &[u8] = &[
    0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1,
    0xB1, 0xA3, 0xD5, 0xCF,
];

/// Plays `data`, decoded as a sequence of [`Op`]s, against the sample card with PBOC.
pub fn ops_session(data: &[u8]) -> Result<(), String> {
    let u = arbitrary::Unstructured::new(data);
    let Ok(ops) = Vec::<Op>::arbitrary_take_rest(u) else {
        return Ok(());
    };
    play_ops(&ops).map(|_| ())
}

/// Plays `ops` against a fresh sample card with PBOC, with every session check; returns
/// the responses of the last APDU of each operation.
pub fn play_ops(ops: &[Op]) -> Result<Vec<Vec<u8>>, String> {
    on_snapshot_card((PbocApplet::new(),), |card| {
        with_sample_oracle(|oracle| {
            with_checker(card, oracle, |checker| {
                let mut terminal = Terminal {
                    checker,
                    key_ops: [0; 4],
                };
                ops.iter()
                    .take(MAX_OPS)
                    .map(|op| terminal.run(op))
                    .collect()
            })
        })
    })
}

/// The terminal side: turns operations into APDUs.
struct Terminal<'c, 'a, N: ImageNvm, R: CardRng + Clone, A: Applets + Clone> {
    checker: &'c mut Checker<'a, N, R, A>,
    /// Private-key operations run, by kind (see [`MAX_KEY_OPS`]).
    key_ops: [u8; 4],
}

/// A short command APDU (data cut to 255 bytes; `Some(0)` is Le = 00, up to 256).
fn apdu(header: [u8; 4], data: &[u8], le: Option<u8>) -> Vec<u8> {
    let data = data.get(..255).unwrap_or(data);
    let le = le.map(|l| if l == 0 { 256 } else { u32::from(l) });
    let mut out = vec![0u8; data.len() + 6];
    let n = encode_command(header, data, le, &mut out).unwrap_or(0);
    out.truncate(n);
    out
}

impl<N: ImageNvm, R: CardRng + Clone, A: Applets + Clone> Terminal<'_, '_, N, R, A> {
    fn send(&mut self, apdu: &[u8]) -> Result<Vec<u8>, String> {
        let mut r = self.checker.apdu(apdu)?;
        // T=0: fetch what waits with GET RESPONSE, as a PC/SC host does.
        while let [.., 0x61, n] = r[..] {
            r = self.checker.apdu(&[0x00, 0xC0, 0x00, 0x00, n])?;
        }
        if let [.., 0x6C, n] = r[..]
            && let Some(mut again) = apdu.get(..apdu.len().saturating_sub(1)).map(<[u8]>::to_vec)
        {
            again.push(n);
            r = self.checker.apdu(&again)?;
        }
        Ok(r)
    }

    fn card(&self) -> &SscCard<N, R, A> {
        self.checker.card()
    }

    /// The key `id` as the current DF sees it, with its algorithm.
    fn key(&self, id: u8) -> Option<(Algorithm, Vec<u8>)> {
        let card = self.card();
        let df = card.transient().fs.current_df;
        let s = find_secret(card.store(), card.header(), df, SecretKind::Key, id, |_| {
            true
        })
        .ok()
        .flatten()?;
        Some((Algorithm::from_id(s.algorithm)?, s.value().to_vec()))
    }

    /// The first key with usage `bits` the current DF sees.
    fn key_by_usage(&self, bits: u8) -> Option<(Algorithm, Vec<u8>)> {
        let card = self.card();
        let df = card.transient().fs.current_df;
        let s = find_by_usage(card.store(), card.header(), df, bits, |_| true)
            .ok()
            .flatten()?;
        Some((Algorithm::from_id(s.algorithm)?, s.value().to_vec()))
    }

    /// GET CHALLENGE of `n` bytes; empty if refused.
    fn challenge(&mut self, n: u8) -> Result<Vec<u8>, String> {
        let r = self.send(&[0x00, 0x84, 0x00, 0x00, n])?;
        Ok(match r.split_last_chunk::<2>() {
            Some((data, [0x90, 0x00])) => data.to_vec(),
            _ => Vec::new(),
        })
    }

    fn run(&mut self, op: &Op) -> Result<Vec<u8>, String> {
        let key_op = match op {
            Op::PkiGenerate { .. } => Some(0),
            Op::PkiSign { .. } => Some(1),
            Op::PbocGpo { .. } => Some(2),
            Op::PbocGenerateAc { .. } => Some(3),
            _ => None,
        };
        if let Some(count) = key_op.and_then(|kind| self.key_ops.get_mut(kind)) {
            if *count >= MAX_KEY_OPS {
                return Ok(Vec::new());
            }
            *count += 1;
        }
        match op {
            Op::Raw(bytes) => self.checker.apdu(bytes),
            Op::PowerCycle { contactless } => {
                let interface = if *contactless {
                    Interface::Contactless
                } else {
                    Interface::Contact
                };
                self.checker.power_cycle(interface).map(|()| Vec::new())
            }
            Op::Select(target) => self.select(*target),
            Op::VerifyPin { good } => {
                let pin = if *good {
                    [0x12, 0x34, 0x56]
                } else {
                    [0x65, 0x43, 0x21]
                };
                self.send(&apdu([0x00, 0x20, 0x00, 0x00], &pin, None))
            }
            Op::ExternalAuth { key, good } => {
                let id = KEY_IDS
                    .get(usize::from(*key) % KEY_IDS.len())
                    .copied()
                    .unwrap_or(0x0A);
                let Some((alg, value)) = self.key(id) else {
                    return self.send(&apdu([0x00, 0x82, 0x00, id], &[0u8; 16], None));
                };
                let challenge = self.challenge(8)?;
                let p = [0x5Au8; 8];
                let mut ad = session_key(alg, &value, &challenge)
                    .map(|sk| auth_data(&sk.cipher(), &p))
                    .unwrap_or_default();
                if !*good && let Some(b) = ad.first_mut() {
                    *b ^= 1;
                }
                let data = [&ad[..], &p[..]].concat();
                self.send(&apdu([0x00, 0x82, 0x00, id], &data, None))
            }
            Op::InternalAuth { random } => {
                self.send(&apdu([0x00, 0x88, 0x00, 0x00], random, Some(0)))
            }
            Op::ReadRecord { sfi, record } => {
                self.send(&[0x00, 0xB2, *record, (sfi % 31) << 3 | 4, 0x00])
            }
            Op::UpdateRecord { sfi, record, data } => {
                let data = if data.is_empty() { &[0u8][..] } else { data };
                self.send(&apdu(
                    [0x00, 0xDC, *record, (sfi % 31) << 3 | 4],
                    data,
                    None,
                ))
            }
            Op::SecureUpdateRecord {
                sfi,
                record,
                data,
                good,
            } => self.secure_update_record(*sfi, *record, data, *good),
            Op::ReadBinary { sfi, offset, len } => {
                self.send(&[0x00, 0xB0, 0x80 | (sfi % 31), *offset, *len])
            }
            Op::UpdateBinary { sfi, offset, data } => {
                let data = if data.is_empty() { &[0u8][..] } else { data };
                self.send(&apdu([0x00, 0xD6, 0x80 | (sfi % 31), *offset], data, None))
            }
            Op::PurseLoad { amount, good } => self.purse_load(*amount, *good),
            Op::PursePurchase { amount, good } => self.purse_purchase(*amount, *good),
            Op::GetBalance { which } => self.send(&[0xB0, 0x26, 0x00, which % 3 + 1, 0x00]),
            Op::PkiVerify { admin, good } => self.pki_verify(*admin, *good),
            Op::PkiGenerate { slot } => {
                let private: &[u8] = if *slot { &[0x00, 0x13] } else { &[0x00, 0x19] };
                let data = [&[0xC0, 0x02, 0x00, 0x12, 0xC2, 0x02][..], private].concat();
                self.send(&apdu([0x80, 0x40, 0x00, 0x00], &data, None))
            }
            Op::PkiSign { data } => {
                let data = if data.is_empty() { &[0u8][..] } else { data };
                self.send(&apdu([0x00, 0x2A, 0x9E, 0x9A], data, Some(0)))
            }
            Op::PbocGpo { amount, sm } => self.pboc_gpo(*amount, *sm),
            Op::PbocVerify { good } => {
                let block: [u8; 8] = if *good {
                    [0x26, 0x12, 0x34, 0x56, 0xFF, 0xFF, 0xFF, 0xFF]
                } else {
                    [0x26, 0x99, 0x99, 0x99, 0xFF, 0xFF, 0xFF, 0xFF]
                };
                self.send(&apdu([0x00, 0x20, 0x00, 0x80], &block, None))
            }
            Op::PbocGenerateAc { p1 } => {
                // CDOL1 data as vectors/pboc/contact.apdu sends it (55 bytes: amounts,
                // country, TVR, currency, date, type, unpredictable number, terminal data).
                self.send(&apdu([0x80, 0xAE, *p1, 0x00], &CDOL1_DATA, Some(0)))
            }
            Op::PbocReadRecord { sfi, record } => {
                self.send(&[0x00, 0xB2, *record, (sfi % 31) << 3 | 4, 0x00])
            }
        }
    }

    fn select(&mut self, target: Target) -> Result<Vec<u8>, String> {
        match target {
            Target::Mf => self.send(&[0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00]),
            Target::Ssse => self.send(SELECT_SSSE),
            Target::Df(n) => {
                self.send(SELECT_SSSE)?;
                let aid = [0xD1, 0x56, 0x00, 0x00, 0x05, n % 5];
                self.send(&apdu([0x00, 0xA4, 0x04, 0x00], &aid, None))
            }
            Target::Pki => {
                self.send(&apdu(
                    [0x00, 0xA4, 0x04, 0x00],
                    &sscard_ssc::pki::PKI_DDF_NAME,
                    None,
                ))?;
                self.send(&apdu(
                    [0x00, 0xA4, 0x04, 0x00],
                    &sscard_ssc::pki::PKI_ADF_NAME,
                    None,
                ))
            }
            Target::Pboc => self.send(&apdu(
                [0x00, 0xA4, 0x04, 0x00],
                &[0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01],
                Some(0),
            )),
        }
    }

    /// LD/T 32 P4 §8.3: MAC over header ‖ Lc ‖ data with the STK session key of the
    /// card's challenge.
    fn secure_update_record(
        &mut self,
        sfi: u8,
        record: u8,
        data: &[u8],
        good: bool,
    ) -> Result<Vec<u8>, String> {
        let data = data.get(..200).unwrap_or(data);
        let data = if data.is_empty() { &[0u8][..] } else { data };
        let header = [0x04, 0xDC, record, (sfi % 31) << 3 | 4];
        let Some((alg, stk)) = self.key_by_usage(usage::SECURE_MESSAGING) else {
            return self.send(&apdu(header, data, None));
        };
        let challenge = self.challenge(8)?;
        let lc = data.len() as u8 + 4;
        let mut mac = session_key(alg, &stk, &challenge)
            .map(|sk| {
                let cipher = sk.cipher();
                let mut m = Mac::zero_iv(&cipher);
                m.update(&header);
                m.update(&[lc]);
                m.update(data);
                m.finish()
            })
            .unwrap_or_default();
        if !good {
            mac[0] ^= 1;
        }
        self.send(&apdu(header, &[data, &mac[..]].concat(), None))
    }

    fn purse_load(&mut self, amount: u16, good: bool) -> Result<Vec<u8>, String> {
        let terminal = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
        let amount = u32::from(amount).to_be_bytes();
        let init = [&[0x01][..], &amount, &terminal].concat();
        let r = self.send(&apdu([0xB0, 0x28, 0x00, 0x01], &init, Some(0)))?;
        // balance(4) ‖ sequence(2) ‖ key version ‖ algorithm ‖ random(4) ‖ MAC1(4).
        let (Some(seq), Some(random)) = (r.get(4..6), r.get(8..12)) else {
            return Ok(r);
        };
        let Some((alg, dlk)) = self.key_by_usage(usage::PURSE_LOAD) else {
            return Ok(r);
        };
        let time = [0x20, 0x26, 0x12, 0x07, 0x12, 0x00, 0x00];
        let input = [random, seq, &[0x80, 0x00]].concat();
        let mut mac2 = mac_under(alg, &dlk, &input, &[&amount, b"1", &terminal, &time]);
        if !good {
            mac2[0] ^= 1;
        }
        self.send(&apdu(
            [0xB0, 0x2A, 0x00, 0x00],
            &[&time[..], &mac2].concat(),
            Some(0),
        ))
    }

    fn purse_purchase(&mut self, amount: u16, good: bool) -> Result<Vec<u8>, String> {
        let terminal = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
        let amounts = [u32::from(amount), 0, 0];
        let mut init = vec![0x01];
        for a in amounts {
            init.extend(a.to_be_bytes());
        }
        init.extend(terminal);
        let r = self.send(&apdu([0xB0, 0x28, 0x01, 0x01], &init, Some(0)))?;
        // balance(4) ‖ SPIP(4) ‖ SPFP(4) ‖ year(2) ‖ sequence(2) ‖ kv ‖ alg ‖ random(4).
        let (Some(seq), Some(random)) = (r.get(14..16), r.get(18..22)) else {
            return Ok(r);
        };
        let Some((alg, dpk)) = self.key_by_usage(usage::PURSE_PURCHASE) else {
            return Ok(r);
        };
        let ttsn = [0x00, 0x00, 0x00, 0x01];
        let time = [0x20, 0x26, 0x12, 0x07, 0x12, 0x00, 0x00];
        let input = [random, seq, &ttsn[2..]].concat();
        let amounts: Vec<u8> = amounts.iter().flat_map(|a| a.to_be_bytes()).collect();
        let mut mac1 = mac_under(alg, &dpk, &input, &[&amounts, b"2", &terminal, &time]);
        if !good {
            mac1[0] ^= 1;
        }
        let data = [&ttsn[..], &time, &mac1].concat();
        self.send(&apdu([0xB0, 0x2C, 0x01, 0x00], &data, Some(0)))
    }

    fn pki_verify(&mut self, admin: bool, good: bool) -> Result<Vec<u8>, String> {
        let pin: &[u8] = match (admin, good) {
            (false, true) => &[0x12, 0x34, 0x56],
            (true, true) => &[0x12, 0x34, 0x56, 0x78],
            (_, false) => &[0x99, 0x99, 0x99],
        };
        let challenge = self.challenge(16)?;
        let mut block = [0u8; 16];
        if let Some(head) = block.get_mut(..challenge.len().min(16)) {
            head.copy_from_slice(challenge.get(..head.len()).unwrap_or_default());
        }
        let key = sscard_ssc::pki::pin_key(pin);
        if let Ok(cipher) = CardCipher::new(Algorithm::Sm4, &key) {
            let _ = cipher.encrypt_block(&mut block);
        }
        let p2 = if admin { 0x00 } else { 0x81 };
        self.send(&apdu([0x00, 0x20, 0x01, p2], &block, None))
    }

    fn pboc_gpo(&mut self, amount: u16, sm: bool) -> Result<Vec<u8>, String> {
        let amount = u32::from(amount).to_be_bytes();
        let df69 = u8::from(sm);
        let pdol: Vec<u8> = if self.card().interface() == Interface::Contact {
            // 9F7A 9F02 5F2A DF69.
            [&[0x00, 0x00, 0x00][..], &amount, &[0x01, 0x56, df69]].concat()
        } else {
            // 9F66 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 DF60 DF69.
            [
                &[0x28, 0x00, 0x00, 0x00, 0x00, 0x00][..],
                &amount,
                &[0u8; 6],
                &[0x01, 0x56],
                &[0u8; 5],
                &[0x01, 0x56],
                &[0x26, 0x12, 0x07, 0x00],
                &[0x12, 0x34, 0x56, 0x78],
                &[0x00, df69],
            ]
            .concat()
        };
        let data = [&[0x83, pdol.len() as u8][..], &pdol].concat();
        self.send(&apdu([0x80, 0xA8, 0x00, 0x00], &data, Some(0)))
    }
}

/// A purse session key `KS(K, input)` and the card MAC of `parts` under it (P7 §11–12).
fn mac_under(alg: Algorithm, key: &[u8], input: &[u8], parts: &[&[u8]]) -> [u8; 4] {
    session_key(alg, key, input)
        .map(|sk| {
            let cipher = sk.cipher();
            let mut m = Mac::zero_iv(&cipher);
            for p in parts {
                m.update(p);
            }
            m.finish()
        })
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn sw(r: &[u8]) -> u16 {
        u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
    }

    #[test]
    fn typed_operations_reach_the_authenticated_states() {
        let ops = [
            Op::Select(Target::Ssse),
            Op::VerifyPin { good: true },
            Op::ExternalAuth { key: 0, good: true },
            Op::Select(Target::Df(3)),
            Op::ExternalAuth { key: 4, good: true },
            Op::PurseLoad {
                amount: 500,
                good: true,
            },
            Op::PursePurchase {
                amount: 200,
                good: true,
            },
            Op::GetBalance { which: 0 },
            Op::Select(Target::Df(0)),
            Op::ExternalAuth { key: 5, good: true },
            Op::SecureUpdateRecord {
                sfi: 5,
                record: 1,
                data: vec![0x20, 0x01, 0x31],
                good: true,
            },
            Op::Select(Target::Pki),
            Op::PkiVerify {
                admin: false,
                good: true,
            },
            Op::PkiGenerate { slot: true },
            Op::PkiSign {
                data: vec![1, 2, 3],
            },
            Op::Select(Target::Pboc),
            Op::PbocGpo {
                amount: 100,
                sm: true,
            },
            Op::PbocVerify { good: true },
            Op::PbocGenerateAc { p1: 0x80 },
        ];
        let responses = play_ops(&ops).unwrap();
        let sws: Vec<u16> = responses.iter().map(|r| sw(r)).collect();
        for (i, (op, s)) in ops.iter().zip(&sws).enumerate() {
            assert!(
                *s == 0x9000 || matches!(op, Op::SecureUpdateRecord { .. }) && *s == 0x6A83,
                "op {i} {op:?}: {s:04X} (all: {sws:04X?})"
            );
        }
        // The purse moved: 500 in, 200 out.
        assert_eq!(&responses[7][..4], &300u32.to_be_bytes());
        // The first GENERATE AC answered a cryptogram (format 1, tag 80).
        assert_eq!(responses.last().unwrap()[0], 0x80);
        // Wrong cryptograms are refused, not executed.
        let bad = play_ops(&[
            Op::Select(Target::Df(3)),
            Op::VerifyPin { good: true },
            Op::PurseLoad {
                amount: 500,
                good: false,
            },
        ])
        .unwrap();
        assert_eq!(sw(&bad[2]), 0x9302);
    }

    #[test]
    fn a_session_runs_two_private_key_operations_of_a_kind() {
        let mut ops = vec![
            Op::Select(Target::Pki),
            Op::PkiVerify {
                admin: false,
                good: true,
            },
        ];
        ops.extend([
            Op::PkiGenerate { slot: true },
            Op::PkiGenerate { slot: true },
        ]);
        ops.extend([Op::PkiSign { data: vec![1] }, Op::PkiSign { data: vec![2] }]);
        ops.extend([
            Op::PkiGenerate { slot: true },
            Op::PkiSign { data: vec![3] },
        ]);
        let responses = play_ops(&ops).unwrap();
        assert!(responses[2..6].iter().all(|r| sw(r) == 0x9000));
        assert_eq!(
            responses[6..],
            [vec![], vec![]],
            "the third of each is skipped"
        );
    }

    #[test]
    fn any_bytes_decode_to_a_session() {
        for seed in 0u8..32 {
            let data: Vec<u8> = (0..200u16)
                .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
                .collect();
            ops_session(&data).unwrap();
        }
    }
}
