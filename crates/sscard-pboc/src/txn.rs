//! The transaction commands: GET PROCESSING OPTIONS (incl. qPBOC), VERIFY, GENERATE AC,
//! EXTERNAL AUTHENTICATE and INTERNAL AUTHENTICATE (pboc.md §2.4–§2.12).

use heapless::Vec;
use sscard_core::apdu::{CommandView, Writer};
use sscard_core::crypto::{Sm2KeyPair, arpc_method1, ct_eq, mac_matches, pboc_session_key};
use sscard_core::nvm::Nvm;
use sscard_core::nvm::Transactional;
use sscard_core::status::{Result, Status};
use sscard_core::tlv::{BerWriter, DolReader, Tag, dol_value_len};
use sscard_core::{AppletContext, Interface};
use zeroize::Zeroizing;

use crate::assumed_sm2_oda::{MAX_SDAD_LEN, signed_dynamic_data};
use crate::bits::{Ada, Aip, Cid, Cpp, Ctq, Cvr, IssuerAuthIndicator, ReferenceControl, Ttq, Tvr};
use crate::cryptogram::{
    CardKeys, application_cryptogram, cvr, issuer_application_data, terminal_fields,
};
use crate::layout::{App, AppFlags, Blob, CFG_EC, CFG_FDDA01, CFG_SM2, Obj, bcd_to_u64};
use crate::layout::{SUITE_REFUSE_SM_REQUEST, SUITE_SM};
use crate::records::{Log, append_log, transaction_record};
use crate::rsa_oda::{self, RsaCrtKey};
use crate::state::{AcType, IssuerAuth, Path, Phase, Prior, TermData};
use crate::{PbocApplet, PbocCommand};

/// A transaction command for the selected application: the application and what the core
/// handed in with the command. Every transaction handler takes the four together.
pub(crate) struct AppCall<'c, 'n, 'w, N: Nvm>(
    /// The application's NVM region and the card's services.
    pub(crate) &'c mut AppletContext<'n, N>,
    /// The selected application.
    pub(crate) &'c App,
    /// The command.
    pub(crate) &'c CommandView<'c>,
    /// The response data, without the status word.
    pub(crate) &'c mut Writer<'w>,
);

/// An n12 amount sent by the terminal; absent counts as zero, a non-decimal one is 6A80.
fn amount(v: Option<&[u8]>) -> Result<u64> {
    match v {
        None => Ok(0),
        Some(b) => bcd_to_u64(b).ok_or(Status::WrongData),
    }
}

/// The terminal's transaction currency `5F2A` is the application currency `9F51`; a
/// terminal that did not send one is taken at its word (§2.9 domestic checks).
fn in_app_currency<N: Nvm>(
    ctx: &AppletContext<'_, N>,
    app: &App,
    currency: Option<&[u8]>,
) -> Result<bool> {
    let app_currency = app.get_array::<N, 2>(ctx, Obj::AppCurrency)?;
    Ok(currency.is_none_or(|c| c == app_currency))
}

/// The command data of a DOL-driven command, checked against the DOL: `6700` unless it
/// has exactly the length the DOL asks for (§2.4, §2.5).
fn check_dol_len(dol: &[u8], data: &[u8]) -> Result<()> {
    let expected = dol_value_len(dol).map_err(|_| Status::MemoryFailure)?;
    if data.len() != expected {
        return Err(Status::WrongLength);
    }
    Ok(())
}

/// Response format 1: the values one after the other in template `80` (EMV Book 3
/// §6.5.5.4, §6.5.8.4, §6.5.9.4).
fn format1(reply: &mut Writer<'_>, values: &[&[u8]]) -> Result<()> {
    template(reply, 0x80, |w| values.iter().try_for_each(|v| w.raw(v)))
}

/// Writes `tag { parts… }` into `reply`.
fn template(
    reply: &mut Writer<'_>,
    tag: u32,
    fill: impl FnOnce(&mut BerWriter<'_>) -> core::result::Result<(), sscard_core::tlv::TlvError>,
) -> Result<()> {
    let mut out = [0u8; 256];
    let mut w = BerWriter::new(&mut out);
    w.constructed(Tag(tag), fill)
        .map_err(|_| Status::WrongLength)?;
    reply.push(w.written())
}

/// The offline data authentication failures a terminal's TVR reports (EMV Book 3 Annex C5
/// byte 1: SDA, DDA or CDA failed), as the persistent flags a declined transaction leaves
/// for the next one's risk management (§2.9 item 1).
fn tvr_oda_flags(tvr: Option<&[u8]>) -> AppFlags {
    let tvr = Tvr::from_value(tvr.unwrap_or(&[]));
    let mut f = AppFlags::empty();
    f.set(AppFlags::SDA_FAILED, tvr.contains(Tvr::SDA_FAILED));
    f.set(
        AppFlags::DDA_FAILED,
        tvr.intersects(Tvr::DDA_FAILED | Tvr::CDA_FAILED),
    );
    f
}

/// The ICC's SM2 signing key, kept between sessions. Building it from the stored secret
/// costs a scalar multiplication (the `sm2` crate derives the public key), as much as a
/// signature; a qPBOC tap powers the card each time, so rebuilding it per transaction
/// doubled the fDDA time. It is a cache of NVM contents, not security state: it is keyed
/// by the stored secret (compared in constant time on every use), so another secret —
/// another card image — never reuses it.
#[derive(Default)]
pub(crate) struct SignerCache {
    secret: Zeroizing<[u8; 32]>,
    pair: Option<Sm2KeyPair>,
}

/// A copy of an applet starts without the cache (key material is not duplicated).
impl Clone for SignerCache {
    fn clone(&self) -> Self {
        SignerCache::default()
    }
}

impl core::fmt::Debug for SignerCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignerCache")
            .field("cached", &self.pair.is_some())
            .finish()
    }
}

/// The ICC's SM2 key pair for this application (DDA, fDDA).
fn sm2_key<'c, N: Nvm>(
    cache: &'c mut SignerCache,
    ctx: &AppletContext<'_, N>,
    app: &App,
) -> Result<&'c Sm2KeyPair> {
    let mut secret = Zeroizing::new([0u8; 32]);
    let (at, len) = app.blob_at(ctx, Blob::Sm2Secret)?;
    if len != 32 {
        return Err(Status::ConditionsNotSatisfied);
    }
    ctx.read(at, &mut secret[..])?;
    let cached = cache.pair.is_some() && ct_eq(&cache.secret[..], &secret[..]);
    if !cached {
        cache.pair = None;
        let pair = Sm2KeyPair::from_secret_bytes(&secret).map_err(|_| Status::MemoryFailure)?;
        cache.secret = secret;
        cache.pair = Some(pair);
    }
    cache.pair.as_ref().ok_or(Status::MemoryFailure)
}

