//! sscard-pboc: the PBOC 3.0 (JR/T 0025) financial application of the sscard card.
//!
//! A third-generation social security card carries a bank application behind the
//! firewall. This crate is that application, as an [`Applet`] of the core's processor:
//! `Card<N, R, (PbocApplet,)>`. It implements, after `shared/spec/pboc.md`:
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
//! Commands are parsed once into a typed [`Command`]; which command may run when is one
//! exhaustive `match` over `(Phase, Command)` (`PbocApplet::gate`).
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

pub use layout::{ApplicationKind, MAX_APPLICATIONS, REGION_AID};
pub use perso::{
    Application, ElectronicCash, Keys, LogSpec, OdaAlgorithms, PbocPersonalization, PersoError,
    Record, RiskParameters, RsaOda, personalize,
};

use sscard_core::apdu::{CommandView, Writer};
use sscard_core::nvm::Nvm;
use sscard_core::status::{Result, Status};
use sscard_core::{Applet, AppletContext, Interface};

use layout::{
    App, CARD_BLOCKED, FLAG_APP_BLOCKED, FLAG_APP_DEAD, FLAG_PPSE, FLAG_PPSE_CONTACT, FLAG_PSE,
    FLAG_PSE_CONTACTLESS, MAGIC, header, header_span,
};
use perso::{PPSE_NAME, PSE_NAME};
use state::{Phase, Selection, Transaction};

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

/// Issuer script commands (§2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptCommand {
    /// `84 1E` APPLICATION BLOCK.
    ApplicationBlock,
    /// `84 18` APPLICATION UNBLOCK.
    ApplicationUnblock,
    /// `84 16` CARD BLOCK.
    CardBlock,
    /// `84 24` PIN CHANGE/UNBLOCK.
    PinChangeUnblock,
    /// `04 DA` PUT DATA.
    PutData,
    /// `04 DC` UPDATE RECORD.
    UpdateRecord,
}

/// A command of the financial application, parsed from the APDU header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `80 A8` GET PROCESSING OPTIONS.
    GetProcessingOptions,
    /// `00 B2` READ RECORD of `record` in `sfi`.
    ReadRecord {
        /// Short file identifier (1–31).
        sfi: u8,
        /// Record number.
        record: u8,
    },
    /// `80 CA` GET DATA of `tag`.
    GetData {
        /// The requested tag (P1 P2).
        tag: u16,
    },
    /// `00 20` VERIFY (offline plaintext PIN).
    Verify,
    /// `80 AE` GENERATE APPLICATION CRYPTOGRAM.
    GenerateAc,
    /// `00 82` EXTERNAL AUTHENTICATE.
    ExternalAuthenticate,
    /// `00 88` INTERNAL AUTHENTICATE.
    InternalAuthenticate,
    /// An issuer script command.
    Script(ScriptCommand),
}

