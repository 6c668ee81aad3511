//! READ RECORD, GET DATA and the cyclic logs (pboc.md §2.2, §2.11, §2.13).

use heapless::Vec;
use sscard_core::AppletContext;
use sscard_core::apdu::{CommandView, Writer};
use sscard_core::nvm::Nvm;
use sscard_core::status::{Result, Status};
use sscard_core::tlv::{BerWriter, DolReader, Tag, parse_one};

use crate::bits::Cid;
use crate::layout::{App, Blob, LogArea, Obj, RECORD_DIR_ENTRY, header, read_span};
use crate::state::Transaction;

/// Answers `data` to a case-2 command: a short Le smaller than the data is `6Cxx` with the
/// exact length (ISO 7816-4 §5.3.4, the T=0 rule real EMV cards follow); Le absent or
/// `00` returns everything.
fn respond(cmd: &CommandView<'_>, data: &[u8], reply: &mut Writer<'_>) -> Result<()> {
    if let Some(le) = cmd.le()
        && !cmd.le_is_max()
        && (le as usize) < data.len()
    {
        return Err(Status::WrongLe(data.len().min(255) as u8));
    }
    reply.push(data)
}

/// READ RECORD of the PSE directory file (§2.2): record *n* is the *n*-th application
/// `70{61{4F,50,87}}`; past the last → 6A83; any other SFI → 6A82.
pub(crate) fn read_pse<N: Nvm>(
    ctx: &AppletContext<'_, N>,
    sfi: u8,
    record: u8,
    cmd: &CommandView<'_>,
    reply: &mut Writer<'_>,
) -> Result<()> {
    let mut pse_sfi = [0u8; 1];
    ctx.read(header::PSE_SFI, &mut pse_sfi)?;
    if sfi != pse_sfi[0] || sfi == 0 {
        return Err(Status::FileNotFound);
    }
    let (mut at, len) = read_span(ctx, header::PSE_RECORDS)?;
    let end = at + len;
    let mut n = 1u8;
    while at < end {
        let mut l = [0u8; 1];
        ctx.read(at, &mut l)?;
        let l = usize::from(l[0]);
        if n == record {
            let mut buf = [0u8; 256];
            let rec = read_slot(ctx, (at, l), &mut buf)?;
            return respond(cmd, rec, reply);
        }
        at += 1 + l;
        n = n.saturating_add(1);
    }
    Err(Status::RecordNotFound)
}

/// READ RECORD in the application (§2.4 AFL, §2.13 logs; cardpeek scans SFI 1–31 ×
/// records 1–255, §4, so the negative answers cost one directory scan): a log SFI gives
/// the *n*-th newest log record; a personalized SFI gives its record or 6A83; any other
/// SFI 6A82. After an fDDA 01 signature, the last AFL record carries `9F69` (§2.12).
pub(crate) fn read_record<N: Nvm>(
    ctx: &AppletContext<'_, N>,
    app: &App,
    txn: &Transaction,
    sfi: u8,
    record: u8,
    cmd: &CommandView<'_>,
    reply: &mut Writer<'_>,
) -> Result<()> {
    if sfi == 0 {
        return Err(Status::FileNotFound);
    }
    for log in [Log::Transactions, Log::Loads] {
        let area = log.area(app);
        if area.enabled() && area.sfi == sfi {
            let mut buf = [0u8; 128];
            let rec = log.nth_newest(ctx, app, record, &mut buf)?;
            return respond(cmd, rec, reply);
        }
    }
    let Some(slot) = find_record(ctx, app, sfi, record)? else {
        return Err(if sfi_exists(ctx, app, sfi)? {
            Status::RecordNotFound
        } else {
            Status::FileNotFound
        });
    };
    let mut buf = [0u8; 256];
    let rec = read_slot(ctx, slot, &mut buf)?;
    match (txn.card_auth_data, txn.last_afl_record) {
        (Some(data), Some(last)) if last == (sfi, record) => {
            let inner = parse_one(rec)
                .map(|t| t.value())
                .map_err(|_| Status::MemoryFailure)?;
            let mut out = [0u8; 270];
            let mut w = BerWriter::new(&mut out);
            w.constructed(Tag(0x70), |w| {
                w.raw(inner)?;
                w.tlv(Tag(0x9F69), &data)
            })
            .map_err(|_| Status::MemoryFailure)?;
            respond(cmd, w.written(), reply)
        }
        _ => respond(cmd, rec, reply),
    }
}

