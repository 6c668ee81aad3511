//! sscard-pboc: the PBOC 3.0 (JR/T 0025) financial application of the sscard card.
//!
//! A third-generation social security card carries a bank application behind the
//! firewall. This crate is that application, as an [`Applet`] of the core's processor:
//! `Card<N, R, (PbocApplet,)>` (embedding it: `docs/embedder.md` in the repository). It implements, after `shared/spec/pboc.md`:
//!
//! * **selection** (§2.2, §2.3): the contact directory `1PAY.SYS.DDF01` with its directory
//!   records, the contactless directory `2PAY.SYS.DDF01` (FCI `BF0C`), and up to three
//!   applications (`A000000333010101` debit, `…0102` credit, `…0106` electronic cash),
//!   6283 + FCI for a blocked one;
//! * **the transaction** (§2.4–§2.10): GPO with PDOL (format 1 on contact and for
//!   contactless PBOC, qPBOC format 2 on contactless), READ RECORD, GET DATA, offline
//!   plaintext VERIFY, GENERATE AC 1 and 2 with card risk management, CVR and IAD,
//!   CVN 01 cryptograms, EXTERNAL AUTHENTICATE, INTERNAL AUTHENTICATE;
//! * **issuer scripts** (§2.8): APPLICATION BLOCK/UNBLOCK, CARD BLOCK, PIN CHANGE/UNBLOCK,
//!   PUT DATA, UPDATE RECORD, each with its MAC;
//! * **electronic cash and logs** (§2.11, §2.13): EC balance and limits, offline EC
//!   purchases (contact and qPBOC), loads by PUT DATA 9F79, transaction and load logs;
//! * **SM2 offline data authentication** (fDDA, DDA) in [`assumed_sm2_oda`], the one
//!   marked module whose layout is an assumption (part 17 is not public);
//! * **RSA offline data authentication** (SDA data, DDA, qPBOC fDDA; EMV Book 2) in
//!   [`rsa_oda`]: the card signs on a fixed-size integer, the CA → issuer → ICC chain is
//!   built at personalization from a test CA key the profile names. `DF69` in the PDOL
//!   chooses the chain on a dual card (`docs/spec-choices.md`, "PBOC").
//!
//! # Design
//!
//! Persistent data live in the applet's NVM region ([`layout`]); every change goes
//! through one `ctx.atomic` per command, so the ATC, counters, balances and logs of a
//! command land together or not at all. The ATC is incremented and committed by GPO
//! before any cryptogram exists; the PIN try counter is decremented and committed before
//! the PIN is compared, in constant time. Transient state (selection, phase, this
//! transaction's CVR bits, issuer authentication and script state) is in the
//! [`PbocApplet`] value and is wiped by `deselect` (the core calls it at power-off).
//!
//! Commands are parsed once into a typed [`PbocCommand`] (`TryFrom<&CommandView>`), then
//! one exhaustive `match` over what is selected and the command runs it
//! (`PbocApplet::run`); which command may run when in the transaction is one exhaustive
//! `match` over `(Phase, PbocCommand)` (`PbocApplet::gate`). The EMV and PBOC bit sets
//! the card reads and writes (AIP, TVR, CVR, TTQ, CTQ, CPP, ADA, CID, …) are types of
//! [`bits`], each flag named with its byte and bit.
//!
//! # Directory selection across interfaces (a documented choice)
//!
//! Real cards answer PSE only on contact and PPSE only on contactless (python-emv issue
//! #15 shows 6A82 for PSE on a contactless-only card; §1.7). sscard is mostly driven
//! through a PC/SC reader whose interface the user picks, and both cardpeek (PPSE first,
//! then PSE) and python-emv (PSE, then PPSE) try both; so the default profile answers
//! both directories on both interfaces. `pse_on_contactless = false` and
//! `ppse_on_contact = false` give the strict real-card behaviour. The processing path is
//! decided by the interface, never by which directory was used.
//!
//! # Where the public facts stop: the choices made
//!
//! Each is documented at the code that makes it; in one list:
//!
//! * **SM2 offline data authentication** (PBOC part 17 is not public): the signed data and
//!   certificate layouts of [`assumed_sm2_oda`].
//! * **SM2 or RSA** (part 17 again): `DF69` ≠ 00 → SM2, else RSA, on a dual card; an
//!   RSA-only card may refuse an SM request; all in `docs/spec-choices.md`.
//! * **IAD issuer-discretionary MAC** (§2.7 leaves the padding open): retail MAC with
//!   padding method 2 over `ATC ‖ value(5) ‖ 00`.
//! * **GENERATE AC 2 input**: the same 37-byte CVN 01 input as GAC1, taken from the CDOL2
//!   values (the ARC `8A` steers the decision, it is not in the cryptogram).
//! * **PIN CHANGE mask** (§2.8 flags AC vs ENC as unconfirmed): bytes 4–7 of UDK-AC, as
//!   EMV Book 2 does; for P2 = 01 the current PIN block is XORed in as well.
//! * **qPBOC responses carry `9F27`** (optional in qVSDC; the real online trace of §2.4 has
//!   none): kernels need not infer the cryptogram type. The AFL is returned only with an
//!   offline approval, as in that trace.
//! * **Blocked application**: SELECT answers 6283 + FCI; GPO still runs and GAC1 gives at
//!   most an ARQC, so that an issuer script can unblock it; GAC2 then declines.
//! * **CARD BLOCK**: every later PBOC command, SELECT included, answers 6A81 (EMV's rule
//!   for a blocked card; the social-security side keeps its own card-level block).
//! * **Malformed offline PIN block**: counts as a wrong PIN (a try is spent), never a
//!   format error that would be a free oracle.
//! * **qPBOC with a currency other than the application's**: always online (the EC
//!   balance is in the application currency).
//! * **EC load above the balance limit**: 6A80 (§2.11 lists 6A80 / 6976).
//! * **SELECT P2 = 02** (next occurrence): 6A82; only first-occurrence selection is kept.
//!
//! Personalization: [`perso::PbocPersonalization`] (no_std) and, with the `serde`
//! feature, the `[pboc]` profile section `profile::PbocSection`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "serde"))]
extern crate std;

