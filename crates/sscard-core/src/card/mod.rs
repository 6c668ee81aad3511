//! The APDU processor: power, transient state, dispatch, T=0 response handling.
//!
//! Data flows one way: bytes → [`CommandView`] (checked once) → the file system, the
//! security commands or the selected applet → response data and a status word.
//! Transient state (current DF/EF, security status, challenge, pending response, selected
//! applet) lives in [`Transient`] and is wiped on power-off and reset; persistent state
//! lives in NVM and changes only through transactions, one command at a time.

pub mod applet;
pub mod call;
pub mod command;
pub mod df_application;

use crate::apdu::{Case, CommandView, Writer};
use crate::atr::{Atr, contactless_atr, historical_bytes};
use crate::auth::{AuthContext, Challenge, Effect};
use crate::fs::access::SecurityStatus;
use crate::fs::layout::{
    CARD_BLOCKED, CARD_INFO_AT, CARD_STATE_AT, FileKind, Header, LIFECYCLE_BLOCKED, LoadError, scan,
};
use crate::fs::{FileSystem, FsState, SelectOutcome};
use crate::nvm::{Nvm, NvmError, Store};
use crate::options::{CosOptions, LeZero};
use crate::rng::CardRng;
use crate::status::{Result, Status};
use applet::{AppletContext, Applets, Claim, Interface};
use call::Call;
use command::OsCommand;
use df_application::DfApplication;
use heapless::Vec;
use zeroize::Zeroize;

/// Largest response kept for GET RESPONSE (a short Le).
pub const PENDING_CAPACITY: usize = 256;

/// An output buffer of this size takes every response of a short APDU: 256 data bytes and
/// SW1 SW2. Over T=0 (the contact default) no response is longer.
pub const SHORT_RESPONSE_CAPACITY: usize = 256 + 2;

/// An output buffer of this size takes every response, extended Le included: 65 536 data
/// bytes and SW1 SW2.
pub const MAX_RESPONSE_CAPACITY: usize = 65_536 + 2;

/// State that lives only while the card is powered.
#[derive(Clone, Debug)]
pub struct Transient {
    /// Powered and answering.
    pub powered: bool,
    /// Interface of the current session.
    pub interface: Interface,
    /// ATR given at power-on.
    pub atr: Atr,
    /// Current DF / EF / record.
    pub fs: FsState,
    /// Security status of the social-security environment.
    pub security: SecurityStatus,
    /// Last card challenge.
    pub challenge: Challenge,
    /// Response data awaiting GET RESPONSE.
    pub pending: Vec<u8, PENDING_CAPACITY>,
    /// CLA of the command that left [`Transient::pending`]: a GET RESPONSE may come in
    /// that class too (ISO/IEC 7816-4:2013 §5.1.3).
    pub pending_cla: u8,
    /// Selected applet, if the financial environment is active.
    pub applet: Option<u8>,
    /// NVM region of the selected applet, found once at selection.
    applet_region: (usize, usize),
    /// Card blocked (cached from NVM at power-on).
    pub card_blocked: bool,
}

impl Transient {
    fn new() -> Self {
        Transient {
            powered: false,
            interface: Interface::Contact,
            atr: Atr::new(),
            fs: FsState::default(),
            security: SecurityStatus::new(),
            challenge: Challenge::default(),
            pending: Vec::new(),
            pending_cla: 0,
            applet: None,
            applet_region: (0, 0),
            card_blocked: false,
        }
    }

    /// Wipes everything that must not survive a power cycle.
    fn wipe(&mut self) {
        self.fs = FsState::default();
        self.security.clear();
        self.challenge.clear();
        self.pending.zeroize();
        self.pending.clear();
        self.pending_cla = 0;
        self.applet = None;
    }
}

/// What the card asks of an applet.
#[derive(Clone, Copy)]
enum AppletRequest {
    /// SELECT by an AID the applet claimed.
    Select(Claim),
    /// Any other command while the applet (by index) is selected.
    Process(u8),
}

