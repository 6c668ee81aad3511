//! APDU scripts: the format of `vectors/**/*.apdu` (documented in `vectors/README.md`),
//! which also reads pcsc-tools `scriptor` files, and the runner that plays a script
//! against any [`Target`] — a card in this process or a PC/SC reader.
//!
//! One line, one step:
//!
//! ```text
//! # comment (also after a step)
//! 00A4040F 7378312E73682EC9E7BBE1B1A3D5CF 00 => 61 18      expected response: data ‖ SW
//! 00C0000018 => 6F 1C 84 0F * 9000                          `*`: any further data
//! 00B2012C00 => 6CXX                                        `X`: any nibble, `XX` any byte
//! 0020000003 123456 => 9000 | 63CX                           alternatives
//! 0084000008 => $CH:8 9000                                   capture 8 bytes into $CH
//! 0082000A10 $CH 0000000000000000 => 6982                    use it
//! 00B0840000 => 9000                                         SW only: data not checked
//! 00B0840000 => [] 9000                                      no data at all
//! reset | power-off | power-on | contact | contactless      power and interface
//! atr => 3B6D0000 *                                          the ATR
//! set $PIN = 123456                                          a variable
//! profile ../profiles/gen2-3des.toml                         the card to run on (in-process)
//! ```
//!
//! scriptor files (`CLA INS P1 P2 …` per line, `reset`, `#` comments, `exit`) are valid
//! scripts; scriptor's own output (`> command` then `< response : text`) is read as a
//! command with its expected response.

use crate::annotate::{hex, split_response, sw_meaning};
use sscard_core::card::applet::Interface;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// One byte of a pattern: `value` compared under `mask` (nibble wildcards clear bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaskedByte {
    /// Expected bits.
    pub value: u8,
    /// Which bits are compared.
    pub mask: u8,
}

impl MaskedByte {
    fn matches(self, b: u8) -> bool {
        b & self.mask == self.value & self.mask
    }
}

impl fmt::Display for MaskedByte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nib = |shift: u8| {
            if (self.mask >> shift) & 0xF == 0 {
                'X'
            } else {
                char::from_digit(u32::from((self.value >> shift) & 0xF), 16)
                    .map_or('?', |c| c.to_ascii_uppercase())
            }
        };
        write!(f, "{}{}", nib(4), nib(0))
    }
}

/// An element of the data part of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// One byte, possibly with wildcard nibbles.
    Byte(MaskedByte),
    /// `*`: any remaining data.
    AnyTail,
    /// `$NAME:N` (N bytes) or `$NAME` (all remaining data): captured into a variable.
    Capture(String, Option<usize>),
}

/// An expected response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// The card gives no response.
    Mute,
    /// Data (`None`: not checked) and status word.
    Response {
        /// Data items; `None` when only the SW was given.
        data: Option<Vec<Item>>,
        /// SW1 SW2.
        sw: [MaskedByte; 2],
    },
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Mute => f.write_str("mute"),
            Pattern::Response { data, sw } => {
                match data {
                    None => {}
                    Some(items) if items.is_empty() => f.write_str("[] ")?,
                    Some(items) => {
                        for i in items {
                            match i {
                                Item::Byte(b) => write!(f, "{b}")?,
                                Item::AnyTail => f.write_str("*")?,
                                Item::Capture(n, Some(l)) => write!(f, " ${n}:{l} ")?,
                                Item::Capture(n, None) => write!(f, " ${n} ")?,
                            }
                        }
                        f.write_str(" ")?;
                    }
                }
                write!(f, "{}{}", sw[0], sw[1])
            }
        }
    }
}

/// A command's bytes, with `$NAME` variables to substitute at run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Literal bytes.
    Bytes(Vec<u8>),
    /// A variable.
    Var(String),
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send a command; check the response against any of the alternatives (if given).
    Apdu {
        /// The command.
        command: Vec<Piece>,
        /// Accepted responses (empty: anything).
        expect: Vec<Pattern>,
    },
    /// Warm reset.
    Reset,
    /// Power off.
    PowerOff,
    /// Power on.
    PowerOn,
    /// Move the card to another interface (power-cycles it).
    Interface(Interface),
    /// Check the ATR.
    Atr(Vec<Item>),
    /// Set a variable.
    Set(String, Vec<u8>),
    /// Stop the script (scriptor's `exit`).
    Exit,
}

