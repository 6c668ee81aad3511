//! APDU scripts: the format of `vectors/**/*.apdu` (documented in `vectors/README.md`),
//! which also reads pcsc-tools `scriptor` files, and the runner that plays a script
//! against any [`CardLink`] — a card in this process, served to PC/SC or in a reader.
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
use crate::link::{CardLink, LinkError};
use nom::branch::alt;
use nom::bytes::complete::{tag, take_till, take_till1, take_until, take_while, take_while1};
use nom::character::complete::{anychar, char, digit1};
use nom::combinator::{
    consumed, eof, map_opt, map_parser, not, opt, recognize, rest, value, verify,
};
use nom::multi::{fold_many0, many0_count, separated_list1};
use nom::sequence::{delimited, preceded, separated_pair, terminated};
use nom::{IResult, Parser};
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

/// Why a script file cannot be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file cannot be read.
    Read {
        /// The script.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The script is not in the language (`vectors/README.md`).
    Parse {
        /// The script.
        path: PathBuf,
        /// The first mistake, with its line.
        error: ParseError,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            LoadError::Parse { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Read { error, .. } => Some(error),
            LoadError::Parse { error, .. } => Some(error),
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

// The grammar, as nom parsers over one logical line (comments stripped, continuations
// joined). Every mistake a user can make stops the parse as `Syntax::Bad` with its
// message; `Syntax::NoMatch` only steers `alt` and the repetitions.

/// Why a parser of the script grammar stopped.
#[derive(Debug)]
enum Syntax {
    /// Nothing here matched (nom's own errors, which `alt` backtracks from): the first
    /// character left, if any.
    NoMatch(Option<char>),
    /// A mistake, reported as it is; no alternative is tried after it.
    Bad(String),
}

impl nom::error::ParseError<&str> for Syntax {
    fn from_error_kind(input: &str, _: nom::error::ErrorKind) -> Self {
        Syntax::NoMatch(input.chars().next())
    }

    fn append(_: &str, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// What the parsers of the grammar return.
type Parsed<'a, T> = IResult<&'a str, T, Syntax>;

/// Stops the parse with `message`.
fn bad<'a, T>(message: impl Into<String>) -> Parsed<'a, T> {
    Err(nom::Err::Failure(Syntax::Bad(message.into())))
}

/// `parser`, or the mistake `message` where it does not match.
fn or_bad<'a, T>(
    mut parser: impl Parser<&'a str, Output = T, Error = Syntax>,
    message: impl Fn() -> String,
) -> impl FnMut(&'a str) -> Parsed<'a, T> {
    move |input| match parser.parse(input) {
        Err(nom::Err::Error(_)) => bad(message()),
        other => other,
    }
}

/// Runs `parser` on `text`; its mistake, if any, is an error at `line`.
fn parse_all<'a, T>(
    mut parser: impl Parser<&'a str, Output = T, Error = Syntax>,
    text: &'a str,
    line: usize,
) -> Result<T, ParseError> {
    let syntax = match parser.parse(text) {
        Ok((_, value)) => return Ok(value),
        Err(nom::Err::Error(syntax) | nom::Err::Failure(syntax)) => syntax,
        // Complete parsers never ask for more input.
        Err(nom::Err::Incomplete(_)) => Syntax::NoMatch(None),
    };
    let message = match syntax {
        Syntax::Bad(message) => message,
        Syntax::NoMatch(found) => unexpected(found),
    };
    Err(ParseError { line, message })
}

/// The mistake of a character nothing expects (`None`: the end of the line).
fn unexpected(found: Option<char>) -> String {
    match found {
        Some(c) => format!("unexpected {c:?}"),
        None => "unexpected end of line".into(),
    }
}

/// Whitespace, any amount (Unicode's, as `str::trim` sees it).
fn blank(input: &str) -> Parsed<'_, &str> {
    take_while(char::is_whitespace).parse(input)
}

/// The end of the text, or the mistake of the character found there.
fn end(input: &str) -> Parsed<'_, ()> {
    if input.is_empty() {
        Ok((input, ()))
    } else {
        bad(unexpected(input.chars().next()))
    }
}

/// A word (up to whitespace) that is one of `names`, ASCII case ignored: `RESET` is `reset`.
fn keyword<'a>(
    names: &'static [&'static str],
) -> impl Parser<&'a str, Output = &'a str, Error = Syntax> {
    verify(take_till1(char::is_whitespace), move |word: &str| {
        names.iter().any(|name| word.eq_ignore_ascii_case(name))
    })
}

