//! `clockstorm kernel list|fetch`.

use crate::cli::args::{KernelCommand, ListFormat};
use crate::error::Error;
use crate::exit_code;
use crate::kernel::{fetch_debian_kernel, KernelCache};

pub fn run(cmd: &KernelCommand) -> Result<u8, Error> {
    let cache = KernelCache::default_location()?;
    match cmd {
        KernelCommand::List { format: ListFormat::Json } => {
            let default = cache.newest()?.map(|k| k.meta.name);
            println!("{}", list_json(&cache.list()?, default.as_deref(), &cache.root().display().to_string()));
        }
        KernelCommand::List { format: ListFormat::Text } => {
            let entries = cache.list()?;
            if entries.is_empty() {
                println!("no cached kernels in {} (fetch one with `clockstorm kernel fetch`)", cache.root().display());
                return Ok(exit_code::SUCCESS);
            }
            let default = cache.newest()?.map(|k| k.meta.name);
            println!("{:<38} {:<30} {:<18} {:<7} {:>10}  sha256", "name", "release", "suite", "flavour", "size");
            for k in entries {
                let mark = if default.as_deref() == Some(k.meta.name.as_str()) { " (default)" } else { "" };
                let m = &k.meta;
                println!("{:<38} {:<30} {:<18} {:<7} {:>10}  {}{mark}", m.name, m.release, m.suite, m.flavour, m.size, m.sha256);
            }
            println!("cache: {}", cache.root().display());
        }
        KernelCommand::Fetch { suite, flavour, mirror } => {
            let k = fetch_debian_kernel(&cache, suite, flavour, mirror)?;
            println!(
                "cached {} {} ({} {}) sha256 {} at {}",
                k.meta.name,
                k.meta.release,
                k.meta.package,
                k.meta.package_version,
                k.meta.sha256,
                k.vmlinuz().display()
            );
        }
    }
    Ok(exit_code::SUCCESS)
}

/// `kernel list --format json`: `{"cache": DIR, "kernels": [meta.json of
/// each entry, with "vmlinuz" and "default"]}`. Pure.
pub fn list_json(entries: &[crate::kernel::CachedKernel], default: Option<&str>, cache: &str) -> String {
    let kernels: Vec<serde_json::Value> = entries
        .iter()
        .map(|k| {
            let mut v = serde_json::to_value(&k.meta).unwrap_or_default();
            v["vmlinuz"] = k.vmlinuz().display().to_string().into();
            v["default"] = (default == Some(k.meta.name.as_str())).into();
            v
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "cache": cache, "kernels": kernels })).expect("JSON values serialize")
}