/// Which AFL of the application a GPO answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AflKind {
    Contact,
    Qpboc,
    ElectronicCash,
}

/// The AFL of `kind` on the path GPO chose: the SM / legacy AFLs are blobs, the RSA ones
/// sit together in the `rsa_afls` area as `[len] contact ‖ [len] qPBOC ‖ [len] EC`.
fn afl<'b, N: Nvm>(
    ctx: &AppletContext<'_, N>,
    app: &App,
    rsa: bool,
    kind: AflKind,
    buf: &'b mut [u8; 64],
) -> Result<&'b [u8]> {
    if !rsa {
        let blob = match kind {
            AflKind::Contact => Blob::AflContact,
            AflKind::Qpboc => Blob::AflQpboc,
            AflKind::ElectronicCash => Blob::AflEc,
        };
        return app.blob(ctx, blob, buf);
    }
    let (mut at, _) = app.cfg.rsa_afls;
    let wanted = match kind {
        AflKind::Contact => 0,
        AflKind::Qpboc => 1,
        AflKind::ElectronicCash => 2,
    };
    for i in 0..=wanted {
        let mut len = [0u8; 1];
        ctx.read(usize::from(at), &mut len)?;
        if i == wanted {
            let dst = buf
                .get_mut(..usize::from(len[0]))
                .ok_or(Status::MemoryFailure)?;
            ctx.read(usize::from(at) + 1, dst)?;
            return Ok(dst);
        }
        at = at.saturating_add(1 + u16::from(len[0]));
    }
    Err(Status::MemoryFailure)
}

/// Largest stored ICC RSA key (`perso`: `[N] ‖ n ‖ e ‖ P ‖ Q ‖ dP ‖ dQ ‖ qInv`).
const RSA_KEY_BUF: usize =
    1 + rsa_oda::MAX_CARD_MODULUS_LEN + 4 + 5 * (rsa_oda::MAX_CARD_MODULUS_LEN / 2);

/// The ICC RSA key of the application in CRT form, read into `buf` (wiped by the caller's
/// `Zeroizing`).
fn rsa_key<'b, N: Nvm>(
    ctx: &AppletContext<'_, N>,
    app: &App,
    buf: &'b mut [u8; RSA_KEY_BUF],
) -> Result<RsaCrtKey<'b>> {
    let (at, len) = app.cfg.rsa_key;
    let stored = buf
        .get_mut(..usize::from(len))
        .ok_or(Status::MemoryFailure)?;
    ctx.read(usize::from(at), stored)?;
    let (n_len, rest) = stored.split_first().ok_or(Status::MemoryFailure)?;
    let n = usize::from(*n_len);
    let h = rsa_oda::crt_component_len(n);
    let (modulus, rest) = rest.split_at_checked(n).ok_or(Status::MemoryFailure)?;
    let (e, rest) = rest.split_at_checked(4).ok_or(Status::MemoryFailure)?;
    let mut parts = rest.chunks_exact(h);
    let mut next = || parts.next().ok_or(Status::MemoryFailure);
    let (p, q, dp, dq, qinv) = (next()?, next()?, next()?, next()?, next()?);
    // Leading zero bytes of the public exponent are padding.
    let e = e
        .get(e.iter().take_while(|b| **b == 0).count()..)
        .unwrap_or(e);
    RsaCrtKey::new(modulus, e, [p, q, dp, dq, qinv]).map_err(|_| Status::MemoryFailure)
}

/// PBOC 3.0 part 17 (pboc.md §2.15, §2.17): a terminal that supports the SM algorithms
/// says so with `DF69` in the PDOL. Dual card: `DF69` ≠ 00 → SM2, absent or 00 → RSA.
/// RSA-only card: RSA, or 6985 when the profile refuses SM requests. SM-only card (and
/// images made before RSA existed): SM2 whatever `DF69` says. What a nonzero `DF69` means
/// beyond `01` is not public: any nonzero value asks for SM (`docs/spec-choices.md`).
fn choose_rsa(cfg: &crate::layout::AppConfig, df69: Option<&[u8]>) -> Result<bool> {
    let sm_requested = df69.is_some_and(|v| v.iter().any(|b| *b != 0));
    let sm_offered = cfg.suite & SUITE_SM != 0 || cfg.suite == 0;
    match (cfg.has_rsa(), sm_offered) {
        (true, true) => Ok(!sm_requested),
        (true, false) if sm_requested && cfg.suite & SUITE_REFUSE_SM_REQUEST != 0 => {
            Err(Status::ConditionsNotSatisfied)
        }
        (true, false) => Ok(true),
        (false, _) => Ok(false),
    }
}

