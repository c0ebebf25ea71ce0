//! `clockstorm scenarios`: the shipped scenarios, one line each.

use crate::error::Error;
use crate::exit_code;
use crate::scenario::{parse, SHIPPED};

pub fn run() -> Result<u8, Error> {
    for (name, text) in SHIPPED {
        let loaded = parse(text, &format!("shipped scenario {name}"))?;
        println!("{name:<16} {}", loaded.scenario.description);
    }
    Ok(exit_code::SUCCESS)
}