/// One nibble of a byte: a hex digit, or `X` for any (value and mask, 4 bits each).
fn nibble(input: &str) -> Parsed<'_, (u8, u8)> {
    map_opt(anychar, |c| match c {
        'X' | 'x' => Some((0, 0)),
        _ => c
            .to_digit(16)
            .and_then(|digit| u8::try_from(digit).ok())
            .map(|digit| (digit, 0xF)),
    })
    .parse(input)
}

/// Two nibbles, whitespace allowed between them too.
fn byte(input: &str) -> Parsed<'_, MaskedByte> {
    let (rest, (high, high_mask)) = terminated(nibble, blank).parse(input)?;
    match nibble(rest) {
        Ok((rest, (low, low_mask))) => Ok((
            rest,
            MaskedByte {
                value: high << 4 | low,
                mask: high_mask << 4 | low_mask,
            },
        )),
        Err(_) => bad(match rest.chars().next() {
            Some(c) => format!("odd number of hex digits before {c:?}"),
            None => "odd number of hex digits".into(),
        }),
    }
}

/// `$NAME:N` (N bytes) or `$NAME` (the rest).
fn capture(input: &str) -> Parsed<'_, Item> {
    let (rest, name) = preceded(
        char('$'),
        or_bad(take_while1(is_name_char), || {
            "`$` must be followed by a variable name".into()
        }),
    )
    .parse(input)?;
    let length = map_opt(digit1, |digits: &str| digits.parse().ok());
    let (rest, len) = opt(preceded(
        char(':'),
        or_bad(length, || format!("${name}: length after `:` expected")),
    ))
    .parse(rest)?;
    Ok((rest, Item::Capture(name.to_string(), len)))
}

/// What a byte-pattern text holds.
#[derive(Debug, Default)]
struct Tokens {
    /// Bytes, `*` and captures, in order.
    items: Vec<Item>,
    /// Whether `[]` (no data) was written.
    no_data: bool,
}

/// Hex with `X` wildcard nibbles, `*`, `$NAME[:N]` and `[]`, to the end of the text.
/// Whitespace separates nothing: `6F1C 84 0F` and `6F 1C840F` are the same bytes.
fn tokens(input: &str) -> Parsed<'_, Tokens> {
    let item = alt((
        byte.map(Item::Byte),
        value(Item::AnyTail, char('*')),
        capture,
    ));
    let token = alt((item.map(Some), value(None, tag("[]"))));
    let all = fold_many0(
        terminated(token, blank),
        Tokens::default,
        |mut found, token| {
            match token {
                Some(item) => found.items.push(item),
                None => found.no_data = true,
            }
            found
        },
    );
    terminated(preceded(blank, all), end).parse(input)
}

/// An expected response: `mute`, or data items then SW1 SW2.
fn pattern(input: &str) -> Parsed<'_, Pattern> {
    let mute = value(Pattern::Mute, (blank, keyword(&["mute"]), blank, eof));
    alt((mute, response)).parse(input)
}

/// Data items then SW1 SW2.
fn response(input: &str) -> Parsed<'_, Pattern> {
    let (rest, Tokens { mut items, no_data }) = tokens(input)?;
    let sw2 = items.pop();
    let sw1 = items.pop();
    let sw = match (sw1, sw2) {
        (Some(Item::Byte(a)), Some(Item::Byte(b))) => [a, b],
        _ => {
            return bad(format!(
                "expected response {input:?} must end with a status word (4 hex digits)"
            ));
        }
    };
    if no_data && !items.is_empty() {
        return bad("`[]` (no data) cannot be combined with data");
    }
    // Only `*` / `$NAME` without length may end the data; nothing may follow them.
    let open_tail = |i: &Item| matches!(i, Item::AnyTail | Item::Capture(_, None));
    if let Some(pos) = items.iter().position(open_tail)
        && pos + 1 != items.len()
    {
        return bad("`*` and `$NAME` without length must be the last data item");
    }
    let data = if items.is_empty() && !no_data {
        None
    } else {
        Some(items)
    };
    Ok((rest, Pattern::Response { data, sw }))
}

