//! Model-based test of the file system: random sequences of SELECT, READ/UPDATE BINARY,
//! READ/UPDATE RECORD (every P2 mode) and APPEND RECORD run against the card and against
//! a reference model, and every response (data and SW) must agree.
//!
//! The model is deliberately naive: files are `Vec`s of bytes or of records in
//! record-number order (a cyclic file's record 1 is element 0, and adding a record is an
//! insert at the front), and the current DF / EF / record pointer rules are written out
//! from LD/T 32 P3 §5.3 and P5 §6.9–6.13 as the card documents them. The card stores
//! records in slots with a cyclic head, length bytes and a journaled store, so agreement
//! is evidence that the two independent descriptions mean the same thing.
#![allow(clippy::restriction)]

mod fs_tree;

use fs_tree::{DFS, MF_EFS, to_hex};
use proptest::prelude::*;
use sscard_core::CosOptions;
use sscard_core::card::applet::Interface;
use sscard_core::fs::build::Structure;
use sscard_core::options::LeZero;

// ---------------------------------------------------------------------------------------
// Commands

/// How Le is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Le {
    /// One byte; 00 means 256 ("as much as available").
    Short(u8),
    /// Two bytes of an extended APDU; 0000 means 65536.
    Extended(u16),
}

impl Le {
    fn value(self) -> usize {
        match self {
            Le::Short(0) => 256,
            Le::Short(n) => usize::from(n),
            Le::Extended(0) => 65536,
            Le::Extended(n) => usize::from(n),
        }
    }
    fn is_max(self) -> bool {
        matches!(self, Le::Short(0) | Le::Extended(0))
    }
}

#[derive(Clone, Debug)]
struct Cmd {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: Vec<u8>,
    le: Option<Le>,
}

impl Cmd {
    /// A command of class 00.
    fn class_00(ins: u8, p1: u8, p2: u8, data: Vec<u8>, le: Option<Le>) -> Self {
        Cmd {
            cla: 0,
            ins,
            p1,
            p2,
            data,
            le,
        }
    }

    /// ISO 7816-3 encoding: short unless Le is extended.
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.cla, self.ins, self.p1, self.p2];
        match self.le {
            Some(Le::Extended(le)) => {
                out.push(0);
                if !self.data.is_empty() {
                    out.extend_from_slice(&(self.data.len() as u16).to_be_bytes());
                    out.extend_from_slice(&self.data);
                }
                out.extend_from_slice(&le.to_be_bytes());
            }
            short => {
                if !self.data.is_empty() {
                    out.push(self.data.len() as u8);
                    out.extend_from_slice(&self.data);
                }
                if let Some(Le::Short(le)) = short {
                    out.push(le);
                }
            }
        }
        out
    }

    fn is_extended(&self) -> bool {
        matches!(self.le, Some(Le::Extended(_)))
    }
}

#[derive(Clone, Debug)]
enum Op {
    Command(Cmd),
    /// The command with an Lc one larger than its data (data never empty): `6700`.
    BadLc(Cmd),
    PowerCycle,
}

// ---------------------------------------------------------------------------------------
// The reference model

const MF: usize = 0;
const SW_OK: u16 = 0x9000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Mf,
    Df,
    Transparent,
    LinearFixed,
    LinearVariable,
    Cyclic,
}

impl Kind {
    fn is_df(self) -> bool {
        matches!(self, Kind::Mf | Kind::Df)
    }
    fn is_record(self) -> bool {
        matches!(
            self,
            Kind::LinearFixed | Kind::LinearVariable | Kind::Cyclic
        )
    }
}

#[derive(Clone, Debug)]
struct File {
    kind: Kind,
    parent: usize,
    fid: u16,
    sfi: u8,
    name: Vec<u8>,
    fci: Vec<u8>,
    tlv_records: bool,
    /// Fixed record length, or the longest record of a variable file.
    record_len: usize,
    max_records: usize,
    /// Transparent contents.
    bytes: Vec<u8>,
    /// Records in record-number order.
    records: Vec<Vec<u8>>,
}

/// P2 b3–b1 of the record commands (P5 T32/T44), as the model reads the table: four
/// searches by identifier, one record by number, two runs of records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Addressing {
    /// 000–011: by identifier, forwards (first, next) or backwards (last, previous), from
    /// the end of the file or, `relative`, from the current record.
    Id { backwards: bool, relative: bool },
    /// 100: record P1 (0: the current record).
    Number,
    /// 101: P1 to the last record; 110 (`reversed`): the last record back to P1.
    Run { reversed: bool },
}

#[derive(Clone, Debug)]
struct Model {
    files: Vec<File>,
    le_zero_exact: bool,
    current_df: usize,
    current_ef: Option<usize>,
    current_record: Option<u8>,
    last_name_match: Option<usize>,
}

