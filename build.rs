//! Records when paddock was built, for the version line of the four-letter
//! words (`Zookeeper version: 3.8.0-paddock-…, built on 2026-12-01 21:40 UTC`).
//!
//! ZooKeeper 3.8.0 stamps `yyyy-MM-dd HH:mm zz` in UTC at build time
//! (`build-helper-maven-plugin`, `zookeeper-server/pom.xml`); paddock prints
//! the same shape. `SOURCE_DATE_EPOCH` (seconds since the epoch), when set,
//! replaces the clock so that a build is reproducible.

use std::time::{SystemTime, UNIX_EPOCH};

#[path = "src/civil_date.rs"]
mod civil_date;

fn main() {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // Re-stamp whenever the sources change, not on every build.
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.toml");
    let seconds = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) => match text.trim().parse::<i64>() {
            Ok(seconds) => seconds,
            Err(e) => panic!("SOURCE_DATE_EPOCH={text:?} is not a number of seconds: {e}"),
        },
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    };
    println!(
        "cargo:rustc-env=PADDOCK_BUILD_DATE={}",
        utc_minutes(seconds)
    );
}

/// `yyyy-MM-dd HH:mm UTC` for a time in seconds since the epoch.
fn utc_minutes(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_date::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60
    )
}