pub mod assumed_sm2_oda;
pub mod bits;
mod command;
mod cryptogram;
pub mod layout;
pub mod perso;
#[cfg(feature = "serde")]
pub mod profile;
mod records;
pub mod rsa_oda;
mod script;
mod state;
pub mod status;
mod txn;

pub use command::{PbocCommand, ScriptCommand};
pub use cryptogram::CVN01_TERMINAL_FIELDS;
pub use layout::{ApplicationKind, MAX_APPLICATIONS, REGION_AID};
pub use perso::{
    Application, ElectronicCash, Keys, LogSpec, OdaAlgorithms, PbocPersonalization, PersoError,
    Record, RiskParameters, RsaOda, personalize,
};

use sscard_core::apdu::{CommandView, Writer};
use sscard_core::nvm::Nvm;
use sscard_core::status::{Result, Status};
use sscard_core::{Applet, AppletCall, AppletContext, Interface};

use layout::{
    App, AppFlags, CARD_BLOCKED, FLAG_PPSE, FLAG_PPSE_CONTACT, FLAG_PSE, FLAG_PSE_CONTACTLESS,
    MAGIC, header, read_span,
};
use perso::{PPSE_NAME, PSE_NAME};
use state::{Phase, Selection, Transaction};
use txn::AppCall;

/// Registered application provider identifier of China UnionPay.
const UNIONPAY_RID: [u8; 5] = [0xA0, 0x00, 0x00, 0x03, 0x33];

/// Instance numbers given to the core by [`PbocApplet::claims`].
const INSTANCE_PSE: u8 = 0;
const INSTANCE_PPSE: u8 = 1;
const INSTANCE_AID: u8 = 2;

/// The PBOC applet: transient state only; everything persistent is in its NVM region.
#[derive(Clone, Debug)]
pub struct PbocApplet {
    selection: Selection,
    txn: Transaction,
    signer: txn::SignerCache,
}

impl Default for PbocApplet {
    fn default() -> Self {
        Self::new()
    }
}

impl PbocApplet {
    /// A fresh applet: nothing selected.
    pub fn new() -> Self {
        PbocApplet {
            selection: Selection::Nothing,
            txn: Transaction::new(),
            signer: txn::SignerCache::default(),
        }
    }