/// FCI of a DF (P5 T36–T38): `6F { 84 name | 83 FID, A5 { proprietary } }`.
fn fci(fid: u16, name: &[u8], proprietary: &[u8]) -> Vec<u8> {
    let mut inner = if name.is_empty() {
        vec![0x83, 0x02, (fid >> 8) as u8, fid as u8]
    } else {
        [&[0x84, name.len() as u8][..], name].concat()
    };
    if !proprietary.is_empty() {
        inner.extend_from_slice(&[0xA5, proprietary.len() as u8]);
        inner.extend_from_slice(proprietary);
    }
    [&[0x6F, inner.len() as u8][..], &inner].concat()
}

fn ef_file(parent: usize, def: &fs_tree::EfDef) -> File {
    let (kind, record_len, max_records, size) = match def.structure {
        Structure::Transparent { size } => (Kind::Transparent, 0, 0, size as usize),
        Structure::LinearFixed {
            record_len,
            records,
        } => (Kind::LinearFixed, record_len, records, 0),
        Structure::LinearVariable { max_len, records } => {
            (Kind::LinearVariable, max_len, records, 0)
        }
        Structure::Cyclic {
            record_len,
            records,
        } => (Kind::Cyclic, record_len, records, 0),
    };
    let mut file = File {
        kind,
        parent,
        fid: def.fid,
        sfi: def.sfi,
        name: vec![],
        fci: vec![],
        tlv_records: def.tlv_records,
        record_len: usize::from(record_len),
        max_records: usize::from(max_records),
        bytes: vec![0; size],
        records: vec![],
    };
    for init in def.init {
        if kind == Kind::Transparent {
            file.bytes[..init.len()].copy_from_slice(init);
        } else {
            file.add_record(init);
        }
    }
    file
}

impl File {
    /// Adds a record: linear files at the end, cyclic files as record 1 (the oldest
    /// drops out of a full cycle). Returns its number.
    fn add_record(&mut self, data: &[u8]) -> u8 {
        if self.kind == Kind::Cyclic {
            self.records.insert(0, data.to_vec());
            self.records.truncate(self.max_records);
            1
        } else {
            self.records.push(data.to_vec());
            self.records.len() as u8
        }
    }

    fn count(&self) -> u8 {
        self.records.len() as u8
    }

    /// The record write checks of P5 T45.
    fn check_record_data(&self, data: &[u8]) -> Result<(), u16> {
        let fixed = matches!(self.kind, Kind::LinearFixed | Kind::Cyclic);
        if fixed && data.len() != self.record_len || data.is_empty() {
            return Err(0x6700);
        }
        if data.len() > self.record_len {
            return Err(0x6A84);
        }
        // One simple-TLV, short length form (the files are far below 255 bytes).
        let one_tlv = data.len() >= 2
            && data[0] != 0x00
            && data[0] != 0xFF
            && data[1] != 0xFF
            && data.len() == 2 + usize::from(data[1]);
        if self.tlv_records && !one_tlv {
            return Err(0x6A85);
        }
        Ok(())
    }

    /// Record search by identifier (0 = any record), P3 §5.3: next/previous start from
    /// the current record, or from the first/last one when there is none.
    fn search(&self, backwards: bool, relative: bool, id: u8, from: Option<u8>) -> Option<u8> {
        let count = i32::from(self.count());
        let (start, step) = if backwards { (count, -1) } else { (1, 1) };
        let mut n = match (relative, from) {
            (true, Some(current)) => i32::from(current) + step,
            _ => start,
        };
        while (1..=count).contains(&n) {
            if id == 0 || self.records[n as usize - 1][0] == id {
                return Some(n as u8);
            }
            n += step;
        }
        None
    }
}

fn addressing(p2: u8) -> Result<Addressing, u16> {
    let mode = p2 & 7;
    match mode {
        0..=3 => Ok(Addressing::Id {
            backwards: mode & 1 != 0,
            relative: mode & 2 != 0,
        }),
        4 => Ok(Addressing::Number),
        5 | 6 => Ok(Addressing::Run {
            reversed: mode == 6,
        }),
        _ => Err(0x6A86),
    }
}

/// P2 b8–b4 of the record commands: 0 = current EF, 31 is RFU.
fn record_sfi(p2: u8) -> Result<Option<u8>, u16> {
    match p2 >> 3 {
        0 => Ok(None),
        31 => Err(0x6A86),
        sfi => Ok(Some(sfi)),
    }
}

/// P1 of the binary commands: `100sssss` SFI (offset in P2) or a 15-bit offset.
fn binary_address(p1: u8, p2: u8) -> Result<(Option<u8>, usize), u16> {
    if p1 & 0x80 == 0 {
        Ok((None, usize::from(p1) << 8 | usize::from(p2)))
    } else if p1 & 0x60 == 0 && p1 & 0x1F != 0 {
        Ok((Some(p1 & 0x1F), usize::from(p2)))
    } else {
        Err(0x6A86)
    }
}