impl PbocApplet {
    /// GET PROCESSING OPTIONS `80 A8 00 00` (pboc.md §2.4, applet `onGPO` of
    /// `idx:3702743515`): P1P2 ≠ 0000 → 6A86; data not `83 L …` → 6A80; L or Lc not the
    /// PDOL's length → 6700; not just selected → 6985. The ATC is incremented and
    /// committed before anything else is answered; at FFFF the application locks for
    /// ever (6985). Contact: format 1 `80 AIP AFL` on the PBOC or EC path; contactless:
    /// TTQ contactless-PBOC bit → format 1, qPBOC bit → format 2 (§2.12), neither → 6985.
    pub(crate) fn gpo<N: Nvm>(&mut self, call: AppCall<'_, '_, '_, N>) -> Result<()> {
        let AppCall(ctx, app, cmd, reply) = call;
        if cmd.p1p2() != 0 {
            return Err(Status::WrongP1P2);
        }
        let contact = ctx.interface() == Interface::Contact;
        let mut pdol_buf = [0u8; 64];
        let pdol_blob = if contact {
            Blob::PdolContact
        } else {
            Blob::PdolContactless
        };
        let pdol = app.blob(ctx, pdol_blob, &mut pdol_buf)?;
        let values = match cmd.data() {
            [] => return Err(Status::WrongLength),
            [0x83, len, rest @ ..] if *len < 0x80 && usize::from(*len) == rest.len() => rest,
            [0x83, 0x81, len, rest @ ..] if *len >= 0x80 && usize::from(*len) == rest.len() => rest,
            [0x83, ..] => return Err(Status::WrongLength),
            _ => return Err(Status::WrongData),
        };
        check_dol_len(pdol, values)?;
        self.gate(PbocCommand::GetProcessingOptions)?;
        self.txn.pdol.set(pdol, values);
        self.txn.rsa = choose_rsa(&app.cfg, self.txn.pdol.value(0xDF69))?;
        let flags = app.flags(ctx)?;
        // A blocked application (6283 at SELECT) still initiates, so that the issuer can
        // unblock it by script after an ARQC; one whose ATC ran out never does.
        if flags.contains(AppFlags::DEAD) {
            return Err(Status::ConditionsNotSatisfied);
        }
        let atc = app.get_u16(ctx, Obj::Atc)?;
        let Some(atc) = atc.checked_add(1).filter(|a| *a != 0xFFFF) else {
            ctx.atomic(|c| app.set_flags(c, flags | AppFlags::DEAD))?;
            return Err(Status::ConditionsNotSatisfied);
        };
        self.txn.atc = atc;
        self.txn.prior = Prior {
            flags,
            scripts: app.get_u8(ctx, Obj::ScriptCount)?,
            new_card: app.get_u16(ctx, Obj::LastOnlineAtc)? == 0,
        };
        let amount = amount(self.txn.pdol.value(0x9F02))?;
        // The contact EC path (§2.3, §2.11): the terminal supports EC (`9F7A` = 01) and
        // electronic cash covers the amount.
        let ec_terminal = self.txn.pdol.value(0x9F7A) == Some(&[0x01]);
        let ec = if ec_terminal && amount != 0 && self.ec_covers(ctx, app, amount)? {
            Path::ElectronicCash
        } else {
            Path::Pboc
        };
        let ttq = self.txn.pdol.value(0x9F66).filter(|t| !t.is_empty());
        let path = match (contact, ttq.map(Ttq::from_value)) {
            (true, _) => ec,
            (false, Some(ttq)) if ttq.contains(Ttq::CONTACTLESS_PBOC) => ec,
            (false, Some(ttq)) if ttq.contains(Ttq::QPBOC) => Path::Qpboc,
            (false, _) => {
                ctx.atomic(|c| start_transaction(c, app, atc))?;
                return Err(Status::ConditionsNotSatisfied);
            }
        };
        self.txn.path = path;
        match path {
            Path::Pboc | Path::ElectronicCash => {
                ctx.atomic(|c| start_transaction(c, app, atc))?;
                let mut afl_buf = [0u8; 64];
                let kind = if path == Path::ElectronicCash {
                    AflKind::ElectronicCash
                } else {
                    AflKind::Contact
                };
                let afl = afl(ctx, app, self.txn.rsa, kind, &mut afl_buf)?;
                format1(reply, &[&app.cfg.aip_contact, afl])?;
                self.txn.phase = Phase::Initiated;
                Ok(())
            }
            Path::Qpboc => self.qpboc(ctx, app, atc, flags, amount, reply),
        }
    }

    /// The key of the offline data authentication GPO chose is personalized.
    fn can_sign(&self, app: &App) -> bool {
        if self.txn.rsa {
            app.cfg.has_rsa()
        } else {
            app.cfg.has(CFG_SM2)
        }
    }

    /// Electronic cash can pay `amount` offline (§2.11, §2.12): it is personalized, and the
    /// amount is within the EC balance and the single-transaction limit and in the
    /// application currency.
    fn ec_covers<N: Nvm>(
        &self,
        ctx: &AppletContext<'_, N>,
        app: &App,
        amount: u64,
    ) -> Result<bool> {
        if !app.cfg.has(CFG_EC) {
            return Ok(false);
        }
        let balance = app.get_amount(ctx, Obj::EcBalance)?;
        let single = app.get_amount(ctx, Obj::EcSingleLimit)?;
        let same_currency = in_app_currency(ctx, app, self.txn.pdol.value(0x5F2A))?;
        Ok(balance.is_some_and(|b| amount <= b)
            && single.is_none_or(|s| amount <= s)
            && same_currency)
    }

