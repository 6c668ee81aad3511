//! vpcd client tests against a fake vpcd (a `TcpListener` on 127.0.0.1:0 speaking the vpcd
//! protocol). No pcscd needed.
#![allow(clippy::restriction)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sscard_vcard::VirtualCard;
use sscard_vcard::echo::{ECHO_ATR, EchoCard};
use sscard_vcard::vpcd::{RunningSlot, Slot, SlotConfig, ctrl};

fn init_log() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_max_level(tracing::Level::DEBUG)
        .try_init();
}

// ---------------------------------------------------------------- fake vpcd (the reader side)

struct FakeVpcd {
    listener: TcpListener,
}

impl FakeVpcd {
    fn new() -> Self {
        Self::bind("127.0.0.1:0".parse().unwrap())
    }

    fn bind(addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).unwrap();
        listener.set_nonblocking(true).unwrap();
        Self { listener }
    }

    fn addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap()
    }

    fn try_accept(&self, timeout: Duration) -> Option<Conn> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(5)))
                        .unwrap();
                    return Some(Conn { stream });
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return None;
                    }
                    thread::sleep(Duration::from_millis(2));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }

    fn accept(&self) -> Conn {
        self.try_accept(Duration::from_secs(5))
            .expect("card did not connect")
    }
}

struct Conn {
    stream: TcpStream,
}

impl Conn {
    /// One message, one write (like upstream vpcd).
    fn send(&mut self, payload: &[u8]) {
        let mut msg = u16::try_from(payload.len()).unwrap().to_be_bytes().to_vec();
        msg.extend_from_slice(payload);
        self.stream.write_all(&msg).unwrap();
    }

    /// Length and payload in two writes without TCP_NODELAY (like Debian's vpcd 3.3).
    fn send_split(&mut self, payload: &[u8]) {
        let len = u16::try_from(payload.len()).unwrap().to_be_bytes();
        self.stream.write_all(&len).unwrap();
        self.stream.write_all(payload).unwrap();
    }

    fn ctrl(&mut self, code: u8) {
        self.send(&[code]);
    }

    fn recv(&mut self) -> Vec<u8> {
        let mut len = [0u8; 2];
        self.stream.read_exact(&mut len).unwrap();
        let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
        self.stream.read_exact(&mut payload).unwrap();
        payload
    }

    fn get_atr(&mut self) -> Vec<u8> {
        self.ctrl(ctrl::GET_ATR);
        self.recv()
    }

    /// Powers the card on and checks that it answers with the echo card's ATR.
    fn power_on(&mut self) {
        self.ctrl(ctrl::POWER_ON);
        assert_eq!(self.get_atr(), ECHO_ATR);
    }

    fn apdu(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.send(apdu);
        self.recv()
    }

    /// The card must close the connection within `timeout`.
    fn expect_closed(&mut self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("expected close, got {n} bytes"),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected close, got {e}"),
        }
    }
}

// ---------------------------------------------------------------- a card that records events

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    On,
    Off,
    Reset,
    Apdu(Vec<u8>),
}

#[derive(Clone, Default)]
struct Recorder {
    events: Arc<Mutex<Vec<Ev>>>,
    /// Instruction byte answered with an empty response (card mute).
    mute_ins: Option<u8>,
    atr: Option<Vec<u8>>,
}

impl Recorder {
    fn events(&self) -> Vec<Ev> {
        self.events.lock().unwrap().clone()
    }
    fn push(&self, ev: Ev) {
        self.events.lock().unwrap().push(ev);
    }
}

impl VirtualCard for Recorder {
    fn atr(&self) -> Vec<u8> {
        self.atr.clone().unwrap_or_else(|| ECHO_ATR.to_vec())
    }
    fn power_on(&mut self) {
        self.push(Ev::On);
    }
    fn power_off(&mut self) {
        self.push(Ev::Off);
    }
    fn reset(&mut self) {
        self.push(Ev::Reset);
    }
    fn transmit(&mut self, apdu: &[u8], response: &mut Vec<u8>) {
        self.push(Ev::Apdu(apdu.to_vec()));
        if apdu.get(1).copied() == self.mute_ins {
            return;
        }
        let mut echo = EchoCard::new();
        echo.transmit(apdu, response);
    }
}

fn test_config(addr: SocketAddr) -> SlotConfig {
    let mut config = SlotConfig::new(addr);
    config.poll_interval = Duration::from_millis(20);
    config.backoff_min = Duration::from_millis(10);
    config.backoff_max = Duration::from_millis(200);
    config
}