impl Model {
    fn new(le_zero_exact: bool) -> Self {
        let mut files = vec![File {
            kind: Kind::Mf,
            parent: MF,
            fid: 0x3F00,
            sfi: 0,
            name: vec![],
            fci: fci(0x3F00, &[], &[]),
            tlv_records: false,
            record_len: 0,
            max_records: 0,
            bytes: vec![],
            records: vec![],
        }];
        for def in MF_EFS {
            files.push(ef_file(MF, def));
        }
        for df in DFS {
            let index = files.len();
            files.push(File {
                kind: Kind::Df,
                parent: MF,
                fid: df.fid,
                sfi: 0,
                name: df.name.to_vec(),
                fci: fci(df.fid, df.name, df.fci_proprietary),
                tlv_records: false,
                record_len: 0,
                max_records: 0,
                bytes: vec![],
                records: vec![],
            });
            for def in df.efs {
                files.push(ef_file(index, def));
            }
        }
        Model {
            files,
            le_zero_exact,
            current_df: MF,
            current_ef: None,
            current_record: None,
            last_name_match: None,
        }
    }

    fn power_cycle(&mut self) {
        self.current_df = MF;
        self.current_ef = None;
        self.current_record = None;
        self.last_name_match = None;
    }

    /// The expected response: data ‖ SW, data only on success.
    fn process(&mut self, cmd: &Cmd) -> Vec<u8> {
        let result = match (cmd.cla, cmd.ins) {
            (0x00, 0xA4) => self.select(cmd),
            (0x00, 0xB0) => self.read_binary(cmd),
            (0x00, 0xD6) => self.update_binary(cmd).map(|()| vec![]),
            (0x00, 0xB2) => self.read_record(cmd),
            (0x00, 0xDC) => self.update_record(cmd).map(|()| vec![]),
            (0x00, 0xE2) => self.append_record(cmd).map(|()| vec![]),
            // Secure messaging: no MAC → 6987; the model never issues a challenge → 6984.
            (0x04, 0xD6 | 0xDC) => Err(if cmd.data.len() < 4 || cmd.is_extended() {
                0x6987
            } else {
                0x6984
            }),
            (0x00 | 0x04 | 0x80 | 0x84 | 0xB0, _) => Err(0x6D00),
            _ => Err(0x6E00),
        };
        match result {
            Ok(mut data) => {
                data.extend_from_slice(&SW_OK.to_be_bytes());
                data
            }
            Err(sw) => sw.to_be_bytes().to_vec(),
        }
    }

    fn select(&mut self, cmd: &Cmd) -> Result<Vec<u8>, u16> {
        let next = match cmd.p2 & 0x03 {
            0x00 => false,
            0x02 => true,
            _ => return Err(0x6A86),
        };
        let with_fci = match cmd.p2 & 0xFC {
            0x00 | 0x04 => true,
            0x0C => false,
            _ => return Err(0x6A86),
        };
        let fid = || match cmd.data[..] {
            [a, b] => Ok(u16::from_be_bytes([a, b])),
            _ => Err(0x6700u16),
        };
        let df = self.current_df;
        let parent = self.files[df].parent;
        let first = |f: &dyn Fn(usize, &File) -> bool| {
            self.files
                .iter()
                .enumerate()
                .position(|(i, file)| f(i, file))
        };
        let target = match cmd.p1 {
            0x00 if cmd.data.is_empty() || cmd.data == [0x3F, 0x00] => MF,
            0x00 => {
                // A child of the current DF; else the current DF, its parent or a sibling DF.
                let fid = fid()?;
                first(&|i, f| f.parent == df && i != MF && f.fid == fid)
                    .or_else(|| {
                        first(&|i, f| {
                            (i == df || i == parent) && f.fid == fid
                                || f.parent == parent && i != MF && f.kind.is_df() && f.fid == fid
                        })
                    })
                    .ok_or(0x6A82u16)?
            }
            0x01 => {
                let fid = fid()?;
                first(&|i, f| f.parent == df && i != MF && f.kind.is_df() && f.fid == fid)
                    .ok_or(0x6A82u16)?
            }
            0x02 => {
                let fid = fid()?;
                first(&|_, f| f.parent == df && !f.kind.is_df() && f.fid == fid).ok_or(0x6A82u16)?
            }
            0x03 => {
                if !cmd.data.is_empty() {
                    return Err(0x6700);
                }
                parent
            }
            0x04 => {
                if cmd.data.is_empty() || cmd.data.len() > 16 {
                    return Err(0x6700);
                }
                // Partial names; "next occurrence" continues after the last match.
                let after = if next { self.last_name_match } else { None };
                let hit = first(&|i, f| {
                    after.is_none_or(|a| i > a) && f.kind.is_df() && f.name.starts_with(&cmd.data)
                })
                .ok_or(0x6A82u16)?;
                self.last_name_match = Some(hit);
                hit
            }
            _ => return Err(0x6A86),
        };
        if cmd.p1 != 0x04 {
            self.last_name_match = None;
        }
        if !self.files[target].kind.is_df() {
            if self.current_ef != Some(target) {
                self.current_record = None;
            }
            self.current_ef = Some(target);
            return Ok(vec![]);
        }
        self.current_df = target;
        self.current_ef = None;
        self.current_record = None;
        Ok(if with_fci {
            self.files[target].fci.clone()
        } else {
            vec![]
        })
    }

