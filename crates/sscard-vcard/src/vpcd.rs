//! Card side of the vsmartcard `vpcd` protocol (our own client; the `vpicc` crate is not used).
//!
//! # Protocol
//!
//! pcscd loads vpcd (`libifdvpcd.so`) as the driver of the readers "Virtual PCD 00 00",
//! "Virtual PCD 00 01", …; in its normal mode vpcd *listens* on TCP `35963 + slot`
//! ([`VPCD_BASE_PORT`], `CHANNELID 0x8C7B`) and the card *connects*. Insert = TCP connect,
//! remove = TCP close: pcscd reports the card present once vpcd gets a non-empty ATR from it
//! (typically ~200 ms after connect) and "card removed" after the socket closes.
//!
//! Every message, both directions, is a big-endian `u16` length followed by that many bytes
//! (so at most 65535 bytes). vpcd always asks, the card only answers (one request at a time):
//!
//! | vpcd → card | meaning | card answers |
//! |---|---|---|
//! | `00 01 00` | power off | nothing |
//! | `00 01 01` | power on | nothing (vpcd then sends GET ATR) |
//! | `00 01 02` | reset | nothing (vpcd then sends GET ATR) |
//! | `00 01 04` | get ATR (also the ~0.3 s presence poll) | `len` ‖ ATR (1..=33 bytes) |
//! | `NN NN` ‖ C-APDU (≥ 2 bytes) | `SCardTransmit` | `len` ‖ data ‖ SW1 SW2 |
//!
//! A 1-byte message is always a control code. vpcd closes the socket (→ card removed) on an
//! empty reply, an I/O error or an oversize message; it has no timeouts, so a card that stops
//! answering would block its reader slot. This client therefore closes the connection itself
//! on every anomaly (empty frame, frame over [`SlotConfig::max_apdu_len`], EOF in the middle of a
//! frame, a frame that stalls longer than [`SlotConfig::frame_timeout`], unknown control byte,
//! empty or too long ATR, mute card, response over 65535 bytes), logs it with `tracing`, and
//! reconnects after a back-off. pcscd power-manages idle cards: expect a power-off ~0.4 s after
//! insertion and a power-on at each `SCardConnect`.
//!
//! # Why TCP_QUICKACK
//!
//! Debian's/Ubuntu's vpcd (vsmartcard 3.3+dfsg, fixed upstream only in 2023) sends the 2-byte
//! length and the payload with two `send()` calls on a socket without `TCP_NODELAY`. Nagle holds
//! the payload until the 2-byte segment is ACKed, and the card's kernel delays that ACK (Linux
//! delayed ACK, 40 ms minimum): measured 44 ms median per APDU, ~21 APDU/s, for any card.
//! Setting `TCP_QUICKACK` on the card socket makes the ACK go out at once; Linux clears the flag
//! after use, so it is re-armed before and after every `read`. Measured in `shared/spec/pcsc.md`:
//! 44 ms → ~50 µs median per APDU. We also set `TCP_NODELAY` and send every message (length and
//! payload) with a single `write`, so the vpcd side never waits on us either.
//!
//! # Threads and lifetime
//!
//! [`Slot::serve`] runs on the caller's thread until its stop flag is set; [`Slot::spawn`] runs it
//! on a thread of its own. A [`SlotHandle`] (cheap clone) lets any thread insert or remove the
//! card. While inserted, the slot keeps (re)connecting with exponential back-off
//! ([`SlotConfig::backoff_min`] → [`SlotConfig::backoff_max`]) when vpcd is absent, refuses or
//! restarts. The card object lives as long as the serving loop, so its persistent state survives
//! reconnects; whenever a connection ends while the card is powered, the card gets
//! [`VirtualCard::power_off`], and vpcd powers it on again after the next connect, as a real
//! reader would.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tracing::{debug, error, info, trace, warn};

use crate::VirtualCard;

/// TCP port of vpcd's first slot (`CHANNELID 0x8C7B` in `/etc/reader.conf.d/vpcd`); slot `n`
/// listens on `VPCD_BASE_PORT + n`.
pub const VPCD_BASE_PORT: u16 = 0x8C7B;

