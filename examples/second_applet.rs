//! A second applet beside PBOC: a counter selected by its own AID, keeping its value in
//! the NVM region personalization reserved for it, changed in a transaction (a power cut
//! leaves the old or the new value).
//!
//! `cargo run --example second_applet`

use sscard_core::card::SHORT_RESPONSE_CAPACITY;
use sscard_core::fs::build::{Capacities, Personalizer};
use sscard_core::nvm::{Nvm, RamNvm, Transactional};
use sscard_core::rng::SplitMixRng;
use sscard_core::status::{Result, Status};
use sscard_core::{Applet, AppletCall, Card, CosOptions, Interface};
use sscard_pboc::PbocApplet;

const COUNTER_AID: &[u8] = &[0xF0, 0x53, 0x53, 0x43, 0x4E, 0x54];

/// `80 10 00 00 00`: add one to the counter and answer it (4 bytes, big-endian).
struct Counter;

impl Applet for Counter {
    fn region_name(&self) -> &[u8] {
        COUNTER_AID
    }
    fn claims(&self, name: &[u8], _: Interface) -> Option<u8> {
        (name == COUNTER_AID).then_some(0)
    }
    fn select<N: Nvm>(&mut self, _: u8, _: AppletCall<'_, '_, N>) -> Result<()> {
        Ok(())
    }
    fn process<N: Nvm>(&mut self, mut call: AppletCall<'_, '_, N>) -> Result<()> {
        let (ctx, cmd, reply) = (&mut call.ctx, call.cmd, call.reply);
        if (cmd.cla(), cmd.ins()) != (0x80, 0x10) {
            return Err(Status::InstructionNotSupported);
        }
        let next = ctx.atomic(|c| {
            let mut value = [0u8; 4];
            c.read(0, &mut value)?;
            let next = u32::from_be_bytes(value).wrapping_add(1);
            c.write(0, &next.to_be_bytes())?;
            Ok::<u32, Status>(next)
        })?;
        reply.push(&next.to_be_bytes())
    }
    fn deselect(&mut self) {}
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let mut nvm = RamNvm::new(vec![0u8; 16 * 1024]);
    let mut p = Personalizer::format(&mut nvm, Capacities::default(), &[0x3B, 0x00])?;
    p.applet_region(COUNTER_AID, 4)?;
    p.finish()?;
    // PBOC first, the counter second: each answers only to its own names.
    let applets = (PbocApplet::new(), Counter);
    let mut card = Card::load(nvm, SplitMixRng::new(1), applets, (), CosOptions::default())?;
    card.power_on(Interface::Contactless)?;
    let mut out = [0u8; SHORT_RESPONSE_CAPACITY];
    let select = [
        &[0x00, 0xA4, 0x04, 0x00, COUNTER_AID.len() as u8][..],
        COUNTER_AID,
    ]
    .concat();
    for apdu in [
        &select[..],
        &[0x80, 0x10, 0x00, 0x00, 0x04],
        &[0x80, 0x10, 0x00, 0x00, 0x04],
    ] {
        let n = card.process(apdu, &mut out);
        println!("{:02X?} -> {:02X?}", apdu, out.get(..n).unwrap_or_default());
    }
    Ok(())
}