/// The fixture of every test: a fresh fake vpcd and a slot serving a recording card to it.
struct Bench {
    vpcd: FakeVpcd,
    /// Shares its event log with the card the slot serves.
    card: Recorder,
    running: RunningSlot<Recorder>,
}

impl Bench {
    fn start(card: Recorder) -> Self {
        Self::start_with(card, |_| {})
    }

    /// `configure` adjusts the fast test configuration before the slot starts.
    fn start_with(card: Recorder, configure: impl FnOnce(&mut SlotConfig)) -> Self {
        init_log();
        let vpcd = FakeVpcd::new();
        let mut config = test_config(vpcd.addr());
        configure(&mut config);
        let running = Slot::new(config).spawn(card.clone()).unwrap();
        Self {
            vpcd,
            card,
            running,
        }
    }

    /// Started, with the slot's connection accepted.
    fn connected(card: Recorder) -> (Self, Conn) {
        let bench = Self::start(card);
        let conn = bench.vpcd.accept();
        (bench, conn)
    }
}

fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(2));
    }
    cond()
}

const SELECT_MF: [u8; 7] = [0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00];

// ---------------------------------------------------------------- tests

#[test]
fn power_on_atr_apdu_round_trip() {
    let (bench, mut conn) = Bench::connected(Recorder::default());
    assert!(
        bench
            .running
            .handle()
            .wait_connected(true, Duration::from_secs(2))
    );

    conn.power_on();
    assert_eq!(conn.apdu(&SELECT_MF), [0x3F, 0x00, 0x90, 0x00]);
    // Case 1 APDU and an extended case 4 APDU with 1000 data bytes.
    assert_eq!(conn.apdu(&[0x80, 0x01, 0x02, 0x03]), [0x90, 0x00]);
    let mut ext = vec![0x00, 0xD6, 0x00, 0x00, 0x00, 0x03, 0xE8];
    ext.extend((0..1000u32).map(|i| i.to_le_bytes()[0]));
    ext.extend([0x00, 0x00]);
    let resp = conn.apdu(&ext);
    assert_eq!(resp.len(), 1002);
    assert_eq!(&resp[..1000], &ext[7..1007]);
    conn.ctrl(ctrl::POWER_OFF);
    assert_eq!(conn.get_atr(), ECHO_ATR); // synchronizes: POWER_OFF has no answer

    let card = bench.card;
    assert_eq!(
        card.events(),
        [
            Ev::On,
            Ev::Apdu(SELECT_MF.to_vec()),
            Ev::Apdu(vec![0x80, 0x01, 0x02, 0x03]),
            Ev::Apdu(ext.clone()),
            Ev::Off
        ]
    );
    bench.running.stop().unwrap();
    conn.expect_closed(Duration::from_secs(1));
    // Unpowered at stop: no extra power-off.
    assert_eq!(card.events().last(), Some(&Ev::Off));
    assert_eq!(card.events().len(), 5);
}

#[test]
fn split_writes_debian_style_are_reassembled() {
    let (bench, mut conn) = Bench::connected(Recorder::default());
    conn.send_split(&[ctrl::POWER_ON]);
    conn.send_split(&[ctrl::GET_ATR]);
    assert_eq!(conn.recv(), ECHO_ATR);
    conn.send_split(&SELECT_MF);
    assert_eq!(conn.recv(), [0x3F, 0x00, 0x90, 0x00]);
    drop(bench);
}

#[test]
fn reset_reaches_the_card() {
    let (bench, mut conn) = Bench::connected(Recorder::default());
    conn.power_on();
    conn.ctrl(ctrl::RESET);
    assert_eq!(conn.get_atr(), ECHO_ATR);
    assert_eq!(bench.card.events(), [Ev::On, Ev::Reset]);
    bench.running.stop().unwrap();
    // Powered when the connection closed: the card loses power like in a real reader.
    assert_eq!(bench.card.events(), [Ev::On, Ev::Reset, Ev::Off]);
}

