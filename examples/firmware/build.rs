//! The host step's card image: SSCARD_FIRMWARE_NVM names a raw NVM body (`sscard image
//! export-nvm`), copied to OUT_DIR/card.nvm for `include_bytes!`; without it the file is
//! empty and the firmware personalizes its card on first boot.
use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=SSCARD_FIRMWARE_NVM");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("card.nvm");
    let body = match std::env::var_os("SSCARD_FIRMWARE_NVM") {
        Some(path) => {
            println!("cargo::rerun-if-changed={}", PathBuf::from(&path).display());
            match std::fs::read(&path) {
                Ok(body) => body,
                Err(e) => {
                    println!(
                        "cargo::error=SSCARD_FIRMWARE_NVM {}: {e}",
                        PathBuf::from(&path).display()
                    );
                    return;
                }
            }
        }
        None => Vec::new(),
    };
    if let Err(e) = std::fs::write(&out, body) {
        println!("cargo::error={}: {e}", out.display());
    }
}
