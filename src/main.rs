//! The `sscard` command line.

use clap::{Parser, Subcommand};
use sscard::profile::Profile;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "sscard",
    version,
    about = "Emulator of China's third-generation social security card"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Personalize the default card and run an iReadCardBas terminal session in-process.
    Demo {
        /// Profile to use instead of the built-in default gen-3 card.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Seed of the card's and the terminal's random numbers.
        #[arg(long, default_value_t = 2025)]
        seed: u64,
    },
    /// Work with personalization profiles.
    Profile {
        #[command(subcommand)]
        action: ProfileAction,
    },
}

#[derive(Subcommand)]
enum ProfileAction {
    /// Validate a profile, pointing at the bad field.
    Check {
        /// The profile (TOML).
        file: PathBuf,
    },
}

fn load(path: Option<&PathBuf>) -> Result<Profile, String> {
    match path {
        Some(p) => Profile::load(p).map_err(|e| e.to_string()),
        None => Ok(Profile::default_gen3()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { profile, seed } => load(profile.as_ref())
            .and_then(|p| {
                println!(
                    "sscard demo: generation {:?} card, iReadCardBas session",
                    p.generation()
                );
                sscard::demo::run(&p, seed, true).map_err(|e| e.to_string())
            })
            .map(|out| println!("\niReadCardBas: {out}")),
        Command::Profile {
            action: ProfileAction::Check { file },
        } => Profile::load(&file)
            .map(|p| {
                println!(
                    "{}: valid generation {:?} profile ({:?})",
                    file.display(),
                    p.generation(),
                    p.algorithm()
                )
            })
            .map_err(|e| format!("{}: {e}", file.display())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sscard: {e}");
            ExitCode::FAILURE
        }
    }
}