/// A card: persistent memory, randomness, the applications it hosts (applets selected
/// by AID, and the DF-bound applications of its file system) and the transient state of
/// a session.
///
/// An embedder's session: personalize a memory (here in RAM, with one record EF under
/// the MF; a social-security card comes from `sscard_ssc::personalize` or an image made
/// by `sscard image create`), load it, power on, send APDUs.
///
/// ```
/// use sscard_core::card::{Card, SHORT_RESPONSE_CAPACITY};
/// use sscard_core::fs::build::{Capacities, EfSpec, Personalizer, Structure};
/// use sscard_core::fs::layout::Access;
/// use sscard_core::nvm::RamNvm;
/// use sscard_core::rng::SplitMixRng;
/// use sscard_core::{CosOptions, Interface};
///
/// let atr = [0x3B, 0x02, 0x14, 0x50];
/// let mut nvm = RamNvm::new(vec![0u8; 8 * 1024]);
/// let mut p = Personalizer::format(&mut nvm, Capacities::default(), &atr)?;
/// let ef = p.ef(0, EfSpec {
///     fid: 0xEF01,
///     sfi: 1,
///     structure: Structure::LinearFixed { record_len: 4, records: 2 },
///     read: Access::Always,
///     write: Access::Never,
///     tlv_records: false,
/// })?;
/// p.append_record(ef, &[0xCA, 0xFE, 0xBA, 0xBE])?;
/// p.finish()?;
///
/// // `()` for no applets and no DF applications: the bare card OS.
/// let mut card = Card::load(nvm, SplitMixRng::new(1), (), (), CosOptions::default())?;
/// assert_eq!(card.power_on(Interface::Contact)?, &atr);
/// let mut out = [0u8; SHORT_RESPONSE_CAPACITY];
/// // SELECT EF01, then READ RECORD 1 by its SFI.
/// let n = card.process(&[0x00, 0xA4, 0x02, 0x00, 0x02, 0xEF, 0x01], &mut out);
/// assert_eq!(&out[..n], &[0x90, 0x00]);
/// let n = card.process(&[0x00, 0xB2, 0x01, 0x0C, 0x04], &mut out);
/// assert_eq!(&out[..n], &[0xCA, 0xFE, 0xBA, 0xBE, 0x90, 0x00]);
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
pub struct Card<N: Nvm, R: CardRng, A: Applets = (), D: DfApplication = ()> {
    store: Store<N>,
    header: Header,
    rng: R,
    applets: A,
    df_apps: D,
    options: CosOptions,
    t: Transient,
}

impl<N: Nvm, R: CardRng, A: Applets, D: DfApplication> Card<N, R, A, D> {
    /// Loads a personalized card from `nvm`. The card starts unpowered.
    pub fn load(
        nvm: N,
        rng: R,
        applets: A,
        df_apps: D,
        options: CosOptions,
    ) -> core::result::Result<Self, LoadError> {
        let header = Header::load(&nvm)?;
        Ok(Card {
            store: Store::new(nvm, crate::fs::layout::JOURNAL_AT),
            header,
            rng,
            applets,
            df_apps,
            options,
            t: Transient::new(),
        })
    }

    /// Loads a card whose memory stores its options
    /// ([`StoredOptions`](crate::options::StoredOptions), written at personalization):
    /// the OS takes its own, `applications` builds the DF applications from theirs
    /// (`None`: bytes it cannot read, [`LoadError::Corrupt`]). What firmware does with
    /// an exported NVM body.
    pub fn load_stored(
        nvm: N,
        rng: R,
        applets: A,
        applications: impl FnOnce(&[u8]) -> Option<D>,
    ) -> core::result::Result<Self, LoadError> {
        let stored =
            crate::options::StoredOptions::read(&nvm)?.ok_or(LoadError::NoStoredOptions)?;
        let df_apps = applications(&stored.application).ok_or(LoadError::Corrupt)?;
        Self::load(nvm, rng, applets, df_apps, stored.cos)
    }

    /// Wipes everything that must not survive a power cycle, the applications' state too.
    fn wipe(&mut self) {
        self.t.wipe();
        self.df_apps.clear();
    }