/// A command: plain bytes and `$NAME` variables.
fn command(input: &str) -> Parsed<'_, Vec<Piece>> {
    let (rest, Tokens { items, no_data }) = tokens(input)?;
    if no_data {
        return bad("`[]` only belongs in expected responses");
    }
    let mut pieces: Vec<Piece> = Vec::new();
    for item in items {
        match item {
            Item::Byte(b) if b.mask == 0xFF => match pieces.last_mut() {
                Some(Piece::Bytes(v)) => v.push(b.value),
                _ => pieces.push(Piece::Bytes(vec![b.value])),
            },
            Item::Byte(_) => return bad("wildcards only belong in expected responses"),
            Item::AnyTail => return bad("`*` only belongs in expected responses"),
            Item::Capture(name, None) => pieces.push(Piece::Var(name)),
            Item::Capture(..) => return bad("`$NAME:N` only belongs in expected responses"),
        }
    }
    if pieces.is_empty() {
        return bad("empty command");
    }
    Ok((rest, pieces))
}

/// What one logical line says.
enum Line<'a> {
    /// A step.
    Step(Action),
    /// `profile FILE`.
    Profile(&'a str),
    /// scriptor output: `> command`.
    ScriptorCommand(Vec<Piece>),
    /// scriptor output: `< response : text` (its text may continue on the next lines).
    ScriptorResponse(&'a str),
}

/// A logical line, trimmed and not empty.
fn script_line(input: &str) -> Parsed<'_, Line<'_>> {
    alt((
        preceded(char('<'), rest).map(Line::ScriptorResponse),
        preceded(char('>'), command).map(Line::ScriptorCommand),
        directive,
        apdu.map(Line::Step),
    ))
    .parse(input)
}

/// A directive: power and interface words, `exit`, `atr => PATTERN`, `set $NAME = HEX`,
/// `profile FILE`. After its word, a directive's mistakes are its own: the line is not
/// tried as a command.
fn directive(input: &str) -> Parsed<'_, Line<'_>> {
    let atr = or_bad(preceded(tag("=>"), tokens), || {
        "expected `atr => PATTERN`".into()
    })
    .map(|pattern| Line::Step(Action::Atr(pattern.items)));
    let profile = or_bad(verify(rest, |file: &str| !file.is_empty()), || {
        "`profile` needs a file".into()
    })
    .map(Line::Profile);
    alt((
        no_argument,
        preceded((keyword(&["atr"]), blank), atr),
        preceded((keyword(&["set"]), blank), set),
        preceded((keyword(&["profile"]), blank), profile),
    ))
    .parse(input)
}

/// A directive that takes no argument.
fn no_argument(input: &str) -> Parsed<'_, Line<'_>> {
    let (rest, (word, action)) = consumed(alt((
        value(Action::Reset, keyword(&["reset"])),
        value(Action::PowerOff, keyword(&["power-off", "poweroff", "off"])),
        value(Action::PowerOn, keyword(&["power-on", "poweron", "on"])),
        value(Action::Interface(Interface::Contact), keyword(&["contact"])),
        value(
            Action::Interface(Interface::Contactless),
            keyword(&["contactless"]),
        ),
        value(Action::Exit, keyword(&["exit", "quit"])),
    )))
    .parse(input)?;
    let (rest, _) = blank(rest)?;
    if !rest.is_empty() {
        return bad(format!("`{word}` takes no argument"));
    }
    Ok((rest, Line::Step(action)))
}

/// `$NAME = HEX`, after `set`.
fn set(input: &str) -> Parsed<'_, Line<'_>> {
    let name = delimited(char('$'), take_while1(is_name_char), (blank, char('=')));
    let (hex, name) = or_bad(name, || "expected `set $NAME = HEX`".into()).parse(input)?;
    let (rest, pieces) = command(hex)?;
    match pieces.as_slice() {
        [Piece::Bytes(bytes)] => Ok((rest, Line::Step(Action::Set(name.into(), bytes.clone())))),
        _ => bad("`set` takes plain hex"),
    }
}

/// `COMMAND [=> EXPECTED [| EXPECTED …]]`. The expected responses are read first, so
/// their mistakes are reported before a misspelt directive.
fn apdu(input: &str) -> Parsed<'_, Action> {
    let alternatives = separated_list1(char('|'), map_parser(take_till(|c| c == '|'), pattern));
    let (after, (command_text, expect)) = alt((
        separated_pair(take_until("=>"), tag("=>"), alternatives),
        rest.map(|text| (text, Vec::new())),
    ))
    .parse(input)?;
    // The first word is hex (or a variable), else the line was meant as a directive.
    let hex_word = take_while(|c: char| c.is_ascii_hexdigit() || c == '$');
    let word_end = alt((eof, take_while1(char::is_whitespace)));
    if (blank, hex_word, word_end).parse(command_text).is_err() {
        let (_, word) = take_till(char::is_whitespace).parse(input)?;
        return bad(format!("unknown directive or bad hex: {word:?}"));
    }
    let (_, command) = command(command_text)?;
    Ok((after, Action::Apdu { command, expect }))
}