    /// The EF a data command addresses: by SFI in the current DF (it becomes the current
    /// EF), else the current EF.
    fn resolve_ef(&mut self, sfi: Option<u8>) -> Result<usize, u16> {
        match sfi {
            None => self.current_ef.ok_or(0x6986),
            Some(sfi) => {
                let df = self.current_df;
                let ef = self
                    .files
                    .iter()
                    .position(|f| f.parent == df && !f.kind.is_df() && f.sfi == sfi)
                    .ok_or(0x6A82u16)?;
                if self.current_ef != Some(ef) {
                    self.current_ef = Some(ef);
                    self.current_record = None;
                }
                Ok(ef)
            }
        }
    }

    fn read_binary(&mut self, cmd: &Cmd) -> Result<Vec<u8>, u16> {
        let (sfi, offset) = binary_address(cmd.p1, cmd.p2)?;
        if !cmd.data.is_empty() {
            return Err(0x6700);
        }
        let le = cmd.le.ok_or(0x6700u16)?;
        let ef = self.resolve_ef(sfi)?;
        let file = &self.files[ef];
        if file.kind != Kind::Transparent {
            return Err(0x6981);
        }
        if offset >= file.bytes.len() {
            return Err(0x6B00);
        }
        let available = file.bytes.len() - offset;
        // Strict T=0 exactness: a short Le = 00 with fewer than 256 bytes left is 6Cxx.
        if le.is_max() && !cmd.is_extended() && self.le_zero_exact && available < 256 {
            return Err(0x6C00 | available as u16);
        }
        let n = if le.is_max() || le.value() <= available {
            le.value().min(available)
        } else if !cmd.is_extended() {
            return Err(0x6C00 | available as u16);
        } else {
            available
        };
        Ok(file.bytes[offset..offset + n].to_vec())
    }

    fn update_binary(&mut self, cmd: &Cmd) -> Result<(), u16> {
        let (sfi, offset) = binary_address(cmd.p1, cmd.p2)?;
        if cmd.data.is_empty() {
            return Err(0x6700);
        }
        let ef = self.resolve_ef(sfi)?;
        let file = &mut self.files[ef];
        if file.kind != Kind::Transparent {
            return Err(0x6981);
        }
        if offset >= file.bytes.len() {
            return Err(0x6B00);
        }
        if cmd.data.len() > file.bytes.len() - offset {
            return Err(0x6700);
        }
        file.bytes[offset..offset + cmd.data.len()].copy_from_slice(&cmd.data);
        Ok(())
    }

    fn read_record(&mut self, cmd: &Cmd) -> Result<Vec<u8>, u16> {
        let how = addressing(cmd.p2)?;
        let sfi = record_sfi(cmd.p2)?;
        if !cmd.data.is_empty() {
            return Err(0x6700);
        }
        let le = cmd.le.ok_or(0x6700u16)?;
        let ef = self.resolve_ef(sfi)?;
        if !self.files[ef].kind.is_record() {
            return Err(0x6981);
        }
        let current = self.current_record;
        let file = &self.files[ef];
        let count = file.count();
        let numbered = || if cmd.p1 == 0 { current } else { Some(cmd.p1) };
        // The records to return, in answer order.
        let (first, last) = match how {
            Addressing::Number => {
                let n = numbered().ok_or(0x6A83u16)?;
                (n, n)
            }
            Addressing::Run { reversed: false } => (numbered().ok_or(0x6A83u16)?, count),
            Addressing::Run { reversed: true } => (count, numbered().ok_or(0x6A83u16)?),
            Addressing::Id {
                backwards,
                relative,
            } => {
                let n = file
                    .search(backwards, relative, cmd.p1, current)
                    .ok_or(0x6A83u16)?;
                self.current_record = Some(n);
                (n, n)
            }
        };
        let in_range = |n: u8| (1..=count).contains(&n);
        let ordered = if how == (Addressing::Run { reversed: true }) {
            first >= last
        } else {
            first <= last
        };
        if !in_range(first) || !in_range(last) || !ordered {
            return Err(0x6A83);
        }
        let numbers: Vec<u8> = if first <= last {
            (first..=last).collect()
        } else {
            (last..=first).rev().collect()
        };
        let total: usize = numbers
            .iter()
            .map(|&n| file.records[usize::from(n) - 1].len())
            .sum();
        let take = if le.is_max() {
            if !cmd.is_extended() && self.le_zero_exact && total <= 255 {
                return Err(0x6C00 | total as u16);
            }
            total.min(le.value())
        } else if le.value() < total {
            return Err(0x6C00 | total.min(255) as u16);
        } else {
            total
        };
        // Whole records only.
        let mut out = vec![];
        for n in numbers {
            let record = &file.records[usize::from(n) - 1];
            if out.len() + record.len() > take {
                break;
            }
            out.extend_from_slice(record);
        }
        Ok(out)
    }

