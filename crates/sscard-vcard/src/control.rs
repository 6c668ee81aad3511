//! The control channel of a served card: JSON-line requests on a Unix socket, one socket
//! per slot (`sscard run --control PATH`, client `sscard ctl`). The protocol is written
//! up in `docs/control.md`.
//!
//! A [`Bench`] is the card of one slot behind its [`FaultLayer`] and the slot's handle;
//! [`Bench::served`] is what the vpcd slot serves and [`Bench::handle`] answers one
//! request, so tests can drive the bench without a socket. [`ControlServer`] accepts
//! connections, one thread each, and reads one request per line. A request that does not
//! parse gets `{"ok": false, "error": …}`; nothing a client sends can stop the card or
//! reach its image other than through the card itself.

use crate::VirtualCard;
use crate::faults::{Effects, FaultLayer, ResponseFault, tear_mode_name};
use crate::personas;
use crate::virtual_card::{HostRng, SscVirtualCard};
use crate::vpcd::SlotHandle;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sscard_core::card::applet::Interface;
use sscard_core::nvm::TearMode;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Longest delay accepted: a delay in progress cannot be cancelled, so an absurd one would
/// hold the slot for good.
pub const MAX_DELAY_MS: u64 = 600_000;

/// Longest request line accepted; a longer one closes the connection.
pub const MAX_REQUEST_LEN: usize = 64 * 1024;

/// How long a swap waits for the slot to drop its connection.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

/// The shortest time the card stays out of the reader, however it left (removed, torn,
/// mute, swapped): pcscd polls vpcd for the card about every 0.4 s, and a card back
/// before vpcd noticed it gone is not seen at all (measured with Debian's vpcd).
pub const ABSENCE: Duration = Duration::from_secs(1);

/// What a tear leaves of the write that loses power.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TearModeArg {
    /// Nothing of it.
    #[default]
    Nothing,
    /// Its first half.
    Half,
    /// All of it; the power goes right after.
    Complete,
}

impl From<TearModeArg> for TearMode {
    fn from(m: TearModeArg) -> Self {
        match m {
            TearModeArg::Nothing => TearMode::Nothing,
            TearModeArg::Half => TearMode::FirstHalf,
            TearModeArg::Complete => TearMode::Complete,
        }
    }
}

/// The interface of an `interface` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum InterfaceArg {
    /// ISO 7816 contacts.
    Contact,
    /// ISO 14443.
    Contactless,
}

impl From<InterfaceArg> for Interface {
    fn from(i: InterfaceArg) -> Self {
        match i {
            InterfaceArg::Contact => Interface::Contact,
            InterfaceArg::Contactless => Interface::Contactless,
        }
    }
}

fn one() -> u32 {
    1
}

/// One request, as a JSON object whose `cmd` names it (`{"cmd": "delay", "ms": 300}`);
/// the same requests are the subcommands of `sscard ctl`, the fields its options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, clap::Subcommand)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// The reader sees the card leave.
    Remove,
    /// The reader sees the card come back (and powers it).
    Insert,
    /// Cut the power at write K (from 1) of the next command that writes NVM.
    Tear {
        /// Which write.
        #[arg(long, value_name = "K")]
        at_write: u32,
        /// What the torn write leaves (default nothing).
        #[serde(default)]
        #[arg(long, value_enum, default_value = "nothing")]
        mode: TearModeArg,
    },
    /// The next C answers come N milliseconds late.
    Delay {
        /// Milliseconds.
        #[arg(long, value_name = "N")]
        ms: u64,
        /// How many answers.
        #[serde(default = "one")]
        #[arg(long, value_name = "C", default_value_t = 1)]
        count: u32,
    },
    /// No answer to the next C commands.
    Mute {
        /// How many commands.
        #[serde(default = "one")]
        #[arg(long, value_name = "C", default_value_t = 1)]
        count: u32,
    },
    /// Answer this status word instead (the command does not reach the card).
    Sw {
        /// Status word, 4 hex digits.
        sw: String,
        /// Only commands with this instruction byte (2 hex digits).
        #[serde(default)]
        #[arg(long, value_name = "XX")]
        ins: Option<String>,
        /// How many commands.
        #[serde(default = "one")]
        #[arg(long, value_name = "C", default_value_t = 1)]
        count: u32,
    },
    /// Invert byte I of the next C responses (data ‖ SW1 SW2, from 0).
    Corrupt {
        /// Offset in data ‖ SW1 SW2.
        #[arg(long, value_name = "I")]
        byte: usize,
        /// How many responses.
        #[serde(default = "one")]
        #[arg(long, value_name = "C", default_value_t = 1)]
        count: u32,
    },
    /// Power-cycle through the other interface.
    Interface {
        /// Contact or contactless.
        #[arg(value_enum)]
        interface: InterfaceArg,
    },
    /// Swap in another card: a persona name or a profile file.
    Persona {
        /// Persona name or profile path.
        name: String,
    },
    /// The card's observable state (as JSON).
    State,
    /// The armed faults.
    Faults,
    /// Cancel every armed fault.
    Clear,
}