/// A physical line without its comment: `#` starts one at the line start or after
/// whitespace (`00A4#1` has none). Trailing whitespace goes too.
fn uncommented(line: &str) -> &str {
    let word = preceded(not(char('#')), take_till1(char::is_whitespace));
    let kept: Parsed<'_, &str> = recognize(many0_count((blank, word))).parse(line);
    kept.map_or(line, |(_, kept)| kept)
}

/// The logical lines of a script: comments stripped, lines ending in `\` joined with the
/// next, trimmed, empty ones left out; each with its first line's number. The second
/// value is the first line of a continuation still open at the end of the text.
fn logical_lines(text: &str) -> (Vec<(usize, String)>, Option<usize>) {
    let mut lines = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let content = uncommented(raw).trim();
        let (start, joined) = match pending.take() {
            Some((start, mut acc)) => {
                acc.push(' ');
                acc.push_str(content);
                (start, acc)
            }
            None => (index + 1, content.to_string()),
        };
        if let Some(continued) = joined.strip_suffix('\\') {
            pending = Some((start, continued.to_string()));
            continue;
        }
        let joined = joined.trim();
        if !joined.is_empty() {
            lines.push((start, joined.to_string()));
        }
    }
    (lines, pending.map(|(start, _)| start))
}

/// The bytes of a scriptor response (`90 00 : Normal processing.`), once its ` : text`
/// has come.
fn scriptor_bytes(response: &str) -> Option<&str> {
    let bytes: Parsed<'_, &str> = take_until(" : ").parse(response);
    bytes.ok().map(|(_, bytes)| bytes)
}

/// An expected response, its mistakes reported at `line`.
fn parse_pattern(text: &str, line: usize) -> Result<Pattern, ParseError> {
    parse_all(pattern, text, line)
}

impl Script {
    /// Parses a script; `path` resolves the `profile` directive and names the script in
    /// messages.
    pub fn parse(text: &str, path: Option<&Path>) -> Result<Script, ParseError> {
        let mut script = Script {
            path: path.map(Path::to_path_buf),
            ..Script::default()
        };
        let (lines, open_continuation) = logical_lines(text);
        // scriptor output: a `> command` waits for its `< response` line.
        let mut scriptor_command: Option<(usize, Vec<Piece>)> = None;
        let mut open_response: Option<(usize, Vec<Piece>, String)> = None;
        for (start, text) in lines {
            // scriptor wraps long responses: `<` lines run until one ends in ` : text`.
            if let Some((line, command, mut response)) = open_response.take() {
                response.push(' ');
                response.push_str(&text);
                open_response = script.scriptor_response(line, command, response)?;
                continue;
            }
            let parsed = parse_all(script_line, &text, start)?;
            // A `>` command without its `<` response before another line: only recorded.
            if !matches!(parsed, Line::ScriptorResponse(_))
                && let Some((line, command)) = scriptor_command.take()
            {
                script.push_unchecked(line, command);
            }
            match parsed {
                Line::Step(action) => script.steps.push(Step {
                    line: start,
                    action,
                }),
                Line::Profile(file) => {
                    let dir = path.and_then(Path::parent).unwrap_or(Path::new(""));
                    script.profile = Some(dir.join(file));
                }
                Line::ScriptorCommand(command) => {
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
                }
                Line::ScriptorResponse(response) => {
                    let Some((line, command)) = scriptor_command.take() else {
                        return Err(ParseError {
                            line: start,
                            message: "`<` response without a `>` command before it".into(),
                        });
                    };
                    open_response = script.scriptor_response(line, command, response.into())?;
                }
            }
        }
        if let Some(line) = open_continuation {
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
            script.push_unchecked(line, command);
        }
        Ok(script)
    }

    /// A command whose response is only recorded.
    fn push_unchecked(&mut self, line: usize, command: Vec<Piece>) {
        self.steps.push(Step {
            line,
            action: Action::Apdu {
                command,
                expect: vec![],
            },
        });
    }

    /// A scriptor response: a step once it has its ` : text` tail, else still open.
    fn scriptor_response(
        &mut self,
        line: usize,
        command: Vec<Piece>,
        response: String,
    ) -> Result<Option<(usize, Vec<Piece>, String)>, ParseError> {
        let Some(bytes) = scriptor_bytes(&response) else {
            return Ok(Some((line, command, response)));
        };
        let expect = vec![parse_pattern(bytes, line)?];
        self.steps.push(Step {
            line,
            action: Action::Apdu { command, expect },
        });
        Ok(None)
    }

