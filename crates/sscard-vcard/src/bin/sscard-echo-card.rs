//! `sscard-echo-card`: serve the echo card (every APDU answered with its data ‖ 90 00,
//! ATR `3B 80 80 01 01`) to a vpcd reader slot. The round-trip reference for benchmarks.
//!
//! ```text
//! sscard-echo-card [--slot N] [--host IPV4] [--port PORT] [-v|-vv|-q]
//! ```
//! Defaults: slot 0 of `127.0.0.1` (port 35963 = reader "Virtual PCD 00 00"); `--port` overrides
//! the slot. Runs until killed; killing it removes the card from the reader.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use sscard_vcard::echo::EchoCard;
use sscard_vcard::vpcd::{Slot, SlotConfig, slot_port};
use tracing::Level;

const USAGE: &str = "usage: sscard-echo-card [--slot N] [--host IPV4] [--port PORT] [-v|-vv|-q]";

struct Args {
    host: IpAddr,
    port: u16,
    level: Level,
}

fn parse_args() -> Result<Args, String> {
    let mut host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut slot = 0u8;
    let mut port = None;
    let mut level = Level::INFO;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--slot" => {
                slot = value("--slot")?
                    .parse()
                    .map_err(|e| format!("--slot: {e}"))?
            }
            "--host" => {
                host = value("--host")?
                    .parse()
                    .map_err(|e| format!("--host: {e}"))?
            }
            "--port" => {
                port = Some(
                    value("--port")?
                        .parse()
                        .map_err(|e| format!("--port: {e}"))?,
                )
            }
            "-v" => level = Level::DEBUG,
            "-vv" => level = Level::TRACE,
            "-q" => level = Level::WARN,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        host,
        port: port.unwrap_or_else(|| slot_port(slot)),
        level,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("sscard-echo-card: {msg}");
            }
            eprintln!("{USAGE}");
            return if msg.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    tracing_subscriber::fmt()
        .with_max_level(args.level)
        .with_writer(std::io::stderr)
        .init();
    let slot = Slot::new(SlotConfig::new(SocketAddr::new(args.host, args.port)));
    let stop = AtomicBool::new(false); // never set: the process runs until killed
    let mut card = EchoCard::new();
    tracing::info!(addr = %slot.config().addr, "serving the echo card");
    slot.serve(&mut card, &stop);
    ExitCode::SUCCESS
}
