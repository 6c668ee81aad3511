//! A terminal: what a reader plus host software do with a card — T=0 response handling
//! (61xx → GET RESPONSE, 6Cxx → resend with the right Le) and a readable trace;
//! the `national` module runs the national terminal interface's card functions on it, in
//! PSAM and HSM modes.

use crate::annotate as trace;
use std::fmt;

use crate::link::{CardLink, LinkError};

/// A response split into data and status word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Data.
    pub data: Vec<u8>,
    /// SW1 SW2.
    pub sw: u16,
}

/// Why a terminal flow stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum TerminalError {
    /// The card did not answer.
    Mute,
    /// The link to the card failed.
    Link(LinkError),
    /// A command got an unexpected status word.
    Status {
        /// What the terminal was doing.
        step: &'static str,
        /// The SW.
        sw: u16,
    },
    /// The card's answer did not check out.
    Check(&'static str),
}

impl fmt::Display for TerminalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TerminalError::Mute => f.write_str("card did not answer"),
            TerminalError::Link(e) => write!(f, "link: {e}"),
            TerminalError::Status { step, sw } => write!(f, "{step}: card answered {sw:04X}"),
            TerminalError::Check(what) => write!(f, "check failed: {what}"),
        }
    }
}

impl std::error::Error for TerminalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TerminalError::Link(e) => Some(e),
            TerminalError::Mute | TerminalError::Status { .. } | TerminalError::Check(_) => None,
        }
    }
}

impl From<LinkError> for TerminalError {
    fn from(e: LinkError) -> Self {
        TerminalError::Link(e)
    }
}

/// A terminal driving one card, keeping a readable trace.
pub struct Terminal<T: CardLink> {
    /// The card.
    pub link: T,
    /// Trace lines, one per exchange (raw exchanges, GET RESPONSE included).
    pub trace: Vec<String>,
    /// Print each exchange as it happens.
    pub echo: bool,
    /// Every exchange raw, secrets unmasked, when `Some` (test suites checking the
    /// cryptograms; `None` by default).
    pub raw_log: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    /// Which reader this is, in echoed lines (`[card] → …`) when a session drives
    /// several; empty: no label.
    pub label: &'static str,
}

impl<T: CardLink> Terminal<T> {
    /// A terminal on `link`.
    pub fn new(link: T) -> Self {
        Terminal {
            link,
            trace: vec![],
            echo: false,
            raw_log: None,
            label: "",
        }
    }

    fn raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        let r = self.link.transmit(apdu)?;
        if let Some(log) = self.raw_log.as_mut() {
            log.push((apdu.to_vec(), r.clone()));
        }
        let line = trace::describe(apdu, &r);
        if self.echo {
            if self.label.is_empty() {
                println!("{line}");
            } else {
                for part in line.lines() {
                    println!("[{}] {part}", self.label);
                }
            }
        }
        self.trace.push(line);
        Ok(r)
    }

    /// Sends a command the way PC/SC host software does: follows 61xx with GET RESPONSE
    /// and answers 6Cxx by resending with Le = xx.
    pub fn send(&mut self, apdu: &[u8]) -> Result<Response, TerminalError> {
        let mut r = self.raw(apdu)?;
        if let [.., 0x6C, le] = r[..] {
            let mut again = apdu.to_vec();
            let has_le = apdu.len() == 5
                || apdu
                    .get(4)
                    .is_some_and(|lc| usize::from(*lc) + 6 == apdu.len());
            if has_le {
                if let Some(last) = again.last_mut() {
                    *last = le;
                }
            } else {
                again.push(le);
            }
            r = self.raw(&again)?;
        }
        let mut data = vec![];
        loop {
            let (d, sw) = trace::split_response(&r);
            let sw = sw.ok_or(TerminalError::Mute)?;
            data.extend_from_slice(d);
            match sw >> 8 {
                0x61 => {
                    let get = [0x00, 0xC0, 0x00, 0x00, sw as u8];
                    r = self.raw(&get)?;
                }
                _ => return Ok(Response { data, sw }),
            }
        }
    }

    /// Sends and requires 9000.
    pub fn expect_ok(&mut self, step: &'static str, apdu: &[u8]) -> Result<Vec<u8>, TerminalError> {
        let r = self.send(apdu)?;
        if r.sw == 0x9000 {
            Ok(r.data)
        } else {
            Err(TerminalError::Status { step, sw: r.sw })
        }
    }
}
