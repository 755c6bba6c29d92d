//! The shared-cache leg: whether Redis answers, lets this user write, and holds what this key
//! seals (docs/shared-cache.md). It never fails the report: without the shared cache every
//! machine fetches its own tokens, which works, so a broken one is a warning with its fix.

use super::{Doctor, Status, check, leg};
use crate::credential::Credential;

impl Doctor {
    pub(super) async fn shared_cache(&mut self, credential: &Credential) {
        let Some(checkup) = credential.shared_cache_checkup().await else {
            return;
        };
        let mut report = leg("shared_cache", "the farm's shared token cache (Redis)");
        report.checks.push(check(
            Status::Info,
            "address",
            format!(
                "{}, entries sealed with key '{}' ({} key(s) can open them)",
                checkup.target, checkup.sealing_key, checkup.keys
            ),
        ));
        match &checkup.ping {
            Ok(took) => report.checks.push(check(
                Status::Ok,
                "connection",
                format!(
                    "PING answered in {} ms ({})",
                    took.as_millis(),
                    checkup.reached
                ),
            )),
            Err(why) => {
                let mut c = check(Status::Warn, "connection", format!("no answer: {why}"));
                c.fix = Some(
                    "Check the address, the port (6380 for Azure Cache for Redis over TLS), the \
                     firewall and the password or ACL user; with Sentinel, the master's name and \
                     that the sentinels know a master that is up. Until it answers, each machine \
                     fetches its own tokens."
                        .to_string(),
                );
                report.checks.push(c);
            }
        }
        if checkup.ping.is_ok() {
            let c = match &checkup.round_trip {
                Ok(()) => check(
                    Status::Ok,
                    "write and read back",
                    "a sealed entry was written, read back, opened and deleted",
                ),
                Err(why) => {
                    let mut c = check(Status::Warn, "write and read back", why.clone());
                    c.fix = Some(
                        "Give the Redis user the rights to GETRANGE, GET, SET, DEL and EVAL keys under \
                         certless:* (ACL: ~certless:* +getrange +get +set +del +eval +ping), and room to \
                         write (maxmemory)."
                            .to_string(),
                    );
                    c
                }
            };
            report.checks.push(c);
        }
        let s = &checkup.stats;
        report.checks.push(check(
            Status::Info,
            "so far",
            format!(
                "{} hit(s), {} miss(es), {} entr(ies) that did not open, {} with an unknown key, \
                 {} error(s); circuit breaker {}",
                s.hits,
                s.misses,
                s.rejected,
                s.unknown_key,
                s.errors,
                s.state.as_str()
            ),
        ));
        self.push(report);
    }
}
