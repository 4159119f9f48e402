using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using QueueActors.Storage;

namespace QueueActors.Bench;

internal sealed partial class Runner
{
    // ---- 5. growth: claim latency against the size of the history and of the queue ----

    /// <summary>Series of the growth workloads, in print order.</summary>
    internal static readonly string[] GrowthSeries =
    [
        "claim, no handle (committed)",
        "claim, handle (committed)",
        "claim stmt, no handle (rolled back)",
        "claim stmt, handle (rolled back)",
        "card index only, no handle (rolled back)",
        "stats read (StatsAsync, all handles)",
        "claim, no handle, right after a stats read",
    ];

    private async Task GrowthAsync(int run, bool history)
    {
        string workload = history ? "growth-history" : "growth-queued";
        var sizes = history ? _o.HistorySizes : _o.QueuedSizes;
        int claims = _o.ClaimsPerPoint;
        foreach (int size in sizes)
        {
            string db = NewDb($"{workload}-{size}");
            try
            {
                // Set-up: the schema through the queue, then rows by raw SQL in one transaction with synchronous OFF.
                var setup = Stopwatch.StartNew();
                await using (var q = new BlueskyQueue(_settings with { DbPath = db })) await q.InitDbAsync();
                var now = DateTimeOffset.UtcNow;
                using (var c = RawSql.Open(db, _settings with { Synchronous = SyncMode.Off, CacheSizeKiB = 1024 * 1024 }))
                {
                    // Set-up only: no journal at all (the rows go straight to the file, not through the WAL), then back to WAL.
                    RawSql.Scalar(c, "PRAGMA journal_mode = OFF;");
                    RawSql.Execute(c, "BEGIN IMMEDIATE;");
                    if (history)
                    {
                        RawSql.InsertHistory(c, size, _o.Handles, now);
                        RawSql.InsertQueued(c, _o.QueuedForHistory, _o.Handles, now, "q");
                    }
                    else
                    {
                        RawSql.InsertQueued(c, size, _o.Handles, now, "q");
                    }
                    RawSql.Execute(c, "COMMIT;");
                    if (RawSql.Scalar(c, "PRAGMA journal_mode = WAL;") is not "wal")
                        throw new InvalidOperationException("cannot switch the benchmark database back to WAL");
                }
                // The rows were written without fsync: put them on disk now, or the kernel's write-back of
                // hundreds of MiB would land on the measured commits' fsyncs.
                SqliteConnection.ClearAllPools();
                using (var file = new FileStream(db, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite)) file.Flush(flushToDisk: true);
                double setupSeconds = setup.Elapsed.TotalSeconds;
                int queued = history ? _o.QueuedForHistory : size;

                // Measurement: reopened with the durable settings.
                await using var queue = new BlueskyQueue(_settings with { DbPath = db });
                using var probe = RawSql.Open(db, _settings);
                using var housekeeping = RawSql.Open(db, _settings with { Synchronous = SyncMode.Normal });
                var plans = new JsonObject
                {
                    ["no_handle"] = Plan(probe, RawSql.ClaimSql(withHandle: false)),
                    ["handle"] = Plan(probe, RawSql.ClaimSql(withHandle: true)),
                    ["card_index_no_handle"] = Plan(probe, RawSql.ClaimSql(withHandle: false, index: "idx_jobs_claim")),
                    ["stats"] = Plan(probe, "SELECT status, COUNT(*) FROM jobs GROUP BY status;"),
                };
                _plans[$"{workload}-{size}"] = plans;
                var replacer = new Replacer(housekeeping);

                // Warm-up: statements prepared, pages cached.
                for (int i = 0; i < 10; i++)
                {
                    var job = await queue.ClaimNextAsync(i % 2 == 0 ? null : Bench.Handle(i % _o.Handles));
                    if (job is not null) replacer.Finish(job);
                }

                var probes = new ProbeCommands(probe);
                var samples = new Dictionary<string, List<double>>();
                foreach (var series in GrowthSeries) samples[series] = new List<double>();
                for (int i = 0; i < claims; i++)
                {
                    // Interleaved, so noise from the rest of the machine falls on every series alike.
                    foreach (bool withHandle in new[] { false, true })
                    {
                        string? handle = withHandle ? Bench.Handle(i % _o.Handles) : null;
                        long t0 = Stopwatch.GetTimestamp();
                        var job = await queue.ClaimNextAsync(handle);
                        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                        if (job is null) throw new InvalidOperationException($"nothing to claim at {workload} size {size}");
                        samples[withHandle ? GrowthSeries[1] : GrowthSeries[0]].Add(ms);
                        replacer.Finish(job); // marked posted and replaced by a new queued job: the sizes stay put
                    }
                    samples[GrowthSeries[2]].Add(probes.RolledBackClaim(RawSql.ClaimSql(withHandle: false), null));
                    samples[GrowthSeries[3]].Add(probes.RolledBackClaim(RawSql.ClaimSql(withHandle: true), Bench.Handle(i % _o.Handles)));
                    if (i < Math.Min(claims, 50))
                        samples[GrowthSeries[4]].Add(probes.RolledBackClaim(RawSql.ClaimSql(withHandle: false, index: "idx_jobs_claim"), null));
                }
                // Stats reads last: a full scan through the queue's connection refills its page cache with table pages.
                for (int i = 0; i < Math.Min(claims, 10); i++)
                {
                    long s0 = Stopwatch.GetTimestamp();
                    await queue.StatsAsync();
                    samples[GrowthSeries[5]].Add(Stopwatch.GetElapsedTime(s0).TotalMilliseconds);
                    s0 = Stopwatch.GetTimestamp();
                    var job = await queue.ClaimNextAsync();
                    samples[GrowthSeries[6]].Add(Stopwatch.GetElapsedTime(s0).TotalMilliseconds);
                    if (job is not null) replacer.Finish(job);
                }

                var stats = await queue.StatsAsync();
                foreach (var series in GrowthSeries)
                {
                    Add(new Figure
                    {
                        Workload = workload, Variant = series, Size = size, Run = run, Latency = Latency.Of(samples[series]),
                        Extra =
                        {
                            ["setup_seconds"] = setupSeconds, ["queued"] = stats.Queued, ["history"] = stats.Posted + stats.Failed,
                            ["db_bytes"] = new FileInfo(db).Length,
                        },
                    });
                }
                Console.WriteLine($"    set-up {setupSeconds:0.0} s; queued {stats.Queued:N0} (seeded {queued:N0}), history {stats.Posted + stats.Failed:N0}, " +
                                  $"file {Table.Bytes(new FileInfo(db).Length)}");
                Console.WriteLine($"    plan, no handle: {string.Join(" / ", plans["no_handle"]!.AsArray().Select(n => n!.ToString()))}");
                Console.WriteLine($"    plan, handle:    {string.Join(" / ", plans["handle"]!.AsArray().Select(n => n!.ToString()))}");
                Console.WriteLine($"    plan, stats:     {string.Join(" / ", plans["stats"]!.AsArray().Select(n => n!.ToString()))}");
            }
            finally
            {
                SqliteConnection.ClearAllPools();
                Drop(db);
            }
        }
    }

