//! Tag-length-value encodings used by the card: BER-TLV, simple-TLV and data object lists.
//!
//! # BER-TLV (ISO/IEC 7816-4 §5.2, EMV Book 3 Annex B, after ISO/IEC 8825-1)
//!
//! A data object is `tag | length | value`.
//!
//! * **Tag**, 1–3 bytes. Bits 8–7 of the first byte are the class, bit 6 is set
//!   for a *constructed* object (its value is itself a sequence of BER-TLVs).
//!   If bits 5–1 of the first byte are all set, more tag bytes follow; every
//!   following byte with bit 8 set announces one more. `00` and `FF` are not
//!   tags (ISO 7816-4 and EMV use them as padding).
//! * **Length**, 1–4 bytes: `00`–`7F` is the length itself; `81 xx`,
//!   `82 xx xx` and `83 xx xx xx` give it in the following bytes.
//! * **Value**, exactly `length` bytes.
//!
//! # Simple-TLV (ISO/IEC 7816-4 §5.2.1)
//!
//! `tag(1) | length | value` where the length is one byte `00`–`FE`, or `FF`
//! followed by two bytes. Tags `00` and `FF` are invalid. The records of the
//! social-security card's elementary files use this format.
//!
//! # Data object lists (EMV Book 3 §5.4)
//!
//! PDOL, CDOL1, CDOL2 and DDOL are concatenated `(BER tag, one-byte length)`
//! pairs naming the values the terminal must send, without the values.
//!
//! # Contract
//!
//! Every parser here is total: on any input it returns either a value or a
//! [`TlvError`] naming the broken rule; it never panics and never reads past
//! its input. A child TLV is bounded by its parent's value field, so a child
//! whose header or value would run past the parent's end is rejected with
//! [`TlvError::Overrun`] rather than read from the bytes that follow the
//! parent. Length encodings that are indefinite, longer than 3 length bytes or
//! not minimal (`81 05`, `82 00 FF`) are rejected, so every accepted object has
//! exactly one encoding and the writer reproduces it byte for byte.
//! Nesting is capped at [`MAX_DEPTH`] levels, which bounds the recursion of
//! [`find`] and [`validate`].

use crate::apdu::Writer;
use core::fmt;
use core::iter::FusedIterator;

use nom::Parser;
use nom::combinator::verify;

/// Deepest nesting level [`find`] and [`validate`] descend to; top-level objects are level 1.
pub const MAX_DEPTH: usize = 8;

/// Largest value [`BerWriter`] encodes: 3 length bytes (`82 xx xx`) are the most it emits.
const MAX_WRITTEN_LEN: usize = 0xFFFF;

/// Largest value a simple-TLV length field (`FF xx xx`) can state.
const MAX_SIMPLE_LEN: usize = 0xFFFF;

/// First length byte of a simple-TLV whose length follows in two bytes.
const SIMPLE_LONG_LENGTH: u8 = 0xFF;

/// Why a TLV could not be read or written. Each variant names the broken rule.
///
/// Running out of bytes is reported as [`Truncated`](Self::Truncated) when the
/// caller's input ends early (more bytes could complete it) and as
/// [`Overrun`](Self::Overrun) when an object runs past the parent that
/// encloses it (the lengths contradict each other; no more bytes can fix it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlvError {
    /// The input ends inside a tag, length or value.
    Truncated,
    /// The tag is not a valid 1–3 byte tag: it is `00`/`FF`, runs longer than
    /// 3 bytes, or its tag number has a leading zero group (`xF 80 ..`).
    BadTag,
    /// The length is indefinite (`80`), uses more than 3 length bytes (`84`..),
    /// is not minimally encoded (`81 05`, `82 00 FF`), is too large to write,
    /// or disagrees with the size of a record that must hold exactly one object.
    BadLength,
    /// An object's declared length runs past the end of its parent, or is too
    /// large to address on this target.
    Overrun,
    /// Constructed objects nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// The output buffer is too small.
    BufferFull,
    /// Children were requested of a primitive object.
    NotConstructed,
}

impl fmt::Display for TlvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Truncated => "input ends inside a TLV",
            Self::BadTag => "invalid TLV tag",
            Self::BadLength => "invalid or non-minimal TLV length",
            Self::Overrun => "TLV runs past the end of its parent",
            Self::TooDeep => "TLV nesting too deep",
            Self::BufferFull => "TLV output buffer full",
            Self::NotConstructed => "TLV is primitive and has no children",
        };
        f.write_str(text)
    }
}

impl core::error::Error for TlvError {}

/// A BER tag of 1–3 bytes, held as its big-endian value: `Tag(0x6F)`,
/// `Tag(0x9F10)`, `Tag(0xBF0C)`, `Tag(0xDF8101)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u32);

impl Tag {
    /// The leading byte of the encoding, which carries class and form.
    fn first_byte(self) -> u8 {
        self.0
            .to_be_bytes()
            .into_iter()
            .find(|&byte| byte != 0)
            .unwrap_or(0)
    }

    /// Whether the value of an object with this tag is a sequence of BER-TLVs (bit 6 of the first byte).
    pub fn is_constructed(self) -> bool {
        self.first_byte() & 0x20 != 0
    }

    /// The class, bits 8–7 of the first byte: 0 universal, 1 application,
    /// 2 context-specific, 3 private.
    pub fn class(self) -> u8 {
        self.first_byte() >> 6
    }

    /// Number of bytes in the encoding of this tag (its significant bytes, at least 1).
    pub fn encoded_len(self) -> usize {
        let significant_bits = 32 - self.0.leading_zeros() as usize;
        significant_bits.div_ceil(8).max(1)
    }

    /// Whether this value is the encoding of a valid 1–3 byte tag.
    pub fn is_valid(self) -> bool {
        self.encode().is_ok()
    }

    /// Writes the tag bytes to the start of `out` and returns how many were written.
    pub fn write_to(self, out: &mut [u8]) -> Result<usize, TlvError> {
        let encoded = self.encode()?;
        let bytes = encoded.as_bytes();
        out.get_mut(..bytes.len())
            .ok_or(TlvError::BufferFull)?
            .copy_from_slice(bytes);
        Ok(bytes.len())
    }

    /// The tag's bytes, after checking that the parser reads exactly this tag back.
    fn encode(self) -> Result<ShortBytes, TlvError> {
        let [beyond_three, b1, b2, b3] = self.0.to_be_bytes();
        if beyond_three != 0 {
            return Err(TlvError::BadTag);
        }
        let encoded = ShortBytes::tail([b1, b2, b3], self.encoded_len());
        match read_tag(encoded.as_bytes()) {
            Ok((tag, used)) if tag == self && used == encoded.len => Ok(encoded),
            _ => Err(TlvError::BadTag),
        }
    }
}

/// Up to 3 bytes of a tag or length encoding, kept without allocation.
#[derive(Debug, Clone, Copy)]
struct ShortBytes {
    bytes: [u8; 3],
    len: usize,
}

