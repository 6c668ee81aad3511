//! Trace files of a served card: [`Tracer`] writes each exchange and power event as text
//! or as JSON lines (one object per command and per response: time, direction, masked
//! hex, name, SW and its meaning), annotated by `sscard_host::annotate`.

use sscard_host::annotate::{
    Application, command_detail, command_name, decode_response, hex, masked_command, masked_hex,
    response_secret, split_response, sw_meaning,
};
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Trace output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TraceFormat {
    /// Lines for people.
    #[default]
    Text,
    /// JSON lines for programs.
    Json,
}

/// Writes a trace of one card's exchanges and power events to a shared sink.
#[derive(Clone)]
pub struct Tracer {
    sink: Arc<Mutex<Box<dyn Write + Send>>>,
    format: TraceFormat,
    source: String,
    /// Header of the last command that answered 61xx, for decoding GET RESPONSE data.
    pending: Vec<u8>,
    /// The environment selected, as seen from the traffic (see [`Tracer::exchange`]).
    application: Application,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("format", &self.format)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// A trace sink in memory: the [`Tracer`] appends lines, any clone of the buffer reads
/// them. Past its limit the oldest whole lines go, so a trace that is switched on and
/// never read cannot eat the host's memory.
#[derive(Clone, Debug)]
pub struct TraceBuffer {
    lines: Arc<Mutex<Vec<u8>>>,
    limit: usize,
}

impl Default for TraceBuffer {
    /// A buffer without limit.
    fn default() -> Self {
        TraceBuffer::with_limit(usize::MAX)
    }
}

impl TraceBuffer {
    /// A buffer that keeps at most `limit` bytes of the newest whole lines.
    pub fn with_limit(limit: usize) -> Self {
        TraceBuffer {
            lines: Arc::default(),
            limit,
        }
    }

    /// Everything kept, not taken.
    pub fn contents(&self) -> Vec<u8> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// [`TraceBuffer::contents`] as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.contents()).into_owned()
    }

    /// Takes the oldest whole lines, at most `limit` bytes of them. `Err(n)`: the next
    /// line alone needs `n` bytes.
    pub fn take_lines(&self, limit: usize) -> Result<Vec<u8>, usize> {
        let mut kept = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        let fits = kept
            .get(..limit.min(kept.len()))
            .and_then(|head| head.iter().rposition(|&b| b == b'\n'))
            .map_or(0, |p| p + 1);
        if fits == 0 && !kept.is_empty() {
            let next = kept
                .iter()
                .position(|&b| b == b'\n')
                .map_or(kept.len(), |p| p + 1);
            return Err(next);
        }
        Ok(kept.drain(..fits).collect())
    }
}

impl Write for TraceBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut kept = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        kept.extend_from_slice(bytes);
        if kept.len() > self.limit {
            // Drop whole lines from the front.
            let excess = kept.len() - self.limit;
            let cut = kept
                .iter()
                .skip(excess)
                .position(|&b| b == b'\n')
                .map_or(kept.len(), |p| excess + p + 1);
            kept.drain(..cut);
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// RFC 3339 UTC time with microseconds.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_micros()
    )
}

impl Tracer {
    /// A tracer writing to `sink`.
    pub fn new(sink: Box<dyn Write + Send>, format: TraceFormat) -> Self {
        Tracer {
            sink: Arc::new(Mutex::new(sink)),
            format,
            source: String::new(),
            pending: Vec::new(),
            application: Application::default(),
        }
    }

    /// A tracer sharing this one's sink, labelling its lines with `source` (e.g. `slot 0`).
    pub fn with_source(&self, source: &str) -> Self {
        Tracer {
            sink: Arc::clone(&self.sink),
            format: self.format,
            source: source.to_string(),
            pending: Vec::new(),
            application: Application::default(),
        }
    }

    fn emit(&self, lines: &[String]) {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        for line in lines {
            // A trace that cannot be written must not stop the card.
            let _ = writeln!(sink, "{line}");
        }
        let _ = sink.flush();
    }

    fn prefix(&self) -> String {
        if self.source.is_empty() {
            String::new()
        } else {
            format!("[{}] ", self.source)
        }
    }