fn parse_hex_byte(what: &str, text: &str, digits: usize) -> Result<u16, String> {
    let clean = text.trim();
    if clean.len() != digits || !clean.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{what} must be {digits} hex digits, got {text:?}"));
    }
    u16::from_str_radix(clean, 16).map_err(|e| format!("{what}: {e}"))
}

fn positive(count: u32) -> Result<u32, String> {
    if count == 0 {
        Err("count must be at least 1".into())
    } else {
        Ok(count)
    }
}

/// The card of one slot, its faults and its reader slot, shared by the slot's serving
/// thread and the control channel.
#[derive(Debug)]
pub struct Bench {
    layer: Mutex<FaultLayer<SscVirtualCard>>,
    slot: SlotHandle,
    /// Seed for the cards of persona swaps (`None`: the operating system's randomness).
    seed: Option<u64>,
    /// Removals asked through the channel: a card that comes back by itself after a mute
    /// does not if the tester removed it meanwhile.
    removals: AtomicU64,
    /// When the card last left the reader.
    left_at: Mutex<Option<Instant>>,
}

/// What a vpcd slot serves: the bench's card through its faults.
#[derive(Debug, Clone)]
pub struct ServedBench(Arc<Bench>);

impl Bench {
    /// `card` in the slot `slot` controls; persona swaps draw randomness from `seed`.
    pub fn new(card: SscVirtualCard, slot: SlotHandle, seed: Option<u64>) -> Arc<Bench> {
        Arc::new(Bench {
            layer: Mutex::new(FaultLayer::new(card)),
            slot,
            seed,
            removals: AtomicU64::new(0),
            left_at: Mutex::new(None),
        })
    }

    /// The card as the slot serves it.
    pub fn served(self: &Arc<Self>) -> ServedBench {
        ServedBench(Arc::clone(self))
    }

    /// The fault layer, locked. A panic on another thread holding it leaves the card as
    /// it was after the last command, so the lock is taken over rather than refused.
    pub fn layer(&self) -> MutexGuard<'_, FaultLayer<SscVirtualCard>> {
        self.layer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the card out of the reader.
    fn remove(&self) {
        *self.left_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        self.slot.remove();
    }

    /// Puts the card back, once it has been out for [`ABSENCE`].
    fn insert(&self) {
        let left_at = *self.left_at.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(rest) = left_at.and_then(|t| ABSENCE.checked_sub(t.elapsed())) {
            thread::sleep(rest);
        }
        self.slot.insert();
    }

    fn rng(&self) -> HostRng {
        self.seed.map_or_else(HostRng::os, HostRng::seeded)
    }

    /// Removes the card, waits for the reader to see it leave (so the slot has powered it
    /// off), runs `swap` on the layer and inserts the card again.
    fn power_cycle(
        &self,
        swap: impl FnOnce(&mut FaultLayer<SscVirtualCard>) -> Result<Value, String>,
    ) -> Result<Value, String> {
        let was_inserted = self.slot.is_inserted();
        self.remove();
        let _ = self.slot.wait_connected(false, LEAVE_TIMEOUT);
        let answer = swap(&mut self.layer());
        if was_inserted {
            self.insert();
        }
        answer
    }

    /// Answers one request (see `docs/control.md`).
    pub fn handle(&self, request: Request) -> Value {
        match self.run(request) {
            Ok(Value::Null) => json!({ "ok": true }),
            Ok(Value::Object(mut map)) => {
                map.insert("ok".into(), true.into());
                Value::Object(map)
            }
            Ok(other) => json!({ "ok": true, "result": other }),
            Err(error) => json!({ "ok": false, "error": error }),
        }
    }

