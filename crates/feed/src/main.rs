//! `shoppulse-feed`: the `ShopPulse` feed gateway binary. See `--help` and
//! docs/GATEWAY.md.

use std::process::ExitCode;

use clap::Parser;
use shoppulse_feed::cli::{Cli, Command, ImportCommand};
use shoppulse_feed::run;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Import(ImportCommand::OnlineRetail(a))) => run::import(a),
        Some(Command::Simulate(a)) => run::simulate(a),
        None => run::serve(&cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shoppulse-feed: {e}");
            ExitCode::FAILURE
        }
    }
}
