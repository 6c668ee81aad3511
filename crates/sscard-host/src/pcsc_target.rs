//! Scripts against a card in a PC/SC reader (cargo feature `pcsc`): a real card, or a
//! virtual one behind vpcd.
//!
//! `reset` is a warm reset (`SCardReconnect` with `SCARD_RESET_CARD`); `power-off`
//! followed by `power-on` is a cold reset (`SCARD_UNPOWER_CARD`); interface switches
//! cannot be done through a reader: `contact` / `contactless` power-cycle a card that is
//! already on that interface and fail the step otherwise.

use crate::link::{CardLink, Fault, FaultHook, LinkError};
use pcsc::{Card, Context, Disposition, Protocols, Scope, ShareMode};
use sscard_core::card::applet::Interface;
use std::ffi::CString;

/// A connection to the card in one reader.
pub struct PcscTarget {
    _context: Context,
    card: Card,
    reader: String,
    /// `power-off` seen: the next `power-on` power-cycles the card.
    off: bool,
    buffer: Vec<u8>,
    /// Who plays faults on the card behind the reader (the served card's control
    /// channel); none: the fault directives fail.
    faults: Option<FaultHook>,
}

/// How long a reinserted card may take to be seen by PC/SC (vpcd keeps a card out for a
/// second, and pcscd polls it about every 0.4 s).
const REINSERT_WAIT: std::time::Duration = std::time::Duration::from_secs(6);

impl std::fmt::Debug for PcscTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscTarget")
            .field("reader", &self.reader)
            .finish_non_exhaustive()
    }
}

fn pcsc_error(call: &'static str, e: pcsc::Error) -> LinkError {
    LinkError::Reader {
        call,
        detail: e.to_string(),
    }
}

fn no_reader(detail: String) -> LinkError {
    LinkError::Reader {
        call: "SCardListReaders",
        detail,
    }
}

impl PcscTarget {
    /// Connects to the reader named `name`, or whose name contains `name` (when only
    /// one does).
    pub fn connect(name: &str) -> Result<Self, LinkError> {
        let context = Context::establish(Scope::User).map_err(|e| LinkError::Reader {
            call: "SCardEstablishContext",
            detail: format!("{e} (is pcscd running?)"),
        })?;
        let readers: Vec<CString> = context
            .list_readers_owned()
            .map_err(|e| pcsc_error("SCardListReaders", e))?;
        let names: Vec<String> = readers
            .iter()
            .map(|r| r.to_string_lossy().into_owned())
            .collect();
        let chosen = match names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                let matching: Vec<usize> = (0..names.len())
                    .filter(|&i| names.get(i).is_some_and(|n| n.contains(name)))
                    .collect();
                match matching.as_slice() {
                    [i] => *i,
                    [] => {
                        return Err(no_reader(format!(
                            "no reader matches {name:?}; readers: {names:?}"
                        )));
                    }
                    _ => {
                        return Err(no_reader(format!(
                            "several readers match {name:?}: {names:?}"
                        )));
                    }
                }
            }
        };
        let (Some(reader), Some(shown)) = (readers.get(chosen), names.get(chosen)) else {
            return Err(no_reader("the reader list changed".into()));
        };
        let card = context
            .connect(reader, ShareMode::Shared, Protocols::ANY)
            .map_err(|e| LinkError::Reader {
                call: "SCardConnect",
                detail: format!("{shown:?}: {e}"),
            })?;
        Ok(PcscTarget {
            _context: context,
            card,
            reader: shown.clone(),
            off: false,
            buffer: vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED],
            faults: None,
        })
    }

    /// Sends the fault directives to `hook` (the served card's control channel).
    pub fn set_fault_hook(&mut self, hook: FaultHook) {
        self.faults = Some(hook);
    }

    /// After `insert`: waits until the reader holds the card again and connects to it.
    fn reconnect_after_insert(&mut self) -> Result<(), LinkError> {
        let started = std::time::Instant::now();
        loop {
            match self
                .card
                .reconnect(ShareMode::Shared, Protocols::ANY, Disposition::ResetCard)
            {
                Ok(()) => {
                    self.off = false;
                    return Ok(());
                }
                Err(e) if started.elapsed() > REINSERT_WAIT => {
                    return Err(pcsc_error("SCardReconnect", e));
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
            }
        }
    }

    /// The reader's name.
    pub fn reader_name(&self) -> &str {
        &self.reader
    }

    fn reconnect(&mut self, how: Disposition) -> Result<Vec<u8>, LinkError> {
        self.card
            .reconnect(ShareMode::Shared, Protocols::ANY, how)
            .map_err(|e| pcsc_error("SCardReconnect", e))?;
        self.off = false;
        self.atr()
    }
}

impl CardLink for PcscTarget {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        if self.off {
            // No power, no answer: what `=> mute` expects (the reader is not asked).
            return Ok(Vec::new());
        }
        match self.card.transmit(apdu, &mut self.buffer) {
            Ok(response) => Ok(response.to_vec()),
            // The card left the reader (pulled, or power lost in a tear): no answer.
            // pcsc-lite says so in several ways, NotTransacted when vpcd dropped the card
            // during the exchange.
            Err(
                pcsc::Error::RemovedCard
                | pcsc::Error::NoSmartcard
                | pcsc::Error::ResetCard
                | pcsc::Error::UnpoweredCard
                | pcsc::Error::NotTransacted,
            ) => Ok(Vec::new()),
            Err(e) => Err(pcsc_error("SCardTransmit", e)),
        }
    }
    fn reset(&mut self) -> Result<Vec<u8>, LinkError> {
        self.reconnect(Disposition::ResetCard)
    }
    fn power_off(&mut self) -> Result<(), LinkError> {
        self.off = true;
        Ok(())
    }
    fn power_on(&mut self) -> Result<Vec<u8>, LinkError> {
        self.reconnect(Disposition::UnpowerCard)
    }
    fn set_interface(&mut self, interface: Interface) -> Result<(), LinkError> {
        // A reader cannot move its card; when the card already is on that interface
        // (PC/SC's contactless ATR `3B 8n 80 01 …`), the directive is a power cycle.
        let atr = self.atr()?;
        let contactless = matches!(atr.as_slice(), [0x3B, t0, 0x80, 0x01, ..] if t0 >> 4 == 8);
        if contactless == (interface == Interface::Contactless) {
            self.reconnect(Disposition::UnpowerCard).map(|_| ())
        } else {
            Err(LinkError::Unsupported(
                "a PC/SC reader cannot move its card to another interface",
            ))
        }
    }
    fn inject(&mut self, fault: &Fault) -> Result<(), LinkError> {
        let hook = self.faults.as_mut().ok_or(LinkError::Unsupported(
            "faults through a PC/SC reader need the served card's control channel (--control)",
        ))?;
        hook(fault)?;
        if *fault == Fault::Insert {
            self.reconnect_after_insert()?;
        }
        Ok(())
    }
    fn atr(&mut self) -> Result<Vec<u8>, LinkError> {
        let status = self
            .card
            .status2_owned()
            .map_err(|e| pcsc_error("SCardStatus", e))?;
        Ok(status.atr().to_vec())
    }
}