impl ShortBytes {
    /// The last `len` bytes of `bytes`.
    fn tail(mut bytes: [u8; 3], len: usize) -> Self {
        let len = len.min(3);
        bytes.rotate_left(3 - len);
        Self { bytes, len }
    }

    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// What the nom parsers of this module return: the rest of the input and the value, or
/// the rule the input broke.
type Parsed<'a, T> = nom::IResult<&'a [u8], T, Broken>;

/// The error of the nom parsers: the broken rule, as a [`TlvError`]. Kept private so nom
/// stays out of this module's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Broken(TlvError);

impl nom::error::ParseError<&[u8]> for Broken {
    fn from_error_kind(_: &[u8], kind: nom::error::ErrorKind) -> Self {
        // `byte` reports a missing byte itself; the error nom makes here is `verify`
        // refusing a tag byte. `Eof` would be a nom primitive running out of input.
        Broken(match kind {
            nom::error::ErrorKind::Eof => TlvError::Truncated,
            _ => TlvError::BadTag,
        })
    }

    fn append(_: &[u8], _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// Runs a parser of this module on `input`, with its error as a [`TlvError`].
fn run<'a, T>(
    mut parser: impl Parser<&'a [u8], Output = T, Error = Broken>,
    input: &'a [u8],
) -> Result<(T, &'a [u8]), TlvError> {
    match parser.parse_complete(input) {
        Ok((rest, value)) => Ok((value, rest)),
        Err(nom::Err::Error(Broken(error)) | nom::Err::Failure(Broken(error))) => Err(error),
        // Complete parsers never ask for more input; if one did, the input was short.
        Err(nom::Err::Incomplete(_)) => Err(TlvError::Truncated),
    }
}

/// One byte, or [`TlvError::Truncated`]. nom's `be_u8` does the same but calls nom's
/// `take_from`, which is not inlined across crates: that call alone made DOL parsing
/// several times slower (benches/tlv.rs).
fn byte(input: &[u8]) -> Parsed<'_, u8> {
    match input.split_first() {
        Some((&first, rest)) => Ok((rest, first)),
        None => Err(nom::Err::Error(Broken(TlvError::Truncated))),
    }
}

/// A BER tag (EMV Book 3 Annex B1, ISO/IEC 8825-1 §8.1.2): a first byte that is not
/// the padding `00`/`FF`; if its tag-number bits 5–1 are all set, subsequent bytes
/// follow, bit 8 set on each but the last, three bytes in all at most (EMV allows 1–3).
/// The first subsequent byte may not be `80`: a zero group ahead of the tag number would
/// be a second encoding of a shorter tag.
fn ber_tag(input: &[u8]) -> Parsed<'_, Tag> {
    let (rest, first) = verify(byte, |&b| b != 0x00 && b != 0xFF).parse_complete(input)?;
    if first & 0x1F != 0x1F {
        return Ok((rest, Tag(u32::from(first))));
    }
    let (rest, second) = verify(byte, |&b| b != 0x80).parse_complete(rest)?;
    if second & 0x80 == 0 {
        return Ok((rest, Tag(u32::from_be_bytes([0, 0, first, second]))));
    }
    // A third byte is the last a tag may have: it must end the tag.
    let (rest, third) = verify(byte, |&b| b & 0x80 == 0).parse_complete(rest)?;
    Ok((rest, Tag(u32::from_be_bytes([0, first, second, third]))))
}

/// Reads a tag from the start of `input`; returns it and the bytes it used.
fn read_tag(input: &[u8]) -> Result<(Tag, usize), TlvError> {
    let (tag, rest) = run(ber_tag, input)?;
    Ok((tag, input.len() - rest.len()))
}

/// Reads a definite, minimally encoded BER length; returns it and the bytes it used.
fn read_length(input: &[u8]) -> Result<(usize, usize), TlvError> {
    let first = *input.first().ok_or(TlvError::Truncated)?;
    if first < 0x80 {
        return Ok((usize::from(first), 1));
    }
    let count = usize::from(first & 0x7F);
    // 0 is the indefinite form, which needs end-of-contents markers we do not accept.
    if !(1..=3).contains(&count) {
        return Err(TlvError::BadLength);
    }
    let digits = input.get(1..=count).ok_or(TlvError::Truncated)?;
    let value = digits
        .iter()
        .fold(0u32, |acc, &digit| (acc << 8) | u32::from(digit));
    let minimal = match digits {
        [single] => *single >= 0x80,
        [leading, ..] => *leading != 0,
        [] => false,
    };
    if !minimal {
        return Err(TlvError::BadLength);
    }
    let value = usize::try_from(value).map_err(|_| TlvError::Overrun)?;
    Ok((value, 1 + count))
}

/// Encodes `len` in the shortest BER length form.
fn encode_length(len: usize) -> Result<ShortBytes, TlvError> {
    let [.., high, low] = len.to_be_bytes();
    match len {
        0..=0x7F => Ok(ShortBytes::tail([0, 0, low], 1)),
        0x80..=0xFF => Ok(ShortBytes::tail([0, 0x81, low], 2)),
        0x100..=MAX_WRITTEN_LEN => Ok(ShortBytes::tail([0x82, high, low], 3)),
        _ => Err(TlvError::BadLength),
    }
}

/// Reads one BER-TLV from the start of `input`; returns it and the bytes after it.
///
/// `shortfall` is the error for running out of bytes: [`TlvError::Truncated`]
/// at top level, [`TlvError::Overrun`] inside a parent.
fn read_tlv(input: &[u8], shortfall: TlvError) -> Result<(BerTlv<'_>, &[u8]), TlvError> {
    let ran_out = |error| match error {
        TlvError::Truncated => shortfall,
        other => other,
    };
    let (tag, tag_len) = read_tag(input).map_err(ran_out)?;
    let after_tag = input.get(tag_len..).ok_or(shortfall)?;
    let (value_len, length_len) = read_length(after_tag).map_err(ran_out)?;
    let header_len = tag_len + length_len;
    let total = header_len.checked_add(value_len).ok_or(shortfall)?;
    let (raw, rest) = input.split_at_checked(total).ok_or(shortfall)?;
    let value = raw.get(header_len..).ok_or(shortfall)?;
    Ok((BerTlv { tag, value, raw }, rest))
}

/// One BER-TLV data object, borrowing its bytes from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BerTlv<'a> {
    tag: Tag,
    value: &'a [u8],
    raw: &'a [u8],
}

impl<'a> BerTlv<'a> {
    /// The tag.
    pub fn tag(&self) -> Tag {
        self.tag
    }

    /// The value field.
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    /// The whole object: tag, length and value.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The objects inside a constructed object, bounded by this object's value.
    pub fn children(&self) -> Result<BerReader<'a>, TlvError> {
        if self.tag.is_constructed() {
            Ok(BerReader::nested(self.value))
        } else {
            Err(TlvError::NotConstructed)
        }
    }

    /// Reads the value as BER-TLVs whatever the tag's form. Some cards nest TLVs
    /// under primitive tags: the social-security card's `9F0C` (issuer
    /// discretionary data) is primitive-tagged but holds e.g. `86 01 03`.
    pub fn value_as_tlvs(&self) -> BerReader<'a> {
        BerReader::nested(self.value)
    }
}

/// Reads consecutive BER-TLVs at one level.
///
/// Yields `Ok` objects until the input is used up. After the first error it
/// yields that error once and then `None`, because the position of anything
/// after a malformed object is unknown.
#[derive(Debug, Clone)]
pub struct BerReader<'a> {
    rest: &'a [u8],
    skip_padding: bool,
    shortfall: TlvError,
    finished: bool,
}