/// Slot offset and capacity of the first record of the record directory (entries `SFI
/// record offset(2) capacity`) whose SFI and number `wanted` accepts.
fn find_in_record_dir<N: Nvm>(
    ctx: &AppletContext<'_, N>,
    app: &App,
    wanted: impl Fn(u8, u8) -> bool,
) -> Result<Option<(usize, usize)>> {
    let (at, len) = app.blob_at(ctx, Blob::RecordDir)?;
    let mut e = [0u8; RECORD_DIR_ENTRY];
    for i in 0..len / RECORD_DIR_ENTRY {
        ctx.read(at + i * RECORD_DIR_ENTRY, &mut e)?;
        let [s, r, o0, o1, cap] = e;
        if wanted(s, r) {
            return Ok(Some((
                usize::from(u16::from_be_bytes([o0, o1])),
                usize::from(cap),
            )));
        }
    }
    Ok(None)
}

/// Slot offset and capacity of record (`sfi`, `record`).
pub(crate) fn find_record<N: Nvm>(
    ctx: &AppletContext<'_, N>,
    app: &App,
    sfi: u8,
    record: u8,
) -> Result<Option<(usize, usize)>> {
    find_in_record_dir(ctx, app, |s, r| s == sfi && r == record)
}

fn sfi_exists<N: Nvm>(ctx: &AppletContext<'_, N>, app: &App, sfi: u8) -> Result<bool> {
    Ok(find_in_record_dir(ctx, app, |s, _| s == sfi)?.is_some())
}

/// The record in slot `(at, capacity)`: `[len][bytes]`.
pub(crate) fn read_slot<'b, N: Nvm>(
    ctx: &AppletContext<'_, N>,
    (at, cap): (usize, usize),
    buf: &'b mut [u8; 256],
) -> Result<&'b [u8]> {
    let mut l = [0u8; 1];
    ctx.read(at, &mut l)?;
    let n = usize::from(l[0]).min(cap);
    let rec = buf.get_mut(..n).ok_or(Status::MemoryFailure)?;
    ctx.read(at + 1, rec)?;
    Ok(rec)
}

/// GET DATA `80 CA P1P2` (§2.11, the applet's `getDataTags` list of `idx:3702743515`;
/// devnied's `80CA9F7900` balance query): the data objects of the allowed list that are
/// personalized, as `tag len value`; anything else 6A88. `9F5D` (available offline
/// spending amount) is the EC balance.
pub(crate) fn get_data<N: Nvm>(
    ctx: &AppletContext<'_, N>,
    app: &App,
    tag: u16,
    cmd: &CommandView<'_>,
    reply: &mut Writer<'_>,
) -> Result<()> {
    let obj = match tag {
        0x9F5D => Obj::EcBalance,
        t => Obj::by_tag(t).ok_or(Status::ReferencedDataNotFound)?,
    };
    if !obj.def().get {
        return Err(Status::ReferencedDataNotFound);
    }
    let v = app.get(ctx, obj)?;
    if !v.is_present() {
        return Err(Status::ReferencedDataNotFound);
    }
    let mut out = [0u8; 40];
    let mut w = BerWriter::new(&mut out);
    w.tlv(Tag(u32::from(tag)), v.as_slice())
        .map_err(|_| Status::MemoryFailure)?;
    respond(cmd, w.written(), reply)
}

/// The two cyclic logs of an application (§2.13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Log {
    /// The transaction log (`9F4D`, format `9F4F`).
    Transactions,
    /// The load log (`DF4D`, format `DF4F`).
    Loads,
}

impl Log {
    /// Where the log lives and how big it is.
    pub fn area(self, app: &App) -> LogArea {
        match self {
            Log::Transactions => app.cfg.log,
            Log::Loads => app.cfg.load_log,
        }
    }