    /// A power event (`power-on`, `power-off`, `reset`, …) with the ATR, if any.
    pub fn event(&mut self, event: &str, atr: &[u8]) {
        self.pending.clear();
        // Power-on and reset start in the MF (social security).
        self.application = Application::SocialSecurity;
        let line = match self.format {
            TraceFormat::Text if atr.is_empty() => format!("{}• {event}", self.prefix()),
            TraceFormat::Text => format!("{}• {event}: ATR {}", self.prefix(), hex(atr)),
            TraceFormat::Json => serde_json::json!({
                "time": rfc3339(SystemTime::now()),
                "source": self.source,
                "direction": "event",
                "event": event,
                "atr": hex(atr),
            })
            .to_string(),
        };
        self.emit(&[line]);
    }

    /// A fault of the test bench (`fault` names it: `delay`, `tear`, `remove`, …) and
    /// what it did, so a trace shows why an answer was late, wrong or missing.
    pub fn fault(&mut self, fault: &str, detail: &str) {
        let line = match self.format {
            TraceFormat::Text => format!("{}⚡ fault {fault}: {detail}", self.prefix()),
            TraceFormat::Json => serde_json::json!({
                "time": rfc3339(SystemTime::now()),
                "source": self.source,
                "direction": "fault",
                "fault": fault,
                "detail": detail,
            })
            .to_string(),
        };
        self.emit(&[line]);
    }

    /// One command and its response (empty = card mute), with the card's processing time.
    /// The environment that answered is followed from the traffic: a successful SELECT by
    /// name enters the environment its name belongs to, a SELECT of the MF the social
    /// security one. [`Tracer::exchange_in`] takes it from the card instead.
    pub fn exchange(&mut self, apdu: &[u8], response: &[u8], elapsed: Duration) {
        let (_, sw) = split_response(response);
        let selected = matches!(sw, Some(0x9000 | 0x6283)) || sw.is_some_and(|sw| sw >> 8 == 0x61);
        match apdu {
            [0x00, 0xA4, 0x04, _, lc, name @ ..] if selected => {
                let name = name.get(..usize::from(*lc)).unwrap_or(name);
                self.application = Application::after_selecting(name);
            }
            [0x00, 0xA4, 0x00, _, rest @ ..]
                if selected && matches!(rest, [] | [0x00] | [0x02, 0x3F, 0x00, ..]) =>
            {
                self.application = Application::SocialSecurity;
            }
            _ => {}
        }
        let application = self.application;
        self.exchange_in(application, apdu, response, elapsed);
    }

    /// [`Tracer::exchange`] with the environment that answered given by the caller (the
    /// card knows which applet is selected).
    pub fn exchange_in(
        &mut self,
        application: Application,
        apdu: &[u8],
        response: &[u8],
        elapsed: Duration,
    ) {
        self.exchange_by(application, apdu, response, elapsed, false);
    }

    /// A pseudo-APDU the emulated reader answered itself (class `FF`, PC/SC part 3
    /// §3.2.2.1): traced like an exchange but marked as the reader's, never the card's.
    pub fn reader_exchange(&mut self, apdu: &[u8], response: &[u8], elapsed: Duration) {
        let application = self.application;
        self.exchange_by(application, apdu, response, elapsed, true);
    }