    /// qPBOC GPO (§2.12, applet `qPBOCGPOProcess`): the card decides at once. Offline
    /// approval needs electronic cash, the amount within the EC balance and single limit,
    /// the application currency, no "online cryptogram required" in the TTQ and the
    /// card-additional-process checks (new card, PIN try limit) passed; the balance is
    /// deducted at GPO, in the same commit as the ATC and the log. Otherwise ARQC, or AAC
    /// on an offline-only terminal, or 6985 when CPP prefers contact and the terminal has
    /// it. The response is format 2 (`77`), with fDDA in SM2 when approved offline.
    fn qpboc<N: Nvm>(
        &mut self,
        ctx: &mut AppletContext<'_, N>,
        app: &App,
        atc: u16,
        flags: AppFlags,
        amount: u64,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
        let ttq = Ttq::from_value(self.txn.pdol.value(0x9F66).unwrap_or(&[]));
        let cpp = Cpp::from_be_bytes(app.get_array(ctx, Obj::Cpp)?);
        let balance = app.get_amount(ctx, Obj::EcBalance)?;
        let ptc = app.get_u8(ctx, Obj::PinTryCounter)?;

        let mut online = ttq.contains(Ttq::ONLINE_CRYPTOGRAM_REQUIRED);
        online |= !self.ec_covers(ctx, app, amount)?;
        online |= cpp.contains(Cpp::NEW_CARD_CHECK) && self.txn.prior.new_card;
        online |= cpp.contains(Cpp::PIN_TRY_LIMIT_CHECK) && ptc == 0;
        let blocked = flags.contains(AppFlags::BLOCKED) || self.txn.blocked;
        let decision = if blocked {
            AcType::Aac
        } else if !online {
            AcType::Tc
        } else if ttq.contains(Ttq::OFFLINE_ONLY) {
            AcType::Aac
        } else if cpp.contains(Cpp::PREFER_CONTACT_ONLINE) && ttq.contains(Ttq::CONTACT_PBOC) {
            // The terminal has contact: the card asks it to switch.
            ctx.atomic(|c| start_transaction(c, app, atc))?;
            self.txn.phase = Phase::QpbocDone;
            return Err(Status::ConditionsNotSatisfied);
        } else {
            AcType::Arqc
        };

        // Card transaction qualifiers: CVM above the card CVM limit (§2.12).
        let mut ctq = Ctq::from_be_bytes(app.get_array(ctx, Obj::Ctq)?);
        let cvm_required = ttq.contains(Ttq::CVM_REQUIRED)
            || app
                .get_amount(ctx, Obj::CardCvmLimit)?
                .is_some_and(|l| amount > l);
        if cvm_required {
            if decision == AcType::Arqc && ttq.contains(Ttq::ONLINE_PIN) {
                ctq |= Ctq::ONLINE_PIN_REQUIRED;
            } else if ttq.contains(Ttq::SIGNATURE) {
                ctq |= Ctq::SIGNATURE_REQUIRED;
            }
        }

        let approved = decision == AcType::Tc;
        let new_balance = match (approved, balance) {
            (true, Some(b)) => Some(b.saturating_sub(amount)),
            (_, b) => b,
        };
        // GPO opens the transaction: the CVR holds nothing else yet.
        self.txn.cvr = Cvr::GAC2_NOT_REQUESTED | decision.cvr_first();
        let sign = approved
            && Aip::from_be_bytes(app.cfg.aip_qpboc).contains(Aip::DDA)
            && self.can_sign(app);
        if sign {
            self.txn.cvr |= Cvr::DDA_PERFORMED;
            if app.cfg.has(CFG_FDDA01) && ttq.contains(Ttq::FDDA_01) {
                let mut random = [0u8; 4];
                ctx.random(&mut random);
                let df61 = app.get_u8(ctx, Obj::SegmentedDeduction)?;
                let [r0, r1, r2, r3] = random;
                let [c1, c2] = ctq.bits().to_be_bytes();
                self.txn.card_auth_data = Some([0x01, r0, r1, r2, r3, c1, c2, df61]);
            }
        }
        let mut afl_buf = [0u8; 64];
        let afl = afl(ctx, app, self.txn.rsa, AflKind::Qpboc, &mut afl_buf)?;
        if approved {
            self.txn.last_afl_record = afl.chunks_exact(4).last().and_then(|e| match e {
                [s, _, last, _] => Some((s >> 3, *last)),
                _ => None,
            });
        }
        let log = if approved && cpp.contains(Cpp::LOG_QPBOC_OFFLINE) {
            transaction_record(ctx, app, &self.txn, decision.cid(), new_balance)?
        } else {
            Vec::new()
        };
        ctx.atomic(|c| {
            start_transaction(c, app, atc)?;
            if let (true, Some(b)) = (approved, new_balance) {
                app.put_amount(c, Obj::EcBalance, b)?;
            }
            append_log(c, app, Log::Transactions, &log)
        })?;

        // Everything is committed; now the cryptogram may leave the card.
        let keys = CardKeys::load(ctx, app)?;
        let cvr = cvr(ctx, app, &self.txn)?;
        let aip = app.cfg.aip_qpboc;
        let ac = application_cryptogram(&keys, atc, &terminal_fields(&self.txn.pdol), aip, &cvr);
        let (iad, iad_len) = issuer_application_data(app, &keys, atc, &cvr, new_balance);
        // fDDA (JR/T 0025.12, pboc.md §2.12, §2.17): ICC dynamic number = ATC; terminal
        // dynamic data 9F37 (fDDA 00) or 9F37 ‖ 9F02 ‖ 5F2A ‖ 9F69 (fDDA 01).
        let mut sdad = [0u8; rsa_oda::MAX_MODULUS_LEN];
        let sdad_len = if sign {
            let un = self.txn.pdol.value(0x9F37).unwrap_or(&[]);
            let amount = self.txn.pdol.value(0x9F02).unwrap_or(&[]);
            let currency = self.txn.pdol.value(0x5F2A).unwrap_or(&[]);
            let dn = atc.to_be_bytes();
            let fdda01;
            let terminal: &[&[u8]] = match self.txn.card_auth_data {
                Some(ref c9f69) => {
                    fdda01 = [un, amount, currency, &c9f69[..]];
                    &fdda01
                }
                None => &[un],
            };
            let rsa = self.txn.rsa;
            sign_dynamic_data(&mut self.signer, ctx, app, rsa, &dn, terminal, &mut sdad)?
        } else {
            0
        };
        let mut track2 = [0u8; 19];
        let track2 = app.blob(ctx, Blob::Track2, &mut track2)?;
        let psn = app.cfg.psn;
        let available = new_balance.map(crate::layout::u64_to_bcd6);
        template(reply, 0x77, |w| {
            w.tlv(Tag(0x9F27), &[decision.cid().bits()])?;
            w.tlv(Tag(0x82), &aip)?;
            w.tlv(Tag(0x9F36), &atc.to_be_bytes())?;
            w.tlv(Tag(0x57), track2)?;
            w.tlv(Tag(0x5F34), &[psn])?;
            w.tlv(Tag(0x9F10), iad.get(..iad_len).unwrap_or(&[]))?;
            w.tlv(Tag(0x9F26), &ac)?;
            w.tlv(Tag(0x9F6C), &ctq.bits().to_be_bytes())?;
            if let (true, Some(a)) = (cpp.contains(Cpp::RETURN_AVAILABLE_AMOUNT), available) {
                w.tlv(Tag(0x9F5D), &a)?;
            }
            if approved {
                w.tlv(Tag(0x94), afl)?;
            }
            if sdad_len > 0 {
                w.tlv(Tag(0x9F4B), sdad.get(..sdad_len).unwrap_or(&[]))?;
            }
            Ok(())
        })?;
        self.txn.phase = Phase::QpbocDone;
        Ok(())
    }

    /// VERIFY `00 20 00 80 08 <PIN block>` (§2.10): plaintext offline PIN only. The try
    /// counter is decremented and committed **before** the constant-time comparison
    /// (spec/reliability.md §A1.4 item 3); a match restores it. Wrong → 63Cx; counter
    /// already 0 → 6983, in this transaction or any later one. A malformed
    /// PIN block cannot equal the stored one and costs a try like any wrong PIN, so no
    /// answer depends on the PIN's format before a try is spent (§A3, PIN-length oracle).
    pub(crate) fn verify<N: Nvm>(&mut self, call: AppCall<'_, '_, '_, N>) -> Result<()> {
        let AppCall(ctx, app, cmd, _) = call;
        self.gate(PbocCommand::Verify)?;
        let tries = app.get_u8(ctx, Obj::PinTryCounter)?;
        if tries == 0 {
            // EMV 4.3 Book 3 §6.5.12.4 and PBOC 3.0 part 5: a VERIFY once the try limit is
            // exceeded answers 6983 (authentication method blocked), whether the counter
            // reached zero in this transaction, an earlier one, or after a reload.
            return Err(Status::AuthMethodBlocked);
        }
        let left = tries - 1;
        ctx.atomic(|c| app.put(c, Obj::PinTryCounter, &[left]))?;
        let mut stored = Zeroizing::new([0u8; 8]);
        let (at, len) = app.blob_at(ctx, Blob::PinBlock)?;
        if len != 8 {
            return Err(Status::MemoryFailure);
        }
        ctx.read(at, &mut stored[..])?;
        let matches = ct_eq(&stored[..], cmd.data());
        self.txn.cvr |= Cvr::OFFLINE_PIN_PERFORMED;
        if matches {
            ctx.atomic(|c| app.put(c, Obj::PinTryCounter, &[app.cfg.pin_limit]))?;
            self.txn.cvr.remove(Cvr::OFFLINE_PIN_FAILED);
            Ok(())
        } else {
            self.txn.cvr |= Cvr::OFFLINE_PIN_FAILED;
            if left == 0 {
                self.txn.pin_blocked_now = true;
            }
            Err(Status::RemainingTries(left))
        }
    }