/// A protocol violation closes the connection, powers the card off and the slot reconnects.
fn assert_fault_closes_and_reconnects(
    card: Recorder,
    configure: impl FnOnce(&mut SlotConfig),
    violate: impl FnOnce(&mut Conn),
) {
    let bench = Bench::start_with(card, configure);
    let mut conn = bench.vpcd.accept();
    conn.power_on();
    violate(&mut conn);
    conn.expect_closed(Duration::from_secs(2));
    assert!(wait_until(Duration::from_secs(2), || bench
        .card
        .events()
        .last()
        == Some(&Ev::Off)));
    // The slot is not hung: it comes back and works.
    let mut conn2 = bench.vpcd.accept();
    assert_eq!(conn2.get_atr(), ECHO_ATR);
    assert_eq!(conn2.apdu(&SELECT_MF), [0x3F, 0x00, 0x90, 0x00]);
    assert_eq!(bench.running.handle().connections(), 2);
    bench.running.stop().unwrap();
}

#[test]
fn truncated_frame_closes_connection() {
    assert_fault_closes_and_reconnects(
        Recorder::default(),
        |_| {},
        |conn| {
            conn.stream.write_all(&[0x00, 0x05, 0x00, 0xA4]).unwrap();
            conn.stream.shutdown(std::net::Shutdown::Write).unwrap();
        },
    );
}

#[test]
fn stalled_frame_closes_connection() {
    assert_fault_closes_and_reconnects(
        Recorder::default(),
        |config| config.frame_timeout = Duration::from_millis(200),
        |conn| conn.stream.write_all(&[0x00, 0x05, 0x00, 0xA4]).unwrap(),
    );
}

#[test]
fn zero_length_frame_closes_connection() {
    assert_fault_closes_and_reconnects(
        Recorder::default(),
        |_| {},
        |conn| {
            conn.stream.write_all(&[0x00, 0x00]).unwrap();
        },
    );
}

#[test]
fn unknown_control_byte_closes_connection() {
    assert_fault_closes_and_reconnects(
        Recorder::default(),
        |_| {},
        |conn| {
            conn.ctrl(0x07);
        },
    );
}

#[test]
fn oversize_frame_closes_connection() {
    assert_fault_closes_and_reconnects(
        Recorder::default(),
        |config| config.max_apdu_len = 16,
        |conn| {
            let mut ok = vec![0x00, 0xD6, 0x00, 0x00, 11];
            ok.extend([0xAA; 11]);
            assert_eq!(conn.apdu(&ok).len(), 13); // exactly 16 bytes: accepted
            let mut big = vec![0x00, 0xD6, 0x00, 0x00, 12];
            big.extend([0xAA; 12]);
            conn.send(&big); // 17 bytes: refused
        },
    );
}

#[test]
fn mute_card_closes_connection() {
    let card = Recorder {
        mute_ins: Some(0xEE),
        ..Recorder::default()
    };
    assert_fault_closes_and_reconnects(
        card,
        |_| {},
        |conn| {
            conn.send(&[0x00, 0xEE, 0x00, 0x00]);
        },
    );
}

#[test]
fn invalid_atr_closes_connection() {
    let card = Recorder {
        atr: Some(vec![0x3B; 34]),
        ..Recorder::default()
    };
    let (bench, mut conn) = Bench::connected(card);
    conn.ctrl(ctrl::GET_ATR);
    conn.expect_closed(Duration::from_secs(2));
    drop(bench);
}

#[test]
fn peer_restart_reconnects_and_card_keeps_state() {
    let (bench, mut conn) = Bench::connected(Recorder::default());
    let Bench {
        vpcd,
        card,
        running,
    } = bench;
    let addr = vpcd.addr();
    let handle = running.handle().clone();
    conn.power_on();
    assert_eq!(conn.apdu(&SELECT_MF), [0x3F, 0x00, 0x90, 0x00]);

    // pcscd goes away: connection and listener gone; the card sees resets/refusals.
    drop(conn);
    drop(vpcd);
    assert!(handle.wait_connected(false, Duration::from_secs(2)));
    thread::sleep(Duration::from_millis(300)); // a few refused connects, back-off grows

    // pcscd is back on the same port.
    let vpcd = FakeVpcd::bind(addr);
    let mut conn = vpcd.accept();
    conn.power_on(); // vpcd powers the newly connected card
    assert_eq!(
        conn.apdu(&[0x00, 0xB0, 0x00, 0x00, 0x01, 0x42]),
        [0x42, 0x90, 0x00]
    );
    assert_eq!(handle.connections(), 2);
    // Same card object throughout: its history spans both connections.
    assert_eq!(
        card.events(),
        [
            Ev::On,
            Ev::Apdu(SELECT_MF.to_vec()),
            Ev::Off,
            Ev::On,
            Ev::Apdu(vec![0x00, 0xB0, 0x00, 0x00, 0x01, 0x42]),
        ]
    );
    running.stop().unwrap();
}

