//! Argument parsing and dispatch for the `l2net` command.

mod common;
mod demo;
mod discover;
mod link;
mod perf;
mod ping;
mod pubsub;

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
    /// Two participants over a veth pair (as root) or in memory: discovery, topics, a service
    /// call, a 4 MiB message, latency.
    Demo(demo::Args),
    /// A live table of the participants on a wire, their topics and QoS, their leases.
    Discover(discover::Args),
    /// Publish samples on a topic.
    Pub(pubsub::PubArgs),
    /// Print the samples of a topic.
    Echo(pubsub::EchoArgs),
    /// Round-trip latency to a peer running `l2net pong`.
    Ping(ping::PingArgs),
    /// Answer `l2net ping`.
    Pong(ping::PongArgs),
    /// Throughput: delivered samples per second at the receiver, losses, CPU per sample.
    Perf(perf::Args),
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
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`l2net echo ... | head`) instead of failing on every later print.
    // SAFETY: setting a signal disposition to SIG_DFL has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Discover(a) => discover::run(a),
        Command::Pub(a) => pubsub::publish(a),
        Command::Echo(a) => pubsub::echo(a),
        Command::Ping(a) => ping::ping(a),
        Command::Pong(a) => ping::pong(a),
        Command::Perf(a) => perf::run(a),
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