    fn update_record(&mut self, cmd: &Cmd) -> Result<(), u16> {
        let how = addressing(cmd.p2)?;
        let sfi = record_sfi(cmd.p2)?;
        let ef = self.resolve_ef(sfi)?;
        let current = self.current_record;
        let file = &mut self.files[ef];
        if !file.kind.is_record() {
            return Err(0x6981);
        }
        file.check_record_data(&cmd.data)?;
        enum Target {
            Replace(u8),
            Add,
        }
        let p1 = cmd.p1;
        let target = match how {
            Addressing::Number => {
                let n = if p1 == 0 {
                    current.ok_or(0x6A83u16)?
                } else {
                    p1
                };
                if n <= file.count() {
                    Target::Replace(n)
                } else if usize::from(n) == file.records.len() + 1 && file.kind != Kind::Cyclic {
                    // SSC: the record after the last one is created (spec/ssc.md §5).
                    Target::Add
                } else {
                    return Err(0x6A83);
                }
            }
            // Cyclic files: "previous occurrence" adds a record (P5 §6.13.1).
            Addressing::Id {
                backwards: true,
                relative: true,
            } if file.kind == Kind::Cyclic => Target::Add,
            Addressing::Run { .. } => return Err(0x6A86),
            Addressing::Id {
                backwards,
                relative,
            } => {
                if p1 != 0 && file.tlv_records && cmd.data[0] != p1 {
                    return Err(0x6A80);
                }
                match file.search(backwards, relative, p1, current) {
                    Some(n) => Target::Replace(n),
                    None => Target::Add,
                }
            }
        };
        let written = match target {
            Target::Replace(n) => {
                file.records[usize::from(n) - 1] = cmd.data.clone();
                n
            }
            Target::Add => {
                if file.kind != Kind::Cyclic && file.records.len() >= file.max_records {
                    return Err(0x6A84);
                }
                file.add_record(&cmd.data)
            }
        };
        self.current_record = match how {
            Addressing::Number if p1 == 0 => None,
            Addressing::Number => current,
            _ => Some(written),
        };
        Ok(())
    }

    fn append_record(&mut self, cmd: &Cmd) -> Result<(), u16> {
        if cmd.p1 != 0 || cmd.p2 & 0x07 != 0 {
            return Err(0x6A86);
        }
        let sfi = record_sfi(cmd.p2)?;
        let ef = self.resolve_ef(sfi)?;
        let file = &mut self.files[ef];
        if !file.kind.is_record() {
            return Err(0x6981);
        }
        file.check_record_data(&cmd.data)?;
        if file.kind != Kind::Cyclic && file.records.len() >= file.max_records {
            return Err(0x6A84);
        }
        self.current_record = Some(file.add_record(&cmd.data));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Generators

fn fid_data() -> impl Strategy<Value = Vec<u8>> {
    // The DFs several times: most sequences should spend their time inside one.
    let known: Vec<u16> = vec![
        0x3F00, 0xDF01, 0xDF01, 0xDF01, 0xDF02, 0xDF02, 0xA001, 0xA002, 0xA003, 0xA004, 0xB002,
        0x2F01, 0xDF03,
    ];
    prop_oneof![
        6 => proptest::sample::select(known).prop_map(|fid| fid.to_be_bytes().to_vec()),
        1 => any::<u16>().prop_map(|fid| fid.to_be_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..4),
    ]
}

fn name_data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (1usize..=6, any::<bool>()).prop_map(|(n, second)| {
            let name = if second { fs_tree::DF02_NAME } else { fs_tree::DF01_NAME };
            name[..n].to_vec()
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..18),
    ]
}

fn select() -> impl Strategy<Value = Cmd> {
    let p2 = prop_oneof![
        4 => Just(0x00u8),
        4 => Just(0x0C),
        2 => Just(0x02),
        1 => Just(0x04),
        1 => Just(0x0E),
        1 => any::<u8>(),
    ];
    // Weighted towards the DFs: a session that sits in the MF only sees one EF.
    let target = prop_oneof![
        8 => (prop_oneof![Just(0u8), Just(1), Just(2)], fid_data()),
        6 => (Just(4u8), name_data()),
        1 => (Just(3u8), Just(vec![])),
        1 => (Just(0u8), Just(vec![])),
        1 => (any::<u8>(), fid_data()),
    ];
    (
        target,
        p2,
        prop_oneof![Just(None), Just(Some(Le::Short(0)))],
    )
        .prop_map(|((p1, data), p2, le)| Cmd::class_00(0xA4, p1, p2, data, le))
}

/// P1 of the binary commands: mostly an SFI (0 and 31 included) or a small offset.
fn binary_p1() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop_oneof![Just(0x81u8), Just(0x85)],
        2 => (0u8..=6).prop_map(|sfi| 0x80 | sfi),
        3 => Just(0u8),
        1 => Just(0x9F),
        1 => any::<u8>(),
    ]
}