    /// The one state machine of the transaction: may `command` run in the current phase?
    /// (pboc.md §2.4 "the state must be just selected", §2.6 GAC1/GAC2, §2.8 EXTERNAL
    /// AUTHENTICATE after GAC1 only and scripts only after an online request, §2.10.)
    fn gate(&self, command: PbocCommand) -> Result<()> {
        use PbocCommand::*;
        use Phase::*;
        let online = self.txn.went_online;
        match (self.txn.phase, command) {
            // §2.11, §2.13: data can be read at any time once an application is selected.
            (_, ReadRecord { .. } | GetData { .. }) => Ok(()),
            // §2.4: GPO on a just-selected application, once per transaction.
            (Selected, GetProcessingOptions) => Ok(()),
            (Initiated | OnlineRequested | Completed | QpbocDone, GetProcessingOptions) => {
                Err(Status::ConditionsNotSatisfied)
            }
            // §2.10, §2.12, §2.6: VERIFY, DDA and the first GENERATE AC follow GPO.
            (Initiated, Verify | InternalAuthenticate | GenerateAc) => Ok(()),
            // §2.6, §2.8: the second GENERATE AC and issuer authentication follow an ARQC.
            (OnlineRequested, GenerateAc | ExternalAuthenticate) => Ok(()),
            // §2.8: issuer scripts after an online request, before or after GAC2.
            (OnlineRequested, Script(_)) => Ok(()),
            (Completed, Script(_)) if online => Ok(()),
            // §2.6, §2.8, §2.10, §2.12: any other order is 6985.
            (
                Selected | Completed | QpbocDone,
                Verify | InternalAuthenticate | GenerateAc | ExternalAuthenticate | Script(_),
            )
            | (OnlineRequested, Verify | InternalAuthenticate)
            | (Initiated, ExternalAuthenticate | Script(_)) => Err(Status::ConditionsNotSatisfied),
        }
    }

    fn card_blocked<N: Nvm>(ctx: &AppletContext<'_, N>) -> Result<bool> {
        let mut head = [0u8; header::LEN];
        ctx.read(0, &mut head)?;
        if head.get(..4) != Some(&MAGIC[..]) {
            return Err(Status::FileNotFound); // region never personalized
        }
        Ok(head.get(header::CARD_STATE) == Some(&CARD_BLOCKED))
    }

    /// SELECT of a directory (§2.2) or an application (§2.3). The FCI is built at
    /// personalization; an application blocked by script or by ATC exhaustion answers
    /// its FCI with 6283 (§2.16). A card blocked by CARD BLOCK answers 6A81 (EMV Book 3
    /// §6.5.15 rule for a blocked card, as the core does for its own environment).
    fn select_instance<N: Nvm>(
        &mut self,
        instance: u8,
        mut call: AppletCall<'_, '_, N>,
    ) -> Result<()> {
        let (ctx, cmd, reply) = (&mut call.ctx, call.cmd, call.reply);
        self.deselect_all();
        if Self::card_blocked(ctx)? {
            return Err(Status::FunctionNotSupported);
        }
        match cmd.p2() {
            // EMV Book 1 §11.3.2: first or only occurrence.
            0x00 => {}
            // EMV Book 1 §11.3.2: next occurrence; only the first is kept (crate docs).
            0x02 => return Err(Status::FileNotFound),
            // EMV Book 1 §11.3.2: no other selection option.
            _ => return Err(Status::WrongP1P2),
        }
        let contact = ctx.interface() == Interface::Contact;
        match instance {
            // §2.2: a payment system directory.
            INSTANCE_PSE | INSTANCE_PPSE => {
                self.select_directory(ctx, instance == INSTANCE_PSE, contact, reply)
            }
            // §2.3: an application by (partial) DF name, its FCI for this interface.
            _ => {
                let (index, app) = find_application(ctx, cmd.data())?;
                let fci = if contact {
                    layout::Blob::FciContact
                } else {
                    layout::Blob::FciContactless
                };
                push_span(ctx, app.blob_at(ctx, fci)?, reply)?;
                self.selection = Selection::App { index, app };
                if app
                    .flags(ctx)?
                    .intersects(AppFlags::BLOCKED | AppFlags::DEAD)
                {
                    self.txn.blocked = true;
                    return Err(Status::SelectedFileBlocked);
                }
                Ok(())
            }
        }
    }