    /// Powers the card through `interface`: recovers an interrupted transaction, starts
    /// from a clean transient state and returns the ATR (contact: as personalized;
    /// contactless: built from the historical bytes as PC/SC readers do).
    pub fn power_on(&mut self, interface: Interface) -> core::result::Result<&[u8], NvmError> {
        self.wipe();
        self.t.powered = false;
        self.t.interface = interface;
        self.store.recover()?;
        let mut info = [0u8; 34];
        self.store.read(CARD_INFO_AT, &mut info)?;
        let len = usize::from(info[0]).min(33);
        let contact = info.get(1..=len).unwrap_or(&[]);
        self.t.atr = match interface {
            Interface::Contact => Atr::from_slice(contact).unwrap_or_default(),
            Interface::Contactless => historical_bytes(contact)
                .and_then(contactless_atr)
                .unwrap_or_default(),
        };
        self.t.card_blocked = self.store.read_u8(CARD_STATE_AT)? == CARD_BLOCKED;
        // Which PINs are in use is a fact of the card, needed by access conditions.
        if self.auth(|a| a.refresh_pin_absence()).is_err() {
            return Err(NvmError::OutOfRange);
        }
        self.t.powered = true;
        Ok(&self.t.atr)
    }

    /// Cuts power: all transient state is lost.
    pub fn power_off(&mut self) {
        if let Some(i) = self.t.applet {
            self.applets.deselect(i);
        }
        self.store.abort();
        self.wipe();
        self.t.powered = false;
    }

    /// Warm reset on the same interface.
    pub fn reset(&mut self) -> core::result::Result<&[u8], NvmError> {
        let interface = self.t.interface;
        self.power_off();
        self.power_on(interface)
    }

    /// True while powered.
    pub fn is_powered(&self) -> bool {
        self.t.powered
    }

    /// The ATR of the current session (empty when unpowered).
    pub fn atr(&self) -> &[u8] {
        if self.t.powered { &self.t.atr } else { &[] }
    }

    /// The interface of the current session.
    pub fn interface(&self) -> Interface {
        self.t.interface
    }

    /// The persistent store.
    pub fn store(&self) -> &Store<N> {
        &self.store
    }
    /// The persistent store, mutably (tear harness, images).
    pub fn store_mut(&mut self) -> &mut Store<N> {
        &mut self.store
    }
    /// The header loaded at start.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The transient state (for tests and traces).
    pub fn transient(&self) -> &Transient {
        &self.t
    }
    /// The spec choices in force.
    pub fn options(&self) -> &CosOptions {
        &self.options
    }
    /// The applets.
    pub fn applets(&self) -> &A {
        &self.applets
    }
    /// The DF-bound applications.
    pub fn df_applications(&self) -> &D {
        &self.df_apps
    }
    /// The random source: a test that replays a session on a copy of the card clones it,
    /// so both draw the same challenges.
    pub fn rng(&self) -> &R {
        &self.rng
    }
    /// Gives the memory back.
    pub fn into_nvm(self) -> N {
        self.store.into_nvm()
    }

    /// Processes one command APDU and writes the response (data ‖ SW1 SW2) into `out`.
    /// Returns the response length; 0 means the card is mute (unpowered, power lost
    /// during the command, or `out` shorter than 2 bytes).
    ///
    /// `out` should hold [`SHORT_RESPONSE_CAPACITY`] bytes (or [`MAX_RESPONSE_CAPACITY`]
    /// for extended APDUs): when the data does not fit, the command answers `6700` with
    /// no data, and data that was waiting for GET RESPONSE is lost as it is for any
    /// command other than GET RESPONSE (ISO/IEC 7816-4 §5.1.3).
    pub fn process(&mut self, apdu: &[u8], out: &mut [u8]) -> usize {
        if !self.t.powered || out.len() < 2 {
            return 0;
        }
        let data_cap = out.len() - 2;
        let (data_out, _) = out.split_at_mut(data_cap);
        let mut reply = Writer::new(data_out);
        let result = self.dispatch(apdu, &mut reply);
        // A transaction never outlives its command (JCRE §7.6.2 semantics).
        if self.store.in_transaction() {
            self.store.abort();
        }
        if self.store.power_lost() {
            self.power_off();
            return 0;
        }
        let (status, keep_data) = match result {
            Ok(s) => (s, true),
            Err(s) => (s, matches!(s, Status::SelectedFileBlocked)),
        };
        let n = if keep_data { reply.len() } else { 0 };
        let sw = status.to_bytes();
        match out.get_mut(n..n + 2) {
            Some(dst) => {
                dst.copy_from_slice(&sw);
                n + 2
            }
            None => 0,
        }
    }