    /// GENERATE AC `80 AE P1 00` (§2.6): P1 b8–b7 = 11 or stray bits, or P2 ≠ 00 → 6A86;
    /// Lc ≠ the CDOL's length → 6700; first GAC after GPO, second after an ARQC, else
    /// 6985; CDA requested → 6985 (not offered in the AIP); ARQC asked in GAC2 → 6985.
    pub(crate) fn generate_ac<N: Nvm>(&mut self, call: AppCall<'_, '_, '_, N>) -> Result<()> {
        let AppCall(ctx, app, cmd, reply) = call;
        let both = ReferenceControl::ARQC | ReferenceControl::TC;
        let Some(reference) =
            ReferenceControl::from_bits(cmd.p1()).filter(|r| !r.contains(both) && cmd.p2() == 0)
        else {
            return Err(Status::WrongP1P2);
        };
        let requested = AcType::requested(reference);
        let second = self.txn.phase == Phase::OnlineRequested;
        let mut dol_buf = [0u8; 64];
        let dol = app.blob(
            ctx,
            if second { Blob::Cdol2 } else { Blob::Cdol1 },
            &mut dol_buf,
        )?;
        check_dol_len(dol, cmd.data())?;
        self.gate(PbocCommand::GenerateAc)?;
        if reference.contains(ReferenceControl::CDA) || (second && requested == AcType::Arqc) {
            return Err(Status::ConditionsNotSatisfied);
        }
        if second {
            self.txn.cdol2.set(dol, cmd.data());
            self.second_ac(requested, AppCall(ctx, app, cmd, reply))
        } else {
            self.txn.cdol1.set(dol, cmd.data());
            self.first_ac(requested, AppCall(ctx, app, cmd, reply))
        }
    }

    /// First GENERATE AC: card risk management (§2.9, `cardRiskManager_1`), the checks
    /// the data model holds: blocked application; previous ODA failure; EC consistency
    /// (JR/T 0025.13 §7.4.5) and balance; online not completed; issuer authentication or
    /// script failure on the last online transaction (ADA); lower consecutive offline
    /// limit; international consecutive limit; CTTA limit; new card (ADA); PIN try limit
    /// exceeded (ADA). The answer is the lower of the terminal's request and the card's.
    fn first_ac<N: Nvm>(&mut self, requested: AcType, call: AppCall<'_, '_, '_, N>) -> Result<()> {
        let AppCall(ctx, app, _, reply) = call;
        let amount = amount(self.txn.terminal(0x9F02))?;
        let flags = app.flags(ctx)?;
        let ada = Ada::from_be_bytes(app.get_array(ctx, Obj::Ada)?);
        let ptc = app.get_u8(ctx, Obj::PinTryCounter)?;
        let domestic = in_app_currency(ctx, app, self.txn.terminal(0x5F2A))?;
        let ctta = app.get_amount(ctx, Obj::Ctta)?.unwrap_or(0);
        let prior = self.txn.prior;
        let mut card = AcType::Tc;
        let mut velocity = false;
        let mut block = false;

        if flags.contains(AppFlags::BLOCKED) || self.txn.blocked {
            // Blocked: never approved offline; at most an ARQC, so that an issuer script
            // can unblock it; GAC2 then declines (EMV CCD-style).
            card = card.min(AcType::Arqc);
        }
        if prior
            .flags
            .intersects(AppFlags::SDA_FAILED | AppFlags::DDA_FAILED)
        {
            card = card.min(AcType::Arqc);
        }
        let ec_offline = self.txn.path == Path::ElectronicCash && requested == AcType::Tc;
        if ec_offline {
            let balance = app.get_amount(ctx, Obj::EcBalance)?.unwrap_or(0);
            if !self.ec_consistent() || amount > balance {
                card = AcType::Aac;
            }
        } else {
            if prior.flags.contains(AppFlags::ONLINE_NOT_COMPLETED) {
                card = card.min(AcType::Arqc);
            }
            if prior.flags.contains(AppFlags::ISSUER_AUTH_FAILED)
                && ada.contains(Ada::ISSUER_AUTH_FAILED_NEXT_ONLINE)
            {
                card = card.min(AcType::Arqc);
            }
            if prior.flags.contains(AppFlags::SCRIPT_FAILED)
                && ada.contains(Ada::SCRIPT_FAILED_ONLINE)
            {
                card = card.min(AcType::Arqc);
            }
            if offline_run_exceeds(ctx, app, self.txn.atc, Obj::Lcol)? {
                card = card.min(AcType::Arqc);
                velocity = true;
            }
            let intl_limit = app.get(ctx, Obj::ConsecutiveIntlCurrencyLimit)?;
            if let [limit] = intl_limit.as_slice()
                && !domestic
                && app.get_u8(ctx, Obj::ConsecutiveIntl)? >= *limit
            {
                card = card.min(AcType::Arqc);
                velocity = true;
            }
            if let Some(limit) = app.get_amount(ctx, Obj::Cttal)?
                && domestic
                && ctta.saturating_add(amount) > limit
            {
                card = card.min(AcType::Arqc);
                velocity = true;
            }
            if prior.new_card && ada.contains(Ada::NEW_CARD_ONLINE) {
                card = card.min(AcType::Arqc);
            }
        }
        if ptc == 0 {
            if self.txn.pin_blocked_now {
                if ada.contains(Ada::PIN_LIMIT_NOW_BLOCK) {
                    block = true;
                    card = AcType::Aac;
                }
            } else if ada.contains(Ada::PIN_LIMIT_BEFORE_BLOCK) {
                block = true;
                card = AcType::Aac;
            } else if ada.contains(Ada::PIN_LIMIT_BEFORE_DECLINE) {
                card = AcType::Aac;
            } else if ada.contains(Ada::PIN_LIMIT_BEFORE_ONLINE) {
                card = card.min(AcType::Arqc);
            }
        }
        if block {
            self.txn.cvr |= Cvr::BLOCKED_BY_PIN;
            self.txn.blocked = true;
        }
        if velocity {
            self.txn.cvr |= Cvr::VELOCITY_EXCEEDED;
        }
        let decision = requested.min(card);
        let mut cid = decision.cid();
        if decision == AcType::Aac && self.txn.pin_blocked_now && ada.contains(Ada::DECLINE_ADVICE)
        {
            cid |= Cid::ADVICE_REQUIRED | Cid::REASON_PIN_TRY_LIMIT; // §2.6
        }
        self.txn.cvr.remove(Cvr::GAC2_AC_TYPE | Cvr::GAC1_AC_TYPE);
        self.txn.cvr |= Cvr::GAC2_NOT_REQUESTED | decision.cvr_first();

        let balance = app.get_amount(ctx, Obj::EcBalance)?;
        let new_balance = match (decision, ec_offline, balance) {
            (AcType::Tc, true, Some(b)) => Some(b.saturating_sub(amount)),
            (_, _, b) => b,
        };
        let log = if decision == AcType::Tc {
            transaction_record(ctx, app, &self.txn, cid, new_balance)?
        } else {
            Vec::new()
        };
        let tvr_flags = tvr_oda_flags(self.txn.terminal(0x95));
        ctx.atomic(|c| {
            let mut f = flags;
            match decision {
                AcType::Tc if ec_offline => {
                    if let Some(b) = new_balance {
                        app.put_amount(c, Obj::EcBalance, b)?;
                    }
                }
                AcType::Tc => offline_counters(c, app, amount, domestic)?,
                AcType::Arqc => f |= AppFlags::ONLINE_NOT_COMPLETED,
                AcType::Aac => {}
            }
            if decision != AcType::Arqc {
                f.remove(AppFlags::SDA_FAILED | AppFlags::DDA_FAILED);
                if decision == AcType::Aac {
                    f |= tvr_flags;
                }
            }
            if block {
                f |= AppFlags::BLOCKED;
            }
            app.set_flags(c, f)?;
            append_log(c, app, Log::Transactions, &log)
        })?;

        let ac = self.respond_ac(ctx, app, &self.txn.cdol1, cid, new_balance, reply)?;
        self.txn.ac1 = ac;
        self.txn.went_online = decision == AcType::Arqc;
        self.txn.phase = if decision == AcType::Arqc {
            Phase::OnlineRequested
        } else {
            Phase::Completed
        };
        Ok(())
    }