/// Largest payload the u16 length framing can carry.
pub const MAX_FRAME_LEN: usize = u16::MAX as usize;

/// Largest ATR (ISO 7816-3, pcsc-lite `MAX_ATR_SIZE`).
pub const MAX_ATR_LEN: usize = 33;

/// Default [`SlotConfig::max_apdu_len`]: the largest ISO 7816-4 extended C-APDU
/// (4 header + 3 Lc + 65535 data + 2 Le bytes). The framing caps it at [`MAX_FRAME_LEN`].
pub const DEFAULT_MAX_APDU_LEN: usize = 65544;

/// vpcd control codes (payload of 1-byte messages).
pub mod ctrl {
    /// Power off (IFD_POWER_DOWN). No answer.
    pub const POWER_OFF: u8 = 0x00;
    /// Power on (IFD_POWER_UP). No answer.
    pub const POWER_ON: u8 = 0x01;
    /// Warm reset (IFD_RESET). No answer.
    pub const RESET: u8 = 0x02;
    /// Get ATR. Answered with the ATR.
    pub const GET_ATR: u8 = 0x04;
}

/// How a [`Slot`] reaches vpcd and how patient it is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SlotConfig {
    /// vpcd address: `host:35963 + slot`.
    pub addr: SocketAddr,
    /// Largest C-APDU accepted; a longer frame closes the connection. Capped by the framing at
    /// [`MAX_FRAME_LEN`]. Default [`DEFAULT_MAX_APDU_LEN`].
    pub max_apdu_len: usize,
    /// Socket read timeout: the longest the serving loop goes without looking at the stop flag
    /// and the insert/remove state. Default 50 ms.
    pub poll_interval: Duration,
    /// Longest wait for the rest of a frame once its first byte arrived. Default 5 s.
    pub frame_timeout: Duration,
    /// Socket write timeout. Default 5 s.
    pub write_timeout: Duration,
    /// TCP connect timeout. Default 1 s.
    pub connect_timeout: Duration,
    /// First reconnect delay. Default 50 ms.
    pub backoff_min: Duration,
    /// Reconnect delay cap (the delay doubles per failed attempt). Default 2 s.
    pub backoff_max: Duration,
    /// Whether the card starts inserted (connects as soon as served). Default `true`.
    pub inserted: bool,
}

impl SlotConfig {
    /// Configuration for vpcd at `addr` with default limits.
    #[must_use]
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            max_apdu_len: DEFAULT_MAX_APDU_LEN,
            poll_interval: Duration::from_millis(50),
            frame_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            inserted: true,
        }
    }

    /// Configuration for slot `slot` of a local pcscd: `127.0.0.1:35963 + slot`,
    /// reader "Virtual PCD 00 00" for slot 0, "Virtual PCD 00 01" for slot 1.
    #[must_use]
    pub fn local(slot: u8) -> Self {
        Self::new(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::LOCALHOST,
            slot_port(slot),
        )))
    }

    fn effective_max_apdu(&self) -> usize {
        self.max_apdu_len.min(MAX_FRAME_LEN)
    }
}

/// TCP port of vpcd slot `slot` (`35963 + slot`).
#[must_use]
pub fn slot_port(slot: u8) -> u16 {
    VPCD_BASE_PORT.saturating_add(u16::from(slot))
}

/// State shared between the serving loop and its [`SlotHandle`]s.
#[derive(Debug, Default)]
struct Shared {
    inserted: AtomicBool,
    connected: AtomicBool,
    connections: AtomicU64,
    /// A clone of the live socket, so `remove()`/`stop()` can interrupt a blocked read.
    conn: Mutex<Option<TcpStream>>,
    /// Bumped on every insert/remove/connect/disconnect/stop; waiters sleep on `wake`.
    epoch: Mutex<u64>,
    wake: Condvar,
}

impl Shared {
    fn bump(&self) {
        let mut epoch = self.epoch.lock().unwrap_or_else(PoisonError::into_inner);
        *epoch = epoch.wrapping_add(1);
        self.wake.notify_all();
    }