    /// SELECT of a directory (§2.2): the contact `1PAY.SYS.DDF01` (`pse`) or the
    /// contactless `2PAY.SYS.DDF01`, each on the other interface too only when the profile
    /// says so (crate docs); else 6A82.
    fn select_directory<N: Nvm>(
        &mut self,
        ctx: &AppletContext<'_, N>,
        pse: bool,
        contact: bool,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
        let (exists, elsewhere, native, fci, selection) = if pse {
            (
                FLAG_PSE,
                FLAG_PSE_CONTACTLESS,
                contact,
                header::PSE_FCI,
                Selection::Pse,
            )
        } else {
            (
                FLAG_PPSE,
                FLAG_PPSE_CONTACT,
                !contact,
                header::PPSE_FCI,
                Selection::Ppse,
            )
        };
        let mut flags = [0u8; 1];
        ctx.read(header::FLAGS, &mut flags)?;
        let [flags] = flags;
        if flags & exists == 0 || (!native && flags & elsewhere == 0) {
            return Err(Status::FileNotFound);
        }
        push_span(ctx, read_span(ctx, fci)?, reply)?;
        self.selection = selection;
        Ok(())
    }

    fn deselect_all(&mut self) {
        self.selection = Selection::Nothing;
        self.txn.clear();
    }

    /// One command to the selected directory or application: a blocked card answers
    /// nothing (6A81, as [`Self::select_instance`]), then the command is identified once
    /// and runs where it belongs.
    fn run<N: Nvm>(
        &mut self,
        ctx: &mut AppletContext<'_, N>,
        cmd: &CommandView<'_>,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
        if Self::card_blocked(ctx)? {
            return Err(Status::FunctionNotSupported);
        }
        let command = PbocCommand::try_from(cmd)?;
        match (self.selection, command) {
            // Never routed here: the core forwards commands only after a SELECT of ours.
            (Selection::Nothing, _) => Err(Status::ConditionsNotSatisfied),
            // §2.2: the PSE's directory records, one application each.
            (Selection::Pse, PbocCommand::ReadRecord { sfi, record }) => {
                records::read_pse(ctx, sfi, record, cmd, reply)
            }
            // §2.2: the PPSE lists its applications in its FCI (`BF0C`); it has no file.
            (Selection::Ppse, PbocCommand::ReadRecord { .. }) => Err(Status::FileNotFound),
            // §2.11: a directory has no data objects (6A88).
            (Selection::Pse | Selection::Ppse, PbocCommand::GetData { .. }) => {
                Err(Status::ReferencedDataNotFound)
            }
            // §2.16: the transaction and script commands are the application's (6D00).
            (
                Selection::Pse | Selection::Ppse,
                PbocCommand::GetProcessingOptions
                | PbocCommand::Verify
                | PbocCommand::GenerateAc
                | PbocCommand::ExternalAuthenticate
                | PbocCommand::InternalAuthenticate
                | PbocCommand::Script(_),
            ) => Err(Status::InstructionNotSupported),
            // §2.4 (AFL records), §2.13 (logs), §2.12 (9F69 after fDDA 01).
            (Selection::App { app, .. }, PbocCommand::ReadRecord { sfi, record }) => {
                records::read_record(ctx, &app, &self.txn, sfi, record, cmd, reply)
            }
            // §2.11: the allowed data objects.
            (Selection::App { app, .. }, PbocCommand::GetData { tag }) => {
                records::get_data(ctx, &app, tag, cmd, reply)
            }
            // §2.4 (format 1), §2.12 (qPBOC, format 2).
            (Selection::App { app, .. }, PbocCommand::GetProcessingOptions) => {
                self.gpo(AppCall(ctx, &app, cmd, reply))
            }
            // §2.10: offline plaintext PIN.
            (Selection::App { app, .. }, PbocCommand::Verify) => {
                self.verify(AppCall(ctx, &app, cmd, reply))
            }
            // §2.6, §2.9 (card risk management), §2.7 (CVR, IAD).
            (Selection::App { app, .. }, PbocCommand::GenerateAc) => {
                self.generate_ac(AppCall(ctx, &app, cmd, reply))
            }
            // §2.8: ARPC method 1.
            (Selection::App { app, .. }, PbocCommand::ExternalAuthenticate) => {
                self.external_authenticate(AppCall(ctx, &app, cmd, reply))
            }
            // §2.12, EMV Book 2 §6.5: contact DDA.
            (Selection::App { app, .. }, PbocCommand::InternalAuthenticate) => {
                self.internal_authenticate(AppCall(ctx, &app, cmd, reply))
            }
            // §2.8 (MAC, block, PIN), §2.11 (PUT DATA), §2.13 (load log).
            (Selection::App { app, .. }, PbocCommand::Script(kind)) => {
                self.script(ctx, &app, kind, cmd)
            }
        }
    }
}