    /// EC consistency (§2.9 item 2, JR/T 0025.13 §7.4.5 via the applet): every value
    /// both the PDOL and CDOL1 carry, except TVR `95`, TSI `9B` and UN `9F37`, is equal.
    fn ec_consistent(&self) -> bool {
        let mut at = 0usize;
        for e in DolReader::new(&self.txn.cdol1.dol) {
            let Ok(e) = e else { return false };
            let end = at + e.len;
            let skip = matches!(e.tag.0, 0x95 | 0x9B | 0x9F37);
            if !skip
                && let Some(p) = self.txn.pdol.value(e.tag.0)
                && self.txn.cdol1.data.get(at..end) != Some(p)
            {
                return false;
            }
            at = end;
        }
        true
    }

    /// Builds CVR, cryptogram and IAD over the terminal data of `dol` and answers format 1
    /// `80 CID ATC AC IAD`.
    fn respond_ac<N: Nvm>(
        &self,
        ctx: &AppletContext<'_, N>,
        app: &App,
        dol: &TermData,
        cid: Cid,
        balance: Option<u64>,
        reply: &mut Writer<'_>,
    ) -> Result<[u8; 8]> {
        let keys = &CardKeys::load(ctx, app)?;
        let atc = self.txn.atc;
        let cvr = cvr(ctx, app, &self.txn)?;
        let ac =
            application_cryptogram(keys, atc, &terminal_fields(dol), app.cfg.aip_contact, &cvr);
        let (iad, iad_len) = issuer_application_data(app, keys, atc, &cvr, balance);
        let iad = iad.get(..iad_len).unwrap_or(&[]);
        format1(reply, &[&[cid.bits()], &atc.to_be_bytes(), &ac, iad])?;
        Ok(ac)
    }