impl<'a> BerReader<'a> {
    /// Reads the top-level objects of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            rest: data,
            skip_padding: false,
            shortfall: TlvError::Truncated,
            finished: false,
        }
    }

    /// Reads the children inside a parent's value: running out of bytes there
    /// means a child overruns its parent.
    fn nested(value: &'a [u8]) -> Self {
        Self {
            shortfall: TlvError::Overrun,
            ..Self::new(value)
        }
    }

    /// Skips `00` and `FF` bytes before, between and after objects, which EMV
    /// Book 3 Annex B allows as padding (e.g. in records of fixed size).
    pub fn skipping_padding(mut self) -> Self {
        self.skip_padding = true;
        self
    }

    /// The bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }
}

/// One step of a reader over a sequence of objects: the next object `read` finds at the
/// start of `rest`, or the end. After an error the reader is finished (nothing after a
/// malformed object can be trusted).
fn next_object<'a, T>(
    rest: &mut &'a [u8],
    finished: &mut bool,
    read: impl FnOnce(&'a [u8]) -> Result<(T, &'a [u8]), TlvError>,
) -> Option<Result<T, TlvError>> {
    if *finished || rest.is_empty() {
        *finished = true;
        return None;
    }
    match read(rest) {
        Ok((object, after)) => {
            *rest = after;
            Some(Ok(object))
        }
        Err(error) => {
            *finished = true;
            *rest = &[];
            Some(Err(error))
        }
    }
}

impl<'a> Iterator for BerReader<'a> {
    type Item = Result<BerTlv<'a>, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        if self.skip_padding {
            let padding = self
                .rest
                .iter()
                .take_while(|&&byte| byte == 0x00 || byte == 0xFF)
                .count();
            self.rest = self.rest.get(padding..).unwrap_or_default();
        }
        let shortfall = self.shortfall;
        next_object(&mut self.rest, &mut self.finished, |input| {
            read_tlv(input, shortfall)
        })
    }
}

impl FusedIterator for BerReader<'_> {}

/// Parses exactly one BER-TLV occupying all of `data`.
///
/// Bytes after the object are rejected with [`TlvError::BadLength`]: the
/// object's length does not account for the whole input.
pub fn parse_one(data: &[u8]) -> Result<BerTlv<'_>, TlvError> {
    let (tlv, rest) = read_tlv(data, TlvError::Truncated)?;
    if rest.is_empty() {
        Ok(tlv)
    } else {
        Err(TlvError::BadLength)
    }
}

/// Children of `parent`, which sits at nesting level `depth`, refusing to go below [`MAX_DEPTH`].
fn children_below<'a>(parent: &BerTlv<'a>, depth: usize) -> Result<BerReader<'a>, TlvError> {
    if depth >= MAX_DEPTH && !parent.value.is_empty() {
        return Err(TlvError::TooDeep);
    }
    parent.children()
}

/// Depth-first, pre-order search for the first object tagged `tag`, descending
/// into constructed objects up to [`MAX_DEPTH`] levels.
///
/// Any malformed object met before the match is an error; bytes after the
/// match are not examined (use [`validate`] to check the whole buffer).
pub fn find(data: &[u8], tag: Tag) -> Result<Option<BerTlv<'_>>, TlvError> {
    find_within(BerReader::new(data), tag, 1)
}

fn find_within<'a>(
    level: BerReader<'a>,
    tag: Tag,
    depth: usize,
) -> Result<Option<BerTlv<'a>>, TlvError> {
    for item in level {
        let tlv = item?;
        if tlv.tag == tag {
            return Ok(Some(tlv));
        }
        if tlv.tag.is_constructed() {
            let found = find_within(children_below(&tlv, depth)?, tag, depth + 1)?;
            if found.is_some() {
                return Ok(found);
            }
        }
    }
    Ok(None)
}

/// Follows a path of tags, one nesting level per tag: `path[0]` among the
/// top-level objects, `path[1]` among the objects in its value, and so on.
///
/// Each step reads the previous object's value as TLVs even if its tag is
/// primitive, because the path itself says the value is nested (see
/// [`BerTlv::value_as_tlvs`]). An empty path finds nothing; a path longer than
/// [`MAX_DEPTH`] is [`TlvError::TooDeep`].
pub fn find_path<'a>(data: &'a [u8], path: &[Tag]) -> Result<Option<BerTlv<'a>>, TlvError> {
    if path.len() > MAX_DEPTH {
        return Err(TlvError::TooDeep);
    }
    let mut level = BerReader::new(data);
    let mut found = None;
    for &tag in path {
        let Some(tlv) = find_at_level(level, tag)? else {
            return Ok(None);
        };
        level = tlv.value_as_tlvs();
        found = Some(tlv);
    }
    Ok(found)
}

