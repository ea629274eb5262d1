//! Argument parsing and dispatch for the `l2net` command.

mod link;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Messaging straight over Ethernet frames (EtherType 0x88B5).
#[derive(Parser, Debug)]
#[command(name = "l2net", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// What the Linux port finds on an interface: backend, MTU, timestamping, VLAN offload, state.
    Link(link::Args),
}

/// An error for the user: printed as `l2net: <message>` with exit code 1 (2 for usage).
#[derive(Debug)]
pub struct CliError(pub String);

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Link(a) => link::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(msg)) => {
            eprintln!("l2net: {msg}");
            ExitCode::FAILURE
        }
    }
}