    fn exchange_by(
        &mut self,
        application: Application,
        apdu: &[u8],
        response: &[u8],
        elapsed: Duration,
        reader: bool,
    ) {
        self.application = application;
        let (data, sw) = split_response(response);
        let is_get_response = matches!(apdu, [0x00, 0xC0, ..]);
        let context: Vec<u8> = if is_get_response && !self.pending.is_empty() {
            self.pending.clone()
        } else {
            apdu.get(..4).unwrap_or(apdu).to_vec()
        };
        let secret = response_secret(&context, data.len());
        let name = command_name(apdu);
        let detail = command_detail(apdu);
        let data_hex = masked_hex(data, secret);
        let sw_text = sw.map(|sw| format!("{sw:04X}"));
        let meaning = sw.map(sw_meaning);
        let now = SystemTime::now();
        let lines = match self.format {
            TraceFormat::Text => {
                let p = self.prefix();
                let p = if reader { format!("{p}[reader] ") } else { p };
                let mut lines = vec![if detail.is_empty() {
                    format!("{p}→ {}  {name}", masked_command(apdu))
                } else {
                    format!("{p}→ {}  {name}: {detail}", masked_command(apdu))
                }];
                match (&sw_text, &meaning) {
                    (Some(sw), Some(m)) => {
                        let data_part = if data.is_empty() {
                            String::new()
                        } else {
                            format!("{data_hex} ")
                        };
                        lines.push(format!(
                            "{p}← {data_part}{sw}  {m}  ({} µs)",
                            elapsed.as_micros()
                        ));
                        lines.extend(
                            decode_response(application, &context, data)
                                .into_iter()
                                .map(|l| format!("{p}  {l}")),
                        );
                    }
                    _ => lines.push(format!("{p}← (no response: card mute)")),
                }
                lines
            }
            TraceFormat::Json => {
                let time = rfc3339(now);
                vec![
                    serde_json::json!({
                        "time": time,
                        "source": self.source,
                        "direction": if reader { "reader-command" } else { "command" },
                        "apdu": masked_command(apdu),
                        "name": name,
                        "detail": detail,
                    })
                    .to_string(),
                    serde_json::json!({
                        "time": time,
                        "source": self.source,
                        "direction": if reader { "reader-response" } else { "response" },
                        "response": format!("{data_hex}{}", sw_text.clone().unwrap_or_default()),
                        "name": name,
                        "sw": sw_text,
                        "meaning": meaning,
                        "decoded": decode_response(application, &context, data)
                            .iter()
                            .map(|l| l.trim().to_string())
                            .collect::<Vec<_>>(),
                        "card_us": elapsed.as_micros() as u64,
                    })
                    .to_string(),
                ]
            }
        };
        self.pending = match sw {
            Some(sw) if sw >> 8 == 0x61 => context,
            _ => Vec::new(),
        };
        self.emit(&lines);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn traced(format: TraceFormat, exchanges: &[(&[u8], &[u8])]) -> String {
        let buf = TraceBuffer::default();
        let mut t = Tracer::new(Box::new(buf.clone()), format);
        for (c, r) in exchanges {
            t.exchange(c, r, Duration::from_micros(5));
        }
        buf.text()
    }

    const SELECT_SSSE: &[u8] = &[
        0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB,
        0xE1, 0xB1, 0xA3, 0xD5, 0xCF, 0x00,
    ];
    const FCI: &[u8] = &[
        0x6F, 0x1C, 0x84, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1,
        0xB1, 0xA3, 0xD5, 0xCF, 0xA5, 0x09, 0x88, 0x01, 0x1E, 0x9F, 0x0C, 0x03, 0x86, 0x01, 0x03,
        0x90, 0x00,
    ];

    #[test]
    fn pin_data_and_macs_are_masked() {
        assert_eq!(
            masked_command(&[0, 0x20, 0, 0, 3, 0x12, 0x34, 0x56]),
            "0020000003******"
        );
        assert_eq!(
            masked_command(&[0x80, 0x5E, 1, 0, 3, 0x12, 0xFF, 0x34]),
            "805E010003******"
        );
        // SM update: data visible, MAC masked.
        assert_eq!(
            masked_command(&[0x04, 0xD6, 0x87, 0, 6, 0xAA, 0xBB, 1, 2, 3, 4]),
            "04D6870006AABB********"
        );
        // Nothing secret in a SELECT.
        assert_eq!(
            masked_command(&[0, 0xA4, 0, 0, 2, 0x3F, 0]),
            "00A40000023F00"
        );
        let text = traced(
            TraceFormat::Json,
            &[(&[0, 0x20, 0, 0, 3, 0x12, 0x34, 0x56], &[0x63, 0xC2])],
        );
        assert!(!text.contains("123456"), "{text}");
        assert!(text.contains("2 tries left"), "{text}");
    }

    #[test]
    fn get_response_data_is_decoded_as_the_fci_of_the_select() {
        let text = traced(
            TraceFormat::Text,
            &[(SELECT_SSSE, &[0x61, 0x1C]), (&[0, 0xC0, 0, 0, 0x1C], FCI)],
        );
        assert!(
            text.contains("SELECT by name: SSSE sx1.sh.社会保障"),
            "{text}"
        );
        assert!(text.contains("28 response bytes waiting"), "{text}");
        assert!(text.contains("6F FCI template"), "{text}");
        assert!(text.contains("88 SFI of the DIR file: 1E"), "{text}");
        assert!(text.contains("86 algorithm id: 03"), "{text}");
    }

    #[test]
    fn records_are_decoded_with_the_data_dictionary() {
        let mut name = vec![0x09, 0x1E, 0xD5, 0xC5, 0xC8, 0xFD];
        name.resize(32, 0);
        name.extend_from_slice(&[0x90, 0x00]);
        let text = traced(TraceFormat::Text, &[(&[0, 0xB2, 0x09, 0x30, 0x20], &name)]);
        assert!(text.contains("first record with tag 09, SFI 06"), "{text}");
        assert!(text.contains("09 姓名: \"张三\""), "{text}");
    }

    #[test]
    fn a_pboc_record_is_a_ber_template_not_a_social_security_element() {
        // PBOC READ RECORD SFI 3 rec 2: 70 { 9F74 "ECC001" } (vectors/pboc/contact.apdu).
        let record: &[u8] = &[
            0x70, 0x09, 0x9F, 0x74, 0x06, 0x45, 0x43, 0x43, 0x30, 0x30, 0x31, 0x90, 0x00,
        ];
        let select_debit: &[u8] = &[
            0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01, 0x00,
        ];
        let read: &[u8] = &[0x00, 0xB2, 0x02, 0x1C, 0x00];
        // Followed from the traffic: the SELECT of the debit AID enters PBOC.
        let text = traced(
            TraceFormat::Text,
            &[(select_debit, &[0x61, 0x52]), (read, record)],
        );
        assert!(text.contains("70 record template"), "{text}");
        assert!(!text.contains("险种类型"), "{text}");
        // Given by the card.
        let buf = TraceBuffer::default();
        let mut t = Tracer::new(Box::new(buf.clone()), TraceFormat::Json);
        t.exchange_in(Application::Financial, read, record, Duration::ZERO);
        let text = buf.text();
        assert!(text.contains("70 record template"), "{text}");
        assert!(!text.contains("险种类型"), "{text}");
        // The same bytes read from DF03/EF07 of the social-security side are 险种类型.
        let ssc: &[u8] = &[0x70, 0x03, 0x31, 0x31, 0x30, 0x90, 0x00];
        let text = traced(
            TraceFormat::Text,
            &[
                (select_debit, &[0x61, 0x52]),
                (SELECT_SSSE, &[0x61, 0x1E]),
                (&[0, 0xB2, 0x01, 0x3C, 0x00], ssc),
            ],
        );
        assert!(text.contains("70 险种类型: \"110\""), "{text}");
    }

    #[test]
    fn json_lines_carry_direction_name_sw_and_meaning() {
        let text = traced(
            TraceFormat::Json,
            &[(&[0, 0xB2, 1, 0x2C, 0], &[0x6C, 0x12])],
        );
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["direction"], "command");
        assert_eq!(lines[0]["name"], "READ RECORD");
        assert_eq!(lines[0]["apdu"], "00B2012C00");
        assert_eq!(lines[1]["direction"], "response");
        assert_eq!(lines[1]["sw"], "6C12");
        assert_eq!(lines[1]["meaning"], "wrong Le: 18 bytes available");
        assert!(lines[1]["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn purse_macs_in_responses_are_masked() {
        let text = traced(
            TraceFormat::Text,
            &[(&[0xB0, 0x2C, 1, 0, 0], &[1, 2, 3, 4, 5, 6, 7, 8, 0x90, 0])],
        );
        assert!(text.contains("← **************** 9000"), "{text}");
    }

    #[test]
    fn reader_pseudo_apdus_are_traced_as_the_readers() {
        let buf = TraceBuffer::default();
        let mut t = Tracer::new(Box::new(buf.clone()), TraceFormat::Json);
        t.reader_exchange(
            &[0xFF, 0xCA, 0, 0, 0],
            &[0x53, 0x53, 0x43, 0x01, 0x90, 0x00],
            Duration::from_micros(1),
        );
        t.exchange(
            &[0, 0xB2, 1, 0x0C, 0],
            &[0x6A, 0x83],
            Duration::from_micros(1),
        );
        let text = buf.text();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["direction"], "reader-command");
        assert_eq!(lines[0]["name"], "GET DATA (reader): UID");
        assert_eq!(lines[1]["direction"], "reader-response");
        assert_eq!(
            lines[2]["direction"], "command",
            "card commands stay the card's"
        );
        let text = traced(TraceFormat::Text, &[]);
        assert!(text.is_empty());
        let buf = TraceBuffer::default();
        let mut t = Tracer::new(Box::new(buf.clone()), TraceFormat::Text);
        t.reader_exchange(
            &[0xFF, 0xCA, 1, 0, 0],
            &[0x6A, 0x81],
            Duration::from_micros(1),
        );
        let text = buf.text();
        assert!(text.starts_with("[reader] → FFCA010000"), "{text}");
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096) + Duration::from_micros(7);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.000007Z");
    }
}