    /// Parses, routes and applies T=0 response handling. `Ok` carries the success SW
    /// (9000, or 61xx when data waits for GET RESPONSE).
    fn dispatch(&mut self, apdu: &[u8], reply: &mut Writer<'_>) -> Result<Status> {
        let cmd = CommandView::parse(apdu);
        // GET RESPONSE never discards the pending data, even when its class is refused
        // below.
        let is_get_response =
            matches!(&cmd, Ok(c) if OsCommand::try_from(c) == Ok(OsCommand::GetResponse));
        if self.t.card_blocked {
            return Err(Status::FunctionNotSupported); // LD/T 32 P5 §6.2
        }
        if !is_get_response {
            // ISO/IEC 7816-4:2013 §5.1.3 / spec/ssc.md §11.1: another command discards
            // the data.
            self.t.pending.clear();
        }
        let cmd = cmd?;
        if is_get_response {
            return self.get_response(&cmd, reply);
        }
        let status = self.route(&cmd, reply)?;
        let t0 = self.options.t0_get_response && self.t.interface == Interface::Contact;
        if t0 && cmd.case() != Case::Two && !reply.is_empty() && status == Status::Success {
            // ISO/IEC 7816-3:2006 §12.2.5 (case 4S): over T=0 only a case-2 command (Le
            // in P3) can take data back at once; any other command answers 61xx and
            // keeps the data for GET RESPONSE.
            if self.t.pending.extend_from_slice(reply.written()).is_ok() {
                self.t.pending_cla = cmd.cla();
                let n = reply.len();
                reply.clear();
                return Ok(Status::BytesAvailable(if n >= 256 { 0 } else { n as u8 }));
            }
            self.t.pending.clear();
        }
        Ok(status)
    }

    /// True if a GET RESPONSE in class `cla` is accepted: the interindustry class `00`
    /// (logical channels 0-3, as LD/T 32 P5 T19 writes it), or the class of the command
    /// that left the data, channel bits included ("a GET RESPONSE command may be issued
    /// with the same CLA", ISO/IEC 7816-4:2013 §5.1.3; `javax.smartcardio` does so).
    fn get_response_class_accepted(&self, cla: u8) -> bool {
        cla & 0xFC == 0x00 || (!self.t.pending.is_empty() && cla == self.t.pending_cla)
    }