/// A step with its line number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based line of the step (its first line when continued).
    pub line: usize,
    /// What to do.
    pub action: Action,
}

/// A parsed script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    /// Where it was read from (for messages).
    pub path: Option<PathBuf>,
    /// The `profile` directive, resolved against the script's directory.
    pub profile: Option<PathBuf>,
    /// The steps.
    pub steps: Vec<Step>,
}

/// A syntax error, with its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Reads hex with `X` wildcard nibbles, `*`, `$NAME[:N]` and `[]` into items. Whitespace
/// separates nothing: `6F1C 84 0F` and `6F 1C840F` are the same bytes.
fn tokens(text: &str, line: usize) -> Result<(Vec<Item>, bool), ParseError> {
    let bad = |message: String| ParseError { line, message };
    let mut items = Vec::new();
    let mut empty_marker = false;
    let mut high: Option<(u8, u8)> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let nibble = match c {
            c if c.is_whitespace() => {
                continue;
            }
            'X' | 'x' => Some((0u8, 0u8)),
            c if c.is_ascii_hexdigit() => c.to_digit(16).map(|d| (d as u8, 0xF)),
            _ => None,
        };
        if let Some((v, m)) = nibble {
            match high.take() {
                None => high = Some((v, m)),
                Some((hv, hm)) => items.push(Item::Byte(MaskedByte {
                    value: hv << 4 | v,
                    mask: hm << 4 | m,
                })),
            }
            continue;
        }
        if high.is_some() {
            return Err(bad(format!("odd number of hex digits before {c:?}")));
        }
        match c {
            '*' => items.push(Item::AnyTail),
            '[' if chars.peek() == Some(&']') => {
                chars.next();
                empty_marker = true;
            }
            '$' => {
                let mut name = String::new();
                while let Some(&c) = chars.peek().filter(|c| is_name_char(**c)) {
                    name.push(c);
                    chars.next();
                }
                if name.is_empty() {
                    return Err(bad("`$` must be followed by a variable name".into()));
                }
                let mut len = None;
                if chars.peek() == Some(&':') {
                    chars.next();
                    let mut digits = String::new();
                    while let Some(&c) = chars.peek().filter(|c| c.is_ascii_digit()) {
                        digits.push(c);
                        chars.next();
                    }
                    len = Some(
                        digits
                            .parse()
                            .map_err(|_| bad(format!("${name}: length after `:` expected")))?,
                    );
                }
                items.push(Item::Capture(name, len));
            }
            other => return Err(bad(format!("unexpected {other:?}"))),
        }
    }
    if high.is_some() {
        return Err(bad("odd number of hex digits".into()));
    }
    Ok((items, empty_marker))
}

fn parse_pattern(text: &str, line: usize) -> Result<Pattern, ParseError> {
    let bad = |message: String| ParseError { line, message };
    if text.trim().eq_ignore_ascii_case("mute") {
        return Ok(Pattern::Mute);
    }
    let (mut items, empty_marker) = tokens(text, line)?;
    let sw2 = items.pop();
    let sw1 = items.pop();
    let sw = match (sw1, sw2) {
        (Some(Item::Byte(a)), Some(Item::Byte(b))) => [a, b],
        _ => {
            return Err(bad(format!(
                "expected response {text:?} must end with a status word (4 hex digits)"
            )));
        }
    };
    if empty_marker && !items.is_empty() {
        return Err(bad("`[]` (no data) cannot be combined with data".into()));
    }
    // Only `*` / `$NAME` without length may end the data; nothing may follow them.
    let open_tail = |i: &Item| matches!(i, Item::AnyTail | Item::Capture(_, None));
    if let Some(pos) = items.iter().position(open_tail)
        && pos + 1 != items.len()
    {
        return Err(bad(
            "`*` and `$NAME` without length must be the last data item".into(),
        ));
    }
    let data = if items.is_empty() && !empty_marker {
        None
    } else {
        Some(items)
    };
    Ok(Pattern::Response { data, sw })
}

