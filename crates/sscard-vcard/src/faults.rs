//! Faults on command: a layer around a served card that makes it misbehave the way test
//! plans for terminals ask (LD/T 6001.2 anti-tear 防拔, LD/T 6001.5 terminal functions):
//! late answers, no answer, a wrong status word, a corrupted byte, and a power cut in the
//! middle of a command that writes.
//!
//! Faults are armed with a count and consumed by the commands they hit. Every fault that
//! fires is written to the card's trace with what it did. The layer only decides; the
//! caller carries out what needs time or the reader (sleeping a delay, removing the card
//! after a cut): see [`Effects`].
//!
//! Which fault wins when several are armed: mute, then a replaced status word (the
//! command does not reach the card), then the card answers (a power cut armed in the card
//! may hit it), then a corrupted byte, then the delay.

use crate::VirtualCard;
use crate::virtual_card::{SscVirtualCard, TearOutcome};
use serde_json::{Value, json};
use sscard_core::card::applet::Interface;
use sscard_core::nvm::TearMode;
use std::time::Duration;

/// One fault that can be armed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseFault {
    /// The answer comes this many milliseconds late.
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// No answer: the command does not reach the card.
    Mute,
    /// The card answers this status word (no data) instead of processing the command;
    /// only commands with instruction byte `ins` when given.
    Sw {
        /// SW1 SW2.
        sw: u16,
        /// Instruction byte the fault is for; any when `None`.
        ins: Option<u8>,
    },
    /// Byte `byte` of the response (data ‖ SW1 SW2, from 0; past the end: the last byte)
    /// is inverted.
    Corrupt {
        /// Offset in the response.
        byte: usize,
    },
}

impl ResponseFault {
    fn to_json(self, left: u32) -> Value {
        let mut v = match self {
            ResponseFault::Delay { ms } => json!({ "fault": "delay", "ms": ms }),
            ResponseFault::Mute => json!({ "fault": "mute" }),
            ResponseFault::Sw { sw, ins } => json!({
                "fault": "sw",
                "sw": format!("{sw:04X}"),
                "ins": ins.map(|i| format!("{i:02X}")),
            }),
            ResponseFault::Corrupt { byte } => json!({ "fault": "corrupt", "byte": byte }),
        };
        if let Some(map) = v.as_object_mut() {
            map.insert("count".into(), left.into());
        }
        v
    }
}

/// The name of a tear mode, as requests and traces spell it.
pub fn tear_mode_name(mode: TearMode) -> &'static str {
    match mode {
        TearMode::Nothing => "nothing",
        TearMode::FirstHalf => "half",
        TearMode::Complete => "complete",
    }
}

/// A card the fault layer can drive: the plain card interface, plus power cuts, a trace
/// for fault notes, an interface switch and a state report.
pub trait BenchCard: VirtualCard {
    /// Arms a power cut at write `at_write` (1-based) of the next command that writes.
    fn arm_tear(&mut self, at_write: u32, mode: TearMode);
    /// Cancels an armed power cut.
    fn disarm_tear(&mut self);
    /// The armed power cut, if any.
    fn armed_tear(&self) -> Option<(u32, TearMode)>;
    /// What the armed cut did to the last command (once).
    fn take_tear_outcome(&mut self) -> Option<TearOutcome>;
    /// Notes a fault in the card's trace.
    fn log_fault(&mut self, fault: &str, detail: &str);
    /// Moves the card to the other interface (a power cycle).
    fn switch_interface(&mut self, interface: Interface) -> Result<(), String>;
    /// The observable state as JSON.
    fn state(&self) -> Value;
}

impl BenchCard for SscVirtualCard {
    fn arm_tear(&mut self, at_write: u32, mode: TearMode) {
        SscVirtualCard::arm_tear(self, at_write, mode);
    }
    fn disarm_tear(&mut self) {
        SscVirtualCard::disarm_tear(self);
    }
    fn armed_tear(&self) -> Option<(u32, TearMode)> {
        SscVirtualCard::armed_tear(self)
    }
    fn take_tear_outcome(&mut self) -> Option<TearOutcome> {
        SscVirtualCard::take_tear_outcome(self)
    }
    fn log_fault(&mut self, fault: &str, detail: &str) {
        tracing::info!(fault, detail, "test-bench fault");
        if let Some(t) = self.tracer_mut() {
            t.fault(fault, detail);
        }
    }
    fn switch_interface(&mut self, interface: Interface) -> Result<(), String> {
        self.set_interface(interface).map_err(|e| e.to_string())
    }
    fn state(&self) -> Value {
        SscVirtualCard::state(self)
    }
}

/// What the caller must do after a command went through the layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Hold the answer back this long.
    pub delay: Duration,
    /// The power went: the reader must see the card leave (until it is inserted again).
    pub power_lost: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Armed {
    fault: ResponseFault,
    left: u32,
}

/// A card with faults armed around it.
#[derive(Debug)]
pub struct FaultLayer<C> {
    card: C,
    armed: Vec<Armed>,
}