fn binary_offset() -> impl Strategy<Value = u8> {
    prop_oneof![4 => 0u8..48, 1 => any::<u8>()]
}

fn read_binary() -> impl Strategy<Value = Cmd> {
    (
        binary_p1(),
        binary_offset(),
        read_le(),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(p1, p2, le, with_data)| {
            Cmd::class_00(0xB0, p1, p2, if with_data { vec![0] } else { vec![] }, le)
        })
}

fn update_binary() -> impl Strategy<Value = Cmd> {
    let data = prop_oneof![
        5 => proptest::collection::vec(any::<u8>(), 0..12),
        1 => proptest::collection::vec(any::<u8>(), 12..48),
    ];
    (binary_p1(), binary_offset(), data)
        .prop_map(|(p1, p2, data)| Cmd::class_00(0xD6, p1, p2, data, None))
}

/// P1 of the record commands: a record number, a record identifier of the tree, or 0.
fn record_p1() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => 0u8..=6,
        3 => proptest::sample::select(vec![0x01u8, 0x02, 0x05, 0x06, 0x07, 0x11, 0xC0]),
        1 => any::<u8>(),
    ]
}

/// SFI of a record command: mostly DF01's record files (2, 3, 4); also the current EF
/// (0), the transparent EF and DF02's files (1, 5), the RFU value 31, and anything.
fn sfi_choice() -> impl Strategy<Value = u8> {
    prop_oneof![
        2 => Just(0u8),
        10 => 2u8..=4,
        2 => prop_oneof![Just(1u8), Just(5)],
        1 => Just(31u8),
        1 => 0u8..32,
    ]
}

/// Record data shaped for the file the SFI names in DF01 or DF02 (4-byte and 3-byte
/// fixed records, simple-TLVs, 1–6 byte records), sometimes any shape at all.
fn record_data(sfi: u8) -> BoxedStrategy<Vec<u8>> {
    let tlv = (
        proptest::sample::select(vec![0x01u8, 0x02, 0x05, 0x06, 0x07]),
        proptest::collection::vec(any::<u8>(), 0..7),
    )
        .prop_map(|(tag, value)| [&[tag, value.len() as u8][..], &value].concat());
    let shaped = match sfi {
        2 => proptest::collection::vec(any::<u8>(), 4).boxed(),
        3 => tlv.boxed(),
        4 => proptest::collection::vec(any::<u8>(), 3).boxed(),
        1 => proptest::collection::vec(any::<u8>(), 1..=6).boxed(),
        _ => prop_oneof![proptest::collection::vec(any::<u8>(), 3..=4), tlv].boxed(),
    };
    prop_oneof![
        4 => shaped,
        1 => proptest::collection::vec(any::<u8>(), 0..10),
    ]
    .boxed()
}

/// Le of the read commands: rarely absent.
fn read_le() -> impl Strategy<Value = Option<Le>> {
    prop_oneof![
        1 => Just(None),
        6 => Just(Some(Le::Short(0))),
        4 => (1u8..48).prop_map(|n| Some(Le::Short(n))),
        1 => Just(Some(Le::Extended(0))),
        1 => (1u16..48).prop_map(|n| Some(Le::Extended(n))),
    ]
}

fn read_record() -> impl Strategy<Value = Cmd> {
    (
        record_p1(),
        sfi_choice(),
        0u8..8,
        read_le(),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(p1, sfi, mode, le, with_data)| {
            Cmd::class_00(
                0xB2,
                p1,
                sfi << 3 | mode,
                if with_data { vec![0] } else { vec![] },
                le,
            )
        })
}

fn update_record() -> impl Strategy<Value = Cmd> {
    (record_p1(), sfi_choice(), 0u8..8, any::<bool>()).prop_flat_map(
        |(p1, sfi, mode, tag_is_p1)| {
            record_data(sfi).prop_map(move |mut data| {
                // Identifier addressing of a TLV file needs the record's tag to be P1.
                if tag_is_p1 && mode < 4 && p1 != 0 && !data.is_empty() {
                    data[0] = p1;
                }
                Cmd::class_00(0xDC, p1, sfi << 3 | mode, data, None)
            })
        },
    )
}