    /// Reads and parses a script file.
    pub fn load(path: &Path) -> Result<Script, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|error| LoadError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Script::parse(&text, Some(path)).map_err(|error| LoadError::Parse {
            path: path.to_path_buf(),
            error,
        })
    }

    /// How scripts are named in messages.
    pub fn name(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "script".to_string(), |p| p.display().to_string())
    }
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

/// Why a response does not match a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mismatch {
    /// The pattern is `mute`, the card answered.
    ExpectedMute,
    /// The card did not answer.
    CardMute,
    /// Another status word.
    StatusWord {
        /// What the card answered.
        actual: u16,
        /// The pattern's SW1 SW2 (`63CX` style).
        expected: String,
    },
    /// The data differ: where and how.
    Data(String),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::ExpectedMute => f.write_str("expected no response"),
            Mismatch::CardMute => f.write_str("card mute"),
            Mismatch::StatusWord { actual, expected } => {
                write!(f, "SW {actual:04X}, expected {expected}")
            }
            Mismatch::Data(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Mismatch {}

/// Checks `response` against `pattern`; on success returns the captures.
pub fn check(pattern: &Pattern, response: &[u8]) -> Result<Vec<(String, Vec<u8>)>, Mismatch> {
    let mut captures = Vec::new();
    match pattern {
        Pattern::Mute if response.is_empty() => Ok(captures),
        Pattern::Mute => Err(Mismatch::ExpectedMute),
        Pattern::Response { data, sw } => {
            let (body, Some(actual)) = split_response(response) else {
                return Err(Mismatch::CardMute);
            };
            let [a, b] = actual.to_be_bytes();
            if !(sw[0].matches(a) && sw[1].matches(b)) {
                return Err(Mismatch::StatusWord {
                    actual,
                    expected: format!("{}{}", sw[0], sw[1]),
                });
            }
            if let Some(items) = data {
                match_items(items, body, &mut captures).map_err(Mismatch::Data)?;
            }
            Ok(captures)
        }
    }
}

/// Runs `script` on `target`. `keep_going`: run every step even after a failure (a
/// conformance report); otherwise stop at the first. `progress` sees every step.
pub fn run(
    script: &Script,
    target: &mut dyn CardLink,
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
                Err(e) => ("atr".to_string(), Some(e.to_string())),
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

fn power_step(name: &str, result: Result<String, LinkError>) -> (String, Option<String>) {
    match result {
        Ok(atr) if atr.is_empty() => (name.to_string(), None),
        Ok(atr) => (format!("{name}: ATR {atr}"), None),
        Err(e) => (name.to_string(), Some(e.to_string())),
    }
}

fn apdu_step(
    command: &[Piece],
    expect: &[Pattern],
    target: &mut dyn CardLink,
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
        Err(e) => return (shown, Some(e.to_string())),
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

    fn byte(value: u8, mask: u8) -> MaskedByte {
        MaskedByte { value, mask }
    }

    fn only_step(text: &str) -> Action {
        let script = Script::parse(text, None).unwrap();
        assert_eq!(script.steps.len(), 1, "{text:?}");
        script.steps[0].action.clone()
    }

    #[test]
    fn grammar_corner_cases() {
        let exact = |v| Item::Byte(byte(v, 0xFF));
        // Whitespace separates nothing, even inside a byte; `X`/`x` is any nibble.
        assert_eq!(pat(" 6 1 1 8 "), pat("6118"));
        assert_eq!(
            pat("6cXx 63cx"),
            Pattern::Response {
                data: Some(vec![exact(0x6C), Item::Byte(byte(0, 0))]),
                sw: [byte(0x63, 0xFF), byte(0xC0, 0xF0)],
            }
        );
        assert_eq!(
            pat("01 * 9000"),
            Pattern::Response {
                data: Some(vec![exact(1), Item::AnyTail]),
                sw: [byte(0x90, 0xFF), byte(0, 0xFF)],
            }
        );
        let Pattern::Response { data, .. } = pat("$CH:8 01$REST_2 9000") else {
            panic!("not a response")
        };
        assert_eq!(
            data,
            Some(vec![
                Item::Capture("CH".into(), Some(8)),
                exact(1),
                Item::Capture("REST_2".into(), None)
            ])
        );
        assert_eq!(pat(" MUTE "), Pattern::Mute);
        assert!(matches!(pat("[] 9000"), Pattern::Response { data: Some(d), .. } if d.is_empty()));
        assert!(matches!(pat("9000"), Pattern::Response { data: None, .. }));

        // Alternatives, a comment after the step, `#` inside a word is no comment.
        let Action::Apdu { command, expect } = only_step("00A4 $CH => 9000 |6A82|mute # note")
        else {
            panic!("not a command")
        };
        assert_eq!(
            command,
            [Piece::Bytes(vec![0, 0xA4]), Piece::Var("CH".into())]
        );
        assert_eq!(expect.len(), 3);
        assert_eq!(expect[2], Pattern::Mute);
        assert!(Script::parse("00A4#1 => 9000\n", None).is_err());
        assert_eq!(
            only_step("# only a comment\n\tReset\t# warm\n"),
            Action::Reset
        );
        assert_eq!(
            only_step("set $K_1 =01 02"),
            Action::Set("K_1".into(), vec![1, 2])
        );
        assert_eq!(
            only_step("ATR => 3B *"),
            Action::Atr(vec![exact(0x3B), Item::AnyTail])
        );
    }

    #[test]
    fn mistakes_are_reported_at_their_line() {
        #[rustfmt::skip]
        let cases: &[(&str, usize, &str)] = &[
            ("reset\n00A4 => 9000 junk\n", 2, "unexpected 'j'"),
            ("00A4 => 9\n", 1, "odd number of hex digits"),
            ("00A4 => 90 0G\n", 1, "odd number of hex digits before 'G'"),
            ("00A4 $ => 9000", 1, "`$` must be followed by a variable name"),
            ("00A4 => $CH: 9000", 1, "$CH: length after `:` expected"),
            ("00A4 => 01 * 02 9000", 1, "`*` and `$NAME` without length must be the last data item"),
            ("00A4 => [] 01 9000", 1, "`[]` (no data) cannot be combined with data"),
            ("00A4 => 01", 1, "expected response \" 01\" must end with a status word (4 hex digits)"),
            ("00AX => 9000", 1, "unknown directive or bad hex: \"00AX\""),
            ("00 A4 XX", 1, "wildcards only belong in expected responses"),
            ("00A4 * => 9000", 1, "`*` only belongs in expected responses"),
            ("00A4 $CH:2", 1, "`$NAME:N` only belongs in expected responses"),
            ("00A4 []", 1, "`[]` only belongs in expected responses"),
            ("=> 9000", 1, "empty command"),
            ("\nreset now", 2, "`reset` takes no argument"),
            ("atr 3B", 1, "expected `atr => PATTERN`"),
            ("set K = 01", 1, "expected `set $NAME = HEX`"),
            ("set $K = $J", 1, "`set` takes plain hex"),
            ("profile", 1, "`profile` needs a file"),
            ("< 90 00 : ok", 1, "`<` response without a `>` command before it"),
            ("reset\n00A4 \\", 2, "line continued with `\\` at the end of the script"),
            ("> 00A4\n< 90 00", 1, "scriptor response `<` never ends with ` : text`"),
            ("reset\n00A4 \\\n  => 90 0G\n", 2, "odd number of hex digits before 'G'"),
            ("frobnicate", 1, "unknown directive or bad hex: \"frobnicate\""),
            ("atr=>9000", 1, "unknown directive or bad hex: \"atr=>9000\""),
        ];
        for &(text, line, message) in cases {
            let e = Script::parse(text, None).unwrap_err();
            assert_eq!((e.line, e.message.as_str()), (line, message), "{text:?}");
        }
    }

    struct Fake {
        log: Vec<Vec<u8>>,
    }
    impl CardLink for Fake {
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
            self.log.push(apdu.to_vec());
            Ok(match apdu {
                [0, 0x84, ..] => vec![9, 8, 7, 6, 0x90, 0],
                _ => vec![0x6A, 0x82],
            })
        }
        fn reset(&mut self) -> Result<Vec<u8>, LinkError> {
            Ok(vec![0x3B])
        }
        fn power_off(&mut self) -> Result<(), LinkError> {
            Ok(())
        }
        fn power_on(&mut self) -> Result<Vec<u8>, LinkError> {
            Ok(vec![0x3B])
        }
        fn set_interface(&mut self, _: Interface) -> Result<(), LinkError> {
            Err(LinkError::Unsupported("not here"))
        }
        fn atr(&mut self) -> Result<Vec<u8>, LinkError> {
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
