//! `mortar-i18n-check <dir> [reference-locale]`: checks that every locale in a Fluent catalog
//! directory has every message of the reference locale (default `en`) with the same
//! variables, and no others. Exits 1 when something is missing or wrong, 2 on bad usage.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().filter(|a| a != "-h" && a != "--help") else {
        eprintln!("usage: mortar-i18n-check <catalog-dir> [reference-locale]");
        return ExitCode::from(2);
    };
    let reference = args.next().unwrap_or_else(|| "en".to_owned());
    match mortar_i18n::check_dir(&dir, &reference) {
        Ok(findings) if findings.is_empty() => {
            println!("{dir}: every locale matches {reference}");
            ExitCode::SUCCESS
        }
        Ok(findings) => {
            for finding in &findings {
                println!("{finding}");
            }
            println!("{} finding(s)", findings.len());
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