    private static JsonArray Plan(SqliteConnection c, string sql) =>
        new(RawSql.ClaimPlan(c, sql).Select(l => (JsonNode)l).ToArray());

    /// <summary>
    /// The claim statement alone, inside BEGIN IMMEDIATE … ROLLBACK: what the query costs without the commit's fsync.
    /// Commands are prepared once and reused, as the queue's sessions do.
    /// </summary>
    private sealed class ProbeCommands(SqliteConnection c)
    {
        private readonly Dictionary<string, SqliteCommand> _commands = new();
        private readonly SqliteCommand _begin = RawSql.Command(c, "BEGIN IMMEDIATE;");
        private readonly SqliteCommand _rollback = RawSql.Command(c, "ROLLBACK;");

        public double RolledBackClaim(string sql, string? handle)
        {
            if (!_commands.TryGetValue(sql, out var cmd)) _commands[sql] = cmd = RawSql.Command(c, sql);
            cmd.Parameters.Clear();
            cmd.Parameters.AddWithValue("$now", RawSql.Time(DateTimeOffset.UtcNow));
            cmd.Parameters.AddWithValue("$token", Guid.NewGuid().ToString("N"));
            cmd.Parameters.AddWithValue("$record_key", "probe");
            cmd.Parameters.AddWithValue("$handle", (object?)handle ?? DBNull.Value);
            _begin.ExecuteNonQuery();
            try
            {
                long t0 = Stopwatch.GetTimestamp();
                using (var reader = cmd.ExecuteReader())
                {
                    if (!reader.Read()) throw new InvalidOperationException("the probe found nothing to claim");
                    var values = new object[reader.FieldCount];
                    reader.GetValues(values);
                }
                return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
            finally
            {
                _rollback.ExecuteNonQuery();
            }
        }
    }

    /// <summary>Untimed housekeeping after a measured claim: the job is marked posted and a new due job of its handle queued.</summary>
    private sealed class Replacer(SqliteConnection c)
    {
        private readonly SqliteCommand _mark = RawSql.Command(c, RawSql.MarkPostedSql);
        private readonly SqliteCommand _insert = RawSql.Command(c, """
            INSERT INTO jobs (id, created_at, not_before, text, expected_handle, status, record_key)
            VALUES ($id, $now, $now, 'a replacement job, queued to keep the queue at its size', $handle, 'queued', $key);
            """);
        private long _count;

        public void Finish(Job job)
        {
            string now = RawSql.Time(DateTimeOffset.UtcNow);
            RawSql.Execute(c, "BEGIN IMMEDIATE;");
            _mark.Parameters.Clear();
            _mark.Parameters.AddWithValue("$id", job.Id);
            _mark.Parameters.AddWithValue("$uri", Drains.PostUri(job.RecordKey));
            _mark.Parameters.AddWithValue("$url", Drains.WebUrl(job.ExpectedHandle, job.RecordKey));
            _mark.Parameters.AddWithValue("$now", now);
            _mark.Parameters.AddWithValue("$token", job.ClaimToken);
            _mark.ExecuteNonQuery();
            _insert.Parameters.Clear();
            _insert.Parameters.AddWithValue("$id", Guid.NewGuid().ToString());
            _insert.Parameters.AddWithValue("$now", now);
            _insert.Parameters.AddWithValue("$handle", job.ExpectedHandle);
            _insert.Parameters.AddWithValue("$key", $"repl{Environment.ProcessId}-{++_count}");
            _insert.ExecuteNonQuery();
            RawSql.Execute(c, "COMMIT;");
        }
    }
}