fn parse_command(text: &str, line: usize) -> Result<Vec<Piece>, ParseError> {
    let (items, empty) = tokens(text, line)?;
    let bad = |message: &str| ParseError {
        line,
        message: message.into(),
    };
    if empty {
        return Err(bad("`[]` only belongs in expected responses"));
    }
    let mut pieces: Vec<Piece> = Vec::new();
    for item in items {
        match item {
            Item::Byte(b) if b.mask == 0xFF => match pieces.last_mut() {
                Some(Piece::Bytes(v)) => v.push(b.value),
                _ => pieces.push(Piece::Bytes(vec![b.value])),
            },
            Item::Byte(_) => return Err(bad("wildcards only belong in expected responses")),
            Item::AnyTail => return Err(bad("`*` only belongs in expected responses")),
            Item::Capture(name, None) => pieces.push(Piece::Var(name)),
            Item::Capture(..) => return Err(bad("`$NAME:N` only belongs in expected responses")),
        }
    }
    if pieces.is_empty() {
        return Err(bad("empty command"));
    }
    Ok(pieces)
}

/// Strips a `#` comment: at the line start, or after whitespace.
fn strip_comment(line: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_space {
            return line.get(..i).unwrap_or("");
        }
        prev_space = c.is_whitespace();
    }
    line
}