/// The first object tagged `tag` among the objects of one level.
fn find_at_level(level: BerReader<'_>, tag: Tag) -> Result<Option<BerTlv<'_>>, TlvError> {
    for item in level {
        let tlv = item?;
        if tlv.tag == tag {
            return Ok(Some(tlv));
        }
    }
    Ok(None)
}

/// Checks that all of `data` is well-formed BER-TLV, recursing into every
/// constructed object (children bounded by their parent, at most
/// [`MAX_DEPTH`] levels). Empty input is a valid, empty sequence.
pub fn validate(data: &[u8]) -> Result<(), TlvError> {
    validate_level(BerReader::new(data), 1)
}

fn validate_level(level: BerReader<'_>, depth: usize) -> Result<(), TlvError> {
    for item in level {
        let tlv = item?;
        if tlv.tag.is_constructed() {
            validate_level(children_below(&tlv, depth)?, depth + 1)?;
        }
    }
    Ok(())
}

/// Writes BER-TLVs into a caller buffer, always with the minimal length
/// encoding (1–3 length bytes, so values of at most 0xFFFF bytes): the response
/// [`Writer`] with the BER methods below.
///
/// A failed call leaves [`written`](Writer::written) unchanged; bytes past it
/// may have been used as scratch space.
pub type BerWriter<'b> = Writer<'b>;

impl Writer<'_> {
    /// Writes one object with the given value. Nothing is written if it does not all fit.
    pub fn tlv(&mut self, tag: Tag, value: &[u8]) -> Result<(), TlvError> {
        let tag_bytes = tag.encode()?;
        let length = encode_length(value.len())?;
        // Check the total first so that a partial header is never written.
        if tag_bytes.len + length.len + value.len() > self.remaining() {
            return Err(TlvError::BufferFull);
        }
        self.raw(tag_bytes.as_bytes())?;
        self.raw(length.as_bytes())?;
        self.raw(value)
    }

    /// Appends bytes as they are (e.g. an object encoded elsewhere).
    pub fn raw(&mut self, bytes: &[u8]) -> Result<(), TlvError> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(TlvError::BufferFull)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(TlvError::BufferFull)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Writes an object whose value is the content `fill` writes into the
    /// nested writer it is given.
    ///
    /// The length is not known until `fill` returns, so one length byte is
    /// reserved and the content is shifted when it needs `81 xx` or `82 xx xx`.
    /// The tag's constructed bit is not required, because some cards nest TLVs
    /// under primitive tags (see [`BerTlv::value_as_tlvs`]). On any error,
    /// including one returned by `fill`, the writer is restored to its prior length.
    pub fn constructed(
        &mut self,
        tag: Tag,
        fill: impl FnOnce(&mut BerWriter<'_>) -> Result<(), TlvError>,
    ) -> Result<(), TlvError> {
        let start = self.len;
        let result = self.write_constructed(tag, fill);
        if result.is_err() {
            self.len = start;
        }
        result
    }

    fn write_constructed(
        &mut self,
        tag: Tag,
        fill: impl FnOnce(&mut BerWriter<'_>) -> Result<(), TlvError>,
    ) -> Result<(), TlvError> {
        self.raw(tag.encode()?.as_bytes())?;
        let length_at = self.len;
        self.raw(&[0])?;
        let content_start = self.len;

        let content_len = {
            let mut content = BerWriter::new(self.buf.get_mut(content_start..).unwrap_or_default());
            fill(&mut content)?;
            content.len()
        };

        let length = encode_length(content_len)?;
        let shift = length.len - 1;
        let end = content_start
            .checked_add(content_len)
            .and_then(|content_end| content_end.checked_add(shift))
            .ok_or(TlvError::BufferFull)?;
        // Move the content right to make room for the long length form; the
        // rotation's span is content plus shift, so it always fits.
        self.buf
            .get_mut(content_start..end)
            .ok_or(TlvError::BufferFull)?
            .rotate_right(shift);
        self.buf
            .get_mut(length_at..length_at + length.len)
            .ok_or(TlvError::BufferFull)?
            .copy_from_slice(length.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// One simple-TLV data object, borrowing its value from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimpleTlv<'a> {
    /// Tag, `01`–`FE`.
    pub tag: u8,
    /// Value field.
    pub value: &'a [u8],
}

/// Reads one simple-TLV from the start of `input`; returns it and the bytes after it.
fn read_simple(input: &[u8]) -> Result<(SimpleTlv<'_>, &[u8]), TlvError> {
    let (&tag, after_tag) = input.split_first().ok_or(TlvError::Truncated)?;
    if tag == 0x00 || tag == 0xFF {
        return Err(TlvError::BadTag);
    }
    let (&first, after_first) = after_tag.split_first().ok_or(TlvError::Truncated)?;
    let (len, after_length) = if first == SIMPLE_LONG_LENGTH {
        let (digits, rest) = after_first
            .split_first_chunk::<2>()
            .ok_or(TlvError::Truncated)?;
        let len = usize::from(u16::from_be_bytes(*digits));
        // ISO 7816-4 tolerates `FF 00 05`, but a second encoding of the same
        // record would break the one-encoding contract of this module.
        if len < usize::from(SIMPLE_LONG_LENGTH) {
            return Err(TlvError::BadLength);
        }
        (len, rest)
    } else {
        (usize::from(first), after_first)
    };
    let (value, rest) = after_length
        .split_at_checked(len)
        .ok_or(TlvError::Truncated)?;
    Ok((SimpleTlv { tag, value }, rest))
}

/// Parses a record that must be exactly one simple-TLV.
///
/// Bytes after the object are rejected with [`TlvError::BadLength`]: the
/// declared length does not match the record size. A value cut short is
/// [`TlvError::Truncated`].
pub fn parse_simple(data: &[u8]) -> Result<SimpleTlv<'_>, TlvError> {
    let (tlv, rest) = read_simple(data)?;
    if rest.is_empty() {
        Ok(tlv)
    } else {
        Err(TlvError::BadLength)
    }
}

/// Reads concatenated simple-TLVs; after the first error it yields that
/// error once and then `None`.
#[derive(Debug, Clone)]
pub struct SimpleReader<'a> {
    rest: &'a [u8],
    finished: bool,
}

impl<'a> SimpleReader<'a> {
    /// Reads the simple-TLVs of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            rest: data,
            finished: false,
        }
    }
}

impl<'a> Iterator for SimpleReader<'a> {
    type Item = Result<SimpleTlv<'a>, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        next_object(&mut self.rest, &mut self.finished, read_simple)
    }
}

impl FusedIterator for SimpleReader<'_> {}

/// Writes one simple-TLV to the start of `out` with the minimal length form
/// and returns the number of bytes written. Nothing is written on error.
pub fn write_simple(out: &mut [u8], tag: u8, value: &[u8]) -> Result<usize, TlvError> {
    if tag == 0x00 || tag == 0xFF {
        return Err(TlvError::BadTag);
    }
    if value.len() > MAX_SIMPLE_LEN {
        return Err(TlvError::BadLength);
    }
    let [.., high, low] = value.len().to_be_bytes();
    let header: &[u8] = if value.len() < usize::from(SIMPLE_LONG_LENGTH) {
        &[tag, low]
    } else {
        &[tag, SIMPLE_LONG_LENGTH, high, low]
    };
    let total = header.len() + value.len();
    let dest = out.get_mut(..total).ok_or(TlvError::BufferFull)?;
    let (header_dest, value_dest) = dest.split_at_mut(header.len());
    header_dest.copy_from_slice(header);
    value_dest.copy_from_slice(value);
    Ok(total)
}

/// One entry of a data object list: the tag of a value and how many bytes of it to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DolEntry {
    /// Tag of the requested data object.
    pub tag: Tag,
    /// Number of value bytes the list asks for.
    pub len: usize,
}

/// Reads the entries of a data object list (EMV Book 3 §5.4): each is a BER
/// tag followed by a one-byte length. After the first error it yields that
/// error once and then `None`.
#[derive(Debug, Clone)]
pub struct DolReader<'a> {
    rest: &'a [u8],
    finished: bool,
}

impl<'a> DolReader<'a> {
    /// Reads the entries of `dol`.
    pub fn new(dol: &'a [u8]) -> Self {
        Self {
            rest: dol,
            finished: false,
        }
    }
}

/// One DOL entry: a BER tag, then a length that is a plain byte count (EMV Book 3 §5.4),
/// not a BER length: `81` means 129.
fn dol_entry(input: &[u8]) -> Parsed<'_, DolEntry> {
    (ber_tag, byte)
        .map(|(tag, len)| DolEntry {
            tag,
            len: usize::from(len),
        })
        .parse_complete(input)
}

impl Iterator for DolReader<'_> {
    type Item = Result<DolEntry, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        next_object(&mut self.rest, &mut self.finished, |input| {
            run(dol_entry, input)
        })
    }
}

impl FusedIterator for DolReader<'_> {}

