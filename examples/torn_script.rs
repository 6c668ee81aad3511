//! A script torn at every write: a PIN change on the default card, with the power cut at
//! each NVM write of each step, in each tear mode; every recovered card must hold the old
//! or the new PIN data, never a mixture.
//!
//! `cargo run --example torn_script`

use sscard_host::profile::Profile;
use sscard_host::script::Script;

const SCRIPT: &str = "\
00A404000F7378312E73682EC9E7BBE1B1A3D5CF00 => 61XX | 9000
0020000003123456 => 9000
805E0100071234 56FF 654321 => 9000
0020000003654321 => 9000
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let script = Script::parse(SCRIPT, None)?;
    let points = sscard_testkit::tear::tear_script(&Profile::default_gen3(), &script)?;
    println!("{points} tear points checked: every recovery old or new");
    Ok(())
}