/// Copies a personalized byte string of the region into the reply.
fn push_span<N: Nvm>(
    ctx: &AppletContext<'_, N>,
    (at, len): (usize, usize),
    reply: &mut Writer<'_>,
) -> Result<()> {
    let dst = reply.reserve(len)?;
    ctx.read(at, dst)?;
    Ok(())
}

/// The first application whose AID starts with `name` (partial selection by DF name,
/// ISO 7816-4; EMV Book 1 §12.3.3).
fn find_application<N: Nvm>(ctx: &AppletContext<'_, N>, name: &[u8]) -> Result<(u8, App)> {
    let mut count = [0u8; 1];
    ctx.read(header::APP_COUNT, &mut count)?;
    for index in 0..count[0].min(layout::MAX_APPLICATIONS as u8) {
        let app = App::load(ctx, index)?;
        let (at, len) = app.blob_at(ctx, layout::Blob::Aid)?;
        let mut aid = [0u8; 16];
        let aid = aid.get_mut(..len).ok_or(Status::MemoryFailure)?;
        ctx.read(at, aid)?;
        if aid.starts_with(name) {
            return Ok((index, app));
        }
    }
    Err(Status::FileNotFound)
}

impl Applet for PbocApplet {
    fn region_name(&self) -> &[u8] {
        &REGION_AID
    }

    /// PSE, PPSE and every name under the UnionPay RID; whether the application exists
    /// (and may answer on this interface) is decided in `select`, which can read NVM.
    fn claims(&self, name: &[u8], _interface: Interface) -> Option<u8> {
        if name == PSE_NAME {
            Some(INSTANCE_PSE)
        } else if name == PPSE_NAME {
            Some(INSTANCE_PPSE)
        } else if name.len() >= UNIONPAY_RID.len() && name.starts_with(&UNIONPAY_RID) {
            Some(INSTANCE_AID)
        } else {
            None
        }
    }

    fn select<N: Nvm>(&mut self, instance: u8, call: AppletCall<'_, '_, N>) -> Result<()> {
        let result = self.select_instance(instance, call);
        if result.is_err() && result != Err(Status::SelectedFileBlocked) {
            self.deselect_all();
        }
        result
    }

    fn process<N: Nvm>(&mut self, mut call: AppletCall<'_, '_, N>) -> Result<()> {
        let (ctx, cmd, reply) = (&mut call.ctx, call.cmd, call.reply);
        let result = self.run(ctx, cmd, reply);
        if result.is_err() {
            reply.clear();
        }
        result
    }

    fn deselect(&mut self) {
        self.deselect_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_is_a_state_machine() {
        let mut a = PbocApplet::new();
        assert!(a.gate(PbocCommand::GetProcessingOptions).is_ok());
        assert_eq!(
            a.gate(PbocCommand::GenerateAc),
            Err(Status::ConditionsNotSatisfied)
        );
        a.txn.phase = Phase::Initiated;
        assert_eq!(
            a.gate(PbocCommand::GetProcessingOptions),
            Err(Status::ConditionsNotSatisfied)
        );
        assert!(a.gate(PbocCommand::Verify).is_ok());
        a.txn.phase = Phase::Completed;
        assert_eq!(
            a.gate(PbocCommand::Script(ScriptCommand::PutData)),
            Err(Status::ConditionsNotSatisfied)
        );
        a.txn.went_online = true;
        assert!(a.gate(PbocCommand::Script(ScriptCommand::PutData)).is_ok());
    }
}