impl Command {
    /// Parses the header: class and instruction (`6E00` / `6D00`) and the parameters
    /// that do not depend on the card's data (`6A86`, `6700`), §2.16.
    ///
    /// # Errors
    /// The status word of the first broken rule.
    pub fn parse(cmd: &CommandView<'_>) -> Result<Command> {
        let command = match (cmd.cla(), cmd.ins()) {
            (0x80, 0xA8) => Command::GetProcessingOptions,
            (0x00, 0xB2) => {
                if cmd.p2() & 0x07 != 0x04 {
                    return Err(Status::WrongP1P2);
                }
                if !cmd.data().is_empty() {
                    return Err(Status::WrongLength);
                }
                Command::ReadRecord {
                    sfi: cmd.p2() >> 3,
                    record: cmd.p1(),
                }
            }
            (0x80, 0xCA) => Command::GetData { tag: cmd.p1p2() },
            (0x00, 0x20) => {
                if cmd.p1p2() != 0x0080 {
                    return Err(Status::WrongP1P2);
                }
                if cmd.lc() != 8 {
                    return Err(Status::WrongLength);
                }
                Command::Verify
            }
            (0x80, 0xAE) => Command::GenerateAc,
            (0x00, 0x82) => {
                if cmd.p1p2() != 0 {
                    return Err(Status::WrongP1P2);
                }
                if cmd.lc() != 10 {
                    return Err(Status::WrongLength); // §2.8: Lc must be 0A.
                }
                Command::ExternalAuthenticate
            }
            (0x00, 0x88) => Command::InternalAuthenticate,
            (0x84, 0x1E) => Command::Script(ScriptCommand::ApplicationBlock),
            (0x84, 0x18) => Command::Script(ScriptCommand::ApplicationUnblock),
            (0x84, 0x16) => Command::Script(ScriptCommand::CardBlock),
            (0x84, 0x24) => Command::Script(ScriptCommand::PinChangeUnblock),
            (0x04, 0xDA) => Command::Script(ScriptCommand::PutData),
            (0x04, 0xDC) => Command::Script(ScriptCommand::UpdateRecord),
            (
                _,
                0xA8 | 0xB2 | 0xCA | 0x20 | 0xAE | 0x82 | 0x88 | 0x1E | 0x18 | 0x16 | 0x24 | 0xDA
                | 0xDC,
            ) => {
                return Err(Status::ClassNotSupported);
            }
            _ => return Err(Status::InstructionNotSupported),
        };
        Ok(command)
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
    fn gate(&self, command: Command) -> Result<()> {
        use Phase::*;
        let online = self.txn.went_online;
        match (self.txn.phase, command) {
            // Data can be read at any time once an application is selected.
            (_, Command::ReadRecord { .. } | Command::GetData { .. }) => Ok(()),
            (Selected, Command::GetProcessingOptions) => Ok(()),
            (
                Initiated | OnlineRequested | Completed | QpbocDone,
                Command::GetProcessingOptions,
            ) => Err(Status::ConditionsNotSatisfied),
            (Initiated, Command::Verify | Command::InternalAuthenticate | Command::GenerateAc) => {
                Ok(())
            }
            (OnlineRequested, Command::GenerateAc | Command::ExternalAuthenticate) => Ok(()),
            (OnlineRequested, Command::Script(_)) => Ok(()),
            (Completed, Command::Script(_)) if online => Ok(()),
            (
                Selected | Completed | QpbocDone,
                Command::Verify
                | Command::InternalAuthenticate
                | Command::GenerateAc
                | Command::ExternalAuthenticate
                | Command::Script(_),
            )
            | (OnlineRequested, Command::Verify | Command::InternalAuthenticate)
            | (Initiated, Command::ExternalAuthenticate | Command::Script(_)) => {
                Err(Status::ConditionsNotSatisfied)
            }
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
        ctx: &mut AppletContext<'_, N>,
        instance: u8,
        cmd: &CommandView<'_>,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
        self.deselect_all();
        if Self::card_blocked(ctx)? {
            return Err(Status::FunctionNotSupported);
        }
        match cmd.p2() {
            0x00 => {}
            0x02 => return Err(Status::FileNotFound), // no next occurrence is kept
            _ => return Err(Status::WrongP1P2),
        }
        let flags = {
            let mut f = [0u8; 1];
            ctx.read(header::FLAGS, &mut f)?;
            f[0]
        };
        let contact = ctx.interface() == Interface::Contact;
        match instance {
            INSTANCE_PSE => {
                if flags & FLAG_PSE == 0 || (!contact && flags & FLAG_PSE_CONTACTLESS == 0) {
                    return Err(Status::FileNotFound);
                }
                push_span(ctx, header_span(ctx, header::PSE_FCI)?, reply)?;
                self.selection = Selection::Pse;
                Ok(())
            }
            INSTANCE_PPSE => {
                if flags & FLAG_PPSE == 0 || (contact && flags & FLAG_PPSE_CONTACT == 0) {
                    return Err(Status::FileNotFound);
                }
                push_span(ctx, header_span(ctx, header::PPSE_FCI)?, reply)?;
                self.selection = Selection::Ppse;
                Ok(())
            }
            _ => {
                let (index, app) = find_application(ctx, cmd.data())?;
                let fci = if contact {
                    layout::Blob::FciContact
                } else {
                    layout::Blob::FciContactless
                };
                push_span(ctx, app.blob_at(ctx, fci)?, reply)?;
                self.selection = Selection::App { index, app };
                if app.flags(ctx)? & (FLAG_APP_BLOCKED | FLAG_APP_DEAD) != 0 {
                    self.txn.blocked = true;
                    return Err(Status::SelectedFileBlocked);
                }
                Ok(())
            }
        }
    }

    fn deselect_all(&mut self) {
        self.selection = Selection::Nothing;
        self.txn.clear();
    }

    fn run<N: Nvm>(
        &mut self,
        ctx: &mut AppletContext<'_, N>,
        cmd: &CommandView<'_>,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
        if Self::card_blocked(ctx)? {
            return Err(Status::FunctionNotSupported);
        }
        let command = Command::parse(cmd)?;
        match self.selection {
            Selection::Nothing => Err(Status::ConditionsNotSatisfied),
            Selection::Pse => match command {
                Command::ReadRecord { sfi, record } => {
                    records::read_pse(ctx, sfi, record, cmd, reply)
                }
                Command::GetData { .. } => Err(Status::ReferencedDataNotFound),
                _ => Err(Status::InstructionNotSupported),
            },
            Selection::Ppse => match command {
                Command::ReadRecord { .. } => Err(Status::FileNotFound),
                Command::GetData { .. } => Err(Status::ReferencedDataNotFound),
                _ => Err(Status::InstructionNotSupported),
            },
            Selection::App { app, .. } => self.run_app(ctx, &app, command, cmd, reply),
        }
    }

    fn run_app<N: Nvm>(
        &mut self,
        ctx: &mut AppletContext<'_, N>,
        app: &App,
        command: Command,
        cmd: &CommandView<'_>,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
        match command {
            Command::ReadRecord { sfi, record } => {
                records::read_record(ctx, app, &self.txn, sfi, record, cmd, reply)
            }
            Command::GetData { tag } => records::get_data(ctx, app, tag, cmd, reply),
            Command::GetProcessingOptions => self.gpo(ctx, app, cmd, reply),
            Command::Verify => self.verify(ctx, app, cmd),
            Command::GenerateAc => self.generate_ac(ctx, app, cmd, reply),
            Command::ExternalAuthenticate => self.external_authenticate(ctx, app, cmd),
            Command::InternalAuthenticate => self.internal_authenticate(ctx, app, cmd, reply),
            Command::Script(kind) => self.script(ctx, app, kind, cmd),
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

    fn select<N: Nvm>(
        &mut self,
        ctx: &mut AppletContext<'_, N>,
        instance: u8,
        cmd: &CommandView<'_>,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
        let result = self.select_instance(ctx, instance, cmd, reply);
        if result.is_err() && result != Err(Status::SelectedFileBlocked) {
            self.deselect_all();
        }
        result
    }

    fn process<N: Nvm>(
        &mut self,
        ctx: &mut AppletContext<'_, N>,
        cmd: &CommandView<'_>,
        reply: &mut Writer<'_>,
    ) -> Result<()> {
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

    fn view(b: &[u8]) -> CommandView<'_> {
        match CommandView::parse(b) {
            Ok(v) => v,
            Err(_) => CommandView::parse(&[0, 0, 0, 0]).unwrap_or_else(|_| unreachable!()),
        }
    }

    #[test]
    fn parse_rejects_bad_headers() {
        assert_eq!(
            Command::parse(&view(&[0x00, 0xA8, 0, 0])),
            Err(Status::ClassNotSupported)
        );
        assert_eq!(
            Command::parse(&view(&[0x80, 0x50, 0, 0])),
            Err(Status::InstructionNotSupported)
        );
        assert_eq!(
            Command::parse(&view(&[0x00, 0xB2, 1, 0x0B, 0])),
            Err(Status::WrongP1P2)
        );
        assert_eq!(
            Command::parse(&view(&[0x00, 0x82, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8])),
            Err(Status::WrongLength)
        );
        assert_eq!(
            Command::parse(&view(&[0x00, 0xB2, 1, 0x0C, 0])),
            Ok(Command::ReadRecord { sfi: 1, record: 1 })
        );
    }

    #[test]
    fn gate_is_a_state_machine() {
        let mut a = PbocApplet::new();
        assert!(a.gate(Command::GetProcessingOptions).is_ok());
        assert_eq!(
            a.gate(Command::GenerateAc),
            Err(Status::ConditionsNotSatisfied)
        );
        a.txn.phase = Phase::Initiated;
        assert_eq!(
            a.gate(Command::GetProcessingOptions),
            Err(Status::ConditionsNotSatisfied)
        );
        assert!(a.gate(Command::Verify).is_ok());
        a.txn.phase = Phase::Completed;
        assert_eq!(
            a.gate(Command::Script(ScriptCommand::PutData)),
            Err(Status::ConditionsNotSatisfied)
        );
        a.txn.went_online = true;
        assert!(a.gate(Command::Script(ScriptCommand::PutData)).is_ok());
    }
}