fn append_record() -> impl Strategy<Value = Cmd> {
    let p1 = prop_oneof![8 => Just(0u8), 1 => any::<u8>()];
    let mode = prop_oneof![8 => Just(0u8), 1 => 1u8..8];
    (p1, sfi_choice(), mode).prop_flat_map(|(p1, sfi, mode)| {
        record_data(sfi).prop_map(move |data| Cmd::class_00(0xE2, p1, sfi << 3 | mode, data, None))
    })
}

/// A file command with another class byte (`6D00`, `6E00`, or secure messaging).
fn other_class() -> impl Strategy<Value = Cmd> {
    (
        prop_oneof![Just(0x04u8), Just(0x80), Just(0x10), any::<u8>()],
        prop_oneof![update_binary(), read_record(), update_record()],
    )
        .prop_map(|(cla, cmd)| Cmd { cla, ..cmd })
}

fn op() -> impl Strategy<Value = Op> {
    // A power cycle returns to the MF, which has one EF: keep them rare.
    prop_oneof![
        10 => select().prop_map(Op::Command),
        6 => read_binary().prop_map(Op::Command),
        4 => update_binary().prop_map(Op::Command),
        10 => read_record().prop_map(Op::Command),
        8 => update_record().prop_map(Op::Command),
        4 => append_record().prop_map(Op::Command),
        2 => other_class().prop_map(Op::Command),
        2 => update_record()
            .prop_filter("data present", |c| !c.data.is_empty())
            .prop_map(Op::BadLc),
        1 => Just(Op::PowerCycle),
    ]
}

/// Most sequences start inside DF01 or DF02, where the record files are.
fn start_in_a_df() -> impl Strategy<Value = Vec<Op>> {
    let select = |p1: u8, data: &[u8]| {
        vec![Op::Command(Cmd::class_00(
            0xA4,
            p1,
            0x0C,
            data.to_vec(),
            None,
        ))]
    };
    prop_oneof![
        6 => Just(select(0x04, fs_tree::DF01_NAME)),
        3 => Just(select(0x00, &[0xDF, 0x02])),
        1 => Just(vec![]),
    ]
}

// ---------------------------------------------------------------------------------------
// The properties

fn options(le_zero_exact: bool) -> CosOptions {
    CosOptions {
        le_zero: if le_zero_exact {
            LeZero::ExactLength
        } else {
            LeZero::Lenient
        },
        t0_get_response: false,
        ..CosOptions::default()
    }
}

