//! Throughput of whole PBOC transactions through the card processor (in-process, no
//! PC/SC): a contact online transaction (PSE, SELECT, GPO, READ RECORD ×6, VERIFY,
//! GAC1 ARQC, EXTERNAL AUTHENTICATE, GAC2 TC) and a qPBOC offline approval with SM2 fDDA
//! (PPSE, SELECT, GPO, READ RECORD ×5). Prints transactions/s.
#![allow(clippy::restriction)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sscard_core::crypto::{arpc_method1, pboc_session_key, udk_option_a};
use sscard_core::nvm::RamNvm;
use sscard_core::rng::SplitMixRng;
use sscard_core::{Card, CosOptions, Interface};
use sscard_pboc::PbocApplet;

type BenchCard = Card<RamNvm<Vec<u8>>, SplitMixRng, (PbocApplet,)>;
/// One transaction on the card, its answers written to the buffer.
type Transaction = fn(&mut BenchCard, &Scripts, &mut [u8]);

use sscard_testkit::sample::pboc_only_image as image;

use sscard_testkit::exchange::hex;

/// Sends like a T=0 terminal (GET RESPONSE on 61xx); returns data, asserts 9000.
fn send(card: &mut BenchCard, apdu: &[u8], out: &mut [u8]) -> Vec<u8> {
    let mut n = card.process(apdu, out);
    let mut data = out[..n - 2].to_vec();
    while out[n - 2] == 0x61 {
        let le = out[n - 1];
        n = card.process(&[0x00, 0xC0, 0x00, 0x00, le], out);
        data.extend_from_slice(&out[..n - 2]);
    }
    assert_eq!(&out[n - 2..n], &[0x90, 0x00], "{apdu:02X?}");
    data
}

struct Scripts {
    udk_ac: [u8; 16],
    contact: Vec<Vec<u8>>,
    qpboc: Vec<Vec<u8>>,
}

fn scripts() -> Scripts {
    let contact = [
        "00A404000E315041592E5359532E444446303100",
        "00B2010C00",
        "00A4040008A00000033301010100",
        "80A800000C830A0000000000100001560100",
        "00B2010C00",
        "00B2011400",
        "00B2021400",
        "00B2031400",
        "00B2011C00",
        "00B2021C00",
        "0020008008261234 56FFFFFFFF",
        "80CA9F3600",
    ];
    let qpboc = [
        "00A404000E325041592E5359532E444446303100",
        "00A4040008A00000033301010100",
        "80A80000258323 36000080 000000000100 000000000000 0156 0000000000 0156 261129 00 CAFEBABE 00 01 00",
        "00B2011400",
        "00B2021400",
        "00B2011C00",
        "00B2021C00",
        "00B2010C00",
    ];
    // The issuer side of the bench: UDK-AC of the default profile's test IMK.
    let imk: [u8; 16] = hex("0123456789ABCDEFFEDCBA9876543210").try_into().unwrap();
    let udk_ac = *udk_option_a(&imk, b"6212345678901232", 0x01).unwrap();
    Scripts {
        udk_ac,
        contact: contact.iter().map(|s| hex(s)).collect(),
        qpboc: qpboc.iter().map(|s| hex(s)).collect(),
    }
}

/// GAC1 ARQC, EXTERNAL AUTHENTICATE with the issuer's ARPC, GAC2 TC.
fn contact_transaction(card: &mut BenchCard, s: &Scripts, out: &mut [u8]) {
    card.power_on(Interface::Contact).unwrap();
    for apdu in &s.contact {
        send(card, apdu, out);
    }
    let mut gac1 = hex("80AE800037");
    gac1.extend(hex(
        "000000001000 000000000000 0156 0000000000 0156 261129 00 11223344 120000",
    ));
    gac1.extend([0u8; 20]);
    gac1.extend(hex("410302 00"));
    let r = send(card, &gac1, out);
    assert_eq!(r[2], 0x80);
    let atc = u16::from_be_bytes([r[3], r[4]]);
    let arqc: [u8; 8] = r[5..13].try_into().unwrap();
    let sk = pboc_session_key(&s.udk_ac, atc);
    let mut ea = hex("008200000A");
    ea.extend(arpc_method1(&sk, &arqc, b"00"));
    ea.extend(b"00");
    send(card, &ea, out);
    let gac2 = hex(
        "80AE400024 3030 000000001000 000000000000 0156 0000000000 0156 261129 00 55667788 120001 0000 00",
    );
    send(card, &gac2, out);
    card.power_off();
}

fn qpboc_transaction(card: &mut BenchCard, s: &Scripts, out: &mut [u8]) {
    card.power_on(Interface::Contactless).unwrap();
    for apdu in &s.qpboc {
        send(card, apdu, out);
    }
    card.power_off();
}