impl Script {
    /// Parses a script; `path` resolves the `profile` directive and names the script in
    /// messages.
    pub fn parse(text: &str, path: Option<&Path>) -> Result<Script, ParseError> {
        let mut script = Script {
            path: path.map(Path::to_path_buf),
            ..Script::default()
        };
        let mut pending: Option<(usize, String)> = None; // continued line
        // scriptor output: a `> command` waits for its `< response` line.
        let mut scriptor_command: Option<(usize, Vec<Piece>)> = None;
        let mut open_response: Option<(usize, Vec<Piece>, String)> = None;
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let content = strip_comment(raw).trim_end();
            let (start, mut joined) = match pending.take() {
                Some((start, mut acc)) => {
                    acc.push(' ');
                    acc.push_str(content.trim());
                    (start, acc)
                }
                None => (number, content.trim().to_string()),
            };
            if let Some(stripped) = joined.strip_suffix('\\') {
                pending = Some((start, stripped.to_string()));
                continue;
            }
            joined = joined.trim().to_string();
            if joined.is_empty() {
                continue;
            }
            // scriptor wraps long responses: `<` lines run until one ends in ` : text`.
            if let Some((line, command, mut response)) = open_response.take() {
                response.push(' ');
                response.push_str(&joined);
                Script::scriptor_response(
                    &mut script,
                    &mut open_response,
                    line,
                    command,
                    response,
                )?;
                continue;
            }
            if let Some(rest) = joined.strip_prefix('<') {
                let Some((line, command)) = scriptor_command.take() else {
                    return Err(ParseError {
                        line: start,
                        message: "`<` response without a `>` command before it".into(),
                    });
                };
                Script::scriptor_response(
                    &mut script,
                    &mut open_response,
                    line,
                    command,
                    rest.to_string(),
                )?;
                continue;
            }
            if let Some((line, command)) = scriptor_command.take() {
                script.steps.push(Step {
                    line,
                    action: Action::Apdu {
                        command,
                        expect: vec![],
                    },
                });
            }
            if let Some(rest) = joined.strip_prefix('>') {
                let command = parse_command(rest, start)?;
                // scriptor echoes each input line before `> command`: keep one of the two.
                if let Some(Step {
                    action:
                        Action::Apdu {
                            command: echoed,
                            expect,
                        },
                    ..
                }) = script.steps.last()
                    && expect.is_empty()
                    && *echoed == command
                {
                    script.steps.pop();
                }
                scriptor_command = Some((start, command));
                continue;
            }
            let action = Script::parse_line(&joined, start, path, &mut script)?;
            if let Some(action) = action {
                script.steps.push(Step {
                    line: start,
                    action,
                });
            }
        }
        if let Some((line, _)) = pending {
            return Err(ParseError {
                line,
                message: "line continued with `\\` at the end of the script".into(),
            });
        }
        if let Some((line, _, _)) = open_response {
            return Err(ParseError {
                line,
                message: "scriptor response `<` never ends with ` : text`".into(),
            });
        }
        if let Some((line, command)) = scriptor_command {
            script.steps.push(Step {
                line,
                action: Action::Apdu {
                    command,
                    expect: vec![],
                },
            });
        }
        Ok(script)
    }

    /// A scriptor response: complete once it has its ` : text` tail.
    fn scriptor_response(
        script: &mut Script,
        open: &mut Option<(usize, Vec<Piece>, String)>,
        line: usize,
        command: Vec<Piece>,
        response: String,
    ) -> Result<(), ParseError> {
        match response.split_once(" : ") {
            Some((bytes, _)) => {
                let expect = vec![parse_pattern(bytes, line)?];
                script.steps.push(Step {
                    line,
                    action: Action::Apdu { command, expect },
                });
            }
            None => *open = Some((line, command, response)),
        }
        Ok(())
    }

    fn parse_line(
        text: &str,
        line: usize,
        path: Option<&Path>,
        script: &mut Script,
    ) -> Result<Option<Action>, ParseError> {
        let bad = |message: String| ParseError { line, message };
        let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let rest = rest.trim();
        let simple = |action: Action| {
            if rest.is_empty() {
                Ok(Some(action))
            } else {
                Err(bad(format!("`{word}` takes no argument")))
            }
        };
        match word.to_ascii_lowercase().as_str() {
            "reset" => simple(Action::Reset),
            "power-off" | "poweroff" | "off" => simple(Action::PowerOff),
            "power-on" | "poweron" | "on" => simple(Action::PowerOn),
            "contact" => simple(Action::Interface(Interface::Contact)),
            "contactless" => simple(Action::Interface(Interface::Contactless)),
            "exit" | "quit" => simple(Action::Exit),
            "atr" => {
                let pattern = rest
                    .strip_prefix("=>")
                    .ok_or_else(|| bad("expected `atr => PATTERN`".into()))?;
                let (items, _) = tokens(pattern, line)?;
                Ok(Some(Action::Atr(items)))
            }
            "set" => {
                let (name, value) = rest
                    .split_once('=')
                    .ok_or_else(|| bad("expected `set $NAME = HEX`".into()))?;
                let name = name
                    .trim()
                    .strip_prefix('$')
                    .filter(|n| !n.is_empty() && n.chars().all(is_name_char))
                    .ok_or_else(|| bad("expected `set $NAME = HEX`".into()))?;
                match parse_command(value, line)?.as_slice() {
                    [Piece::Bytes(b)] => Ok(Some(Action::Set(name.to_string(), b.clone()))),
                    _ => Err(bad("`set` takes plain hex".into())),
                }
            }
            "profile" => {
                if rest.is_empty() {
                    return Err(bad("`profile` needs a file".into()));
                }
                let dir = path.and_then(Path::parent).unwrap_or(Path::new(""));
                script.profile = Some(dir.join(rest));
                Ok(None)
            }
            _ => {
                let (command, expect) = match text.split_once("=>") {
                    Some((c, e)) => (
                        c,
                        e.split('|')
                            .map(|alt| parse_pattern(alt, line))
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    None => (text, vec![]),
                };
                let looks_like_hex = command
                    .trim()
                    .split(char::is_whitespace)
                    .next()
                    .is_some_and(|w| w.chars().all(|c| c.is_ascii_hexdigit() || c == '$'));
                if !looks_like_hex {
                    return Err(bad(format!("unknown directive or bad hex: {word:?}")));
                }
                let command = parse_command(command, line)?;
                Ok(Some(Action::Apdu { command, expect }))
            }
        }
    }

    /// Reads and parses a script file.
    pub fn load(path: &Path) -> Result<Script, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Script::parse(&text, Some(path)).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// How scripts are named in messages.
    pub fn name(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "script".to_string(), |p| p.display().to_string())
    }
}