    /// Shut the live socket down (if any) so a blocked read returns now.
    fn interrupt(&self) {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(stream) = conn.as_ref() {
            // Errors only mean the socket is already gone.
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Sleep up to `dur`, waking early on stop or any insert/remove/connect event.
    fn pause(&self, dur: Duration, stop: &AtomicBool, poll: Duration) {
        let deadline = Instant::now() + dur;
        let mut epoch = self.epoch.lock().unwrap_or_else(PoisonError::into_inner);
        let start = *epoch;
        loop {
            if stop.load(Ordering::SeqCst) || *epoch != start {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            let step = (deadline - now).min(poll);
            epoch = self
                .wake
                .wait_timeout(epoch, step)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Controls one slot from any thread: insert/remove the card, observe the connection.
#[derive(Debug, Clone)]
pub struct SlotHandle {
    shared: Arc<Shared>,
}

impl SlotHandle {
    /// Insert the card: the serving loop connects to vpcd (the reader will power it on).
    pub fn insert(&self) {
        if !self.shared.inserted.swap(true, Ordering::SeqCst) {
            debug!("insert requested");
        }
        self.shared.bump();
    }

    /// Remove the card: the connection is closed now (a read in progress is interrupted) and
    /// no reconnect happens until [`insert`](Self::insert). The reader reports "card removed".
    pub fn remove(&self) {
        if self.shared.inserted.swap(false, Ordering::SeqCst) {
            debug!("remove requested");
        }
        self.shared.interrupt();
        self.shared.bump();
    }

    /// Whether the card is (logically) inserted.
    #[must_use]
    pub fn is_inserted(&self) -> bool {
        self.shared.inserted.load(Ordering::SeqCst)
    }

    /// Whether a TCP connection to vpcd is currently open.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::SeqCst)
    }

    /// Number of TCP connections established so far.
    #[must_use]
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Wait until [`is_connected`](Self::is_connected) equals `connected`; `false` on timeout.
    /// (Connected means TCP is up; pcscd still needs ~0.2 s to report the card present.)
    #[must_use]
    pub fn wait_connected(&self, connected: bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut epoch = self
            .shared
            .epoch
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.is_connected() == connected {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            epoch = self
                .shared
                .wake
                .wait_timeout(epoch, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// One vpcd slot served by this process. Several slots (ports) may be served concurrently,
/// one thread each.
#[derive(Debug)]
pub struct Slot {
    config: SlotConfig,
    shared: Arc<Shared>,
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The stop flag was set.
    Stopped,
    /// `SlotHandle::remove` was called.
    Removed,
    /// vpcd closed or reset the connection between frames.
    PeerClosed,
    /// Protocol or I/O error (already logged); the connection is dropped.
    Fault,
}

/// Receive/transmit buffers reused across frames and connections.
#[derive(Debug, Default)]
struct Buffers {
    rx: Vec<u8>,
    response: Vec<u8>,
    out: Vec<u8>,
}

/// Exponential reconnect back-off.
#[derive(Debug)]
struct Backoff {
    min: Duration,
    max: Duration,
    next: Option<Duration>,
}

impl Backoff {
    fn next_delay(&mut self) -> Duration {
        let delay = self.next.unwrap_or(self.min).min(self.max);
        self.next = Some(delay.saturating_mul(2).min(self.max));
        delay
    }

    fn reset(&mut self) {
        self.next = None;
    }
}

impl Slot {
    /// A slot with the given configuration (not yet serving).
    #[must_use]
    pub fn new(config: SlotConfig) -> Self {
        let shared = Shared {
            inserted: AtomicBool::new(config.inserted),
            ..Shared::default()
        };
        Self {
            config,
            shared: Arc::new(shared),
        }
    }

    /// Slot `slot` of a local pcscd with default settings (see [`SlotConfig::local`]).
    #[must_use]
    pub fn local(slot: u8) -> Self {
        Self::new(SlotConfig::local(slot))
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SlotConfig {
        &self.config
    }

    /// A handle to insert/remove the card from another thread.
    #[must_use]
    pub fn handle(&self) -> SlotHandle {
        SlotHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Serve `card` on this slot until `stop` becomes true (checked at least every
    /// [`SlotConfig::poll_interval`]). Connection problems are logged and retried, never
    /// returned; on return the connection is closed and the card powered off.
    pub fn serve<C: VirtualCard + ?Sized>(&self, card: &mut C, stop: &AtomicBool) {
        let span = tracing::info_span!("vpcd", addr = %self.config.addr);
        let _entered = span.enter();
        let mut backoff = Backoff {
            min: self.config.backoff_min,
            max: self.config.backoff_max,
            next: None,
        };
        let mut bufs = Buffers::default();
        let mut quiet_connect_errors = false;
        debug!("serving");
        while !stop.load(Ordering::SeqCst) {
            if !self.shared.inserted.load(Ordering::SeqCst) {
                // Woken early by insert(); re-checked at least every poll interval.
                self.shared
                    .pause(self.config.poll_interval, stop, self.config.poll_interval);
                continue;
            }
            let stream = match self.connect() {
                Ok(stream) => stream,
                Err(e) => {
                    let delay = backoff.next_delay();
                    if quiet_connect_errors {
                        debug!(error = %e, ?delay, "vpcd still unreachable");
                    } else {
                        info!(error = %e, ?delay, "vpcd unreachable; retrying with back-off");
                        quiet_connect_errors = true;
                    }
                    self.shared.pause(delay, stop, self.config.poll_interval);
                    continue;
                }
            };
            quiet_connect_errors = false;
            if !self.register(&stream) {
                continue; // removed while connecting
            }
            info!("connected to vpcd (card inserted)");
            let mut powered = false;
            let end = self.session(&stream, card, stop, &mut powered, &mut bufs, &mut backoff);
            // The card loses power before anyone can see the disconnect: whoever waits for
            // `connected == false` then finds it powered off.
            if powered {
                card.power_off();
            }
            self.unregister();
            drop(stream);
            match end {
                End::Stopped => {
                    info!("stopped; connection closed");
                    break;
                }
                End::Removed => info!("card removed; connection closed"),
                End::PeerClosed | End::Fault => {
                    let delay = backoff.next_delay();
                    debug!(?delay, "reconnecting after back-off");
                    self.shared.pause(delay, stop, self.config.poll_interval);
                }
            }
        }
        debug!("serving ended");
    }

    /// Serve `card` on a new thread. The returned [`RunningSlot`] stops it (promptly) and gives
    /// the card back.
    ///
    /// # Errors
    /// When the thread cannot be spawned.
    pub fn spawn<C: VirtualCard + 'static>(self, mut card: C) -> io::Result<RunningSlot<C>> {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = self.handle();
        let thread_stop = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name(format!("vpcd-{}", self.config.addr.port()))
            .spawn(move || {
                self.serve(&mut card, &thread_stop);
                card
            })?;
        Ok(RunningSlot {
            handle,
            stop,
            thread: Some(thread),
        })
    }

    fn connect(&self) -> io::Result<TcpStream> {
        let stream = TcpStream::connect_timeout(&self.config.addr, self.config.connect_timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(
            self.config.poll_interval.max(Duration::from_millis(1)),
        ))?;
        stream.set_write_timeout(Some(
            self.config.write_timeout.max(Duration::from_millis(1)),
        ))?;
        set_quickack(&stream);
        Ok(stream)
    }

    /// Publish the live connection; `false` (and nothing published) if removed meanwhile.
    fn register(&self, stream: &TcpStream) -> bool {
        {
            let mut conn = self
                .shared
                .conn
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // `remove()` clears `inserted` before taking this lock, so either we see it here
            // or it sees (and shuts down) our clone.
            if !self.shared.inserted.load(Ordering::SeqCst) {
                return false;
            }
            match stream.try_clone() {
                Ok(clone) => *conn = Some(clone),
                Err(e) => debug!(error = %e, "no socket clone; remove() will act at the next poll"),
            }
        }
        self.shared.connections.fetch_add(1, Ordering::SeqCst);
        self.shared.connected.store(true, Ordering::SeqCst);
        self.shared.bump();
        true
    }

    fn unregister(&self) {
        let clone = self
            .shared
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(clone);
        self.shared.connected.store(false, Ordering::SeqCst);
        self.shared.bump();
    }

    /// Answer vpcd's requests on one connection until it ends.
    fn session<C: VirtualCard + ?Sized>(
        &self,
        stream: &TcpStream,
        card: &mut C,
        stop: &AtomicBool,
        powered: &mut bool,
        bufs: &mut Buffers,
        backoff: &mut Backoff,
    ) -> End {
        let Buffers { rx, response, out } = bufs;
        loop {
            if stop.load(Ordering::SeqCst) {
                return End::Stopped;
            }
            if !self.shared.inserted.load(Ordering::SeqCst) {
                return End::Removed;
            }
            if let Err(end) = self.read_frame(stream, rx, stop) {
                return end;
            }
            backoff.reset(); // a healthy exchange: next disconnect retries quickly
            match rx.as_slice() {
                [code] => match *code {
                    ctrl::POWER_OFF => {
                        debug!("power off");
                        card.power_off();
                        *powered = false;
                    }
                    ctrl::POWER_ON => {
                        debug!("power on");
                        card.power_on();
                        *powered = true;
                    }
                    ctrl::RESET => {
                        debug!("reset");
                        card.reset();
                        *powered = true;
                    }
                    ctrl::GET_ATR => {
                        let atr = card.atr();
                        if atr.is_empty() || atr.len() > MAX_ATR_LEN {
                            error!(len = atr.len(), "card ATR must be 1..=33 bytes; closing");
                            return End::Fault;
                        }
                        trace!("get ATR");
                        if let Err(end) = send_frame(stream, out, &atr) {
                            return self.check_flags(stop).err().unwrap_or(end);
                        }
                    }
                    other => {
                        warn!(code = other, "unknown vpcd control byte; closing");
                        return End::Fault;
                    }
                },
                apdu => {
                    response.clear();
                    card.transmit(apdu, response);
                    trace!(c_len = apdu.len(), r_len = response.len(), "APDU");
                    if response.is_empty() {
                        // A card that lost power has asked for its removal already.
                        if let Err(end) = self.check_flags(stop) {
                            return end;
                        }
                        warn!("card mute (empty response); closing");
                        return End::Fault;
                    }
                    if let Err(end) = send_frame(stream, out, response) {
                        // A remove()/stop interrupting the write is not a peer failure.
                        return self.check_flags(stop).err().unwrap_or(end);
                    }
                }
            }
        }
    }

    /// Read one frame's payload into `rx`.
    fn read_frame(
        &self,
        stream: &TcpStream,
        rx: &mut Vec<u8>,
        stop: &AtomicBool,
    ) -> Result<(), End> {
        let mut header = [0u8; 2];
        self.read_full(stream, &mut header, stop, true)?;
        let len = usize::from(u16::from_be_bytes(header));
        if len == 0 {
            warn!("zero-length frame from vpcd; closing");
            return Err(End::Fault);
        }
        let max = self.config.effective_max_apdu();
        if len > max {
            warn!(len, max, "oversize frame from vpcd; closing");
            return Err(End::Fault);
        }
        rx.clear();
        rx.resize(len, 0);
        self.read_full(stream, rx, stop, false)
    }

    /// Fill `buf` from the socket. `at_boundary`: nothing of the frame has been read yet, so a
    /// clean EOF or an idle timeout is normal.
    fn read_full(
        &self,
        stream: &TcpStream,
        buf: &mut [u8],
        stop: &AtomicBool,
        at_boundary: bool,
    ) -> Result<(), End> {
        let mut filled = 0usize;
        let mut stalled_since: Option<Instant> = None;
        while let Some(rest) = buf.get_mut(filled..) {
            if rest.is_empty() {
                break;
            }
            set_quickack(stream);
            let result = (&mut &*stream).read(rest);
            set_quickack(stream);
            let idle = at_boundary && filled == 0;
            match result {
                Ok(0) => {
                    self.check_flags(stop)?;
                    if idle {
                        info!("vpcd closed the connection");
                        return Err(End::PeerClosed);
                    }
                    warn!(
                        got = filled,
                        want = buf.len(),
                        "truncated frame (EOF mid-frame); closing"
                    );
                    return Err(End::Fault);
                }
                Ok(n) => {
                    filled += n;
                    stalled_since = None;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    self.check_flags(stop)?;
                    if !idle {
                        let since = *stalled_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= self.config.frame_timeout {
                            warn!(got = filled, want = buf.len(), "frame stalled; closing");
                            return Err(End::Fault);
                        }
                    }
                }
                Err(e) => {
                    self.check_flags(stop)?;
                    if matches!(
                        e.kind(),
                        ErrorKind::ConnectionReset
                            | ErrorKind::ConnectionAborted
                            | ErrorKind::BrokenPipe
                    ) {
                        info!(error = %e, "vpcd reset the connection");
                        return Err(End::PeerClosed);
                    }
                    warn!(error = %e, "read error; closing");
                    return Err(End::Fault);
                }
            }
        }
        Ok(())
    }

    fn check_flags(&self, stop: &AtomicBool) -> Result<(), End> {
        if stop.load(Ordering::SeqCst) {
            return Err(End::Stopped);
        }
        if !self.shared.inserted.load(Ordering::SeqCst) {
            return Err(End::Removed);
        }
        Ok(())
    }
}

/// Send one message — length and payload in one buffer, one `write` — to vpcd.
fn send_frame(stream: &TcpStream, out: &mut Vec<u8>, payload: &[u8]) -> Result<(), End> {
    let Ok(len) = u16::try_from(payload.len()) else {
        error!(
            len = payload.len(),
            "message exceeds the 65535-byte vpcd framing; closing"
        );
        return Err(End::Fault);
    };
    out.clear();
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    match (&mut &*stream).write_all(out) {
        Ok(()) => Ok(()),
        Err(e) => {
            info!(error = %e, "write to vpcd failed; closing");
            Err(End::PeerClosed)
        }
    }
}

/// Re-arm `TCP_QUICKACK` on `stream`: ACK received data immediately instead of waiting up to
/// 40 ms for a reply to piggy-back on (Linux delayed ACK). Linux clears the flag as it acts on
/// it, so callers set it before and after every read. Failure only costs latency, so it is
/// ignored. This is the crate's only `unsafe` code.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn set_quickack(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).unwrap_or(4);
    // SAFETY: the fd comes from a live `TcpStream` borrowed for the whole call, so it is an open
    // socket; `optval` points to an initialized `c_int` that outlives the call and `optlen` is
    // its size; setsockopt only reads `optlen` bytes and keeps no pointer.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&raw const on).cast::<libc::c_void>(),
            len,
        )
    };
    if rc != 0 {
        trace!(error = %io::Error::last_os_error(), "TCP_QUICKACK not set");
    }
}

/// Not Linux: no delayed-ACK workaround available (nor needed for upstream vpcd).
#[cfg(not(target_os = "linux"))]
fn set_quickack(_stream: &TcpStream) {}

/// A [`Slot`] served on its own thread (from [`Slot::spawn`]). Dropping it stops the thread.
#[derive(Debug)]
pub struct RunningSlot<C> {
    handle: SlotHandle,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<C>>,
}

impl<C> RunningSlot<C> {
    /// Handle to insert/remove the card.
    #[must_use]
    pub fn handle(&self) -> &SlotHandle {
        &self.handle
    }

    /// Stop serving (closes the connection at once) and get the card back.
    ///
    /// # Errors
    /// The panic payload if the card panicked on the serving thread.
    pub fn stop(mut self) -> thread::Result<C> {
        self.request_stop();
        match self.thread.take() {
            Some(thread) => thread.join(),
            None => Err(Box::new("slot thread already joined")),
        }
    }

    fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.shared.interrupt();
        self.handle.shared.bump();
    }
}

impl<C> Drop for RunningSlot<C> {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.request_stop();
            let _ = thread.join();
        }
    }
}