fn per_second(label: &str, iters: u32, mut f: impl FnMut()) {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let elapsed = start.elapsed();
    println!(
        "{label}: {:.0} transactions/s ({iters} in {elapsed:?})",
        f64::from(iters) / elapsed.as_secs_f64()
    );
}

/// Median ns per call of `f` over `rounds` rounds of `batch` calls.
fn median_ns(rounds: usize, batch: u32, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..batch {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(batch)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The primitives a contact transaction runs, on both sides: the card's five CVN 01
/// session keys (GAC1 AC + IAD MAC, EXTERNAL AUTHENTICATE, GAC2 AC + IAD MAC), two
/// cryptograms over the 37-byte CVN 01 input, two IAD MACs and the ARPC check, plus the
/// terminal's session key and ARPC. An estimate of the crypto inside one transaction,
/// by replaying the same primitive calls.
fn contact_crypto(udk: &[u8; 16]) {
    use sscard_core::crypto::retail_mac;
    let input = [0x5Au8; 37];
    let iad = [0xA5u8; 16];
    let mut acc = 0u8;
    for atc in 1u16..=5 {
        let sk = pboc_session_key(udk, atc);
        acc ^= sk[0];
    }
    let sk = pboc_session_key(udk, 7);
    for _ in 0..2 {
        acc ^= retail_mac(&sk, &[0; 8], &[&input])[0];
        acc ^= retail_mac(&sk, &[0; 8], &[&iad])[0];
    }
    for _ in 0..2 {
        acc ^= arpc_method1(&sk, &[acc; 8], b"00")[0];
    }
    acc ^= pboc_session_key(udk, 9)[0];
    std::hint::black_box(acc);
}

/// A card personalized as `image`, unpowered.
fn fresh_card(image: &[u8]) -> BenchCard {
    Card::load(
        RamNvm::new(image.to_vec()),
        SplitMixRng::new(1),
        (PbocApplet::new(),),
        (),
        CosOptions::default(),
    )
    .unwrap()
}

/// Time shares measured in one run: each transaction interleaved with its reference
/// (qPBOC: one SM2 signature with the card's fDDA key size and ID; contact: the replayed
/// primitives of `contact_crypto`).
fn shares(image: &[u8], s: &Scripts) {
    let mut out = vec![0u8; 4096];
    let fresh = || fresh_card(image);
    let key = sscard_core::crypto::Sm2KeyPair::from_secret_bytes(&[0x42; 32]).unwrap();
    let msg = [0x15u8; 64];
    let (mut tx, mut sign, mut ctx, mut cry) = (vec![], vec![], vec![], vec![]);
    for _ in 0..15 {
        let mut card = fresh();
        tx.push(median_ns(1, 40, || {
            qpboc_transaction(&mut card, s, &mut out)
        }));
        sign.push(median_ns(1, 40, || {
            std::hint::black_box(key.sign(sscard_core::crypto::SM2_DEFAULT_ID, &msg).unwrap());
        }));
        let mut card = fresh();
        ctx.push(median_ns(1, 200, || {
            contact_transaction(&mut card, s, &mut out)
        }));
        cry.push(median_ns(1, 200, || contact_crypto(&s.udk_ac)));
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (tx, sign, ctx, cry) = (med(&mut tx), med(&mut sign), med(&mut ctx), med(&mut cry));
    println!(
        "qPBOC with SM2 fDDA: {:.1} µs; one SM2 signature {:.1} µs; everything but the signature: {:.1} % of the transaction",
        tx / 1e3,
        sign / 1e3,
        100.0 * (tx - sign) / tx
    );
    println!(
        "contact transaction: {:.1} µs; its cryptographic primitives (replayed) {:.1} µs; outside them: {:.1} %",
        ctx / 1e3,
        cry / 1e3,
        100.0 * (ctx - cry) / ctx
    );
}

fn bench(c: &mut Criterion) {
    let image = image();
    shares(&image, &scripts());
    let s = scripts();
    let mut out = vec![0u8; 4096];
    let fresh = || fresh_card(&image);

    // A fresh card every 1000 transactions keeps the EC balance and ATC in range; 90 ×
    // 1.00 qPBOC spends the 100.00 EC balance.
    let runs: [(&str, u32, u32, Transaction); 2] = [
        ("pboc contact transaction", 200, 1000, contact_transaction),
        (
            "pboc qPBOC transaction (SM2 fDDA)",
            50,
            90,
            qpboc_transaction,
        ),
    ];
    for (label, iters, renew_every, transaction) in runs {
        let mut card = fresh();
        let mut count = 0u32;
        let mut run = |card: &mut BenchCard, out: &mut [u8]| {
            count += 1;
            if count.is_multiple_of(renew_every) {
                *card = fresh();
            }
            transaction(card, &s, out);
        };
        per_second(label, iters, || run(&mut card, &mut out));
        c.bench_function(label, |b| b.iter(|| run(&mut card, &mut out)));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