    /// GET RESPONSE (LD/T 32 P5 §6.6): a class the card does not accept for it: `6E00`
    /// (T21), the data stays; no data waiting: `6F00`; Le = 00 returns up to 256 bytes
    /// (`6Cxx` with the exact length when the options follow P5 §6.6.4 literally); a
    /// shorter Le returns part and `61xx` for the rest (ISO/IEC 7816-4:2013 §5.1.3).
    fn get_response(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<Status> {
        if !self.get_response_class_accepted(cmd.cla()) {
            return Err(Status::ClassNotSupported);
        }
        if cmd.p1p2() != 0 {
            return Err(Status::WrongP1P2);
        }
        let pending = self.t.pending.len();
        if pending == 0 {
            return Err(Status::NoPreciseDiagnosis);
        }
        let le = cmd.le().ok_or(Status::WrongLength)? as usize;
        if cmd.le_is_max()
            && !cmd.is_extended()
            && self.options.le_zero == LeZero::ExactLength
            && pending < 256
        {
            return Err(Status::WrongLe(pending as u8));
        }
        let n = le.min(pending);
        reply.push(self.t.pending.get(..n).unwrap_or(&[]))?;
        let rest: Vec<u8, PENDING_CAPACITY> =
            Vec::from_slice(self.t.pending.get(n..).unwrap_or(&[])).unwrap_or_default();
        self.t.pending = rest;
        match self.t.pending.len() {
            0 => Ok(Status::Success),
            r => Ok(Status::BytesAvailable(r.min(255) as u8)),
        }
    }

    /// Chooses who handles the command: SELECT by name / of the MF is resolved by the
    /// card; the rest goes to the selected applet or to the social-security COS.
    fn route(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<Status> {
        if cmd.ins() == 0xA4 && cmd.cla() == 0x00 {
            if cmd.p1() == 0x04
                && let Some(claim) = self.applets.claims(cmd.data(), self.t.interface)
            {
                return self.run_applet(AppletRequest::Select(claim), cmd, reply);
            }
            let to_mf = cmd.p1() == 0x00 && (cmd.data().is_empty() || cmd.data() == [0x3F, 0x00]);
            if let Some(i) = self.t.applet {
                if cmd.p1() == 0x04 || to_mf {
                    // Leaving the financial environment through the firewall.
                    self.applets.deselect(i);
                    self.t.applet = None;
                    self.t.fs = FsState::default();
                    self.t.security.clear();
                } else {
                    return self.run_applet(AppletRequest::Process(i), cmd, reply);
                }
            }
            return self.native(cmd, reply);
        }
        match self.t.applet {
            Some(i) => self.run_applet(AppletRequest::Process(i), cmd, reply),
            None => self.native(cmd, reply),
        }
    }

    fn applet_region(&self, index: u8) -> Result<(usize, usize)> {
        let name = self.applets.region_name(index);
        let region = scan(&self.store, &self.header, |e| {
            (e.kind == FileKind::AppletRegion && e.name() == name)
                .then_some((e.body_at as usize, e.body_len as usize))
        })?;
        region.ok_or(Status::FileNotFound)
    }

    /// Hands `cmd` to an applet: SELECT first leaves whatever was selected and the
    /// social-security state; both paths then run with the applet's own region.
    fn run_applet(
        &mut self,
        request: AppletRequest,
        cmd: &CommandView<'_>,
        reply: &mut Writer<'_>,
    ) -> Result<Status> {
        let region = match request {
            AppletRequest::Select((index, _)) => {
                let region = self.applet_region(index)?;
                if let Some(previous) = self.t.applet.take() {
                    self.applets.deselect(previous);
                }
                // Entering the financial environment: the social-security state ends.
                self.t.fs = FsState::default();
                self.t.security.clear();
                self.t.challenge.clear();
                self.df_apps.clear();
                region
            }
            AppletRequest::Process(_) => self.t.applet_region,
        };
        let ctx = AppletContext::new(&mut self.store, region, &mut self.rng, self.t.interface);
        let call = Call { ctx, cmd, reply };
        let result = match request {
            AppletRequest::Select(claim) => {
                let result = self.applets.select(claim, call);
                if result.is_ok() || result == Err(Status::SelectedFileBlocked) {
                    self.t.applet = Some(claim.0);
                    self.t.applet_region = region;
                }
                result
            }
            AppletRequest::Process(index) => self.applets.process(index, call),
        };
        result.map(|()| Status::Success)
    }

    fn fs(&mut self) -> FileSystem<'_, N> {
        self.environment().0
    }

    /// The file-system environment split into what its commands use: the file system
    /// (with the security status), the challenge, randomness and the DF applications.
    fn environment(&mut self) -> (FileSystem<'_, N>, &mut Challenge, &mut R, &mut D) {
        let fs = FileSystem {
            store: &mut self.store,
            header: &self.header,
            state: &mut self.t.fs,
            security: &mut self.t.security,
            options: &self.options,
            interface: self.t.interface,
        };
        (fs, &mut self.t.challenge, &mut self.rng, &mut self.df_apps)
    }

    fn auth<T>(&mut self, f: impl FnOnce(&mut AuthContext<'_, '_, N>) -> Result<T>) -> Result<T> {
        self.with_df_application(|mut a, _| f(&mut a))
    }

    /// The security context of the file-system environment, beside the DF applications
    /// that work in it.
    fn with_df_application<T>(
        &mut self,
        f: impl FnOnce(AuthContext<'_, '_, N>, &mut D) -> Result<T>,
    ) -> Result<T> {
        let (mut fs, challenge, rng, apps) = self.environment();
        let ctx = AuthContext {
            fs: &mut fs,
            challenge,
            rng,
        };
        f(ctx, apps)
    }

    /// The social-security COS: file commands, PIN and key commands, secure messaging.
    fn native(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<Status> {
        let df = self.fs().current_df()?;
        let blocked = df.lifecycle == LIFECYCLE_BLOCKED;
        // P5 §6.1: once blocked, every command but SELECT answers 9303 (a repeated
        // APPLICATION BLOCK still succeeds).
        let os_command = OsCommand::try_from(cmd);
        if blocked && cmd.ins() != 0xA4 && os_command != Ok(OsCommand::ApplicationBlock) {
            return Err(Status::ApplicationBlocked);
        }
        self.df_apps.command_arrives(cmd);
        if self.df_apps.claims(df.role, cmd)? {
            return self
                .with_df_application(|ctx, apps| apps.process(df.role, Call { ctx, cmd, reply }))
                .map(|()| Status::Success);
        }
        match os_command? {
            // P5 §6.11
            OsCommand::Select => {
                let outcome = self.fs().select(cmd, reply)?;
                if let SelectOutcome::Df { changed: true, .. } = outcome {
                    // The challenge belongs to the application that issued it.
                    self.t.challenge.clear();
                }
                Ok(Status::Success)
            }
            // P5 §6.9
            OsCommand::ReadBinary => self.fs().read_binary(cmd, reply).map(|()| Status::Success),
            // P5 §6.12
            OsCommand::UpdateBinary => self.fs().update_binary(cmd).map(|()| Status::Success),
            // P5 §6.10
            OsCommand::ReadRecord => self.fs().read_record(cmd, reply).map(|()| Status::Success),
            // P5 §6.13
            OsCommand::UpdateRecord => self.fs().update_record(cmd).map(|()| Status::Success),
            // ISO/IEC 7816-4 §11.4.6
            OsCommand::AppendRecord => self.fs().append_record(cmd).map(|()| Status::Success),
            // P5 T40, T43
            OsCommand::SecureUpdate => self
                .auth(|a| a.secure_update(cmd))
                .map(|()| Status::Success),
            // P5 §6.5
            OsCommand::GetChallenge => self.get_challenge(cmd, reply),
            // P5 §6.6 (taken before routing by `dispatch`, so data waiting for it survives)
            OsCommand::GetResponse => self.get_response(cmd, reply),
            // P5 §6.14
            OsCommand::Verify => self.auth(|a| a.verify(cmd)).map(|()| Status::Success),
            // P5 §6.3
            OsCommand::ChangePin => self.auth(|a| a.change_pin(cmd)).map(|()| Status::Success),
            // P5 §6.4
            OsCommand::ExternalAuthenticate => self
                .auth(|a| a.external_authenticate(cmd))
                .map(|()| Status::Success),
            // P5 §6.7
            OsCommand::InternalAuthenticate => self
                .auth(|a| a.internal_authenticate(cmd, reply))
                .map(|()| Status::Success),
            // P5 §6.8
            OsCommand::PinChangeUnblock => self
                .auth(|a| a.pin_change_unblock(cmd))
                .map(|()| Status::Success),
            // P5 §6.1
            OsCommand::ApplicationBlock => self
                .auth(|a| a.application_block(cmd))
                .map(|()| Status::Success),
            // P5 §6.2
            OsCommand::CardBlock => {
                if self.auth(|a| a.card_block(cmd))? == Effect::CardBlocked {
                    self.t.card_blocked = true;
                }
                Ok(Status::Success)
            }
        }
    }

    /// GET CHALLENGE (LD/T 32 P5 §6.5): Le 04, 08 or 10; the value is kept for the next
    /// EXTERNAL AUTHENTICATE or secure-messaging command, once.
    fn get_challenge(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<Status> {
        if cmd.p1p2() != 0 {
            return Err(Status::WrongP1P2);
        }
        let n = match (cmd.le(), cmd.data().is_empty()) {
            (Some(n @ (4 | 8 | 16)), true) => n as usize,
            _ => return Err(Status::WrongLength),
        };
        let mut value = [0u8; 16];
        let value = value.get_mut(..n).ok_or(Status::WrongLength)?;
        self.rng.fill(value);
        self.t.challenge.set(value);
        reply.push(value)?;
        Ok(Status::Success)
    }
}

#[cfg(test)]
mod tests;
