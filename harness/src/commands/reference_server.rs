//! `clockstorm reference-server --listen ADDR`.

use std::net::TcpListener;

use crate::error::Error;
use crate::{exit_code, reference_server, signals};

pub fn run(listen: &str) -> Result<u8, Error> {
    let listener = TcpListener::bind(listen).map_err(|e| Error::BadFlag { flag: "listen", message: format!("cannot listen on {listen}: {e}") })?;
    signals::install().map_err(Error::Signals)?;
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| listen.to_owned());
    // The first line is the address, so scripts (and tests) can pass port 0.
    println!("listening on {addr}");
    reference_server::serve(listener, signals::interrupted)
        .map_err(|source| Error::Run(crate::runner::RunError::Io { what: format!("serving on {addr}"), source }))?;
    Ok(exit_code::SUCCESS)
}