impl<C: BenchCard> FaultLayer<C> {
    /// `card` with no fault armed.
    pub fn new(card: C) -> Self {
        FaultLayer {
            card,
            armed: Vec::new(),
        }
    }

    /// The card.
    pub fn card(&self) -> &C {
        &self.card
    }

    /// The card, mutably.
    pub fn card_mut(&mut self) -> &mut C {
        &mut self.card
    }

    /// Puts another card in place of this one (a persona swap); armed faults stay.
    pub fn replace(&mut self, card: C) -> C {
        std::mem::replace(&mut self.card, card)
    }

    /// Arms `fault` for the next `count` commands it applies to (at least one).
    pub fn arm(&mut self, fault: ResponseFault, count: u32) {
        self.armed.push(Armed {
            fault,
            left: count.max(1),
        });
    }

    /// Arms a power cut at write `at_write` (from 1) of the next command that writes.
    pub fn arm_tear(&mut self, at_write: u32, mode: TearMode) {
        self.card.arm_tear(at_write, mode);
    }

    /// The armed faults, the power cut included, as JSON.
    pub fn faults(&self) -> Value {
        let mut list: Vec<Value> = self.armed.iter().map(|a| a.fault.to_json(a.left)).collect();
        if let Some((at_write, mode)) = self.card.armed_tear() {
            list.push(json!({
                "fault": "tear",
                "at_write": at_write,
                "mode": tear_mode_name(mode),
                "count": 1,
            }));
        }
        Value::Array(list)
    }

    /// Cancels every armed fault; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let tear = usize::from(self.card.armed_tear().is_some());
        self.card.disarm_tear();
        let n = self.armed.len() + tear;
        self.armed.clear();
        n
    }

    /// Notes a fault in the card's trace (remove, insert, persona, …).
    pub fn log(&mut self, fault: &str, detail: &str) {
        self.card.log_fault(fault, detail);
    }

    /// Takes one use of the first armed fault `pick` accepts.
    fn take(&mut self, pick: impl Fn(&ResponseFault) -> bool) -> Option<ResponseFault> {
        let at = self.armed.iter().position(|a| pick(&a.fault))?;
        let armed = self.armed.get_mut(at)?;
        armed.left = armed.left.saturating_sub(1);
        let fault = armed.fault;
        if armed.left == 0 {
            self.armed.remove(at);
        }
        Some(fault)
    }

    /// One command through the faults and the card. `response` is empty on entry and
    /// stays empty when the card does not answer.
    pub fn transmit(&mut self, apdu: &[u8], response: &mut Vec<u8>) -> Effects {
        let ins = apdu.get(1).copied();
        let command = sscard_host::annotate::command_name(apdu);
        let mut effects = Effects::default();
        if self.take(|f| *f == ResponseFault::Mute).is_some() {
            self.log(
                "mute",
                &format!("{command}: no answer; the reader drops the card"),
            );
            return effects;
        }
        let replaced = self.take(|f| match f {
            ResponseFault::Sw { ins: wanted, .. } => wanted.is_none() || *wanted == ins,
            _ => false,
        });
        if let Some(ResponseFault::Sw { sw, .. }) = replaced {
            response.extend_from_slice(&sw.to_be_bytes());
            self.log(
                "sw",
                &format!("{command}: answered {sw:04X} without reaching the card"),
            );
        } else {
            self.card.transmit(apdu, response);
            match self.card.take_tear_outcome() {
                Some(TearOutcome::Torn {
                    at_write,
                    ins,
                    new_state,
                }) => {
                    let state = if new_state { "new" } else { "old" };
                    self.log(
                        "tear",
                        &format!(
                            "power lost at write {at_write} of INS {ins:02X} ({command}); \
                             no answer, card removed; memory recovered to the {state} state"
                        ),
                    );
                    response.clear();
                    effects.power_lost = true;
                    return effects;
                }
                Some(TearOutcome::NotReached { writes, ins }) => self.log(
                    "tear",
                    &format!(
                        "INS {ins:02X} ({command}) made {writes} write(s), fewer than armed; \
                         no power cut, disarmed"
                    ),
                ),
                None => {}
            }
        }
        if !response.is_empty()
            && let Some(ResponseFault::Corrupt { byte }) =
                self.take(|f| matches!(f, ResponseFault::Corrupt { .. }))
        {
            let at = byte.min(response.len().saturating_sub(1));
            if let Some(b) = response.get_mut(at) {
                let was = *b;
                *b = !was;
                self.log(
                    "corrupt",
                    &format!("{command}: response byte {at} {was:02X} → {:02X}", !was),
                );
            }
        }
        if let Some(ResponseFault::Delay { ms }) =
            self.take(|f| matches!(f, ResponseFault::Delay { .. }))
        {
            effects.delay = Duration::from_millis(ms);
            self.log("delay", &format!("{command}: answer held back {ms} ms"));
        }
        effects
    }
}