    fn run(&self, request: Request) -> Result<Value, String> {
        match request {
            Request::Remove => {
                self.removals.fetch_add(1, Ordering::SeqCst);
                self.remove();
                self.layer().log("remove", "card removed from the reader");
                Ok(Value::Null)
            }
            Request::Insert => {
                self.layer().log("insert", "card inserted in the reader");
                self.insert();
                Ok(Value::Null)
            }
            Request::Tear { at_write, mode } => {
                if at_write == 0 {
                    return Err("at_write counts from 1".into());
                }
                let mut layer = self.layer();
                layer.arm_tear(at_write, mode.into());
                layer.log(
                    "tear",
                    &format!(
                        "armed: power lost at write {at_write} ({}) of the next command that writes",
                        tear_mode_name(mode.into())
                    ),
                );
                Ok(Value::Null)
            }
            Request::Delay { ms, count } => {
                if ms > MAX_DELAY_MS {
                    return Err(format!("ms must be at most {MAX_DELAY_MS} (10 minutes)"));
                }
                self.arm(ResponseFault::Delay { ms }, count)
            }
            Request::Mute { count } => self.arm(ResponseFault::Mute, count),
            Request::Sw { sw, ins, count } => {
                let sw = parse_hex_byte("sw", &sw, 4)?;
                let ins = match ins {
                    Some(i) => Some(parse_hex_byte("ins", &i, 2)? as u8),
                    None => None,
                };
                self.arm(ResponseFault::Sw { sw, ins }, count)
            }
            Request::Corrupt { byte, count } => self.arm(ResponseFault::Corrupt { byte }, count),
            Request::Interface { interface } => self.power_cycle(|layer| {
                layer.card_mut().switch_to(interface.into())?;
                layer.log(
                    "interface",
                    &format!("power cycle through the {interface:?} interface").to_lowercase(),
                );
                Ok(Value::Null)
            }),
            Request::Persona { name } => {
                let persona = personas::build(&name, self.rng())?;
                self.power_cycle(|layer| {
                    let mut card = persona.card;
                    if let Some(t) = layer.card_mut().tracer_mut() {
                        card.set_tracer(t.clone());
                    }
                    layer.replace(card);
                    layer.log("persona", &format!("card swapped for {name}"));
                    Ok(Value::Null)
                })
            }
            Request::State => {
                let mut state = self.layer().card().state();
                if let Some(map) = state.as_object_mut() {
                    map.insert("inserted".into(), self.slot.is_inserted().into());
                    map.insert("connected".into(), self.slot.is_connected().into());
                }
                Ok(json!({ "state": state }))
            }
            Request::Faults => Ok(json!({ "faults": self.layer().faults() })),
            Request::Clear => Ok(json!({ "cleared": self.layer().clear() })),
        }
    }

    fn arm(&self, fault: ResponseFault, count: u32) -> Result<Value, String> {
        let count = positive(count)?;
        let mut layer = self.layer();
        layer.arm(fault, count);
        layer.log("armed", &format!("{fault:?} × {count}"));
        Ok(Value::Null)
    }

    /// Answers one request line: a JSON request, or an error naming what is wrong.
    pub fn handle_line(&self, line: &str) -> Value {
        match serde_json::from_str::<Request>(line) {
            Ok(request) => self.handle(request),
            Err(e) => json!({ "ok": false, "error": format!("bad request: {e}") }),
        }
    }
}

impl SscVirtualCard {
    /// Moves the card to `interface` (the caller has it removed from the reader).
    fn switch_to(&mut self, interface: Interface) -> Result<(), String> {
        self.set_interface(interface).map_err(|e| e.to_string())
    }
}