    /// Second GENERATE AC (§2.8 "GAC2 decision", applet `getGenerateACRsp_2`): the
    /// authorization response code `8A` of CDOL2 says approved (`00 10 11 01 02`),
    /// unable to go online (`Y3 Z3`: offline risk management with the upper consecutive
    /// offline limit, new card, PIN try limit and CTTA upper limit) or declined. Issuer
    /// authentication failed with ADA b7, or not performed while mandatory (`9F56` b8 /
    /// ADA b6), declines. A completed online approval resets the offline counters and
    /// sets the last online ATC (`onLineResetSessionData`).
    fn second_ac<N: Nvm>(&mut self, requested: AcType, call: AppCall<'_, '_, '_, N>) -> Result<()> {
        let AppCall(ctx, app, _, reply) = call;
        let arc: [u8; 2] = self
            .txn
            .terminal(0x8A)
            .and_then(|a| a.try_into().ok())
            .unwrap_or([0, 0]);
        let approved = matches!(&arc, b"00" | b"10" | b"11" | b"01" | b"02");
        let unable = matches!(&arc, b"Y3" | b"Z3");
        let flags = app.flags(ctx)?;
        let ada = Ada::from_be_bytes(app.get_array(ctx, Obj::Ada)?);
        let indicator =
            IssuerAuthIndicator::from_bits_retain(app.get_u8(ctx, Obj::IssuerAuthIndicator)?);
        let mandatory = indicator.contains(IssuerAuthIndicator::MANDATORY)
            || ada.contains(Ada::ISSUER_AUTH_MANDATORY);
        let amount = amount(self.txn.terminal(0x9F02))?;
        let domestic = in_app_currency(ctx, app, self.txn.terminal(0x5F2A))?;
        let auth = self.txn.issuer_auth;
        let mut card = AcType::Tc;
        if flags.intersects(AppFlags::BLOCKED | AppFlags::DEAD) || self.txn.blocked {
            card = AcType::Aac;
        }
        if unable {
            self.txn.cvr |= Cvr::UNABLE_TO_GO_ONLINE;
            if offline_run_exceeds(ctx, app, self.txn.atc, Obj::Ucol)? {
                card = AcType::Aac;
                self.txn.cvr |= Cvr::VELOCITY_EXCEEDED;
            }
            if self.txn.prior.new_card && ada.contains(Ada::NEW_CARD_OFFLINE_DECLINE) {
                card = AcType::Aac;
            }
            if app.get_u8(ctx, Obj::PinTryCounter)? == 0
                && ada.contains(Ada::PIN_LIMIT_OFFLINE_DECLINE)
            {
                card = AcType::Aac;
            }
            let ctta = app.get_amount(ctx, Obj::Ctta)?.unwrap_or(0);
            if let Some(limit) = app.get_amount(ctx, Obj::Cttaul)?
                && ctta.saturating_add(amount) > limit
            {
                card = AcType::Aac;
                self.txn.cvr |= Cvr::VELOCITY_EXCEEDED;
            }
        } else if approved {
            if auth == IssuerAuth::Failed && ada.contains(Ada::ISSUER_AUTH_FAILED_DECLINE) {
                card = AcType::Aac;
            }
            if auth == IssuerAuth::NotPerformed && mandatory {
                card = AcType::Aac;
            }
        } else {
            card = AcType::Aac;
        }
        let decision = requested.min(card);
        self.txn.cvr.remove(Cvr::GAC2_AC_TYPE);
        self.txn.cvr |= decision.cvr_second();
        let cid = decision.cid();
        let online_success = !unable
            && approved
            && (auth == IssuerAuth::Passed || (auth == IssuerAuth::NotPerformed && !mandatory));
        let log = if decision == AcType::Tc {
            let balance = app.get_amount(ctx, Obj::EcBalance)?;
            transaction_record(ctx, app, &self.txn, cid, balance)?
        } else {
            Vec::new()
        };
        let tvr_flags = tvr_oda_flags(self.txn.terminal(0x95));
        let atc = self.txn.atc;
        ctx.atomic(|c| {
            let mut f = flags.difference(
                AppFlags::ONLINE_NOT_COMPLETED | AppFlags::SDA_FAILED | AppFlags::DDA_FAILED,
            );
            if decision == AcType::Aac {
                f |= tvr_flags;
            }
            if !unable {
                f.remove(AppFlags::ISSUER_AUTH_FAILED | AppFlags::ISSUER_AUTH_NOT_PERFORMED);
                match auth {
                    IssuerAuth::Failed => f |= AppFlags::ISSUER_AUTH_FAILED,
                    IssuerAuth::NotPerformed => f |= AppFlags::ISSUER_AUTH_NOT_PERFORMED,
                    IssuerAuth::Passed => {}
                }
            }
            if online_success {
                app.put(c, Obj::LastOnlineAtc, &atc.to_be_bytes())?;
                app.put(c, Obj::Ctta, &[0; 6])?;
                app.put(c, Obj::ConsecutiveOffline, &[0])?;
                app.put(c, Obj::ConsecutiveIntl, &[0])?;
            } else if unable && decision == AcType::Tc {
                offline_counters(c, app, amount, domestic)?;
            }
            app.set_flags(c, f)?;
            append_log(c, app, Log::Transactions, &log)
        })?;
        let balance = app.get_amount(ctx, Obj::EcBalance)?;
        self.respond_ac(ctx, app, &self.txn.cdol2, cid, balance, reply)?;
        self.txn.phase = Phase::Completed;
        Ok(())
    }

    /// EXTERNAL AUTHENTICATE `00 82 00 00 0A ARPC(8) ARC(2)` (§2.8, applet
    /// `onExternalAuth`): Lc ≠ 0A → 6700 (the real UICS card's answer to the 8-byte form);
    /// only between GAC1 (ARQC) and GAC2, once: a second attempt marks issuer
    /// authentication failed and answers 6985, as does every attempt after 100 failures.
    /// ARPC method 1 with the AC session key, compared in constant time; mismatch → 6300
    /// and CVR "issuer authentication performed and failed".
    pub(crate) fn external_authenticate<N: Nvm>(
        &mut self,
        call: AppCall<'_, '_, '_, N>,
    ) -> Result<()> {
        let AppCall(ctx, app, cmd, _) = call;
        self.gate(PbocCommand::ExternalAuthenticate)?;
        let failures = app.get_u8(ctx, Obj::IssuerAuthFailures)?;
        if self.txn.external_auth_tried || failures >= 100 {
            self.txn.issuer_auth = IssuerAuth::Failed;
            self.txn.cvr |= Cvr::ISSUER_AUTH_FAILED;
            return Err(Status::ConditionsNotSatisfied);
        }
        self.txn.external_auth_tried = true;
        let (arpc, arc) = cmd.data().split_at_checked(8).ok_or(Status::WrongLength)?;
        let arc: [u8; 2] = arc.try_into().map_err(|_| Status::WrongLength)?;
        let keys = CardKeys::load(ctx, app)?;
        let sk = pboc_session_key(&keys.ac(), self.txn.atc);
        let expected = arpc_method1(&sk, &self.txn.ac1, &arc);
        // Constant time; under cfg(fuzzing) it passes, so fuzzers reach GAC2 and scripts.
        if mac_matches(&expected, arpc) {
            self.txn.issuer_auth = IssuerAuth::Passed;
            Ok(())
        } else {
            self.txn.issuer_auth = IssuerAuth::Failed;
            self.txn.cvr |= Cvr::ISSUER_AUTH_FAILED;
            ctx.atomic(|c| app.put(c, Obj::IssuerAuthFailures, &[failures.saturating_add(1)]))?;
            Err(Status::AuthenticationFailed)
        }
    }