    /// The objects holding the newest record's slot and the number of records.
    fn head_and_count(self) -> (Obj, Obj) {
        match self {
            Log::Transactions => (Obj::LogHead, Obj::LogCount),
            Log::Loads => (Obj::LoadHead, Obj::LoadCount),
        }
    }

    /// The `n`-th newest record (§2.13: READ RECORD n returns the n-th newest; past the
    /// count → 6A83).
    fn nth_newest<'b, N: Nvm>(
        self,
        ctx: &AppletContext<'_, N>,
        app: &App,
        n: u8,
        buf: &'b mut [u8; 128],
    ) -> Result<&'b [u8]> {
        let (area, (head, count)) = (self.area(app), self.head_and_count());
        let have = app.get_u8(ctx, count)?;
        if n == 0 || n > have || area.max == 0 {
            return Err(Status::RecordNotFound);
        }
        let head = app.get_u8(ctx, head)?;
        let max = u16::from(area.max);
        let index = (u16::from(head) + max - u16::from(n - 1) % max) % max;
        let len = usize::from(area.len);
        let rec = buf.get_mut(..len).ok_or(Status::MemoryFailure)?;
        ctx.read(usize::from(area.at) + usize::from(index) * len, rec)?;
        Ok(rec)
    }
}

/// Appends a record to a cyclic log, inside the caller's transaction; a record of
/// another length than the log's (none was built) is not logged.
pub(crate) fn append_log<N: Nvm>(
    ctx: &mut AppletContext<'_, N>,
    app: &App,
    log: Log,
    record: &[u8],
) -> Result<()> {
    let (area, (head, count)) = (log.area(app), log.head_and_count());
    if !area.enabled() || record.len() != usize::from(area.len) {
        return Ok(());
    }
    let have = app.get_u8(ctx, count)?;
    let old = app.get_u8(ctx, head)?;
    let next = if have == 0 {
        0
    } else {
        old.saturating_add(1) % area.max
    };
    ctx.write(
        usize::from(area.at) + usize::from(next) * usize::from(area.len),
        record,
    )?;
    app.put(ctx, head, &[next])?;
    app.put(ctx, count, &[have.saturating_add(1).min(area.max)])?;
    Ok(())
}

/// Longest log record.
pub(crate) const MAX_LOG_RECORD: usize = 128;

/// The transaction-log record (format `9F4F`) of this transaction, answered with `cid`
/// and leaving the EC balance `balance`.
pub(crate) fn transaction_record<N: Nvm>(
    ctx: &AppletContext<'_, N>,
    app: &App,
    txn: &Transaction,
    cid: Cid,
    balance: Option<u64>,
) -> Result<Vec<u8, MAX_LOG_RECORD>> {
    let format = app.get(ctx, Obj::LogFormat)?;
    let mut record = Vec::new();
    log_values(format.as_slice(), txn, cid, balance, &mut record)?;
    Ok(record)
}

/// Fills the values a log-format DOL asks for: card data first (`9F36` ATC, `9F27` CID,
/// `9F79` EC balance), then the terminal's values of this transaction; a value is cut or
/// zero-padded to the DOL length (EMV Book 3 §5.4), unknown ones are zeros.
pub(crate) fn log_values(
    format: &[u8],
    txn: &Transaction,
    cid: Cid,
    balance: Option<u64>,
    out: &mut Vec<u8, MAX_LOG_RECORD>,
) -> Result<()> {
    for e in DolReader::new(format) {
        let e = e.map_err(|_| Status::MemoryFailure)?;
        let atc = txn.atc.to_be_bytes();
        let bal = crate::layout::u64_to_bcd6(balance.unwrap_or(0));
        let cidb = [cid.bits()];
        let value: &[u8] = match e.tag.0 {
            0x9F36 => &atc,
            0x9F27 => &cidb,
            0x9F79 => &bal,
            t => txn.terminal(t).unwrap_or(&[]),
        };
        for i in 0..e.len {
            out.push(value.get(i).copied().unwrap_or(0))
                .map_err(|_| Status::MemoryFailure)?;
        }
    }
    Ok(())
}
