//! The NVM footprint of the default gen-3 card against `footprint/budget.toml`: the
//! configured NVM size and the bytes personalization used (the header's heap high-water
//! mark `heap_used_to`). `scripts/footprint.sh` runs this with `--nocapture` to print the
//! figures next to the flash and RAM ones.
#![allow(clippy::restriction)]

use sscard_core::fs::layout::Header;
use sscard_core::nvm::RamNvm;
use sscard_host::profile::Profile;

fn budget(key: &str) -> u64 {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/footprint/budget.toml");
    let text = std::fs::read_to_string(path).expect("footprint/budget.toml");
    let table: toml::Table = toml::from_str(&text).expect("budget.toml parses");
    let value = table.get(key).and_then(toml::Value::as_integer);
    u64::try_from(value.expect("budget present")).expect("budget ≥ 0")
}

#[test]
fn default_gen3_image_fits_its_budget() {
    let mut image = Profile::default_gen3().image().expect("default profile");
    let header = Header::load(&RamNvm::new(&mut image[..])).expect("image loads");
    let limit = budget("image_bytes");
    let (size, used) = (image.len() as u64, u64::from(header.heap_used_to));
    println!(
        "default gen-3 image: NVM {size} bytes configured, {used} used ({:.1} %: header, \
         {} of {} file entries, {} of {} secrets, journal, file bodies); budget {limit}",
        100.0 * used as f64 / size as f64,
        header.files_used,
        header.file_capacity,
        header.secrets_used,
        header.secret_capacity,
    );
    assert_eq!(
        u64::from(header.nvm_len),
        size,
        "header records the NVM size"
    );
    assert!(used <= size, "used within the NVM");
    assert!(size <= limit, "default image {size} bytes > budget {limit}");
}
