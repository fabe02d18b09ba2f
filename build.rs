//! Records when paddock was built, for the version line of the four-letter
//! words (`Zookeeper version: 3.8.0-paddock-…, built on 2026-12-01 21:40 UTC`).
//!
//! ZooKeeper 3.8.0 stamps `yyyy-MM-dd HH:mm zz` in UTC at build time
//! (`build-helper-maven-plugin`, `zookeeper-server/pom.xml`); paddock prints
//! the same shape. `SOURCE_DATE_EPOCH` (seconds since the epoch), when set,
//! replaces the clock so that a build is reproducible.

use std::time::{SystemTime, UNIX_EPOCH};

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
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60
    )
}