#[test]
fn remove_closes_and_insert_reconnects() {
    let (bench, mut conn) = Bench::connected(Recorder::default());
    let handle = bench.running.handle().clone();
    conn.power_on();

    let t = Instant::now();
    handle.remove();
    conn.expect_closed(Duration::from_secs(1));
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert!(!handle.is_inserted());
    assert!(handle.wait_connected(false, Duration::from_secs(1)));
    assert_eq!(bench.card.events(), [Ev::On, Ev::Off]);
    assert!(
        bench.vpcd.try_accept(Duration::from_millis(300)).is_none(),
        "reconnected while removed"
    );

    handle.insert();
    let mut conn = bench.vpcd.accept();
    assert_eq!(conn.get_atr(), ECHO_ATR);
    assert_eq!(handle.connections(), 2);
    bench.running.stop().unwrap();
}

#[test]
fn starts_removed_until_inserted() {
    let bench = Bench::start_with(Recorder::default(), |config| config.inserted = false);
    assert!(bench.vpcd.try_accept(Duration::from_millis(200)).is_none());
    bench.running.handle().insert();
    let mut conn = bench.vpcd.accept();
    assert_eq!(conn.get_atr(), ECHO_ATR);
}

#[test]
fn stop_flag_ends_serve_promptly() {
    init_log();
    // Default configuration (50 ms poll interval, back-off up to 2 s).
    let vpcd = FakeVpcd::new();
    let slot = Slot::new(SlotConfig::new(vpcd.addr()));
    let stop = AtomicBool::new(false);
    let mut card = EchoCard::new();
    thread::scope(|s| {
        let server = s.spawn(|| slot.serve(&mut card, &stop));
        let mut conn = vpcd.accept();
        conn.power_on();
        // Connected and idle (blocked in read): stop.
        stop_promptly(&stop, server);
        conn.expect_closed(Duration::from_secs(1));
    });
    assert_eq!((card.power_ons(), card.power_offs()), (1, 1));

    // No vpcd at all (refused; back-off grows toward 2 s): stop still returns promptly.
    let addr = vpcd.addr();
    drop(vpcd);
    let slot = Slot::new(SlotConfig::new(addr));
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let server = s.spawn(|| slot.serve(&mut card, &stop));
        thread::sleep(Duration::from_millis(1600)); // several attempts: 50+100+200+400+800 ms
        stop_promptly(&stop, server);
    });
}

/// Raises the stop flag and checks that the serving thread ends within 500 ms.
fn stop_promptly(stop: &AtomicBool, server: thread::ScopedJoinHandle<'_, ()>) {
    let t = Instant::now();
    stop.store(true, Ordering::SeqCst);
    server.join().unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn two_slots_concurrently() {
    let benches = [
        Bench::start(Recorder::default()),
        Bench::start(Recorder::default()),
    ];
    thread::scope(|s| {
        for (i, bench) in benches.iter().enumerate() {
            s.spawn(move || {
                let mut conn = bench.vpcd.accept();
                conn.power_on();
                for n in 0..200u8 {
                    let tag = u8::try_from(i).unwrap();
                    let resp = conn.apdu(&[0x00, 0xB0, 0x00, 0x00, 0x02, tag, n]);
                    assert_eq!(resp, [tag, n, 0x90, 0x00]);
                }
            });
        }
    });
    for bench in benches {
        bench.running.stop().unwrap();
    }
}

/// Debian's vpcd writes length and payload separately without TCP_NODELAY: without
/// TCP_QUICKACK on the card socket each APDU waits for a delayed ACK (~40 ms).
#[cfg(target_os = "linux")]
#[test]
fn quickack_avoids_delayed_ack_stall() {
    let (bench, mut conn) = Bench::connected(Recorder::default());
    conn.stream.set_nodelay(false).unwrap();
    conn.send_split(&[ctrl::POWER_ON]);
    let mut times = Vec::new();
    for _ in 0..40 {
        let t = Instant::now();
        conn.send_split(&SELECT_MF);
        assert_eq!(conn.recv(), [0x3F, 0x00, 0x90, 0x00]);
        times.push(t.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    assert!(
        median < Duration::from_millis(10),
        "median {median:?}: delayed-ACK stall"
    );
    bench.running.stop().unwrap();
}