/// Something that runs scripts: a card in this process, or a card in a PC/SC reader.
pub trait Target {
    /// Sends a command; an empty response means the card was mute.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, String>;
    /// Warm reset; returns the ATR.
    fn reset(&mut self) -> Result<Vec<u8>, String>;
    /// Cuts power.
    fn power_off(&mut self) -> Result<(), String>;
    /// Powers on; returns the ATR.
    fn power_on(&mut self) -> Result<Vec<u8>, String>;
    /// Moves the card to another interface.
    fn set_interface(&mut self, interface: Interface) -> Result<(), String>;
    /// The current ATR.
    fn atr(&mut self) -> Result<Vec<u8>, String>;
}

/// What happened at one step.
#[derive(Clone, Debug)]
pub struct StepReport {
    /// Line of the step.
    pub line: usize,
    /// What was done (`00A4… → 9000`, `reset`, …).
    pub summary: String,
    /// Why it failed, if it did.
    pub failure: Option<String>,
}

/// The result of a run.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Steps executed.
    pub steps: usize,
    /// Commands sent.
    pub commands: usize,
    /// Failed steps.
    pub failures: Vec<StepReport>,
}

impl Outcome {
    /// True when every step passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

fn match_items(
    items: &[Item],
    data: &[u8],
    captures: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), String> {
    let mut at = 0usize;
    for item in items {
        match item {
            Item::Byte(b) => match data.get(at) {
                Some(d) if b.matches(*d) => at += 1,
                Some(d) => return Err(format!("byte {at} is {d:02X}, expected {b}")),
                None => return Err(format!("data ends at byte {at}, expected {b}")),
            },
            Item::AnyTail => return Ok(()),
            Item::Capture(name, None) => {
                captures.push((name.clone(), data.get(at..).unwrap_or(&[]).to_vec()));
                return Ok(());
            }
            Item::Capture(name, Some(n)) => match data.get(at..at + n) {
                Some(v) => {
                    captures.push((name.clone(), v.to_vec()));
                    at += n;
                }
                None => {
                    return Err(format!(
                        "${name} wants {n} bytes at byte {at}, data too short"
                    ));
                }
            },
        }
    }
    if at != data.len() {
        return Err(format!("{} data bytes, expected {at}", data.len()));
    }
    Ok(())
}

/// Checks `response` against `pattern`; on success returns the captures.
pub fn check(pattern: &Pattern, response: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut captures = Vec::new();
    match pattern {
        Pattern::Mute if response.is_empty() => Ok(captures),
        Pattern::Mute => Err("expected no response".into()),
        Pattern::Response { data, sw } => {
            let (body, Some(actual)) = split_response(response) else {
                return Err("card mute".into());
            };
            let [a, b] = actual.to_be_bytes();
            if !(sw[0].matches(a) && sw[1].matches(b)) {
                return Err(format!("SW {actual:04X}, expected {}{}", sw[0], sw[1]));
            }
            if let Some(items) = data {
                match_items(items, body, &mut captures)?;
            }
            Ok(captures)
        }
    }
}

/// Runs `script` on `target`. `keep_going`: run every step even after a failure (a
/// conformance report); otherwise stop at the first. `progress` sees every step.
pub fn run(
    script: &Script,
    target: &mut dyn Target,
    keep_going: bool,
    progress: &mut dyn FnMut(&StepReport),
) -> Outcome {
    let mut vars: HashMap<String, Vec<u8>> = HashMap::new();
    let mut outcome = Outcome::default();
    for step in &script.steps {
        outcome.steps += 1;
        let (summary, failure) = match &step.action {
            Action::Exit => break,
            Action::Set(name, value) => {
                vars.insert(name.clone(), value.clone());
                (format!("set ${name} = {}", hex(value)), None)
            }
            Action::Reset => power_step("reset", target.reset().map(|atr| hex(&atr))),
            Action::PowerOff => power_step("power-off", target.power_off().map(|()| String::new())),
            Action::PowerOn => power_step("power-on", target.power_on().map(|atr| hex(&atr))),
            Action::Interface(i) => {
                let name = match i {
                    Interface::Contact => "contact",
                    Interface::Contactless => "contactless",
                };
                power_step(name, target.set_interface(*i).map(|()| String::new()))
            }
            Action::Atr(items) => match target.atr() {
                Ok(atr) => {
                    let failure = match_items(items, &atr, &mut Vec::new())
                        .err()
                        .map(|e| format!("ATR {}: {e}", hex(&atr)));
                    (format!("atr {}", hex(&atr)), failure)
                }
                Err(e) => ("atr".to_string(), Some(e)),
            },
            Action::Apdu { command, expect } => {
                outcome.commands += 1;
                apdu_step(command, expect, target, &mut vars)
            }
        };
        let report = StepReport {
            line: step.line,
            summary,
            failure,
        };
        progress(&report);
        if report.failure.is_some() {
            outcome.failures.push(report);
            if !keep_going {
                break;
            }
        }
    }
    outcome
}

fn power_step(name: &str, result: Result<String, String>) -> (String, Option<String>) {
    match result {
        Ok(atr) if atr.is_empty() => (name.to_string(), None),
        Ok(atr) => (format!("{name}: ATR {atr}"), None),
        Err(e) => (name.to_string(), Some(e)),
    }
}

fn apdu_step(
    command: &[Piece],
    expect: &[Pattern],
    target: &mut dyn Target,
    vars: &mut HashMap<String, Vec<u8>>,
) -> (String, Option<String>) {
    let mut apdu = Vec::new();
    for piece in command {
        match piece {
            Piece::Bytes(b) => apdu.extend_from_slice(b),
            Piece::Var(name) => match vars.get(name) {
                Some(v) => apdu.extend_from_slice(v),
                None => {
                    return (
                        format!("command with ${name}"),
                        Some(format!("variable ${name} is not set")),
                    );
                }
            },
        }
    }
    let shown = crate::annotate::masked_command(&apdu);
    let response = match target.transmit(&apdu) {
        Ok(r) => r,
        Err(e) => return (shown, Some(e)),
    };
    let (_, sw) = split_response(&response);
    let summary = match sw {
        Some(sw) => format!(
            "{shown} → {} {sw:04X} ({})",
            hex(split_response(&response).0),
            sw_meaning(sw)
        )
        .replace("→  ", "→ "),
        None => format!("{shown} → (mute)"),
    };
    if expect.is_empty() {
        return (summary, None);
    }
    let mut reasons = Vec::new();
    for pattern in expect {
        match check(pattern, &response) {
            Ok(captures) => {
                vars.extend(captures);
                return (summary, None);
            }
            Err(why) => reasons.push(format!("{pattern}: {why}")),
        }
    }
    let failure = format!("unexpected response; {}", reasons.join("; "));
    (summary, Some(failure))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn pat(s: &str) -> Pattern {
        parse_pattern(s, 1).unwrap()
    }

    #[test]
    fn patterns_match_as_documented() {
        assert!(
            check(&pat("9000"), &[1, 2, 0x90, 0]).is_ok(),
            "SW only ignores data"
        );
        assert!(check(&pat("[] 9000"), &[1, 0x90, 0]).is_err());
        assert!(check(&pat("[] 9000"), &[0x90, 0]).is_ok());
        assert!(check(&pat("01 XX 9000"), &[1, 7, 0x90, 0]).is_ok());
        assert!(check(&pat("01 XX 9000"), &[1, 7, 8, 0x90, 0]).is_err());
        assert!(check(&pat("01*9000"), &[1, 7, 8, 0x90, 0]).is_ok());
        assert!(check(&pat("63CX"), &[0x63, 0xC2]).is_ok());
        assert!(check(&pat("63CX"), &[0x63, 0x02]).is_err());
        assert!(check(&pat("mute"), &[]).is_ok());
        assert!(check(&pat("9000"), &[]).is_err());
        let caps = check(&pat("$CH:2 * 9000"), &[5, 6, 7, 0x90, 0]).unwrap();
        assert_eq!(caps, vec![("CH".to_string(), vec![5, 6])]);
        let caps = check(&pat("01 $REST 9000"), &[1, 5, 6, 0x90, 0]).unwrap();
        assert_eq!(caps, vec![("REST".to_string(), vec![5, 6])]);
    }

    #[test]
    fn bad_patterns_are_refused_with_their_line() {
        for bad in ["90", "* 01 9000", "$A 01 9000", "[] 01 9000", "9G00", "900"] {
            assert!(parse_pattern(bad, 3).is_err(), "{bad:?} accepted");
        }
        let e = Script::parse("00A4\n0084000008 => 90 00 ZZ\n", None).unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn pboc_line_form_parses_unchanged() {
        let s = Script::parse(
            "# PBOC\n00A404000E315041592E5359532E4444463031 => 6F XX * 9000\n80CA9F7900 => 6A88\n",
            None,
        )
        .unwrap();
        assert_eq!(s.steps.len(), 2);
        assert_eq!(s.steps[1].line, 3);
    }

    #[test]
    fn scriptor_files_and_output_parse() {
        let text = "#!/usr/bin/env scriptor\n# comment\nreset\n00 A4 00 00 02 3F 00\n00 84 00 00 08\n\
                    > 00 84 00 00 08\n< 01 02 03 04 05 06 07 08 90 00 : Normal processing.\nexit\n";
        let s = Script::parse(text, None).unwrap();
        let actions: Vec<_> = s.steps.iter().map(|s| &s.action).collect();
        assert_eq!(actions[0], &Action::Reset);
        assert!(matches!(actions[1], Action::Apdu { expect, .. } if expect.is_empty()));
        assert!(matches!(actions[2], Action::Apdu { expect, .. } if expect.len() == 1));
        assert_eq!(actions[3], &Action::Exit);
        assert_eq!(
            s.steps.len(),
            4,
            "echoed input line merged with its `>` line"
        );
        assert_eq!(s.steps[2].line, 6);
    }

    #[test]
    fn directives_continuations_and_comments() {
        let s = Script::parse(
            "set $K = 0102 # a key\n0084 0000 \\\n  08 => $CH:8 9000\natr => 3B *\ncontactless\nprofile p.toml\n",
            Some(Path::new("dir/x.apdu")),
        )
        .unwrap();
        assert_eq!(s.profile, Some(PathBuf::from("dir/p.toml")));
        assert_eq!(s.steps[0].action, Action::Set("K".into(), vec![1, 2]));
        assert_eq!(s.steps[1].line, 2);
        assert!(matches!(&s.steps[1].action, Action::Apdu { command, .. }
            if command == &vec![Piece::Bytes(vec![0, 0x84, 0, 0, 8])]));
        assert!(Script::parse("frobnicate\n", None).is_err());
    }

    struct Fake {
        log: Vec<Vec<u8>>,
    }
    impl Target for Fake {
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, String> {
            self.log.push(apdu.to_vec());
            Ok(match apdu {
                [0, 0x84, ..] => vec![9, 8, 7, 6, 0x90, 0],
                _ => vec![0x6A, 0x82],
            })
        }
        fn reset(&mut self) -> Result<Vec<u8>, String> {
            Ok(vec![0x3B])
        }
        fn power_off(&mut self) -> Result<(), String> {
            Ok(())
        }
        fn power_on(&mut self) -> Result<Vec<u8>, String> {
            Ok(vec![0x3B])
        }
        fn set_interface(&mut self, _: Interface) -> Result<(), String> {
            Err("not here".into())
        }
        fn atr(&mut self) -> Result<Vec<u8>, String> {
            Ok(vec![0x3B, 0x00])
        }
    }

    #[test]
    fn captured_values_are_reused_and_failures_reported() {
        let s = Script::parse(
            "0084000004 => $CH:4 9000\n0082000008 $CH => 6A82\natr => 3B 01\n00A4 => 9000|6A83\n",
            None,
        )
        .unwrap();
        let mut fake = Fake { log: vec![] };
        let outcome = run(&s, &mut fake, true, &mut |_| {});
        assert_eq!(fake.log[1], [0, 0x82, 0, 0, 8, 9, 8, 7, 6]);
        let lines: Vec<usize> = outcome.failures.iter().map(|f| f.line).collect();
        assert_eq!(lines, [3, 4]);
        let stop = run(&s, &mut Fake { log: vec![] }, false, &mut |_| {});
        assert_eq!(stop.steps, 3);
    }
}