/// Total number of value bytes a data object list asks for: the length of
/// the concatenated data the terminal sends.
pub fn dol_value_len(dol: &[u8]) -> Result<usize, TlvError> {
    DolReader::new(dol).try_fold(0usize, |total, entry| {
        total.checked_add(entry?.len).ok_or(TlvError::BadLength)
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// Bytes from hex digits; spaces are ignored.
    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| *b != b' ').collect();
        assert!(digits.len().is_multiple_of(2), "odd hex length");
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(core::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn tags(values: &[u32]) -> Vec<Tag> {
        values.iter().copied().map(Tag).collect()
    }

    /// Whether `part` lies inside `whole` (by address, so a value cannot come from elsewhere).
    fn lies_within(whole: &[u8], part: &[u8]) -> bool {
        let start = whole.as_ptr() as usize;
        let part_start = part.as_ptr() as usize;
        part_start >= start && part_start + part.len() <= start + whole.len()
    }

    const PPSE_FCI: &str = "6F30840E325041592E5359532E4444463031A51EBF0C1B61194F08A000000333010101500A50424F43204445424954870101";
    const SSC_DDF_FCI: &str = "6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C03860103";
    const CDOL1: &str = "9F02069F03069F1A0295055F2A029A039C019F3704";

    #[test]
    fn unionpay_ppse_fci() {
        let fci = hex(PPSE_FCI);
        validate(&fci).unwrap();
        let whole = parse_one(&fci).unwrap();
        assert_eq!(whole.tag(), Tag(0x6F));
        assert_eq!(whole.raw(), &fci[..]);
        assert_eq!(whole.value().len(), 0x30);

        let aid = find(&fci, Tag(0x4F)).unwrap().unwrap();
        assert_eq!(aid.value(), &hex("A000000333010101")[..]);
        let priority = find(&fci, Tag(0x87)).unwrap().unwrap();
        assert_eq!(priority.value(), &[0x01]);
        let label = find(&fci, Tag(0x50)).unwrap().unwrap();
        assert_eq!(label.value(), b"PBOC DEBIT");

        let by_path = find_path(&fci, &tags(&[0x6F, 0xA5, 0xBF0C, 0x61, 0x4F]))
            .unwrap()
            .unwrap();
        assert_eq!(by_path, aid);
        assert_eq!(find(&fci, Tag(0x9F38)).unwrap(), None);
        assert_eq!(find_path(&fci, &tags(&[0x6F, 0x4F])).unwrap(), None);

        let children: Vec<Tag> = whole
            .children()
            .unwrap()
            .map(|c| c.unwrap().tag())
            .collect();
        assert_eq!(children, tags(&[0x84, 0xA5]));
    }

    #[test]
    fn social_security_ddf_fci() {
        let fci = hex(SSC_DDF_FCI);
        validate(&fci).unwrap();
        let sfi = find_path(&fci, &tags(&[0x6F, 0xA5, 0x88]))
            .unwrap()
            .unwrap();
        assert_eq!(sfi.value(), &[0x1E]);
        // 9F0C is primitive-tagged yet holds TLVs; the path says to look inside.
        let nested = find_path(&fci, &tags(&[0x6F, 0xA5, 0x9F0C, 0x86]))
            .unwrap()
            .unwrap();
        assert_eq!(nested.value(), &[0x03]);
        // A plain search respects the primitive bit and does not look inside 9F0C.
        assert_eq!(find(&fci, Tag(0x86)).unwrap(), None);
        let discretionary = find(&fci, Tag(0x9F0C)).unwrap().unwrap();
        assert_eq!(
            discretionary.children().unwrap_err(),
            TlvError::NotConstructed
        );
        assert_eq!(find_path(&fci, &[]).unwrap(), None);
        assert_eq!(
            find_path(&fci, &[Tag(0x6F); MAX_DEPTH + 1]),
            Err(TlvError::TooDeep)
        );
    }

    #[test]
    fn cdol_value_length() {
        let cdol = hex(CDOL1);
        assert_eq!(dol_value_len(&cdol), Ok(29));
        // Each entry written back (its tag's significant bytes, then its length) gives the
        // DOL again: the reader split it at every tag boundary and nowhere else.
        let mut rewritten = Vec::new();
        for entry in DolReader::new(&cdol) {
            let entry = entry.unwrap();
            let tag = entry.tag.0.to_be_bytes();
            let first = tag.iter().position(|&b| b != 0).unwrap();
            rewritten.extend_from_slice(&tag[first..]);
            rewritten.push(u8::try_from(entry.len).unwrap());
        }
        assert_eq!(rewritten, cdol);
        let amount = DolReader::new(&cdol).next().unwrap().unwrap();
        assert_eq!((amount.tag, amount.len), (Tag(0x9F02), 6));
        assert_eq!(DolReader::new(&cdol).count(), 8);
    }

    #[test]
    fn dol_errors_and_plain_length_byte() {
        assert_eq!(dol_value_len(&[]), Ok(0));
        assert_eq!(dol_value_len(&hex("9F")), Err(TlvError::Truncated));
        assert_eq!(dol_value_len(&hex("9F0206 9F02")), Err(TlvError::Truncated));
        assert_eq!(dol_value_len(&hex("0006")), Err(TlvError::BadTag));
        // A DOL length is one plain byte, so 81 asks for 129 bytes.
        assert_eq!(dol_value_len(&hex("9F4B81")), Ok(0x81));
        let mut reader = DolReader::new(&[0x9F]);
        assert_eq!(reader.next(), Some(Err(TlvError::Truncated)));
        assert_eq!(reader.next(), None);
    }

    #[test]
    fn social_security_ef06_record() {
        let mut record = hex("0812");
        record.extend_from_slice(b"11010519491231002X");
        let tlv = parse_simple(&record).unwrap();
        assert_eq!(tlv.tag, 0x08);
        assert_eq!(tlv.value, b"11010519491231002X");

        let mut out = [0u8; 20];
        assert_eq!(write_simple(&mut out, 0x08, tlv.value), Ok(20));
        assert_eq!(&out[..], &record[..]);
    }

    #[test]
    fn child_may_not_run_past_its_parent() {
        // With primitive tags the bytes are three flat, valid objects...
        let flat = hex("0101060201000303000000");
        validate(&flat).unwrap();
        assert_eq!(BerReader::new(&flat).count(), 3);
        // ...but when the first is constructed, its one-byte value `06` starts a
        // child whose length would have to be read from beyond the parent.
        let nested = hex("2101060201000303000000");
        assert_eq!(validate(&nested), Err(TlvError::Overrun));
        assert_eq!(find(&nested, Tag(0x03)), Err(TlvError::Overrun));
        let parent = BerReader::new(&nested).next().unwrap().unwrap();
        assert_eq!(parent.value(), &[0x06]);
        let mut children = parent.children().unwrap();
        assert_eq!(children.next(), Some(Err(TlvError::Overrun)));
        assert_eq!(children.next(), None);

        // The child's header fits, but its value (5 bytes) does not.
        let overrun = hex("E1038105000000000000");
        assert_eq!(validate(&overrun), Err(TlvError::Overrun));
        assert_eq!(find(&overrun, Tag(0x81)), Err(TlvError::Overrun));
        assert_eq!(
            find_path(&overrun, &tags(&[0xE1, 0x81])),
            Err(TlvError::Overrun)
        );
    }

    #[test]
    fn malformed_lengths_are_rejected() {
        let mut long_form = hex("5A8200FF");
        long_form.extend_from_slice(&[0; 0xFF]);
        assert_eq!(parse_one(&long_form), Err(TlvError::BadLength));
        assert_eq!(
            parse_one(&hex("5A81050102030405")),
            Err(TlvError::BadLength)
        );
        assert_eq!(parse_one(&hex("5A80010200")), Err(TlvError::BadLength));
        assert_eq!(parse_one(&hex("5A840000000100")), Err(TlvError::BadLength));
        assert_eq!(parse_one(&hex("5A830000FF")), Err(TlvError::BadLength));
        assert_eq!(parse_one(&hex("5A82007F")), Err(TlvError::BadLength));
        assert_eq!(validate(&hex("E1025A80")), Err(TlvError::BadLength));
        assert_eq!(validate(&hex("8080")), Err(TlvError::BadLength));
        // Minimal long forms are fine.
        let mut minimal = hex("5A8180");
        minimal.extend_from_slice(&[0; 0x80]);
        assert_eq!(parse_one(&minimal).unwrap().value().len(), 0x80);
    }

    #[test]
    fn malformed_tags_are_rejected() {
        assert_eq!(parse_one(&hex("9FFFFF0100")), Err(TlvError::BadTag));
        assert_eq!(parse_one(&hex("9F800100")), Err(TlvError::BadTag));
        assert_eq!(parse_one(&hex("0000")), Err(TlvError::BadTag));
        assert_eq!(parse_one(&hex("FF0100")), Err(TlvError::BadTag));
        let three_byte_tag = hex("DF810102ABCD");
        let three_byte = parse_one(&three_byte_tag).unwrap();
        assert_eq!(three_byte.tag(), Tag(0xDF8101));
    }

    #[test]
    fn short_input_is_truncated() {
        assert_eq!(parse_one(&[]), Err(TlvError::Truncated));
        assert_eq!(parse_one(&hex("9F")), Err(TlvError::Truncated));
        assert_eq!(parse_one(&hex("9F81")), Err(TlvError::Truncated));
        assert_eq!(parse_one(&hex("5A")), Err(TlvError::Truncated));
        assert_eq!(parse_one(&hex("5A8201")), Err(TlvError::Truncated));
        assert_eq!(parse_one(&hex("5A050102")), Err(TlvError::Truncated));
        assert_eq!(parse_simple(&[]), Err(TlvError::Truncated));
        assert_eq!(BerReader::new(&[]).next(), None);
        assert_eq!(validate(&[]), Ok(()));
        assert_eq!(find(&[], Tag(0x5A)), Ok(None));
    }

    #[test]
    fn parse_one_rejects_trailing_bytes() {
        assert_eq!(parse_one(&hex("5A01120000")), Err(TlvError::BadLength));
        assert_eq!(parse_simple(&hex("08011200")), Err(TlvError::BadLength));
    }

    #[test]
    fn reader_reports_first_error_once() {
        let data = hex("5A0112 9F 8F");
        let mut reader = BerReader::new(&data);
        assert_eq!(reader.next().unwrap().unwrap().value(), &[0x12]);
        assert_eq!(reader.next(), Some(Err(TlvError::Truncated)));
        assert_eq!(reader.next(), None);
        assert_eq!(reader.next(), None);

        let mut simple = SimpleReader::new(&[0x01, 0x01, 0xAA, 0x02, 0x03, 0x00]);
        assert_eq!(
            simple.next(),
            Some(Ok(SimpleTlv {
                tag: 0x01,
                value: &[0xAA]
            }))
        );
        assert_eq!(simple.next(), Some(Err(TlvError::Truncated)));
        assert_eq!(simple.next(), None);
    }

    #[test]
    fn padding_is_skipped_only_on_request() {
        let data = hex("00005A0112FF009F020134FF00");
        assert_eq!(BerReader::new(&data).next(), Some(Err(TlvError::BadTag)));
        let found: Vec<(Tag, Vec<u8>)> = BerReader::new(&data)
            .skipping_padding()
            .map(|t| t.map(|t| (t.tag(), t.value().to_vec())).unwrap())
            .collect();
        assert_eq!(found, [(Tag(0x5A), vec![0x12]), (Tag(0x9F02), vec![0x34])]);
        assert_eq!(
            BerReader::new(&[0, 0xFF, 0]).skipping_padding().next(),
            None
        );
    }

    /// `levels` constructed E1 objects, each holding the next, around `5A 01 00`.
    fn nested_e1(levels: usize) -> Vec<u8> {
        let mut encoded = hex("5A0100");
        for _ in 0..levels {
            let mut outer = vec![0xE1, encoded.len() as u8];
            outer.extend_from_slice(&encoded);
            encoded = outer;
        }
        encoded
    }

    #[test]
    fn nesting_is_capped() {
        // 5A sits at level `levels + 1`.
        let deepest_allowed = nested_e1(MAX_DEPTH - 1);
        validate(&deepest_allowed).unwrap();
        assert!(find(&deepest_allowed, Tag(0x5A)).unwrap().is_some());
        let too_deep = nested_e1(MAX_DEPTH);
        assert_eq!(validate(&too_deep), Err(TlvError::TooDeep));
        assert_eq!(find(&too_deep, Tag(0x5A)), Err(TlvError::TooDeep));
        // An empty constructed object at the last level has no children to reject.
        let mut empty_at_bottom = hex("E100");
        for _ in 1..MAX_DEPTH {
            let mut outer = vec![0xE1, empty_at_bottom.len() as u8];
            outer.extend_from_slice(&empty_at_bottom);
            empty_at_bottom = outer;
        }
        validate(&empty_at_bottom).unwrap();
    }

    #[test]
    fn tag_properties() {
        assert!(Tag(0x6F).is_constructed());
        assert!(Tag(0xBF0C).is_constructed());
        assert!(!Tag(0x9F0C).is_constructed());
        assert!(!Tag(0x5A).is_constructed());
        assert_eq!(Tag(0x6F).class(), 1);
        assert_eq!(Tag(0x9F10).class(), 2);
        assert_eq!(Tag(0x08).class(), 0);
        assert_eq!(Tag(0xDF8101).class(), 3);
        assert_eq!(Tag(0x6F).encoded_len(), 1);
        assert_eq!(Tag(0x9F10).encoded_len(), 2);
        assert_eq!(Tag(0xDF8101).encoded_len(), 3);

        let mut out = [0u8; 3];
        assert_eq!(Tag(0xDF8101).write_to(&mut out), Ok(3));
        assert_eq!(out, [0xDF, 0x81, 0x01]);
        assert_eq!(
            Tag(0x9F10).write_to(&mut out[..1]),
            Err(TlvError::BufferFull)
        );
        for bad in [
            0x00, 0xFF, 0x1F, 0x9F81, 0x6F6F, 0x9F8001, 0xDF818101, 0x5A00,
        ] {
            assert_eq!(
                Tag(bad).write_to(&mut out),
                Err(TlvError::BadTag),
                "{bad:X}"
            );
            assert!(!Tag(bad).is_valid());
        }
    }

    #[test]
    fn errors_display_a_reason() {
        use core::fmt::Write;
        for error in [
            TlvError::Truncated,
            TlvError::BadTag,
            TlvError::BadLength,
            TlvError::Overrun,
            TlvError::TooDeep,
            TlvError::BufferFull,
            TlvError::NotConstructed,
        ] {
            let mut text = std::string::String::new();
            write!(text, "{error}").unwrap();
            assert!(!text.is_empty());
        }
    }

    /// Independent reference encoder for a primitive TLV with minimal length.
    fn reference_tlv(tag: Tag, value: &[u8]) -> Vec<u8> {
        let mut out: Vec<u8> = tag
            .0
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        let len = value.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len <= 0xFF {
            out.extend_from_slice(&[0x81, len as u8]);
        } else {
            out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(value);
        out
    }

    #[test]
    fn writer_long_length_forms_round_trip() {
        let mut buf = vec![0u8; 4096];
        for size in [
            0, 1, 120, 123, 124, 125, 126, 127, 128, 250, 251, 252, 253, 254, 255, 256, 300, 1000,
        ] {
            let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let mut writer = BerWriter::new(&mut buf);
            writer
                .constructed(Tag(0xE1), |outer| {
                    outer.constructed(Tag(0xBF0C), |inner| inner.tlv(Tag(0x5A), &payload))?;
                    outer.tlv(Tag(0x9F8101), &[0xAB])
                })
                .unwrap();

            let leaf = reference_tlv(Tag(0x5A), &payload);
            let mut inner_content = reference_tlv(Tag(0xBF0C), &leaf);
            inner_content.extend_from_slice(&reference_tlv(Tag(0x9F8101), &[0xAB]));
            let expected = reference_tlv(Tag(0xE1), &inner_content);
            assert_eq!(writer.written(), &expected[..], "payload {size}");

            let written = writer.written();
            validate(written).unwrap();
            let found = find_path(written, &tags(&[0xE1, 0xBF0C, 0x5A]))
                .unwrap()
                .unwrap();
            assert_eq!(found.value(), &payload[..]);
        }

        // The three length forms actually occur.
        let mut writer = BerWriter::new(&mut buf);
        writer
            .constructed(Tag(0x70), |content| content.tlv(Tag(0x5A), &[0; 125]))
            .unwrap();
        assert_eq!(&writer.written()[..4], &[0x70, 0x7F, 0x5A, 0x7D]);
        let mut writer = BerWriter::new(&mut buf);
        writer
            .constructed(Tag(0x70), |content| content.tlv(Tag(0x5A), &[0; 126]))
            .unwrap();
        assert_eq!(&writer.written()[..5], &[0x70, 0x81, 0x80, 0x5A, 0x7E]);
        let mut writer = BerWriter::new(&mut buf);
        writer
            .constructed(Tag(0x70), |content| content.tlv(Tag(0x5A), &[0; 254]))
            .unwrap();
        assert_eq!(
            &writer.written()[..7],
            &[0x70, 0x82, 0x01, 0x01, 0x5A, 0x81, 0xFE]
        );
    }

    #[test]
    fn writer_buffer_full_leaves_state_unchanged() {
        let mut buf = [0u8; 8];
        let mut writer = BerWriter::new(&mut buf);
        assert!(writer.is_empty());
        writer.tlv(Tag(0x5A), &[1, 2]).unwrap();
        let before: Vec<u8> = writer.written().to_vec();
        assert_eq!(writer.tlv(Tag(0x9F02), &[0; 4]), Err(TlvError::BufferFull));
        assert_eq!(writer.written(), &before[..]);
        assert_eq!(writer.len(), 4);
        assert_eq!(writer.raw(&[0; 5]), Err(TlvError::BufferFull));
        assert_eq!(writer.len(), 4);
        assert_eq!(
            writer.constructed(Tag(0xE1), |c| c.tlv(Tag(0x5A), &[0; 3])),
            Err(TlvError::BufferFull)
        );
        assert_eq!(writer.written(), &before[..]);
        // The error of the content writer is passed through and undone too.
        assert_eq!(
            writer.constructed(Tag(0xE1), |c| {
                c.tlv(Tag(0x5A), &[])?;
                Err(TlvError::NotConstructed)
            }),
            Err(TlvError::NotConstructed)
        );
        assert_eq!(writer.written(), &before[..]);
        writer.tlv(Tag(0x5A), &[3, 4]).unwrap();
        assert_eq!(writer.written(), &[0x5A, 2, 1, 2, 0x5A, 2, 3, 4]);

        // Content that fits with a one-byte length but not with `81 80`.
        let mut buf = [0u8; 130];
        let mut writer = BerWriter::new(&mut buf);
        assert_eq!(
            writer.constructed(Tag(0xE1), |c| c.tlv(Tag(0x5A), &[0; 126])),
            Err(TlvError::BufferFull)
        );
        assert!(writer.is_empty());
        assert_eq!(writer.tlv(Tag(0x00), &[]), Err(TlvError::BadTag));
        let too_long = vec![0u8; 0x1_0000];
        let mut big = vec![0u8; 0x1_0010];
        assert_eq!(
            BerWriter::new(&mut big).tlv(Tag(0x5A), &too_long),
            Err(TlvError::BadLength)
        );
    }

    #[test]
    fn simple_tlv_lengths() {
        let mut out = [0u8; 400];
        assert_eq!(write_simple(&mut out, 0x01, &[0; 254]), Ok(256));
        assert_eq!(&out[..2], &[0x01, 0xFE]);
        assert_eq!(write_simple(&mut out, 0x01, &[0; 255]), Ok(259));
        assert_eq!(&out[..4], &[0x01, 0xFF, 0x00, 0xFF]);
        assert_eq!(parse_simple(&out[..259]).unwrap().value.len(), 255);
        assert_eq!(
            parse_simple(&hex("01FF00050000000000")[..]).unwrap_err(),
            TlvError::BadLength
        );
        assert_eq!(parse_simple(&hex("0002AAAA")), Err(TlvError::BadTag));
        assert_eq!(parse_simple(&hex("FF02AAAA")), Err(TlvError::BadTag));
        assert_eq!(parse_simple(&hex("0103AAAA")), Err(TlvError::Truncated));
        assert_eq!(parse_simple(&hex("01FF01")), Err(TlvError::Truncated));
        assert_eq!(write_simple(&mut out, 0xFF, &[]), Err(TlvError::BadTag));
        assert_eq!(
            write_simple(&mut out[..3], 0x01, &[0; 2]),
            Err(TlvError::BufferFull)
        );
    }

    /// Checks every object reachable from `level` lies inside `input`, descending into any value.
    fn check_level(input: &[u8], level: BerReader<'_>, depth: usize) {
        for item in level {
            let Ok(tlv) = item else { return };
            assert!(lies_within(input, tlv.raw()));
            assert!(lies_within(tlv.raw(), tlv.value()));
            assert!(tlv.tag().is_valid());
            assert!(tlv.raw().ends_with(tlv.value()));
            assert!(tlv.raw().len() - tlv.value().len() > tlv.tag().encoded_len());
            if depth < 4 {
                check_level(input, tlv.value_as_tlvs(), depth + 1);
            }
        }
    }

    const PRIMITIVE_TAGS: &[u32] = &[
        0x4F, 0x50, 0x5A, 0x84, 0x87, 0x88, 0x9A, 0x08, 0x5F2A, 0x5F20, 0x9F02, 0x9F0C, 0x9F37,
        0xDF01, 0x9F8101, 0xDF8F7F,
    ];
    const CONSTRUCTED_TAGS: &[u32] =
        &[0x61, 0x6F, 0x70, 0xA5, 0xE1, 0x21, 0xBF0C, 0x7F21, 0xBF8101];

    #[derive(Debug, Clone, PartialEq)]
    enum Node {
        Primitive(Tag, Vec<u8>),
        Constructed(Tag, Vec<Node>),
    }

    fn node_strategy() -> impl Strategy<Value = Node> {
        let leaf = (
            prop::sample::select(PRIMITIVE_TAGS),
            prop::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(tag, value)| Node::Primitive(Tag(tag), value));
        leaf.prop_recursive(3, 24, 4, |inner| {
            (
                prop::sample::select(CONSTRUCTED_TAGS),
                prop::collection::vec(inner, 0..4),
            )
                .prop_map(|(tag, children)| Node::Constructed(Tag(tag), children))
        })
    }

    fn write_node(writer: &mut BerWriter<'_>, node: &Node) -> Result<(), TlvError> {
        match node {
            Node::Primitive(tag, value) => writer.tlv(*tag, value),
            Node::Constructed(tag, children) => writer.constructed(*tag, |content| {
                children
                    .iter()
                    .try_for_each(|child| write_node(content, child))
            }),
        }
    }

    fn reference_node(node: &Node) -> Vec<u8> {
        match node {
            Node::Primitive(tag, value) => reference_tlv(*tag, value),
            Node::Constructed(tag, children) => {
                let content: Vec<u8> = children.iter().flat_map(reference_node).collect();
                reference_tlv(*tag, &content)
            }
        }
    }

    fn read_nodes(level: BerReader<'_>) -> Vec<Node> {
        level
            .map(|item| {
                let tlv = item.unwrap();
                if tlv.tag().is_constructed() {
                    Node::Constructed(tlv.tag(), read_nodes(tlv.children().unwrap()))
                } else {
                    Node::Primitive(tlv.tag(), tlv.value().to_vec())
                }
            })
            .collect()
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_escape_the_input(input in prop::collection::vec(any::<u8>(), 0..600)) {
            check_level(&input, BerReader::new(&input), 0);
            check_level(&input, BerReader::new(&input).skipping_padding(), 0);

            let mut consumed = 0;
            let mut all_ok = true;
            for item in BerReader::new(&input) {
                match item {
                    Ok(tlv) => consumed += tlv.raw().len(),
                    Err(_) => all_ok = false,
                }
            }
            if all_ok {
                prop_assert_eq!(consumed, input.len());
            }
            if validate(&input).is_ok() {
                prop_assert!(all_ok);
            }

            for &tag in PRIMITIVE_TAGS.iter().chain(CONSTRUCTED_TAGS) {
                if let Ok(Some(tlv)) = find(&input, Tag(tag)) {
                    prop_assert_eq!(tlv.tag(), Tag(tag));
                    prop_assert!(lies_within(&input, tlv.raw()));
                }
            }
            if let Some(&first) = input.first() {
                let path = [Tag(u32::from(first)), Tag(0x5A), Tag(0x84)];
                for len in 1..=path.len() {
                    if let Ok(Some(tlv)) = find_path(&input, &path[..len]) {
                        prop_assert!(lies_within(&input, tlv.raw()));
                    }
                }
            }
            if let Ok(tlv) = parse_one(&input) {
                prop_assert_eq!(tlv.raw(), &input[..]);
            }

            if let Ok(simple) = parse_simple(&input) {
                prop_assert!(lies_within(&input, simple.value));
            }
            for simple in SimpleReader::new(&input).flatten() {
                prop_assert!(lies_within(&input, simple.value));
            }

            let mut dol_total = 0usize;
            let mut dol_ok = true;
            for entry in DolReader::new(&input) {
                match entry {
                    Ok(entry) => dol_total += entry.len,
                    Err(_) => dol_ok = false,
                }
            }
            if dol_ok {
                prop_assert_eq!(dol_value_len(&input), Ok(dol_total));
            } else {
                prop_assert!(dol_value_len(&input).is_err());
            }
        }

        #[test]
        fn written_trees_read_back(nodes in prop::collection::vec(node_strategy(), 0..4)) {
            let mut buf = vec![0u8; 1 << 17];
            let mut writer = BerWriter::new(&mut buf);
            for node in &nodes {
                write_node(&mut writer, node).unwrap();
            }
            let written = writer.written();
            let expected: Vec<u8> = nodes.iter().flat_map(reference_node).collect();
            prop_assert_eq!(written, &expected[..]);
            prop_assert_eq!(validate(written), Ok(()));
            prop_assert_eq!(read_nodes(BerReader::new(written)), nodes);
        }

        #[test]
        fn simple_tlv_round_trip(tag in 1u8..=0xFE, value in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut out = [0u8; 310];
            let len = write_simple(&mut out, tag, &value).unwrap();
            prop_assert_eq!(len, value.len() + if value.len() < 0xFF { 2 } else { 4 });
            let parsed = parse_simple(&out[..len]).unwrap();
            prop_assert_eq!(parsed.tag, tag);
            prop_assert_eq!(parsed.value, &value[..]);
        }

        #[test]
        fn valid_tags_read_back(raw in any::<u32>()) {
            let tag = Tag(raw & 0x00FF_FFFF);
            let mut out = [0u8; 3];
            if let Ok(len) = tag.write_to(&mut out) {
                prop_assert_eq!(len, tag.encoded_len());
                prop_assert_eq!(read_tag(&out[..len]), Ok((tag, len)));
            }
        }

        #[test]
        fn dol_parser_agrees_with_the_reference(input in prop::collection::vec(tag_like_byte(), 0..48)) {
            let (entries, error) = reference_dol(&input);
            let mut expected: Vec<Result<DolEntry, TlvError>> = entries.iter().copied().map(Ok).collect();
            expected.extend(error.map(Err));
            prop_assert_eq!(DolReader::new(&input).collect::<Vec<_>>(), expected);
            let total = entries.iter().map(|e| e.len).sum();
            prop_assert_eq!(dol_value_len(&input), error.map_or(Ok(total), Err));
            prop_assert_eq!(read_tag(&input), reference_tag(&input));
        }
    }

    /// Bytes that steer the tag grammar into each of its branches, and any byte.
    fn tag_like_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            prop::sample::select(vec![
                0x00, 0xFF, 0x1F, 0x5F, 0x9F, 0xBF, 0xDF, 0x80, 0x81, 0x7F
            ]),
            any::<u8>(),
        ]
    }

    /// EMV Book 3 Annex B1 read byte by byte, independently of the nom parser: the tag
    /// and its length in bytes.
    fn reference_tag(input: &[u8]) -> Result<(Tag, usize), TlvError> {
        let mut tag = 0u32;
        for (at, &byte) in input.iter().enumerate().take(3) {
            tag = tag << 8 | u32::from(byte);
            let bad = match at {
                0 => byte == 0x00 || byte == 0xFF,
                1 => byte == 0x80,
                _ => byte & 0x80 != 0,
            };
            if bad {
                return Err(TlvError::BadTag);
            }
            let last = if at == 0 {
                byte & 0x1F != 0x1F
            } else {
                byte & 0x80 == 0
            };
            if last {
                return Ok((Tag(tag), at + 1));
            }
        }
        Err(TlvError::Truncated)
    }

    /// EMV Book 3 §5.4 read with the reference tag: the entries up to the first error,
    /// and that error.
    fn reference_dol(mut input: &[u8]) -> (Vec<DolEntry>, Option<TlvError>) {
        let mut entries = Vec::new();
        while !input.is_empty() {
            let tag = match reference_tag(input) {
                Ok((tag, used)) => {
                    input = &input[used..];
                    tag
                }
                Err(error) => return (entries, Some(error)),
            };
            let Some((&len, rest)) = input.split_first() else {
                return (entries, Some(TlvError::Truncated));
            };
            entries.push(DolEntry {
                tag,
                len: usize::from(len),
            });
            input = rest;
        }
        (entries, None)
    }
}