impl VirtualCard for ServedBench {
    fn atr(&self) -> Vec<u8> {
        self.0.layer().card().atr()
    }
    fn power_on(&mut self) {
        self.0.layer().card_mut().power_on();
    }
    fn power_off(&mut self) {
        self.0.layer().card_mut().power_off();
    }
    fn reset(&mut self) {
        self.0.layer().card_mut().reset();
    }
    fn transmit(&mut self, apdu: &[u8], response: &mut Vec<u8>) {
        // The lock is let go before waiting, so `state` and new faults are answered
        // while an answer is held back.
        let Effects { delay, power_lost } = self.0.layer().transmit(apdu, response);
        if power_lost {
            self.0.remove();
        } else if response.is_empty() {
            // Mute: vpcd has no time-out, so the card leaves the reader and comes back,
            // as a card reset by a reader that timed out.
            self.0.remove();
            let bench = Arc::clone(&self.0);
            let removals = bench.removals.load(Ordering::SeqCst);
            let spawned = thread::Builder::new()
                .name("sscard-reinsert".into())
                .spawn(move || {
                    thread::sleep(ABSENCE);
                    if bench.removals.load(Ordering::SeqCst) == removals {
                        bench.insert();
                    }
                });
            if spawned.is_err() {
                self.0.slot.insert();
            }
        }
        if !delay.is_zero() {
            thread::sleep(delay);
        }
    }
}

/// A listening control socket. Dropping it stops the listener and removes the socket.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// Listens on `path` for `bench`. A socket file left by a process that is gone is
    /// replaced; one that still answers is refused.
    pub fn start(path: &Path, bench: Arc<Bench>) -> io::Result<ControlServer> {
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{}: another card listens there", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("sscard-control".into())
            .spawn(move || accept_loop(&listener, &bench, &thread_stop))?;
        Ok(ControlServer {
            path: path.to_path_buf(),
            stop,
            thread: Some(thread),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn accept_loop(listener: &UnixListener, bench: &Arc<Bench>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let bench = Arc::clone(bench);
                let spawned = thread::Builder::new()
                    .name("sscard-control-client".into())
                    .spawn(move || serve_client(stream, &bench));
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "control: cannot serve a client");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                tracing::warn!(error = %e, "control: accept failed");
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Answers request lines until the client hangs up or sends a line too long.
fn serve_client(stream: UnixStream, bench: &Bench) {
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = u64::try_from(MAX_REQUEST_LEN).unwrap_or(u64::MAX) + 1;
        match (&mut reader).take(limit).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let too_long = line.len() > MAX_REQUEST_LEN;
        let answer = if too_long {
            json!({ "ok": false, "error": format!("request longer than {MAX_REQUEST_LEN} bytes") })
        } else {
            match std::str::from_utf8(&line) {
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => bench.handle_line(text.trim()),
                Err(_) => json!({ "ok": false, "error": "request is not UTF-8" }),
            }
        };
        if writeln!(writer, "{answer}").is_err() || too_long {
            return;
        }
    }
}

/// The script fault directives (`sscard_host::link::Fault`) as requests to the control
/// socket at `path`: what `sscard script --reader … --control PATH` plays on the served
/// card. A refused request is an error naming the socket's answer.
pub fn fault_hook(path: std::path::PathBuf) -> sscard_host::link::FaultHook {
    use sscard_host::link::{Fault, LinkError};
    Box::new(move |fault: &Fault| {
        let req = match *fault {
            Fault::TearAt(at_write) => Request::Tear {
                at_write,
                mode: TearModeArg::Nothing,
            },
            Fault::Delay(ms) => Request::Delay {
                ms: u64::from(ms),
                count: 1,
            },
            Fault::AnswerSw(sw) => Request::Sw {
                sw: format!("{sw:04X}"),
                ins: None,
                count: 1,
            },
            Fault::Remove => Request::Remove,
            Fault::Insert => Request::Insert,
            _ => return Err(LinkError::Unsupported("this fault on the control channel")),
        };
        let failed = |detail: String| LinkError::Reader {
            call: "control channel",
            detail,
        };
        let answer =
            request(&path, &req).map_err(|e| failed(format!("{}: {e}", path.display())))?;
        if answer.get("ok") == Some(&Value::Bool(true)) {
            Ok(())
        } else {
            Err(failed(answer.to_string()))
        }
    })
}

/// Sends `request` to the control socket at `path` and returns the answer.
pub fn request(path: &Path, request: &Request) -> io::Result<Value> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let line = serde_json::to_string(request).map_err(io::Error::other)?;
    writeln!(stream, "{line}")?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    serde_json::from_str(&answer).map_err(io::Error::other)
}
