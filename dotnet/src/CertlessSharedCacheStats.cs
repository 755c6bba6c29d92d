using System;

namespace Certless
{
    /// <summary>
    /// What a credential's shared cache on Redis did since the credential was made, and its circuit breaker's state when
    /// read (<see cref="CertlessCredential.GetSharedCacheStats"/>). docs/shared-cache.md says what each counter counts.
    /// </summary>
    public sealed class CertlessSharedCacheStats
    {
        internal CertlessSharedCacheStats(string target, string state, Func<string, long> counter)
        {
            Target = target;
            State = state;
            Hits = counter("hit");
            Misses = counter("miss");
            Rejected = counter("rejected");
            UnknownKey = counter("unknown_key");
            Errors = counter("error");
            OverBudget = counter("over_budget");
            Skipped = counter("skipped");
            Writes = counter("write");
            WriteFailures = counter("write_failure");
            Full = counter("full");
            LeasesWon = counter("lease_won");
            LeaseWaits = counter("lease_wait");
            LeaseTimeouts = counter("lease_timeout");
            BreakerOpened = counter("breaker_opened");
        }

        /// <summary>Where Redis is: its address (a server, Sentinel's or a cluster's), never a user or password.</summary>
        public string Target { get; private set; }

        /// <summary>
        /// The circuit breaker: <c>closed</c> (Redis answers), <c>open</c> (Redis failed and is not asked until the
        /// cool-down ends; tokens still come from Entra) or <c>half_open</c> (one probe is out).
        /// </summary>
        public string State { get; private set; }

        /// <summary>Reads that found a usable entry.</summary>
        public long Hits { get; private set; }

        /// <summary>Reads that found none.</summary>
        public long Misses { get; private set; }

        /// <summary>Entries that did not open (tampered with, or sealed under another key with the same id); dropped.</summary>
        public long Rejected { get; private set; }

        /// <summary>Entries sealed under a key id this process does not have (a rotation not rolled out everywhere yet).</summary>
        public long UnknownKey { get; private set; }

        /// <summary>Commands that failed (connection refused or lost, timeouts, server errors).</summary>
        public long Errors { get; private set; }

        /// <summary>Reads not answered within the read budget (a miss; the read still finishes).</summary>
        public long OverBudget { get; private set; }

        /// <summary>Commands not sent because the breaker was open.</summary>
        public long Skipped { get; private set; }

        /// <summary>Entries and lease releases written.</summary>
        public long Writes { get; private set; }

        /// <summary>Writes that failed.</summary>
        public long WriteFailures { get; private set; }

        /// <summary>Commands refused because Redis is full (maxmemory with noeviction).</summary>
        public long Full { get; private set; }

        /// <summary>Leases this process took (it fetched for the farm).</summary>
        public long LeasesWon { get; private set; }

        /// <summary>Fetches that waited for another machine's lease.</summary>
        public long LeaseWaits { get; private set; }

        /// <summary>Waits that reached their bound (the process then fetched for itself).</summary>
        public long LeaseTimeouts { get; private set; }

        /// <summary>How many times the breaker opened.</summary>
        public long BreakerOpened { get; private set; }

        /// <summary>The target, the state and the main counters, for a log line.</summary>
        public override string ToString()
        {
            return string.Format("shared cache {0} ({1}): {2} hits, {3} misses, {4} errors, {5} skipped, {6} writes, {7} leases won",
                Target, State, Hits, Misses, Errors, Skipped, Writes, LeasesWon);
        }
    }
}