/// Runs `ops` against the card and the model; the first disagreement is an error that
/// names the step and both responses.
fn compare(le_zero_exact: bool, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut card = fs_tree::card(options(le_zero_exact));
    let mut model = Model::new(le_zero_exact);
    let mut out = vec![0u8; 1024];
    for (i, op) in ops.iter().enumerate() {
        let (apdu, expected) = match op {
            Op::PowerCycle => {
                card.power_off();
                card.power_on(Interface::Contact).unwrap();
                model.power_cycle();
                continue;
            }
            Op::Command(cmd) => (cmd.encode(), model.process(cmd)),
            Op::BadLc(cmd) => {
                let mut apdu = cmd.encode();
                apdu[4] += 1;
                (apdu, vec![0x67, 0x00])
            }
        };
        let n = card.process(&apdu, &mut out);
        prop_assert_eq!(
            to_hex(&out[..n]),
            to_hex(&expected),
            "step {} {}: card vs model (model state after: DF {} EF {:?} record {:?})",
            i,
            to_hex(&apdu),
            model.current_df,
            model.current_ef,
            model.current_record
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn the_card_behaves_like_the_model(
        le_zero_exact in any::<bool>(),
        start in start_in_a_df(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        compare(le_zero_exact, &[start, ops].concat())?;
    }
}

/// Byte-exact fixtures through every command kind and every record file, success and
/// error paths: the card and the model must both give the written answer (so the model
/// is checked against the spec's examples, not only against the card).
#[test]
fn fixed_session_on_card_and_model() {
    let session = [
        // DF01 by partial name (FCI with A5), then the next occurrence (DF02), then none.
        ("00A4040005D156000005", "6F0D8406D15600000501A5038801039000"),
        ("00A4040205D156000005", "6F088406D156000005029000"),
        ("00A4040205D156000005", "6A82"),
        // P1=00 reaches the sibling DF01 from DF02; P2=0C: no FCI.
        ("00A4000C02DF01", "9000"),
        (
            "00B0810000",
            &format!("{}{}9000", "A5".repeat(16), "00".repeat(24)),
        ),
        ("00B2011400", "111111119000"),
        ("00B2011500", "11111111121212129000"),
        ("00DC0218050203DDEEFF", "9000"),
        ("00B2021800", "0203DDEEFF9000"),
        // Next occurrence of identifier 02 after record 2: none.
        ("00B2021A00", "6A83"),
        // Cyclic: two additions fill the three slots and wrap.
        ("00E2002003030303", "9000"),
        ("00E2002003040404", "9000"),
        ("00B2012500", "0404040303030202029000"),
        ("00B2032600", "0202029000"),
        ("00DC002303050505", "9000"),
        ("00B2012500", "0505050404040303039000"),
        ("00D6810304BEEFCAFE", "9000"),
        ("00A4020C02A001", "9000"),
        ("00B0000008", "A5A5A5BEEFCAFEA59000"),
        ("00B0002800", "6B00"),
        ("00B0002400", "000000009000"),
        ("00B0002408", "6C04"),
        ("00A4000002DF02", "6F088406D156000005029000"),
        ("00B2010C00", "C0FFEE9000"),
        ("00A4000C023F00", "9000"),
        ("00B0810004", "2F0100009000"),
        ("80B0810004", "6D00"),
        // The current EF is now the MF's transparent EF 2F01.
        ("00B2010400", "6981"),
    ];
    let mut card = fs_tree::card(options(false));
    let mut model = Model::new(false);
    let mut out = vec![0u8; 1024];
    for (apdu, expected) in session {
        let cmd = parse_short(&fs_tree::hex(apdu));
        assert_eq!(to_hex(&model.process(&cmd)), expected, "model: {apdu}");
        let n = card.process(&cmd.encode(), &mut out);
        assert_eq!(to_hex(&out[..n]), expected, "card: {apdu}");
    }
    // The same session with strict Le = 00 only has to agree.
    let ops: Vec<Op> = session
        .iter()
        .map(|(apdu, _)| Op::Command(parse_short(&fs_tree::hex(apdu))))
        .collect();
    compare(true, &ops).unwrap();
}

/// A short APDU as a [`Cmd`] (the fixtures only use short APDUs).
fn parse_short(b: &[u8]) -> Cmd {
    let (data, le) = match b.len() {
        4 => (vec![], None),
        5 => (vec![], Some(Le::Short(b[4]))),
        n => {
            let lc = usize::from(b[4]);
            let le = (n == 6 + lc).then(|| Le::Short(b[n - 1]));
            (b[5..5 + lc].to_vec(), le)
        }
    };
    let cmd = Cmd {
        cla: b[0],
        ins: b[1],
        p1: b[2],
        p2: b[3],
        data,
        le,
    };
    assert_eq!(cmd.encode(), b, "fixture is not a canonical short APDU");
    cmd
}

// ---------------------------------------------------------------------------------------
// Never panics, never mute while powered

fn raw_apdu() -> impl Strategy<Value = Vec<u8>> {
    let header = (
        prop_oneof![
            Just(0x00u8),
            Just(0x04),
            Just(0x80),
            Just(0x84),
            any::<u8>()
        ],
        prop_oneof![
            proptest::sample::select(vec![
                0xA4u8, 0xB0, 0xD6, 0xB2, 0xDC, 0xE2, 0xC0, 0x84, 0x20, 0x88, 0x82
            ]),
            any::<u8>()
        ],
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(|(cla, ins, p1, p2)| vec![cla, ins, p1, p2]);
    prop_oneof![
        // Random bodies behind a plausible header.
        3 => (header, proptest::collection::vec(any::<u8>(), 0..296))
            .prop_map(|(h, body)| [h, body].concat()),
        // Anything at all.
        1 => proptest::collection::vec(any::<u8>(), 0..300),
    ]
}

fn session_event() -> impl Strategy<Value = sscard_testkit::fuzz_checks::Event> {
    use sscard_testkit::fuzz_checks::Event;
    prop_oneof![
        20 => raw_apdu().prop_map(Event::Apdu),
        1 => Just(Event::PowerCycle(Interface::Contact)),
        1 => Just(Event::PowerCycle(Interface::Contactless)),
        1 => Just(Event::PowerOff),
    ]
}

proptest! {
    /// Any byte string, in any order with power events, gets a response of at least a
    /// status word while the card is powered, and silence while it is not: on the
    /// model's tree (T=0 on, strict Le) and on the fuzzing card.
    #[test]
    fn random_bytes_always_get_a_status_word(
        events in proptest::collection::vec(session_event(), 1..40),
    ) {
        let mut card = fs_tree::card(CosOptions::default());
        let mut oracle = sscard_testkit::secret_oracle::SecretOracle::default();
        let result = sscard_testkit::fuzz_checks::check_session(&mut card, &events, &mut oracle);
        prop_assert!(result.is_ok(), "{:?}", result);
        let mut card = sscard_testkit::sample::sample_card();
        let mut oracle = sscard_testkit::fuzz_checks::sample_oracle();
        let result = sscard_testkit::fuzz_checks::check_session(&mut card, &events, &mut oracle);
        prop_assert!(result.is_ok(), "{:?}", result);
    }
}