    /// INTERNAL AUTHENTICATE `00 88 00 00 Lc <DDOL data>` (contact DDA, §2.12 and
    /// EMV Book 2 §6.5): P1P2 ≠ 0 → 6A86, Lc ≠ the DDOL's length → 6700, only between GPO
    /// and GAC1, and only if the AIP offers DDA and an SM2 key is personalized (else
    /// 6985). The signature is the SM2 layout of [`crate::assumed_sm2_oda`].
    pub(crate) fn internal_authenticate<N: Nvm>(
        &mut self,
        call: AppCall<'_, '_, '_, N>,
    ) -> Result<()> {
        let AppCall(ctx, app, cmd, reply) = call;
        if cmd.p1p2() != 0 {
            return Err(Status::WrongP1P2);
        }
        let mut ddol = [0u8; 64];
        let ddol = app.blob(ctx, Blob::Ddol, &mut ddol)?;
        check_dol_len(ddol, cmd.data())?;
        self.gate(PbocCommand::InternalAuthenticate)?;
        if !self.can_sign(app) || !Aip::from_be_bytes(app.cfg.aip_contact).contains(Aip::DDA) {
            return Err(Status::ConditionsNotSatisfied);
        }
        let mut number = [0u8; 8];
        let [a0, a1] = self.txn.atc.to_be_bytes();
        number[0] = a0;
        number[1] = a1;
        ctx.random(number.get_mut(2..).unwrap_or(&mut []));
        // EMV Book 2 §6.5.1 / Table 17: format 1 `80` with the signed dynamic data.
        let mut sdad = [0u8; rsa_oda::MAX_MODULUS_LEN];
        let rsa = self.txn.rsa;
        let n = sign_dynamic_data(
            &mut self.signer,
            ctx,
            app,
            rsa,
            &number,
            &[cmd.data()],
            &mut sdad,
        )?;
        self.txn.cvr |= Cvr::DDA_PERFORMED;
        format1(reply, &[sdad.get(..n).unwrap_or(&[])])
    }
}

/// More transactions up to `atc` since the last online one than the consecutive offline
/// limit `limit` allows (`9F58` lower, `9F59` upper; not personalized: no limit), §2.9 item 6.
fn offline_run_exceeds<N: Nvm>(
    ctx: &AppletContext<'_, N>,
    app: &App,
    atc: u16,
    limit: Obj,
) -> Result<bool> {
    let last_online = app.get_u16(ctx, Obj::LastOnlineAtc)?;
    let limit = app.get(ctx, limit)?;
    Ok(matches!(limit.as_slice(), [limit] if atc.wrapping_sub(last_online) > u16::from(*limit)))
}

/// The signed dynamic application data `9F4B` over the ICC dynamic number and the
/// terminal's data, with the ICC key of the algorithm GPO chose: RSA (EMV Book 2 §6.5) or
/// SM2 ([`crate::assumed_sm2_oda`]). Written into `out`; returns its length.
fn sign_dynamic_data<N: Nvm>(
    signer: &mut SignerCache,
    ctx: &AppletContext<'_, N>,
    app: &App,
    rsa: bool,
    icc_number: &[u8],
    terminal: &[&[u8]],
    out: &mut [u8; rsa_oda::MAX_MODULUS_LEN],
) -> Result<usize> {
    if rsa {
        let mut buf = Zeroizing::new([0u8; RSA_KEY_BUF]);
        let key = rsa_key(ctx, app, &mut buf)?;
        let signed = rsa_oda::signed_dynamic_data(&key, icc_number, terminal)?;
        Ok(copy_signature(out, &signed))
    } else {
        let key = sm2_key(signer, ctx, app)?;
        let mut sm = [0u8; MAX_SDAD_LEN];
        let n = signed_dynamic_data(key, icc_number, terminal, &mut sm)?;
        Ok(copy_signature(out, sm.get(..n).unwrap_or(&[])))
    }
}

/// What every GPO that got as far as the ATC commits, inside the caller's transaction: the
/// new ATC, and the "last transaction" script indicators reset (they were copied into
/// this transaction's CVR). The flags are read back inside the transaction, so the reset
/// is one read-modify-write of what is stored.
fn start_transaction<N: Nvm>(ctx: &mut AppletContext<'_, N>, app: &App, atc: u16) -> Result<()> {
    app.put(ctx, Obj::Atc, &atc.to_be_bytes())?;
    app.put(ctx, Obj::ScriptCount, &[0])?;
    let flags = app.flags(ctx)?;
    app.set_flags(ctx, flags.difference(AppFlags::SCRIPT_FAILED))
}

/// Copies a signature into the GPO's buffer; returns its length.
fn copy_signature(out: &mut [u8; rsa_oda::MAX_MODULUS_LEN], signature: &[u8]) -> usize {
    let n = signature.len().min(out.len());
    for (d, s) in out.iter_mut().zip(signature) {
        *d = *s;
    }
    n
}

/// After an offline approval: CTTA and the consecutive offline counters (§2.9 "counters
/// updated after an offline TC"), inside the caller's transaction.
fn offline_counters<N: Nvm>(
    ctx: &mut AppletContext<'_, N>,
    app: &App,
    amount: u64,
    domestic: bool,
) -> Result<()> {
    let n = app.get_u8(ctx, Obj::ConsecutiveOffline)?;
    app.put(ctx, Obj::ConsecutiveOffline, &[n.saturating_add(1)])?;
    if domestic {
        let ctta = app.get_amount(ctx, Obj::Ctta)?.unwrap_or(0);
        app.put_amount(ctx, Obj::Ctta, ctta.saturating_add(amount))?;
    } else {
        let n = app.get_u8(ctx, Obj::ConsecutiveIntl)?;
        app.put(ctx, Obj::ConsecutiveIntl, &[n.saturating_add(1)])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{AppConfig, SUITE_RSA};

    fn config(suite: u8, rsa_key_len: u16) -> AppConfig {
        let mut c = AppConfig::decode(0, &[0; crate::layout::CONFIG_LEN]);
        c.suite = suite;
        c.rsa_key = (0x100, rsa_key_len);
        c
    }

    #[test]
    fn df69_choice_per_card_kind() {
        let (sm, no_sm, absent) = (Some(&[0x01][..]), Some(&[0x00][..]), None);
        // Dual: the terminal decides; any nonzero DF69 asks for SM.
        let dual = config(SUITE_RSA | SUITE_SM, 400);
        assert_eq!(choose_rsa(&dual, sm), Ok(false));
        assert_eq!(choose_rsa(&dual, Some(&[0x80][..])), Ok(false));
        assert_eq!(choose_rsa(&dual, no_sm), Ok(true));
        assert_eq!(choose_rsa(&dual, absent), Ok(true));
        // RSA-only: RSA, or 6985 when configured to refuse an SM request.
        assert_eq!(choose_rsa(&config(SUITE_RSA, 400), sm), Ok(true));
        let refusing = config(SUITE_RSA | SUITE_REFUSE_SM_REQUEST, 400);
        assert_eq!(
            choose_rsa(&refusing, sm),
            Err(Status::ConditionsNotSatisfied)
        );
        assert_eq!(choose_rsa(&refusing, no_sm), Ok(true));
        // SM-only, and a region personalized before RSA existed (suite byte 0): SM2.
        assert_eq!(choose_rsa(&config(SUITE_SM, 0), no_sm), Ok(false));
        assert_eq!(choose_rsa(&config(0, 0), absent), Ok(false));
    }
}
