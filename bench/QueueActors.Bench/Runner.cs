using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using QueueActors.Storage;

namespace QueueActors.Bench;

/// <summary>Runs the chosen workloads <c>--runs</c> times, prints each run, then the summaries, and writes the JSON.</summary>
internal sealed partial class Runner
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly BenchOptions _o;
    private readonly QueueSettings _settings;
    private readonly List<Figure> _figures = new();
    private readonly JsonObject _plans = new();
    private int _dbCounter;

    public Runner(BenchOptions options)
    {
        _o = options;
        // The queue's own defaults (QueueSettings), with only the durability switched by --sync.
        _settings = new QueueSettings { Synchronous = options.Sync };
    }

    private string NewDb(string name) => Path.Combine(_o.WorkDir, $"{++_dbCounter:000}-{name}.sqlite3");

    private void Drop(string db)
    {
        if (!_o.Keep) Bench.DeleteDb(db);
    }

    public async Task<int> RunAsync()
    {
        Directory.CreateDirectory(_o.WorkDir);
        var total = Stopwatch.StartNew();
        string settingsDb = NewDb("settings");
        await using (var q = new BlueskyQueue(_settings with { DbPath = settingsDb })) await q.InitDbAsync();
        var report = RawSql.ReadSettings(settingsDb, _settings);
        Drop(settingsDb);

        Console.WriteLine("QueueActors benchmark (issue 7)");
        Console.WriteLine($"  command:   {Environment.CommandLine}");
        Console.WriteLine($"  machine:   {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}");
        Console.WriteLine($"  database:  {_o.WorkDir}");
        Console.WriteLine($"  SQLite:    {report}");
        Console.WriteLine($"  queue:     BusyTimeout={_settings.BusyTimeout.TotalSeconds} s, CacheSizeKiB={_settings.CacheSizeKiB}, " +
                          $"WalAutoCheckpointPages={_settings.WalAutoCheckpointPages}, Synchronous={_settings.Synchronous}; " +
                          $"actors: max-batch-size={new QueueOptions().MaxBatchSize}, db work on a PinnedDispatcher");
        Console.WriteLine($"  workloads: {string.Join(", ", _o.Workloads)}; runs={_o.Runs}; jobs={_o.Jobs}; posters={_o.Posters}; handles={_o.Handles}" +
                          (_o.Quick ? " (quick)" : ""));
        Console.WriteLine();

        int failures = 0;
        for (int run = 1; run <= _o.Runs; run++)
        {
            Console.WriteLine($"== run {run} of {_o.Runs} ==");
            foreach (var workload in _o.Workloads)
            {
                try
                {
                    switch (workload)
                    {
                        case "enqueue": await EnqueueAsync(run); break;
                        case "drain": await DrainAsync(run); break;
                        case "processes": await ProcessesAsync(run); break;
                        case "growth-history": await GrowthAsync(run, history: true); break;
                        case "growth-queued": await GrowthAsync(run, history: false); break;
                    }
                }
                catch (Exception e)
                {
                    failures++;
                    Console.WriteLine($"  !! {workload} failed: {e}");
                }
            }
            Console.WriteLine();
        }

        Console.WriteLine($"== summary: {(_o.Runs > 1 ? $"median (min–max) of {_o.Runs} runs" : "one run")}; " +
                          $"latencies in ms; settings: {report} ==");
        var ratios = PrintSummaries();
        var targets = Targets(ratios);
        Console.WriteLine();
        Console.WriteLine($"total time {total.Elapsed.TotalSeconds:0.0} s");

        if (_o.JsonPath is not null) WriteJson(report, ratios, targets, total.Elapsed);
        if (!_o.Keep)
        {
            try { Directory.Delete(_o.WorkDir, recursive: true); }
            catch (IOException) { }
        }
        int unverified = _figures.Count(f => f.Extra.TryGetValue("verified", out var v) && v is false);
        if (unverified > 0) Console.WriteLine($"!! {unverified} measurement(s) failed their check (a job lost, claimed twice or not stored)");
        return failures == 0 && unverified == 0 ? 0 : 2;
    }

    private void Add(Figure figure)
    {
        _figures.Add(figure);
        var parts = new List<string> { $"  {figure.Workload,-15} {figure.Variant,-34}" };
        if (figure.Size is { } size) parts.Add($"size={size,9:N0}");
        if (figure.Jobs > 0 && figure.Seconds > 0)
            parts.Add($"{figure.Jobs,7} jobs in {figure.Seconds,7:0.000} s = {figure.JobsPerSecond,9:0.0} jobs/s");
        if (figure.Latency is { Count: > 0 } l) parts.Add($"p50={l.P50:0.000} ms p99={l.P99:0.000} ms");
        if (figure.WalEndBytes is { } walEnd) parts.Add($"wal end={Table.Bytes(walEnd)} max={Table.Bytes(figure.WalMaxBytes ?? 0)}");
        if (figure.Extra.TryGetValue("verified", out var verified)) parts.Add($"verified={verified}");
        Console.WriteLine(string.Join("  ", parts));
    }

    // ---- 1. enqueue ----

    private async Task EnqueueAsync(int run)
    {
        int n = _o.EnqueueJobs;
        var jobs = Bench.NewJobs(n, _o.Handles, $"r{run}-");

        // One by one: one BEGIN IMMEDIATE ... COMMIT (and fsync) per job.
        string db = NewDb("enqueue-one");
        await using (var queue = new BlueskyQueue(_settings with { DbPath = db }))
        {
            await queue.InitDbAsync();
            var latencies = new double[n];
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                await queue.EnqueueAsync(jobs[i]);
                latencies[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
            var elapsed = clock.Elapsed;
            var stats = await queue.StatsAsync();
            Add(new Figure
            {
                Workload = "enqueue", Variant = "one by one (EnqueueAsync)", Run = run, Jobs = n, Seconds = elapsed.TotalSeconds,
                Latency = Latency.Of(latencies), Extra = { ["verified"] = stats.Queued == n },
            });
        }
        Drop(db);

        // The CLI's import path: parse and validate a JSON-lines file, key each line by its content, store all in one transaction.
        db = NewDb("import");
        string file = Path.Combine(_o.WorkDir, $"import-{run}.jsonl");
        await File.WriteAllLinesAsync(file, jobs.Select(j =>
            $"{{\"text\": {JsonSerializer.Serialize(j.Text)}, \"expected_handle\": {JsonSerializer.Serialize(j.ExpectedHandle)}}}"));
        await using (var queue = new BlueskyQueue(_settings with { DbPath = db }))
        {
            await queue.InitDbAsync();
            var clock = Stopwatch.StartNew();
            var lines = JobLines.ParseFile(file, queue.Settings.MaxImageBytes);
            var valid = lines.Where(l => l.IsValid)
                .Select(l => l.Job! with { IdempotencyKey = l.Job!.IdempotencyKey ?? ContentKey(l.Job!) }).ToList();
            var parsed = clock.Elapsed;
            var stored = await queue.EnqueueManyAsync(valid);
            var elapsed = clock.Elapsed;
            var stats = await queue.StatsAsync();
            Add(new Figure
            {
                Workload = "enqueue", Variant = "import (JSONL → EnqueueManyAsync)", Run = run, Jobs = n, Seconds = elapsed.TotalSeconds,
                Extra =
                {
                    ["verified"] = stats.Queued == n && stored.Count == n,
                    ["parse_seconds"] = parsed.TotalSeconds,
                    ["store_seconds"] = (elapsed - parsed).TotalSeconds,
                },
            });
        }
        File.Delete(file);
        Drop(db);

        // The same jobs in memory, in one EnqueueManyAsync: validation and the one transaction without the file.
        db = NewDb("enqueue-many");
        await using (var queue = new BlueskyQueue(_settings with { DbPath = db }))
        {
            await queue.InitDbAsync();
            var clock = Stopwatch.StartNew();
            await queue.EnqueueManyAsync(jobs);
            var elapsed = clock.Elapsed;
            var stats = await queue.StatsAsync();
            Add(new Figure
            {
                Workload = "enqueue", Variant = "in one go (EnqueueManyAsync)", Run = run, Jobs = n, Seconds = elapsed.TotalSeconds,
                Extra = { ["verified"] = stats.Queued == n },
            });
        }
        Drop(db);
    }

    /// <summary>The CLI's import key (Program.ContentKey in src/QueueActors.Cli), so the import does the same work.</summary>
    private static string ContentKey(NewJob job)
    {
        var content = string.Join("\u001f", job.Text, job.ExpectedHandle, job.ReplyToUri, job.ReplyToCid, job.ImagePath,
            job.ImageAlt, job.NotBefore is { } nb ? nb.ToString("o", CultureInfo.InvariantCulture) : "", job.DryRun, job.MaxAttempts);
        return "import:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)));
    }

    // ---- 2 and 3. drains, side by side ----

    private async Task<(string Db, IReadOnlyList<string> Ids)> SeedAsync(string name, int jobs, string tag)
    {
        string db = NewDb(name);
        await using var queue = new BlueskyQueue(_settings with { DbPath = db });
        var stored = await queue.EnqueueManyAsync(Bench.NewJobs(jobs, _o.Handles, tag));
        return (db, stored.Select(r => r.Id).ToList());
    }

    private async Task DrainAsync(int run)
    {
        int n = _o.Jobs, p = _o.Posters, h = _o.Handles;
        var variants = new (string Key, string Name, Func<string, Task<DrainOutcome>> Drain)[]
        {
            ("raw", $"raw SQL, {p} threads", db => Task.FromResult(Drains.Raw(db, _settings, p, h))),
            ("direct", $"BlueskyQueue direct, {p} threads", db => Task.FromResult(Drains.Direct(db, _settings, p, h))),
            ("actor", $"actors, {p} posters", db => Drains.Actors(db, _settings.Synchronous, p, h)),
        }.Where(v => _o.DrainVariants.Contains(v.Key)).ToArray();
        // Rotate the order from run to run, so no variant always runs first (or right after a checkpoint-heavy one).
        var order = Enumerable.Range(0, variants.Length).Select(i => variants[(i + run - 1) % variants.Length]).ToList();
        foreach (var (_, name, drain) in order)
            await MeasureDrainAsync(run, name, n, p, drain);
        if (_o.DrainVariants.Contains("raw1"))
        {
            // One thread, no lock contention: the fsync-bound floor of one transaction per operation.
            int single = Math.Min(n, _o.Quick ? 300 : 2000);
            await MeasureDrainAsync(run, "raw SQL, 1 thread", single, 1,
                db => Task.FromResult(Drains.Raw(db, _settings, 1, 1)), handles: 1);
        }
    }

    private async Task MeasureDrainAsync(int run, string variant, int n, int posters, Func<string, Task<DrainOutcome>> drain, int? handles = null)
    {
        string name = variant.Split(',')[0].Replace(' ', '-').ToLowerInvariant();
        int h = handles ?? _o.Handles;
        string db = NewDb($"drain-{name}");
        IReadOnlyList<string> ids;
        await using (var queue = new BlueskyQueue(_settings with { DbPath = db }))
            ids = (await queue.EnqueueManyAsync(Bench.NewJobs(n, h, $"r{run}-"))).Select(r => r.Id).ToList();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var outcome = await drain(db);
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        QueueStats stats;
        await using (var queue = new BlueskyQueue(_settings with { DbPath = db })) stats = await queue.StatsAsync();
        var check = Verify(ids, outcome.ClaimedIds);
        bool verified = check.Ok && stats.Posted == n && stats.Queued == 0 && stats.InProgress == 0 && outcome.Errors.Count == 0;
        foreach (var error in outcome.Errors.Take(5)) Console.WriteLine($"    error: {error}");
        if (outcome.BusyErrors > 0)
            Console.WriteLine($"    {outcome.BusyErrors} write(s) refused past the busy timeout and retried; the first: {outcome.FirstBusyError}");
        Add(new Figure
        {
            Workload = "drain", Variant = variant, Run = run, Jobs = n, Seconds = outcome.Elapsed.TotalSeconds,
            Latency = Latency.Of(outcome.ClaimLatenciesMs), WalEndBytes = outcome.WalEndBytes, WalMaxBytes = outcome.WalMaxBytes,
            Extra =
            {
                ["verified"] = verified, ["posters"] = posters, ["handles"] = h, ["errors"] = outcome.Errors.Count,
                ["busy_timeouts"] = outcome.BusyErrors,
                ["duplicates"] = check.Duplicates, ["missing"] = check.Missing, ["posted"] = stats.Posted,
                ["db_bytes"] = new FileInfo(db).Length,
                // CPU of this whole process (all threads) during the drain, set-up and teardown included, per job.
                ["cpu_ms_per_job"] = cpu.TotalMilliseconds / n,
            },
        });
        Drop(db);
    }

    internal sealed record Check(bool Ok, int Duplicates, int Missing, int Unknown);

    /// <summary>Every seeded job claimed exactly once: no duplicates, none missing, nothing unknown.</summary>
    internal static Check Verify(IReadOnlyList<string> seeded, IEnumerable<string> claimed)
    {
        var all = seeded.ToHashSet();
        var seen = new HashSet<string>();
        int duplicates = 0, unknown = 0;
        foreach (var id in claimed)
        {
            if (!seen.Add(id)) duplicates++;
            else if (!all.Contains(id)) unknown++;
        }
        int missing = all.Count(id => !seen.Contains(id));
        return new Check(duplicates == 0 && missing == 0 && unknown == 0, duplicates, missing, unknown);
    }

    // ---- JSON ----

    private void WriteJson(SqliteSettingsReport report, IReadOnlyList<RatioSummary> ratios, JsonArray targets, TimeSpan total)
    {
        var root = new JsonObject
        {
            ["command"] = Environment.CommandLine,
            ["machine"] = new JsonObject
            {
                ["cores"] = Environment.ProcessorCount,
                ["os"] = RuntimeInformation.OSDescription,
                ["dotnet"] = Environment.Version.ToString(),
            },
            ["options"] = new JsonObject
            {
                ["quick"] = _o.Quick, ["runs"] = _o.Runs, ["sync"] = _o.Sync.ToString(), ["jobs"] = _o.Jobs,
                ["enqueue_jobs"] = _o.EnqueueJobs, ["posters"] = _o.Posters, ["handles"] = _o.Handles,
                ["processes"] = new JsonArray(_o.ProcessCounts.Select(k => (JsonNode)k).ToArray()),
                ["process_jobs"] = _o.ProcessJobs, ["worker_mode"] = _o.WorkerMode,
                ["history_sizes"] = new JsonArray(_o.HistorySizes.Select(k => (JsonNode)k).ToArray()),
                ["queued_sizes"] = new JsonArray(_o.QueuedSizes.Select(k => (JsonNode)k).ToArray()),
                ["queued_for_history"] = _o.QueuedForHistory, ["claims_per_point"] = _o.ClaimsPerPoint,
                ["workloads"] = new JsonArray(_o.Workloads.Select(w => (JsonNode)w).ToArray()),
            },
            ["sqlite"] = JsonSerializer.SerializeToNode(report, JsonOptions),
            ["queue_settings"] = new JsonObject
            {
                ["busy_timeout_s"] = _settings.BusyTimeout.TotalSeconds, ["cache_size_kib"] = _settings.CacheSizeKiB,
                ["wal_autocheckpoint_pages"] = _settings.WalAutoCheckpointPages, ["synchronous"] = _settings.Synchronous.ToString(),
                ["max_batch_size"] = new QueueOptions().MaxBatchSize,
            },
            ["figures"] = new JsonArray(_figures.Select(f => JsonSerializer.SerializeToNode(f, JsonOptions)).ToArray()),
            ["summaries"] = Summaries(),
            ["ratios"] = new JsonArray(ratios.Select(r => JsonSerializer.SerializeToNode(r, JsonOptions)).ToArray()),
            ["targets"] = targets,
            ["query_plans"] = _plans.DeepClone(),
            ["total_seconds"] = total.TotalSeconds,
        };
        var dir = Path.GetDirectoryName(Path.GetFullPath(_o.JsonPath!));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        File.WriteAllText(_o.JsonPath!, root.ToJsonString(JsonOptions));
        Console.WriteLine($"figures written to {_o.JsonPath}");
    }

    private static JsonNode? SpreadNode(Spread spread) =>
        spread.Runs == 0 ? null : new JsonObject
        {
            ["median"] = spread.Median, ["min"] = spread.Min, ["max"] = spread.Max, ["runs"] = spread.Runs,
        };

    private JsonArray Summaries()
    {
        var array = new JsonArray();
        foreach (var group in _figures.GroupBy(f => (f.Workload, f.Variant, f.Size)))
        {
            var list = group.ToList();
            array.Add(new JsonObject
            {
                ["workload"] = group.Key.Workload,
                ["variant"] = group.Key.Variant,
                ["size"] = group.Key.Size,
                ["jobs_per_second"] = SpreadNode(Spread.Of(list.Select(f => f.JobsPerSecond))),
                ["p50_ms"] = SpreadNode(Spread.Of(list.Select(f => f.Latency?.P50 ?? double.NaN))),
                ["p99_ms"] = SpreadNode(Spread.Of(list.Select(f => f.Latency?.P99 ?? double.NaN))),
                ["wal_end_bytes"] = SpreadNode(Spread.Of(list.Select(f => (double?)f.WalEndBytes ?? double.NaN))),
                ["wal_max_bytes"] = SpreadNode(Spread.Of(list.Select(f => (double?)f.WalMaxBytes ?? double.NaN))),
                ["all_verified"] = list.All(f => !f.Extra.TryGetValue("verified", out var v) || v is true),
            });
        }
        return array;
    }
}
